package soap

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate"
)

// TestGowsdlClientInterop runs gowsdl v0.5.0's client runtime (what the
// generated ERP clients use) against a server built on this package: its
// requests must pass our reader, its WS-Security header must yield the
// credentials, and our responses and faults must reach it intact.
func TestGowsdlClientInterop(t *testing.T) {
	type seen struct {
		user, pass string
		ok         bool
		action     string
	}
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := ReadRequest(r, DefaultLimits())
		if err != nil {
			WriteFault(w, VersionOf(r), FaultFromError(err))
			return
		}
		if err := req.CheckMustUnderstand(WSSESecurity); err != nil {
			WriteFault(w, req.Version, FaultFromError(err))
			return
		}
		got.user, got.pass, got.ok = req.UsernameToken()
		got.action = req.Action
		var in testSubmitOrder
		if err := req.Decode(&in); err != nil {
			WriteFault(w, req.Version, FaultFromError(err))
			return
		}
		if in.Order == nil || in.Order.ExternalID == "" {
			WriteFault(w, req.Version, FaultFromError(&erpgate.Error{Code: erpgate.Invalid, Message: "the order is invalid",
				Problems: []erpgate.Problem{{Field: "external_id", Message: "required"}}}))
			return
		}
		_ = WriteResponse(w, req.Version, &testSubmitOrderResponse{OrderID: "ord_" + in.Order.ExternalID, Status: "accepted"})
	}))
	defer srv.Close()

	client := gsoap.NewClient(srv.URL, gsoap.WithTimeout(5*time.Second), gsoap.WithRequestTimeout(5*time.Second))
	client.AddHeader(gsoap.NewWSSSecurityHeader("shop-1", "p&ss<word>", "tok-1", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("request and response", func(t *testing.T) {
		in := &testSubmitOrder{Order: &testOrder{ExternalID: "A-1", Currency: "EUR", Lines: []*testLine{{Sku: "SKU-1001", Quantity: 2, UnitPrice: "19.99"}}}}
		var out testSubmitOrderResponse
		if err := client.CallContext(ctx, "urn:erpgate:test/SubmitOrder", in, &out); err != nil {
			t.Fatalf("CallContext: %v", err)
		}
		if out.OrderID != "ord_A-1" || out.Status != "accepted" {
			t.Errorf("response = %+v, want OrderId ord_A-1, Status accepted", out)
		}
		if want := (seen{"shop-1", "p&ss<word>", true, "urn:erpgate:test/SubmitOrder"}); got != want {
			t.Errorf("server saw %+v, want %+v", got, want)
		}
	})
	t.Run("fault reaches the client as HTTPError with a parsable body", func(t *testing.T) {
		var out testSubmitOrderResponse
		err := client.CallContext(ctx, "urn:erpgate:test/SubmitOrder", &testSubmitOrder{Order: &testOrder{}}, &out)
		var he *gsoap.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 500 {
			t.Fatalf("err = %v, want *soap.HTTPError with status 500", err)
		}
		f, perr := ParseFault(he.ResponseBody)
		if perr != nil {
			t.Fatalf("ParseFault: %v", perr)
		}
		if f.Code != FaultClient || f.Detail.Code != erpgate.Invalid || len(f.Detail.Problems) != 1 || f.Detail.Problems[0].Field != "external_id" {
			t.Errorf("fault = %+v, want Client/invalid with problem external_id", f)
		}
	})
	t.Run("spoofed SOAPAction", func(t *testing.T) {
		var out testSubmitOrderResponse
		err := client.CallContext(ctx, "urn:erpgate:test/CancelOrder", &testSubmitOrder{Order: &testOrder{ExternalID: "A-2"}}, &out)
		var he *gsoap.HTTPError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v, want *soap.HTTPError", err)
		}
		if f, _ := ParseFault(he.ResponseBody); f == nil || f.Code != FaultClient {
			t.Errorf("fault = %+v, want a Client fault", f)
		}
	})
}

// TestZeepInterop drives a server on this package with Python's zeep (the
// Debian package python3-zeep, which CI installs), over SOAP 1.1 and 1.2,
// with a WS-Security UsernameToken and a fault. It skips where zeep is not
// installed.
func TestZeepInterop(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import zeep").Run(); err != nil {
		t.Skip("python3-zeep is not installed")
	}
	type call struct {
		version          Version
		action, user, pw string
		ok               bool
	}
	calls := make(chan call, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := ReadRequest(r, DefaultLimits())
		if err != nil {
			WriteFault(w, VersionOf(r), FaultFromError(err))
			return
		}
		if err := req.CheckMustUnderstand(WSSESecurity); err != nil {
			WriteFault(w, req.Version, FaultFromError(err))
			return
		}
		user, pw, ok := req.UsernameToken()
		calls <- call{req.Version, req.Action, user, pw, ok}
		var in testGetOrder
		if err := req.Decode(&in); err != nil {
			WriteFault(w, req.Version, FaultFromError(err))
			return
		}
		if in.OrderID != "ord_1" {
			WriteFault(w, req.Version, FaultFromError(&erpgate.Error{Code: erpgate.NotFound, Message: "no such order",
				Problems: []erpgate.Problem{{Field: "OrderId", Message: "unknown"}}}))
			return
		}
		_ = WriteResponse(w, req.Version, &testGetOrderResponse{OrderID: in.OrderID})
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, filepath.Join("testdata", "zeep", "client.py"),
		filepath.Join("testdata", "zeep", "test.wsdl"), srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("zeep client: %v\n%s", err, out)
	}
	want := []string{
		"P11 response ord_1",
		"P11 fault soap:Client | no such order | not_found no such order OrderId unknown",
		"P12 response ord_1",
		"P12 fault soap:Sender | no such order | not_found no such order OrderId unknown",
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("zeep said:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	close(calls)
	n := 0
	for c := range calls {
		n++
		if c.action != "urn:erpgate:test#GetOrder" || c.user != "shop-1" || c.pw != "p&ss" || !c.ok {
			t.Errorf("server saw %+v, want action urn:erpgate:test#GetOrder and UsernameToken shop-1/p&ss", c)
		}
		if want := []Version{V11, V11, V12, V12}[min(n-1, 3)]; c.version != want {
			t.Errorf("call %d: version %d, want %d", n, c.version, want)
		}
	}
	if n != 4 {
		t.Errorf("%d calls reached the server, want 4", n)
	}
}
