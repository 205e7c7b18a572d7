package erpgate

import (
	"errors"
	"strconv"
	"testing"
)

func TestProblemList(t *testing.T) {
	var none ProblemList
	if err := none.Err("the order"); err != nil {
		t.Errorf("no problems: got %v, want nil", err)
	}

	var rule ProblemList
	rule.Check("a", "")
	rule.Unprocessable("b", "too late")
	var e *Error
	if err := rule.Err("the order"); !errors.As(err, &e) || e.Code != Unprocessable || e.Message != "the order breaks a business rule: 1 problem" {
		t.Errorf("one rule: got %v, want Unprocessable with 1 problem", err)
	}

	var both ProblemList
	both.Unprocessable("b", "too late")
	both.Check("a", "missing")
	if err := both.Err("the notice"); !errors.As(err, &e) || e.Code != Invalid || len(e.Problems) != 2 {
		t.Errorf("rule and syntax: got %v, want Invalid with 2 problems", err)
	}

	for _, n := range []int{MaxProblems, MaxProblems + 5} {
		var many ProblemList
		for i := range n {
			many.Invalid("f"+strconv.Itoa(i), "bad")
		}
		err := many.Err("x")
		if !errors.As(err, &e) || len(e.Problems) != MaxProblems {
			t.Fatalf("%d problems: got %d listed, want %d", n, len(e.Problems), MaxProblems)
		}
		dropped := n - (MaxProblems - 1)
		want := strconv.Itoa(dropped) + " more problems not listed"
		if dropped == 1 {
			want = "1 more problem not listed"
		}
		if last := e.Problems[MaxProblems-1]; last.Field != "" || last.Message != want {
			t.Errorf("%d problems: last entry %+v, want %q", n, last, want)
		}
		if e.Message != "x is invalid: "+strconv.Itoa(n)+" problems" {
			t.Errorf("%d problems: message %q", n, e.Message)
		}
	}
}
