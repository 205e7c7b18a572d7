package erpv1

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// faultBody renders a v1 fault as the simulator (and soap.WriteFault) does.
func faultBody(t *testing.T, v soap.Version, faultCode string, code erpv1ws.ErrorCode, issues ...*erpv1ws.Issue) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	soap.WriteFault(rec, v, &soap.Fault{Code: faultCode, String: "raw ERP text: table ORDHDR locked", HTTPStatus: 500,
		DetailElement: &erpv1ws.ErpFault{ErrorCode: &code, Message: "raw ERP text", Issue: issues}})
	return rec.Body.Bytes()
}

func TestClassify(t *testing.T) {
	o := &order.Order{Lines: make([]order.Line, 8)}
	for i := range o.Lines {
		o.Lines[i].SKU = fmt.Sprintf("SKU-%d", i+1)
	}
	issue := func(line int32) *erpv1ws.Issue {
		return &erpv1ws.Issue{Field: fmt.Sprintf("Line[%d].ItemNo", line), LineNo: line, ItemNo: "RAW<script>", Text: "unknown"}
	}
	httpErr := func(status int, body []byte) error { return &gowsdl.HTTPError{StatusCode: status, ResponseBody: body} }
	const unavailable, badAnswer = "the ERP is temporarily unavailable", "the ERP gave an answer we could not read"
	for _, c := range []struct {
		name   string
		err    error
		o      *order.Order
		kind   erp.Kind
		code   string
		reason string
	}{
		{"unknown sku", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeUNKNOWN_SKU, issue(2))), o,
			erp.KindPermanent, CodeUnknownSKU, "SKU-2 is not sold by us"},
		{"unknown skus, repeated and out of range", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeUNKNOWN_SKU,
			issue(1), issue(3), issue(3), issue(0), issue(99))), o,
			erp.KindPermanent, CodeUnknownSKU, "SKU-1 and SKU-3 are not sold by us"},
		{"many unknown skus", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeUNKNOWN_SKU,
			issue(1), issue(2), issue(3), issue(4), issue(5), issue(6), issue(7))), o,
			erp.KindPermanent, CodeUnknownSKU, "SKU-1, SKU-2, SKU-3, SKU-4, SKU-5 and 2 more are not sold by us"},
		{"unknown sku without issues", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeUNKNOWN_SKU)), nil,
			erp.KindPermanent, CodeUnknownSKU, "an item in this order is not sold by us"},
		{"invalid order", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeINVALID_ORDER,
			&erpv1ws.Issue{Field: "Line[2].Quantity"}, &erpv1ws.Issue{Field: "DeliveryCountry"}, &erpv1ws.Issue{Field: "Remarks"},
			&erpv1ws.Issue{Field: "<RAW>"})), o,
			erp.KindPermanent, CodeInvalidOrder, "the ERP cannot accept this order: lines[1].quantity and shipping_address.country"},
		{"invalid order without issues", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeINVALID_ORDER)), o,
			erp.KindPermanent, CodeInvalidOrder, "the ERP cannot accept this order's data"},
		{"invalid request, SOAP 1.2", httpErr(500, faultBody(t, soap.V12, soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST)), o,
			erp.KindTransient, CodeInvalidRequest, unavailable},
		{"not found", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, erpv1ws.ErrorCodeNOT_FOUND)), nil,
			erp.KindPermanent, CodeNotFound, "the ERP has no order with this reference"},
		{"client fault, unknown code", httpErr(500, faultBody(t, soap.V11, soap.FaultClient, "NEW_CODE")), o,
			erp.KindTransient, CodeSOAPFault, unavailable},
		{"busy", httpErr(500, faultBody(t, soap.V11, soap.FaultServer, erpv1ws.ErrorCodeSERVICE_BUSY)), o,
			erp.KindTransient, CodeServiceBusy, unavailable},
		{"maintenance", httpErr(500, faultBody(t, soap.V11, soap.FaultServer, erpv1ws.ErrorCodeSERVICE_UNAVAILABLE)), o,
			erp.KindTransient, CodeServiceUnavailable, unavailable},
		{"fault without detail", httpErr(500, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>RAW</faultstring></soap:Fault></soap:Body></soap:Envelope>`)), o,
			erp.KindTransient, CodeSOAPFault, unavailable},
		{"500 without a fault", httpErr(500, []byte("<html>Internal Server Error</html>")), o, erp.KindTransient, CodeHTTPStatus, unavailable},
		{"503 from a proxy", httpErr(503, []byte("down")), o, erp.KindTransient, CodeHTTPStatus, unavailable},
		{"404: wrong endpoint", httpErr(404, nil), o, erp.KindTransient, CodeHTTPStatus, unavailable},
		{"413", httpErr(413, nil), o, erp.KindTransient, CodeHTTPStatus, unavailable},
		{"fault with status 200", &gowsdl.SOAPFault{Code: "soap:Client", String: "RAW"}, o, erp.KindTransient, CodeSOAPFault, unavailable},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), o, erp.KindTransient, CodeTimeout, unavailable},
		{"connection refused", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, o,
			erp.KindTransient, CodeUnreachable, unavailable},
		{"answer too large", fmt.Errorf("read: %w", errTooLarge), o, erp.KindTransient, CodeBadResponse, badAnswer},
		{"unreadable answer", &xml.SyntaxError{Msg: "unexpected EOF"}, o, erp.KindTransient, CodeBadResponse, badAnswer},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := classify(context.Background(), "CreateOrder", c.err, c.o)
			if e.Kind != c.kind || e.Code != c.code || e.Reason != c.reason {
				t.Errorf("classify = %v %s %q, want %v %s %q", e.Kind, e.Code, e.Reason, c.kind, c.code, c.reason)
			}
			if strings.Contains(strings.ToLower(e.Reason), "raw") {
				t.Errorf("reason %q passes the ERP's text on", e.Reason)
			}
			if e.Err == nil {
				t.Error("no cause kept for operators")
			}
		})
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if e := classify(canceled, "CreateOrder", context.Canceled, o); e.Kind != erp.KindTransient || e.Code != CodeCanceled {
		t.Errorf("classify after the caller gave up = %v %s, want transient canceled", e.Kind, e.Code)
	}
	pre := &erp.Error{Kind: erp.KindPermanent, Code: "x"}
	if got := classify(context.Background(), "op", fmt.Errorf("wrapped: %w", pre), nil); got != pre {
		t.Errorf("classify of an *erp.Error = %v, want it unchanged", got)
	}
}

// TestAnswersAreBounded: an answer beyond MaxResponseBytes is not read
// whole; the call fails as transient.
func TestAnswersAreBounded(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1">` +
				strings.Repeat(" ", 4096) + `</FindOrderByReferenceResponse></soap:Body></soap:Envelope>`
			if chunked {
				w.(http.Flusher).Flush() // no Content-Length
			}
			_, _ = w.Write([]byte(body))
		}))
		a, err := New(Config{URL: srv.URL, MaxResponseBytes: 1024})
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.OrderStatus(t.Context(), "ord_x")
		var ee *erp.Error
		if !errors.As(err, &ee) || ee.Kind != erp.KindTransient {
			t.Errorf("chunked=%v: error = %v, want transient", chunked, err)
		}
		srv.Close()
	}
}
