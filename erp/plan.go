package erp

import "erpgate/order"

// Plan is the part of the release plan the delivery workers obey. It is read
// on every loop of every worker, so implementations must be cheap and safe
// for concurrent use (a Redis-backed plan keeps a cached copy and refreshes it
// in the background).
type Plan interface {
	// Active reports whether target consumes the outbox now. A paused target
	// delivers nothing; its entries wait in its consumer group until it is
	// active again, so pausing never loses a message.
	Active(target string) bool

	// Authoritative returns the target whose answers (ERP order number,
	// status) are what the shop and the customer see for o. Cohorts (pilot
	// customers, a percentage) are decided here.
	Authoritative(o *order.Order) string
}

// StaticPlan is a fixed plan: every target active except those in Paused,
// and Authority (V2 when empty) authoritative for every order. Its zero value
// is the plan a fresh system starts with: v2 authoritative, v1 beside it.
type StaticPlan struct {
	Authority string          // authoritative target; "" means V2
	Paused    map[string]bool // targets that do not consume
}

var _ Plan = StaticPlan{}

// Active reports whether target is not paused.
func (p StaticPlan) Active(target string) bool { return !p.Paused[target] }

// Authoritative returns p.Authority, or V2 when it is empty.
func (p StaticPlan) Authoritative(*order.Order) string {
	if p.Authority == "" {
		return V2
	}
	return p.Authority
}
