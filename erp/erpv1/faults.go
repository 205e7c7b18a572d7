package erpv1

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"erpgate/erp"
	"erpgate/erp/internal/soapcall"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// Codes of the *erp.Error values the adapter returns (erp.Error.Code). They
// are the same as erpv2's for the same causes, so dashboards and the
// shadow comparison see one vocabulary.
//
//	ErpFault UNKNOWN_SKU                 permanent (unknown_sku)    Reason names the skus, from our own order
//	ErpFault INVALID_ORDER               permanent (invalid_order)  Reason names the canonical fields concerned
//	ErpFault NOT_FOUND                   permanent (not_found)
//	ToV1 cannot express the order        permanent (untranslatable)
//	ErpFault SERVICE_BUSY / _UNAVAILABLE transient (service_busy / service_unavailable)
//	ErpFault INVALID_REQUEST             transient (invalid_request): our message does not fit v1's
//	                                     schema — our bug, not the order's; retries end in the
//	                                     dead-letter stream where operators see it
//	other SOAP fault, HTTP status ≥ 400  transient (soap_fault, http_status)
//	timeout of the per-call deadline     transient (timeout)
//	caller's context done                transient (canceled)
//	connection refused/reset, DNS, …     transient (unreachable)
//	unreadable or inconsistent answer    transient (bad_response)
const (
	CodeUnknownSKU         = soapcall.CodeUnknownSKU
	CodeInvalidOrder       = soapcall.CodeInvalidOrder
	CodeNotFound           = soapcall.CodeNotFound
	CodeUntranslatable     = "untranslatable"
	CodeServiceBusy        = soapcall.CodeServiceBusy
	CodeServiceUnavailable = soapcall.CodeServiceUnavailable
	CodeInvalidRequest     = soapcall.CodeInvalidRequest
	CodeSOAPFault          = soapcall.CodeSOAPFault
	CodeHTTPStatus         = soapcall.CodeHTTPStatus
	CodeTimeout            = soapcall.CodeTimeout
	CodeCanceled           = soapcall.CodeCanceled
	CodeUnreachable        = soapcall.CodeUnreachable
	CodeBadResponse        = soapcall.CodeBadResponse
)

// classify turns a failed call into an *erp.Error. ctx is the caller's
// context (not the per-call one) and o the order being created, if any:
// reasons about the order are written from our own data, never from the
// ERP's text. An *erp.Error in err is returned as it is.
func classify(ctx context.Context, op string, err error, o *order.Order) *erp.Error {
	var ee *erp.Error
	if errors.As(err, &ee) {
		return ee
	}
	return soapcall.Classify(ctx, op, err, errTooLarge, func(status int, body []byte) *erp.Error {
		// v1 answers its faults with 500 only, as SOAP 1.1 or 1.2.
		if status != http.StatusInternalServerError {
			return nil
		}
		f, perr := soap.ParseFault(body)
		if perr != nil {
			return nil
		}
		var d v1FaultDetail
		_ = xml.Unmarshal(body, &d) // the detail is optional; ParseFault checked the envelope
		return soapcall.ClassifyFault(op, o, v1Fault(status, f, d.erpFault()), canonicalField)
	})
}

// v1FaultDetail is the typed detail of v1's faults, as it sits inside
// soap:Fault/detail (SOAP 1.1) or soap:Fault/Detail (SOAP 1.2).
type v1FaultDetail struct {
	Body struct {
		Fault struct {
			Detail11 v1Detail `xml:"detail"`
			Detail12 v1Detail `xml:"Detail"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

type v1Detail struct {
	ErpFault *erpv1ws.ErpFault `xml:"urn:erpgate:erp:v1 ErpFault"`
}

func (d *v1FaultDetail) erpFault() *erpv1ws.ErpFault {
	if f := d.Body.Fault.Detail11.ErpFault; f != nil {
		return f
	}
	return d.Body.Fault.Detail12.ErpFault
}

// v1Fault reads a fault v1 returned, with its typed detail, into the
// shared form.
func v1Fault(status int, f *soap.Fault, detail *erpv1ws.ErpFault) *soapcall.Fault {
	sf := &soapcall.Fault{Status: status, Code: f.Code, String: f.String}
	if detail != nil && detail.ErrorCode != nil {
		sf.ErrorCode, sf.Message, sf.Issues = string(*detail.ErrorCode), detail.Message, issuesOf(detail.Issue)
	}
	return sf
}

// issuesOf turns v1's issues into soapcall's, keeping nil ones in place
// (the operator's message counts them).
func issuesOf(in []*erpv1ws.Issue) []*soapcall.Issue {
	out := make([]*soapcall.Issue, len(in))
	for i, is := range in {
		if is != nil {
			out[i] = &soapcall.Issue{Field: is.Field, Line: int(is.LineNo), Text: is.Text}
		}
	}
	return out
}

// v1Fields maps v1 field paths to the canonical JSON paths they come from.
// Remarks and OrderText are not mapped: they carry our encoding, and a
// complaint about them is not the shop's to fix.
var v1Fields = map[string]string{
	"Reference":       "id",
	"CustomerOrderNo": "external_id",
	"CustomerName":    "customer.name",
	"DeliveryName":    "shipping_address.name",
	"DeliveryAddress": "shipping_address",
	"DeliveryCountry": "shipping_address.country",
	"Currency":        "currency",
	"Line":            "lines",
	"ShipVia":         "shipping.method",
	"ShippingCharge":  "shipping.price",
}

var v1LineFields = map[string]string{
	"LineNo": "", "ItemNo": "sku", "ItemText": "description", "Quantity": "quantity", "NetPrice": "unit_price",
}

// canonicalField maps a v1 field path ("Line[3].NetPrice", "Currency") to
// the canonical one ("lines[2].unit_price", "currency"). Paths it does not
// know are not mapped, so no ERP text gets through.
func canonicalField(f string) (string, bool) {
	if c, ok := v1Fields[f]; ok {
		return c, true
	}
	head, tail, _ := strings.Cut(f, ".")
	n, ok := soapcall.LineOf(head)
	if !ok {
		return "", false
	}
	path := "lines[" + strconv.Itoa(n-1) + "]"
	if tail == "" {
		return path, true
	}
	c, ok := v1LineFields[tail]
	switch {
	case !ok:
		return "", false
	case c == "":
		return path, true
	default:
		return path + "." + c, true
	}
}
