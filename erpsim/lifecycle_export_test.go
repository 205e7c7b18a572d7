package erpsim

import (
	"time"

	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2ws"
)

// SetPushBackoff shortens the status push backoff for tests.
func SetPushBackoff(s *Sim, base, max time.Duration) {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	s.push.retryBase, s.push.retryMax = base, max
}

// CreateDirect stores an order of qty × sku in version's book as a create
// would (without SOAP), so that scale tests can make many orders cheaply.
func CreateDirect(s *Sim, version, ref, sku string, qty int64) error {
	v := s.versions[version]
	now := s.clock()
	_, err := v.store.createNew(ref, now, func(r *record) {
		switch version {
		case "v2":
			r.payload = &erpv2ws.SalesOrder{ExternalReference: ref, Line: []*erpv2ws.OrderLine{{LineNumber: 1, Sku: sku, Quantity: qty}}}
		default:
			r.payload = &erpv1ws.Order{Reference: ref, Line: []*erpv1ws.OrderLine{{LineNo: 1, ItemNo: sku, Quantity: int32(qty)}}}
		}
		s.startLifecycle(r, now)
	})
	return err
}

// LifecycleOrders returns how many orders have a running lifecycle.
func LifecycleOrders(s *Sim) int {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	return len(s.life.orders)
}
