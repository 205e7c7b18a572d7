package soapcall

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"erpgate/erp"
	"erpgate/order"
)

// Bounds on the ERP's own text in an operator's error message. The text is
// outside input — a fault's faultstring, its detail's Message and issue
// texts, or the body of an error answer, each up to the transport's answer
// limit (megabytes) — and the message is logged on every retry and stored
// with a dead letter in Redis. So it is cut: a real ERP's diagnosis is a
// sentence or two, well inside the bounds, and an ERP that answers
// megabytes cannot flood the logs or the dead-letter stream. The cut falls
// on a rune boundary, so the message stays valid UTF-8.
const (
	MaxFaultText = 512 // faultstring, Message, an error answer's body
	MaxIssueText = 200 // each issue's text
)

// Fault is a SOAP fault from an ERP in the terms every interface version
// shares. The adapters read their version's typed detail into it; the
// classification (ClassifyFault) is the same for all of them.
type Fault struct {
	Status int    // HTTP status of the answer
	Code   string // faultcode, e.g. "soap:Client"
	String string // faultstring
	// ErrorCode is the ErrorCode of the typed ErpFault detail, "" when the
	// fault has no such detail; Message and Issues are the detail's.
	ErrorCode string
	Message   string
	Issues    []*Issue
}

// The ErpFault error codes every interface version uses for the same causes
// (erpv1ws.ErrorCode and erpv2ws.ErrorCode spell them alike).
const (
	ErrorUnknownSKU         = "UNKNOWN_SKU"
	ErrorInvalidOrder       = "INVALID_ORDER"
	ErrorNotFound           = "NOT_FOUND"
	ErrorServiceBusy        = "SERVICE_BUSY"
	ErrorServiceUnavailable = "SERVICE_UNAVAILABLE"
	ErrorInvalidRequest     = "INVALID_REQUEST"
)

// ClassifyFault classifies a fault the ERP answered to op, by its typed
// detail:
//
//	UNKNOWN_SKU, INVALID_ORDER, NOT_FOUND  permanent; the reason is written
//	                                       from our own order o (may be nil)
//	                                       and canonical field paths
//	SERVICE_BUSY, SERVICE_UNAVAILABLE      transient
//	INVALID_REQUEST                        transient: our message does not fit
//	                                       the ERP's schema — our bug, not the
//	                                       order's; retries end in the
//	                                       dead-letter stream where operators
//	                                       see it
//	any other code, no typed detail        transient (soap_fault)
//
// canonical maps the version's field paths to canonical ones (see
// InvalidOrderReason). The ERP's text reaches only the operator's error,
// bounded by MaxFaultText and MaxIssueText.
func ClassifyFault(op string, o *order.Order, f *Fault, canonical func(string) (string, bool)) *erp.Error {
	raw := f.Err(op)
	switch f.ErrorCode {
	case ErrorUnknownSKU:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeUnknownSKU, Reason: UnknownSKUReason(o, f.Issues), Err: raw}
	case ErrorInvalidOrder:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeInvalidOrder, Reason: InvalidOrderReason(f.Issues, canonical), Err: raw}
	case ErrorNotFound:
		return &erp.Error{Kind: erp.KindPermanent, Code: CodeNotFound, Reason: ReasonNotFound, Err: raw}
	case ErrorServiceBusy:
		return Transient(CodeServiceBusy, raw)
	case ErrorServiceUnavailable:
		return Transient(CodeServiceUnavailable, raw)
	case ErrorInvalidRequest:
		return Transient(CodeInvalidRequest, raw)
	default:
		return Transient(CodeSOAPFault, raw)
	}
}

// Err returns the operator's error of the fault answered to op: status,
// fault code, error code, the ERP's message and up to MaxListed issues,
// each bounded (MaxFaultText, MaxIssueText).
func (f *Fault) Err(op string) error {
	if f.ErrorCode == "" {
		return fmt.Errorf("%s: HTTP %d: SOAP fault %s without ErpFault detail: %s", op, f.Status, f.Code, Truncate(f.String, MaxFaultText))
	}
	return fmt.Errorf("%s: HTTP %d: SOAP fault %s %s: %s%s", op, f.Status, f.Code, f.ErrorCode, Truncate(f.Message, MaxFaultText), IssueText(f.Issues))
}

// IssueText renders up to MaxListed issues for an operator's error
// message, each text cut to MaxIssueText bytes.
func IssueText(issues []*Issue) string {
	var b strings.Builder
	for i, is := range issues {
		if is == nil {
			continue
		}
		if i == MaxListed {
			fmt.Fprintf(&b, "; … %d more", len(issues)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", Truncate(is.Field, MaxIssueText), Truncate(is.Text, MaxIssueText))
	}
	return b.String()
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
