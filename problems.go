package erpgate

import "strconv"

// MaxProblems bounds the problems one error lists, so a hostile body cannot
// turn into a huge error response. When more are found, the last entry has
// an empty Field and says how many were left out.
const MaxProblems = 100

// ProblemList gathers the problems of one validation (an order, a supplier
// document) into one *Error. Field paths should be built only when a
// problem is found, so that validating a good document costs no
// allocation. The zero value is ready to use.
type ProblemList struct {
	list    []Problem
	syntax  bool // at least one Invalid-class problem
	dropped int
}

// Add records a problem: an Invalid-class one (malformed input) when
// syntax is set, else an Unprocessable-class one (a business rule).
func (c *ProblemList) Add(syntax bool, field, msg string) {
	if syntax {
		c.syntax = true
	}
	if len(c.list) >= MaxProblems-1 {
		c.dropped++
		return
	}
	c.list = append(c.list, Problem{Field: field, Message: msg})
}

// Invalid records a malformed field.
func (c *ProblemList) Invalid(field, msg string) { c.Add(true, field, msg) }

// Unprocessable records a broken business rule.
func (c *ProblemList) Unprocessable(field, msg string) { c.Add(false, field, msg) }

// Check records msg as an Invalid problem when it is not empty.
func (c *ProblemList) Check(field, msg string) {
	if msg != "" {
		c.Invalid(field, msg)
	}
}

// Empty reports whether no problem was recorded.
func (c *ProblemList) Empty() bool { return len(c.list) == 0 && c.dropped == 0 }

// List returns the problems recorded (without the note on dropped ones).
func (c *ProblemList) List() []Problem { return c.list }

// Err returns nil without problems, else one *Error about what ("the
// order"): Invalid when any problem is malformed input (the client must fix
// the syntax first anyway), else Unprocessable.
func (c *ProblemList) Err(what string) error {
	if c.Empty() {
		return nil
	}
	ps := c.list
	if c.dropped > 0 {
		more := " more problems not listed"
		if c.dropped == 1 {
			more = " more problem not listed"
		}
		ps = append(ps, Problem{Message: strconv.Itoa(c.dropped) + more})
	}
	n := len(c.list) + c.dropped
	count := strconv.Itoa(n) + " problems"
	if n == 1 {
		count = "1 problem"
	}
	if c.syntax {
		return &Error{Code: Invalid, Message: what + " is invalid: " + count, Problems: ps}
	}
	return &Error{Code: Unprocessable, Message: what + " breaks a business rule: " + count, Problems: ps}
}
