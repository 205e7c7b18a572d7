package erpsim

import (
	"errors"
	"fmt"
	"time"
)

// Status words of a simulated order, the vocabulary of v2's OrderStatus.
const (
	StatusConfirmed   = "confirmed"
	StatusBackordered = "backordered"
	StatusAllocated   = "allocated"
	StatusPicked      = "picked"
	StatusShipped     = "shipped"
	StatusDelivered   = "delivered"
	StatusCancelled   = "cancelled"
	StatusRejected    = "rejected"
)

var knownStatus = map[string]bool{
	StatusConfirmed: true, StatusBackordered: true, StatusAllocated: true, StatusPicked: true,
	StatusShipped: true, StatusDelivered: true, StatusCancelled: true, StatusRejected: true,
}

// OrderStatus is where a simulated order is in its lifecycle.
type OrderStatus struct {
	Status    string    `json:"status"`
	ChangedAt time.Time `json:"changed_at"`
	// Carrier and TrackingNumber are set once shipped.
	Carrier        string `json:"carrier,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	// ExpectedDelivery is a civil date "YYYY-MM-DD", or empty.
	ExpectedDelivery string `json:"expected_delivery,omitempty"`
}

// ErrNotFound is returned for an external reference the ERP does not hold.
var ErrNotFound = errors.New("erpsim: no such order")

// startLifecycle gives a newly created order its first status. Every order
// is confirmed at create.
//
// This is the hook for the lifecycle of issue 5: there it also plans the
// later steps (backordered when stock is short, allocated, picked, shipped
// with carrier and tracking number, delivered) on the injected clock, and a
// driver applies them with SetStatus and pushes them to the gateway.
func (s *Sim) startLifecycle(rec *record, now time.Time) {
	rec.status = OrderStatus{Status: StatusConfirmed, ChangedAt: now}
}

// SetStatus moves the order(s) that version holds with external reference
// ref to st. A zero st.ChangedAt means now (by the simulator's clock). It
// returns ErrUnknownVersion, ErrNotFound or an error for an unknown status
// word.
func (s *Sim) SetStatus(version, ref string, st OrderStatus) error {
	v := s.versions[version]
	if v == nil {
		return fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	if !knownStatus[st.Status] {
		return fmt.Errorf("erpsim: unknown status %q", st.Status)
	}
	if st.ChangedAt.IsZero() {
		st.ChangedAt = s.clock()
	}
	if !v.store.update(ref, func(r *record) { r.status = st }) {
		return fmt.Errorf("%w %q in %s", ErrNotFound, ref, version)
	}
	return nil
}
