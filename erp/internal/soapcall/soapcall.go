// Package soapcall is what the SOAP ERP adapters (erpv1, erpv2) share
// about calling an ERP through gowsdl's client: an HTTP client that keeps
// connections alive and bounds answers, the classification of failed calls
// into *erp.Error (timeouts, lost connections, HTTP status, and the ERP's
// faults by their error code: ClassifyFault), and the shop-safe reasons
// built from a fault's issues. What differs by interface version — reading
// the fault's typed detail and the field paths — stays in the adapters,
// which never import each other.
package soapcall

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"erpgate/erp"
	"erpgate/order"
)

// Codes of the *erp.Error values both adapters return for the same causes,
// so dashboards and the shadow comparison see one vocabulary. The adapters
// export them under their own names.
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
	ReasonUnavailable = "the ERP is temporarily unavailable"
	ReasonBadAnswer   = "the ERP gave an answer we could not read"
	// ReasonNotFound is the reason of a NOT_FOUND fault about an order.
	ReasonNotFound = "the ERP has no order with this reference"
)

// FaultFunc classifies the answer of an HTTP error status by the SOAP fault
// in its body, or returns nil when the body holds no fault it reads; the
// call then counts as a plain HTTP failure.
type FaultFunc func(status int, body []byte) *erp.Error

// Classify turns a failed call into an *erp.Error. ctx is the caller's
// context (not the per-call one), so its end reads as canceled and the
// per-call deadline as a timeout. tooLarge is the Limit.Err of the client's
// transport; fault reads the fault of an HTTP error answer.
func Classify(ctx context.Context, op string, err, tooLarge error, fault FaultFunc) *erp.Error {
	var (
		he *gowsdl.HTTPError
		sf *gowsdl.SOAPFault
		ue *url.Error
		ne net.Error
		xe *xml.SyntaxError
	)
	switch {
	case ctx.Err() != nil:
		return Transient(CodeCanceled, fmt.Errorf("%s: caller gave up: %w", op, err))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Transient(CodeTimeout, fmt.Errorf("%s: no answer within the per-call timeout: %w", op, err))
	case errors.Is(err, tooLarge):
		return BadResponse(op, err)
	case errors.As(err, &he):
		if e := fault(he.StatusCode, he.ResponseBody); e != nil {
			return e
		}
		return Transient(CodeHTTPStatus, fmt.Errorf("%s: HTTP %d: %s", op, he.StatusCode, Truncate(string(he.ResponseBody), MaxFaultText)))
	case errors.As(err, &sf):
		// A fault in a 200 answer: not WS-I conformant, and without detail.
		return Transient(CodeSOAPFault, fmt.Errorf("%s: SOAP fault %s in a 200 answer: %s", op, sf.Code, Truncate(sf.String, MaxFaultText)))
	case errors.As(err, &xe):
		return BadResponse(op, err)
	case errors.As(err, &ue):
		return Transient(CodeUnreachable, fmt.Errorf("%s: %w", op, err))
	default:
		return BadResponse(op, err)
	}
}

// Transient returns a transient *erp.Error with the shop-safe reason
// ReasonUnavailable.
func Transient(code string, err error) *erp.Error {
	return &erp.Error{Kind: erp.KindTransient, Code: code, Reason: ReasonUnavailable, Err: err}
}

// BadResponse returns the transient *erp.Error of an answer op could not
// use.
func BadResponse(op string, err error) *erp.Error {
	return &erp.Error{Kind: erp.KindTransient, Code: CodeBadResponse, Reason: ReasonBadAnswer, Err: fmt.Errorf("%s: unusable answer: %w", op, err)}
}

// Issue is one finding of a fault's detail, in the terms both interface
// versions use: the field path, the line number (0 when not about a line)
// and the ERP's text (never shown to a shop).
type Issue struct {
	Field string
	Line  int
	Text  string
}

// MaxListed bounds the skus, fields or issues a reason or message names.
const MaxListed = 5

// UnknownSKUReason names the skus of the lines the ERP refused, taken from
// our own order o by line number (Issue.Line, else the "Line[n]" of the
// field), e.g. "SKU-9999 is not sold by us". Nil issues are skipped.
func UnknownSKUReason(o *order.Order, issues []*Issue) string {
	var skus []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is == nil || o == nil {
			continue
		}
		n := is.Line
		if n == 0 {
			n, _ = LineOf(is.Field)
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
		return Enumerate(skus) + " are not sold by us"
	}
}

// InvalidOrderReason names the canonical fields the ERP objected to, e.g.
// "the ERP cannot accept this order: lines[1].quantity". canonical maps a
// version's field path to the canonical one; paths it does not know are
// left out, so no ERP text gets through.
func InvalidOrderReason(issues []*Issue, canonical func(string) (string, bool)) string {
	var fields []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is == nil {
			continue
		}
		if f, ok := canonical(is.Field); ok && !seen[f] {
			seen[f] = true
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return "the ERP cannot accept this order's data"
	}
	return "the ERP cannot accept this order: " + Enumerate(fields)
}

// Enumerate joins up to MaxListed items as "a, b and c" ("… and 3 more").
func Enumerate(items []string) string {
	if len(items) > MaxListed {
		return strings.Join(items[:MaxListed], ", ") + " and " + strconv.Itoa(len(items)-MaxListed) + " more"
	}
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// LineOf reads the line number n ≥ 1 out of "Line[n]" or "Line[n].Field".
func LineOf(f string) (int, bool) {
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
