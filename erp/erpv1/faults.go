package erpv1

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
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
	CodeUnknownSKU         = "unknown_sku"
	CodeInvalidOrder       = "invalid_order"
	CodeNotFound           = "not_found"
	CodeUntranslatable     = "untranslatable"
	CodeServiceBusy        = "service_busy"
	CodeServiceUnavailable = "service_unavailable"
	CodeInvalidRequest     = "invalid_request"
	CodeSOAPFault          = "soap_fault"
	CodeHTTPStatus         = "http_status"
	CodeTimeout            = "timeout"
	CodeCanceled           = "canceled"
	CodeUnreachable        = "unreachable"
	CodeBadResponse        = "bad_response"
)

// Shop-safe reasons of the transient kinds (the same words as erpv2's).
const (
	reasonUnavailable = "the ERP is temporarily unavailable"
	reasonBadAnswer   = "the ERP gave an answer we could not read"
)

// classify turns a failed call into an *erp.Error. ctx is the caller's
// context (not the per-call one) and o the order being created, if any:
// reasons about the order are written from our own data, never from the
// ERP's text.
func classify(ctx context.Context, op string, err error, o *order.Order) *erp.Error {
	var (
		ee *erp.Error
		he *gowsdl.HTTPError
		sf *gowsdl.SOAPFault
		ue *url.Error
		ne net.Error
		xe *xml.SyntaxError
	)
	switch {
	case errors.As(err, &ee):
		return ee
	case ctx.Err() != nil:
		return transient(CodeCanceled, fmt.Errorf("%s: caller gave up: %w", op, err))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return transient(CodeTimeout, fmt.Errorf("%s: no answer within the per-call timeout: %w", op, err))
	case errors.Is(err, errTooLarge):
		return badResponse(op, err)
	case errors.As(err, &he):
		if he.StatusCode == http.StatusInternalServerError {
			if f, perr := soap.ParseFault(he.ResponseBody); perr == nil {
				var d v1FaultDetail
				_ = xml.Unmarshal(he.ResponseBody, &d) // the detail is optional; ParseFault checked the envelope
				return classifyFault(op, o, f, d.erpFault())
			}
		}
		return transient(CodeHTTPStatus, fmt.Errorf("%s: HTTP %d: %s", op, he.StatusCode, truncate(string(he.ResponseBody), 512)))
	case errors.As(err, &sf):
		// A fault in a 200 answer: not WS-I conformant, and without detail.
		return transient(CodeSOAPFault, fmt.Errorf("%s: SOAP fault %s in a 200 answer: %s", op, sf.Code, sf.String))
	case errors.As(err, &xe):
		return badResponse(op, err)
	case errors.As(err, &ue):
		return transient(CodeUnreachable, fmt.Errorf("%s: %w", op, err))
	default:
		return badResponse(op, err)
	}
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

// classifyFault classifies a fault v1 returned, by its typed detail.
func classifyFault(op string, o *order.Order, f *soap.Fault, detail *erpv1ws.ErpFault) *erp.Error {
	if detail == nil || detail.ErrorCode == nil {
		return transient(CodeSOAPFault, fmt.Errorf("%s: SOAP fault %s without ErpFault detail: %s", op, f.Code, truncate(f.String, 512)))
	}
	code := *detail.ErrorCode
	raw := fmt.Errorf("%s: SOAP fault %s %s: %s%s", op, f.Code, code, truncate(detail.Message, 512), issueText(detail.Issue))
	switch code {
	case erpv1ws.ErrorCodeUNKNOWN_SKU:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeUnknownSKU, Reason: unknownSKUReason(o, detail.Issue), Err: raw}
	case erpv1ws.ErrorCodeINVALID_ORDER:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeInvalidOrder, Reason: invalidOrderReason(detail.Issue), Err: raw}
	case erpv1ws.ErrorCodeNOT_FOUND:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeNotFound, Reason: "the ERP has no order with this reference", Err: raw}
	case erpv1ws.ErrorCodeSERVICE_BUSY:
		return transient(CodeServiceBusy, raw)
	case erpv1ws.ErrorCodeSERVICE_UNAVAILABLE:
		return transient(CodeServiceUnavailable, raw)
	case erpv1ws.ErrorCodeINVALID_REQUEST:
		return transient(CodeInvalidRequest, raw)
	default:
		return transient(CodeSOAPFault, raw)
	}
}

func transient(code string, err error) *erp.Error {
	return &erp.Error{Kind: erp.KindTransient, Code: code, Reason: reasonUnavailable, Err: err}
}

func badResponse(op string, err error) *erp.Error {
	return &erp.Error{Kind: erp.KindTransient, Code: CodeBadResponse, Reason: reasonBadAnswer, Err: fmt.Errorf("%s: unusable answer: %w", op, err)}
}

// maxListed bounds the skus or fields a reason names.
const maxListed = 5

// unknownSKUReason names the skus of the lines v1 refused, taken from our
// own order by line number, e.g. "SKU-9999 is not sold by us".
func unknownSKUReason(o *order.Order, issues []*erpv1ws.Issue) string {
	var skus []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is == nil || o == nil {
			continue
		}
		n := int(is.LineNo)
		if n == 0 {
			n, _ = lineOf(is.Field)
		}
		if n < 1 || n > len(o.Lines) {
			continue
		}
		if sku := o.Lines[n-1].SKU; !seen[sku] {
			seen[sku] = true
			skus = append(skus, sku)
		}
	}
	switch len(skus) {
	case 0:
		return "an item in this order is not sold by us"
	case 1:
		return skus[0] + " is not sold by us"
	default:
		return enumerate(skus) + " are not sold by us"
	}
}

// invalidOrderReason names the canonical fields v1 objected to, e.g. "the
// ERP cannot accept this order: lines[1].quantity".
func invalidOrderReason(issues []*erpv1ws.Issue) string {
	var fields []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is == nil {
			continue
		}
		if f, ok := canonicalField(is.Field); ok && !seen[f] {
			seen[f] = true
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return "the ERP cannot accept this order's data"
	}
	return "the ERP cannot accept this order: " + enumerate(fields)
}

// enumerate joins up to maxListed items as "a, b and c" ("… and 3 more").
func enumerate(items []string) string {
	if len(items) > maxListed {
		return strings.Join(items[:maxListed], ", ") + " and " + strconv.Itoa(len(items)-maxListed) + " more"
	}
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
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
	n, ok := lineOf(head)
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

// lineOf reads the line number n ≥ 1 out of "Line[n]" or "Line[n].Field".
func lineOf(f string) (int, bool) {
	f, _, _ = strings.Cut(f, ".")
	num, ok := strings.CutPrefix(f, "Line[")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

func issueText(issues []*erpv1ws.Issue) string {
	var b strings.Builder
	for i, is := range issues {
		if is == nil {
			continue
		}
		if i == maxListed {
			fmt.Fprintf(&b, "; … %d more", len(issues)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", is.Field, truncate(is.Text, 200))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
