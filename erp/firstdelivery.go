package erp

import (
	"context"

	"erpgate/order"
)

// First deliveries.
//
// An adapter whose ERP cannot create idempotently (v1) looks an order up
// before creating it, in case an earlier attempt created it and the
// gateway never learnt so. That lookup is a second ERP call per order, and
// for almost every order it is provably unnecessary: the delivery workers
// know when no earlier attempt can have reached the target — the outbox
// entry is read for the first time (Message.Deliveries == 1: an attempt cut
// short leaves its entry pending, and it comes back with a higher count),
// it is no replay (Message.Only), and the target has no result recorded for
// the order (every attempt that ended, by any entry, recorded one). They
// mark such a call's context with WithFirstDelivery; the adapter may then
// create without looking first. It still looks after an uncertain failure
// (a lost answer), which is where a first attempt can create unseen.

type firstDeliveryKey struct{}

// WithFirstDelivery marks ctx as the first delivery of an order to a
// target: no earlier attempt to create it there can have been made.
func WithFirstDelivery(ctx context.Context) context.Context {
	return context.WithValue(ctx, firstDeliveryKey{}, true)
}

// FirstDelivery reports whether ctx was marked by WithFirstDelivery.
func FirstDelivery(ctx context.Context) bool {
	v, _ := ctx.Value(firstDeliveryKey{}).(bool)
	return v
}

// FreshLoader is an optional capability of Orders, used instead of
// BatchLoader when present: LoadOrders that also reports, per order,
// whether target has no result recorded for it yet.
type FreshLoader interface {
	LoadOrdersFor(ctx context.Context, target string, ids []string) (orders []*order.Order, fresh []bool, errs []error, err error)
}
