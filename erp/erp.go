// Package erp is the gateway's side of the ERP: the adapter contract every ERP
// interface version implements, the classification of ERP failures, and (in
// later files) the release plan and the delivery workers that drain the outbox
// into each target.
//
// Adapters live in sub-packages named after what they wrap (erpv1, erpv2);
// they never import each other. erptest holds the conformance suite every
// adapter and fake must pass.
package erp

import (
	"context"
	"errors"
	"fmt"

	"erpgate/order"
)

// Target names. A target is one ERP interface version; each reads the outbox
// through its own consumer group "erp-<target>".
const (
	V1 = "v1" // the old release's interface
	V2 = "v2" // the new WebServices
)

// Adapter is one ERP interface version, seen from the gateway. Implementations
// translate the canonical order to their wire format, call the ERP with a
// per-call deadline, and classify every failure as an *Error.
//
// Delivery is at-least-once from the outbox; an adapter makes it exactly-once
// on the ERP side by keying every create by o.ID (the external reference) and
// treating "already exists" as success (Confirmation.Duplicate).
type Adapter interface {
	// Target returns the target name (V1, V2).
	Target() string

	// CreateOrder creates o in the ERP. If the ERP already holds an order with
	// external reference o.ID it returns that order's confirmation with
	// Duplicate set, and no error. Errors are *Error: KindTransient (retry
	// later) or KindPermanent (the ERP refused this order; do not retry).
	CreateOrder(ctx context.Context, o *order.Order) (Confirmation, error)

	// OrderStatus returns the ERP's view of the order with external reference
	// ref. Errors are *Error; an unknown ref is KindPermanent with Code
	// "not_found".
	OrderStatus(ctx context.Context, ref string) (Status, error)
}

// Confirmation is what an ERP answered to a create.
type Confirmation struct {
	ERPOrderNumber string        `json:"erp_order_number"`
	Status         string        `json:"status"`     // ERP's status word, e.g. "confirmed"
	Total          order.Decimal `json:"total"`      // order total as the ERP computed it
	LineCount      int           `json:"line_count"` // lines the ERP booked
	Duplicate      bool          `json:"duplicate"`  // the ERP already had this order
}

// Status is the ERP's current view of an order.
type Status struct {
	ERPOrderNumber string `json:"erp_order_number"`
	Status         string `json:"status"`
	// Carrier and TrackingNumber are set once shipped.
	Carrier        string `json:"carrier,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	// ExpectedDelivery is a civil date "YYYY-MM-DD", or empty.
	ExpectedDelivery string `json:"expected_delivery,omitempty"`
}

// Kind classifies an ERP failure.
type Kind int

// The kinds of ERP failure.
const (
	// KindTransient: timeouts, connection errors, 5xx, ERP busy or in
	// maintenance. The delivery is retried with backoff.
	KindTransient Kind = iota + 1
	// KindPermanent: the ERP refused the message (unknown sku, invalid data).
	// Retrying cannot help; the order is marked rejected with Reason.
	KindPermanent
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindPermanent:
		return "permanent"
	default:
		return "unknown"
	}
}

// Error is a classified ERP failure. Reason is fit to show a shop (never the
// ERP's raw text); Err keeps the raw cause for operators.
type Error struct {
	Kind   Kind
	Code   string // the ERP's machine code if any, e.g. "unknown_sku"
	Reason string // shop-safe explanation, e.g. "SKU-9999 is not sold"
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("erp %s error %s: %s: %v", e.Kind, e.Code, e.Reason, e.Err)
}

// Unwrap returns the raw cause.
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a classified permanent ERP failure. Any
// unclassified error counts as transient: retrying is the safe default.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindPermanent
}
