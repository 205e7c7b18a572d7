package erpv1

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// Codes of the *erp.Error values the adapter returns (erp.Error.Code).
const (
	CodeUnknownSKU     = "unknown_sku"     // permanent: a line names an item v1 does not sell
	CodeInvalidOrder   = "invalid_order"   // permanent: v1 refused the order's content
	CodeInvalidRequest = "invalid_request" // permanent: v1 could not read the request
	CodeUntranslatable = "untranslatable"  // permanent: ToV1 refused the order
	CodeTooLarge       = "too_large"       // permanent: the request is larger than v1 accepts
	CodeRejected       = "rejected"        // permanent: any other Client fault
	CodeNotFound       = "not_found"       // permanent: no order with that reference
	CodeBusy           = "busy"            // transient: v1 is overloaded
	CodeUnavailable    = "unavailable"     // transient: v1 is down, in maintenance or unreachable
	CodeTimeout        = "timeout"         // transient: the call's deadline passed
	CodeBadResponse    = "bad_response"    // transient: an answer the adapter cannot read
)

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

// classify turns a failed call into an *erp.Error. o is the order being
// created (nil for reads); it supplies the skus named in a shop-safe reason,
// so the ERP's own text never reaches a shop.
func classify(op string, err error, o *order.Order) *erp.Error {
	var ee *erp.Error
	if errors.As(err, &ee) {
		return ee
	}
	transient := func(code, reason string) *erp.Error {
		return &erp.Error{Kind: erp.KindTransient, Code: code, Reason: reason, Err: fmt.Errorf("v1 %s: %w", op, err)}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return transient(CodeTimeout, "the ERP did not answer in time")
	}
	var he *gowsdl.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.StatusCode == http.StatusInternalServerError:
			return classifyFault(op, err, he.ResponseBody, o)
		case he.StatusCode == http.StatusRequestEntityTooLarge:
			return &erp.Error{Kind: erp.KindPermanent, Code: CodeTooLarge,
				Reason: "the order is too large for the ERP", Err: fmt.Errorf("v1 %s: %w", op, err)}
		default:
			// 502/503/504 from a proxy, 429, and also 404/405/415: those
			// mean a wrong endpoint or a proxy in the way, not a bad order.
			// Retrying (and in the end dead-lettering) is right; refusing
			// the order for a configuration problem is not.
			return transient(CodeUnavailable, "the ERP is temporarily unavailable")
		}
	}
	var sf *gowsdl.SOAPFault
	if errors.As(err, &sf) { // a fault sent with status 200
		return faultError(op, err, sf.Code, nil, o)
	}
	var xe *xml.SyntaxError
	if errors.As(err, &xe) {
		return transient(CodeBadResponse, "the ERP sent an unreadable answer")
	}
	return transient(CodeUnavailable, "the ERP is temporarily unavailable")
}

// classifyFault reads a fault envelope (the body of a 500).
func classifyFault(op string, err error, body []byte, o *order.Order) *erp.Error {
	f, perr := soap.ParseFault(body)
	if perr != nil {
		// A 500 without a readable fault: a crashed ERP or a proxy page.
		return &erp.Error{Kind: erp.KindTransient, Code: CodeUnavailable,
			Reason: "the ERP is temporarily unavailable", Err: fmt.Errorf("v1 %s: %w", op, err)}
	}
	var d v1FaultDetail
	_ = xml.Unmarshal(body, &d) // the detail is optional; ParseFault checked the envelope
	return faultError(op, err, f.Code, d.erpFault(), o)
}

// faultError classifies a SOAP fault: Client faults are permanent, anything
// else (Server, or a code we do not know) transient.
func faultError(op string, err error, faultCode string, detail *erpv1ws.ErpFault, o *order.Order) *erp.Error {
	faultCode = faultCode[strings.LastIndexByte(faultCode, ':')+1:]
	var code erpv1ws.ErrorCode
	if detail != nil && detail.ErrorCode != nil {
		code = *detail.ErrorCode
	}
	cause := fmt.Errorf("v1 %s: %w", op, err)
	if detail != nil {
		cause = fmt.Errorf("v1 %s: fault %s %s: %s", op, faultCode, code, detail.Message)
	}
	if faultCode != soap.FaultClient && faultCode != "Sender" {
		c := CodeUnavailable
		if code == erpv1ws.ErrorCodeSERVICE_BUSY {
			c = CodeBusy
		}
		return &erp.Error{Kind: erp.KindTransient, Code: c, Reason: "the ERP is temporarily unavailable", Err: cause}
	}
	perm := func(c, reason string) *erp.Error {
		return &erp.Error{Kind: erp.KindPermanent, Code: c, Reason: reason, Err: cause}
	}
	switch code {
	case erpv1ws.ErrorCodeUNKNOWN_SKU:
		return perm(CodeUnknownSKU, unknownSKUReason(detail, o))
	case erpv1ws.ErrorCodeINVALID_ORDER:
		return perm(CodeInvalidOrder, "the ERP refused the order as invalid")
	case erpv1ws.ErrorCodeINVALID_REQUEST:
		return perm(CodeInvalidRequest, "the ERP could not read the order")
	case erpv1ws.ErrorCodeNOT_FOUND:
		return perm(CodeNotFound, "the ERP does not know the order")
	default:
		return perm(CodeRejected, "the ERP refused the order")
	}
}

// maxReasonSKUs bounds the skus one reason names.
const maxReasonSKUs = 5

// unknownSKUReason names the refused skus, taken from the order itself (the
// line numbers in the fault's issues point at them), never from the ERP's
// text: "SKU-9999 is not sold", "SKU-1, SKU-2 are not sold".
func unknownSKUReason(detail *erpv1ws.ErpFault, o *order.Order) string {
	var skus []string
	seen := map[string]bool{}
	if detail != nil && o != nil {
		for _, is := range detail.Issue {
			if is == nil || is.LineNo < 1 || int(is.LineNo) > len(o.Lines) {
				continue
			}
			sku := o.Lines[is.LineNo-1].SKU
			if !seen[sku] {
				seen[sku] = true
				skus = append(skus, sku)
			}
		}
	}
	switch {
	case len(skus) == 0:
		return "an item of the order is not sold"
	case len(skus) == 1:
		return skus[0] + " is not sold"
	case len(skus) > maxReasonSKUs:
		return strings.Join(skus[:maxReasonSKUs], ", ") + fmt.Sprintf(" and %d more items are not sold", len(skus)-maxReasonSKUs)
	default:
		return strings.Join(skus, ", ") + " are not sold"
	}
}
