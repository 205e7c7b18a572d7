package soapcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
)

var errBig = errors.New("test: too large")

func TestClassify(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	faultErr := &erp.Error{Kind: erp.KindPermanent, Code: CodeNotFound}
	fault := func(status int, body []byte) *erp.Error {
		if status == 500 && string(body) == "fault" {
			return faultErr
		}
		return nil
	}
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		code string
	}{
		{"caller gave up", canceled, context.Canceled, CodeCanceled},
		{"per-call deadline", context.Background(), fmt.Errorf("x: %w", context.DeadlineExceeded), CodeTimeout},
		{"too large", context.Background(), &url.Error{Op: "Post", URL: "u", Err: errBig}, CodeBadResponse},
		{"fault", context.Background(), &gowsdl.HTTPError{StatusCode: 500, ResponseBody: []byte("fault")}, CodeNotFound},
		{"status without fault", context.Background(), &gowsdl.HTTPError{StatusCode: 502, ResponseBody: []byte("fault")}, CodeHTTPStatus},
		{"fault in a 200", context.Background(), &gowsdl.SOAPFault{Code: "soap:Server"}, CodeSOAPFault},
		{"unreachable", context.Background(), &url.Error{Op: "Post", URL: "u", Err: errors.New("connection refused")}, CodeUnreachable},
		{"other", context.Background(), errors.New("EOF"), CodeBadResponse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Classify(c.ctx, "Op", c.err, errBig, fault)
			if e.Code != c.code {
				t.Errorf("code = %s, want %s (%v)", e.Code, c.code, e)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	o := &order.Order{Lines: []order.Line{{SKU: "A"}, {SKU: "B"}}}
	issues := []*Issue{nil, {Line: 2}, {Field: "Line[1].X"}, {Field: "Line[1]"}}
	if got, want := UnknownSKUReason(o, issues), "B and A are not sold by us"; got != want {
		t.Errorf("UnknownSKUReason = %q, want %q", got, want)
	}
	canon := func(f string) (string, bool) { return strings.ToLower(f), f != "" }
	if got, want := InvalidOrderReason(issues, canon), "the ERP cannot accept this order: line[1].x and line[1]"; got != want {
		t.Errorf("InvalidOrderReason = %q, want %q", got, want)
	}
	many := make([]*Issue, 7)
	for i := range many {
		many[i] = &Issue{Field: "F", Text: "text"}
	}
	if got, want := IssueText(many), "; F: text; F: text; F: text; F: text; F: text; … 2 more"; got != want {
		t.Errorf("IssueText = %q, want %q", got, want)
	}
}

// TestFaultTextIsBounded: the ERP's text in an operator's error is cut to
// MaxFaultText / MaxIssueText bytes on a rune boundary, however long it is.
func TestFaultTextIsBounded(t *testing.T) {
	long := strings.Repeat("ü", 1<<20) // 2 MiB, two bytes a rune
	for _, f := range []*Fault{
		{Status: 500, Code: "soap:Client", String: long},
		{Status: 500, Code: "soap:Client", ErrorCode: ErrorInvalidOrder, Message: long,
			Issues: []*Issue{{Field: long, Text: long}, {Field: "Currency", Text: long}}},
	} {
		msg := ClassifyFault("Op", nil, f, func(string) (string, bool) { return "", false }).Err.Error()
		if max := 200 + MaxFaultText + 2*MaxListed*(MaxIssueText+len("…; : ")); len(msg) > max {
			t.Errorf("error message is %d bytes, want at most %d", len(msg), max)
		}
		if !utf8.ValidString(msg) {
			t.Errorf("error message is not valid UTF-8: %q", msg[:80])
		}
		if !strings.Contains(msg, strings.Repeat("ü", 100)+"…") {
			t.Errorf("error message %.80q… does not keep the start of the ERP's text", msg)
		}
	}
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 3, "abc"}, {"abcd", 3, "abc…"}, {"aü", 2, "a…"}, {"üü", 3, "ü…"}, {"ü", 1, "…"}} {
		if got := Truncate(c.s, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

// TestClassifyFault: one table of the ERP's error codes for every
// interface version (erptest runs it through each adapter).
func TestClassifyFault(t *testing.T) {
	o := &order.Order{Lines: []order.Line{{SKU: "A"}, {SKU: "B"}}}
	canon := func(f string) (string, bool) { return "x." + f, f == "F" }
	for _, c := range []struct {
		code   string
		kind   erp.Kind
		want   string
		reason string
	}{
		{ErrorUnknownSKU, erp.KindPermanent, CodeUnknownSKU, "B is not sold by us"},
		{ErrorInvalidOrder, erp.KindPermanent, CodeInvalidOrder, "the ERP cannot accept this order: x.F"},
		{ErrorNotFound, erp.KindPermanent, CodeNotFound, ReasonNotFound},
		{ErrorServiceBusy, erp.KindTransient, CodeServiceBusy, ReasonUnavailable},
		{ErrorServiceUnavailable, erp.KindTransient, CodeServiceUnavailable, ReasonUnavailable},
		{ErrorInvalidRequest, erp.KindTransient, CodeInvalidRequest, ReasonUnavailable},
		{"QUOTA_EXCEEDED", erp.KindTransient, CodeSOAPFault, ReasonUnavailable},
		{"", erp.KindTransient, CodeSOAPFault, ReasonUnavailable},
	} {
		f := &Fault{Status: 500, Code: "soap:Client", String: "RAW", ErrorCode: c.code, Message: "RAW", Issues: []*Issue{{Field: "F", Line: 2, Text: "RAW"}}}
		e := ClassifyFault("Op", o, f, canon)
		if e.Kind != c.kind || e.Code != c.want || e.Reason != c.reason {
			t.Errorf("%q: %v %s %q, want %v %s %q", c.code, e.Kind, e.Code, e.Reason, c.kind, c.want, c.reason)
		}
		if !strings.Contains(e.Err.Error(), "RAW") {
			t.Errorf("%q: error %v does not keep the ERP's text for operators", c.code, e.Err)
		}
	}
}

func TestTransportBoundsAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			t.Error("request asks to close the connection")
		}
		io.WriteString(w, strings.Repeat("x", 10))
	}))
	defer srv.Close()
	for _, c := range []struct {
		max      int64
		announce bool
		wantErr  bool
	}{{10, false, false}, {10, true, false}, {9, false, true}, {9, true, true}} {
		hc := NewHTTPClient(srv.Client(), Limit{MaxBytes: c.max, Err: errBig, RefuseAnnounced: c.announce})
		req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
		req.Close = true // as gowsdl v0.5.0 sets it
		res, err := hc.Do(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		if got := errors.Is(err, errBig); got != c.wantErr {
			t.Errorf("max %d announce %v: err = %v, want too large %v", c.max, c.announce, err, c.wantErr)
		}
	}
}
