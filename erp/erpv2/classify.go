package erpv2

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/soap/erpv2ws"
)

// Codes of erp.Error this adapter returns (see the package comment).
const (
	CodeUnknownSKU         = "unknown_sku"
	CodeInvalidOrder       = "invalid_order"
	CodeNotFound           = "not_found"
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

// Shop-safe reasons of the transient kinds. A transient failure is retried,
// so a shop sees it at most as "still being delivered".
const (
	reasonUnavailable = "the ERP is temporarily unavailable"
	reasonBadAnswer   = "the ERP gave an answer we could not read"
)

// classify turns a failed call into an *erp.Error. ctx is the caller's
// context (not the per-call one) and o the order being created, if any:
// reasons about the order are written from our own data.
func classify(ctx context.Context, op string, o *order.Order, err error) *erp.Error {
	var (
		he *gsoap.HTTPError
		sf *gsoap.SOAPFault
		ue *url.Error
		ne net.Error
	)
	switch {
	case ctx.Err() != nil:
		return transient(CodeCanceled, fmt.Errorf("%s: caller gave up: %w", op, err))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return transient(CodeTimeout, fmt.Errorf("%s: no answer within the per-call timeout: %w", op, err))
	case errors.Is(err, errResponseTooLarge):
		return badResponse(op, err)
	case errors.As(err, &he):
		if f := parseFault(he.ResponseBody); f != nil {
			return classifyFault(op, o, he.StatusCode, f)
		}
		return transient(CodeHTTPStatus, fmt.Errorf("%s: HTTP %d: %s", op, he.StatusCode, truncate(string(he.ResponseBody), 512)))
	case errors.As(err, &sf):
		// A fault in a 200 answer: not WS-I conformant, and without detail.
		return transient(CodeSOAPFault, fmt.Errorf("%s: SOAP fault %s in a 200 answer: %s", op, sf.Code, sf.String))
	case errors.As(err, &ue):
		return transient(CodeUnreachable, fmt.Errorf("%s: %w", op, err))
	default:
		return badResponse(op, err)
	}
}

// soapFault is a SOAP 1.1 fault with v2's typed detail.
type soapFault struct {
	Code   string            `xml:"faultcode"`
	String string            `xml:"faultstring"`
	Detail *erpv2ws.ErpFault `xml:"detail>ErpFault"`
}

// parseFault reads the SOAP 1.1 fault in an error answer, or returns nil.
func parseFault(body []byte) *soapFault {
	var env struct {
		Body struct {
			Fault *soapFault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if xml.Unmarshal(body, &env) != nil {
		return nil
	}
	return env.Body.Fault
}

// classifyFault classifies a fault the ERP returned.
func classifyFault(op string, o *order.Order, status int, f *soapFault) *erp.Error {
	if f.Detail == nil || f.Detail.ErrorCode == nil {
		return transient(CodeSOAPFault, fmt.Errorf("%s: HTTP %d: SOAP fault %s without ErpFault detail: %s", op, status, f.Code, f.String))
	}
	code := *f.Detail.ErrorCode
	raw := fmt.Errorf("%s: SOAP fault %s %s: %s%s", op, f.Code, code, f.Detail.Message, issueText(f.Detail.Issue))
	switch code {
	case erpv2ws.ErrorCodeUNKNOWN_SKU:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeUnknownSKU, Reason: unknownSKUReason(o, f.Detail.Issue), Err: raw}
	case erpv2ws.ErrorCodeINVALID_ORDER:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeInvalidOrder, Reason: invalidOrderReason(f.Detail.Issue), Err: raw}
	case erpv2ws.ErrorCodeNOT_FOUND:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeNotFound, Reason: "the ERP has no order with this reference", Err: raw}
	case erpv2ws.ErrorCodeSERVICE_BUSY:
		return transient(CodeServiceBusy, raw)
	case erpv2ws.ErrorCodeSERVICE_UNAVAILABLE:
		return transient(CodeServiceUnavailable, raw)
	case erpv2ws.ErrorCodeINVALID_REQUEST:
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

// unknownSKUReason names the skus of the lines the ERP refused, taken from
// our own order by line number, e.g. "SKU-9999 is not sold by us".
func unknownSKUReason(o *order.Order, issues []*erpv2ws.Issue) string {
	var skus []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is == nil || o == nil {
			continue
		}
		n := int(is.LineNumber)
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

// invalidOrderReason names the canonical fields the ERP objected to, e.g.
// "the ERP cannot accept this order: lines[1].quantity".
func invalidOrderReason(issues []*erpv2ws.Issue) string {
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
		rest := len(items) - maxListed
		return strings.Join(items[:maxListed], ", ") + " and " + strconv.Itoa(rest) + " more"
	}
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// v2Fields maps v2 field paths to canonical JSON paths.
var v2Fields = map[string]string{
	"ExternalReference":       "id",
	"SalesChannel":            "shop_id",
	"CustomerOrderReference":  "external_id",
	"OrderedAt":               "created_at",
	"Customer":                "customer",
	"Customer.CustomerNumber": "customer.id",
	"Customer.Name":           "customer.name",
	"Customer.Email":          "customer.email",
	"Customer.Phone":          "customer.phone",
	"ShipTo":                  "shipping_address",
	"BillTo":                  "billing_address",
	"Currency":                "currency",
	"Line":                    "lines",
	"Shipping":                "shipping",
	"Shipping.Method":         "shipping.method",
	"Shipping.Price":          "shipping.price",
	"RequestedDeliveryDate":   "requested_delivery_date",
	"Notes":                   "notes",
}

var v2AddressFields = map[string]string{
	"Name": "name", "Street1": "line1", "Street2": "line2", "City": "city",
	"PostalCode": "postal_code", "Region": "region", "CountryCode": "country",
}

var v2LineFields = map[string]string{
	"LineNumber": "", "Sku": "sku", "Description": "description", "Quantity": "quantity",
	"UnitPrice": "unit_price", "Discount": "discount",
}

// canonicalField maps a v2 field path ("Line[3].UnitPrice", "ShipTo.City")
// to the canonical one ("lines[2].unit_price", "shipping_address.city").
// Paths it does not know are not mapped, so no ERP text gets through.
func canonicalField(f string) (string, bool) {
	if c, ok := v2Fields[f]; ok {
		return c, true
	}
	head, tail, _ := strings.Cut(f, ".")
	switch head {
	case "ShipTo", "BillTo":
		if c, ok := v2AddressFields[tail]; ok {
			return v2Fields[head] + "." + c, true
		}
		return "", false
	}
	n, ok := lineOf(head)
	if !ok {
		return "", false
	}
	path := "lines[" + strconv.Itoa(n-1) + "]"
	if tail == "" {
		return path, true
	}
	c, ok := v2LineFields[tail]
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

func issueText(issues []*erpv2ws.Issue) string {
	var b strings.Builder
	for i, is := range issues {
		if is == nil {
			continue
		}
		if i == maxListed {
			fmt.Fprintf(&b, "; … %d more", len(issues)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", is.Field, is.Text)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
