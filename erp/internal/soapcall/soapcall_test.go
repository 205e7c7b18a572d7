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
		many[i] = &Issue{Field: "F", Text: "long text"}
	}
	if got, want := IssueText(many, 4), "; F: long…; F: long…; F: long…; F: long…; F: long…; … 2 more"; got != want {
		t.Errorf("IssueText = %q, want %q", got, want)
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
