package erp

import (
	"context"
	"time"

	"erpgate/order"
)

// TypeOrderCreate is the outbox message type that asks a target to create an
// order. More types (po.ack, asn.create, …) follow with the supply chain.
const TypeOrderCreate = "order.create"

// The states of a target's result for one order.
const (
	StatePending  = "pending"  // not yet answered; deliveries are being retried
	StateCreated  = "created"  // the ERP holds the order (possibly from an earlier delivery)
	StateRejected = "rejected" // the ERP refused the order; retrying cannot help
	StateDead     = "dead"     // dead-lettered after too many deliveries; an operator may replay it
)

// Result is what one target answered for one order. It is what the store
// keeps per target (store.TargetResult is this type) and what the OnResult
// hook receives. Reason is always fit to show a shop.
type Result struct {
	State          string    `json:"state"`
	ERPOrderNumber string    `json:"erp_order_number,omitempty"`
	ERPStatus      string    `json:"erp_status,omitempty"`
	Duplicate      bool      `json:"duplicate,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Attempts       int       `json:"attempts"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Message is one outbox entry as a consumer group sees it. It carries ids,
// never a rendered payload: the adapter renders its own format from the
// canonical record when it delivers.
type Message struct {
	Part    int       // the outbox partition (stream) the entry is in
	ID      string    // outbox stream entry id, within its partition
	Type    string    // e.g. TypeOrderCreate
	OrderID string    // the order the message is about
	Only    string    // if set, only this target delivers it (a replay); others ack it unseen
	At      time.Time // when the order was accepted (for the delivery-lag histogram)
	// Deliveries counts the deliveries of this entry to this group, this one
	// included (Redis's delivery counter).
	Deliveries int64
}

// Outbox is the durable log the workers drain: Partitions streams, and on
// each one consumer group per target. *store.Outbox implements it on Redis
// Streams. Every call but DeadLetter and Defer (which take the message's
// Part) names the partition it works on. Errors are infrastructure failures
// (Redis unreachable); the worker pauses and retries.
type Outbox interface {
	// Partitions returns the number of partitions, numbered from 0.
	Partitions() int
	// Read returns up to count entries of partition part no consumer of
	// target's group has seen, now pending for consumer. It waits up to
	// block for the first one (block ≤ 0: not at all).
	Read(ctx context.Context, target, consumer string, part, count int, block time.Duration) ([]Message, error)
	// Due claims for consumer up to count entries of partition part
	// deferred with a due time not after now, oldest due first.
	Due(ctx context.Context, target, consumer string, part int, now time.Time, count int) ([]Message, error)
	// Reclaim claims for consumer up to count entries of partition part
	// that have been pending for at least minIdle: those of consumers that
	// died mid-delivery.
	Reclaim(ctx context.Context, target, consumer string, part int, minIdle time.Duration, count int) ([]Message, error)
	// Touch resets the idle time of the entries of partition part among ids
	// that consumer still holds (without counting a delivery) and returns
	// their ids; an entry another consumer took over, or that is finished,
	// is left out and must not be delivered. Workers touch a batch they are
	// slow to work through, so that Reclaim never mistakes its waiting
	// entries for a dead worker's.
	Touch(ctx context.Context, target, consumer string, part int, ids ...string) ([]string, error)
	// Defer parks pending entry m of target's group until due, setting its
	// delivery counter to deliveries (so an entry handed back without an ERP
	// call is not charged for one). The entry stays pending: a crash loses
	// nothing, and the parking survives it.
	Defer(ctx context.Context, target string, m Message, due time.Time, deliveries int64) error
	// Ack marks entries of partition part done for target's group.
	Ack(ctx context.Context, target string, part int, ids ...string) error
	// DeadLetter moves m out of target's group into the dead-letter stream,
	// with an operator-facing reason, in one atomic step.
	DeadLetter(ctx context.Context, target string, m Message, reason string) error
}

// Adopter is an optional capability of Outbox: taking over the entries of a
// consumer whose instance is gone at once, instead of after ReclaimMinIdle.
// *store.Outbox implements it.
type Adopter interface {
	// Holders returns the consumers of target's group on partition part
	// that hold pending entries.
	Holders(ctx context.Context, target string, part int) ([]string, error)
	// Adopt claims for consumer up to count entries of partition part
	// pending for consumer from that have been idle at least minIdle,
	// oldest first, counting a delivery each.
	Adopt(ctx context.Context, target string, part int, from, consumer string, minIdle time.Duration, count int) ([]Message, error)
}

// Liveness tells whether a gateway instance is alive (heartbeating);
// *store.Instances implements it. Errors: Unavailable.
type Liveness interface {
	Alive(ctx context.Context, id string) (bool, error)
}

// Orders is what the workers need from the order store; *store.Store
// implements it (and BatchLoader).
type Orders interface {
	// LoadOrder returns the canonical order. Errors: erpgate.NotFound, or
	// erpgate.Unavailable when the store is unreachable.
	LoadOrder(ctx context.Context, id string) (*order.Order, error)
	// SetResult records target's answer for the order; when authoritative it
	// also sets the order's status. A pending result never replaces a final
	// one and a created result is never replaced by another state.
	SetResult(ctx context.Context, orderID, target string, r Result, authoritative bool) error
}

// BatchLoader is an optional capability of Orders: loading the orders of a
// fetched batch in one round trip instead of one per delivery. The workers
// use it when Orders has it.
type BatchLoader interface {
	// LoadOrders returns the canonical orders ids name, index by index, with
	// errs[i] the error of ids[i] (erpgate.NotFound, erpgate.Unavailable)
	// when orders[i] is nil. err is set, and the slices nil, when the store
	// could not be asked at all (erpgate.Unavailable).
	LoadOrders(ctx context.Context, ids []string) (orders []*order.Order, errs []error, err error)
}

// ResultHook is called after a target's result for an order was recorded
// (created, rejected, retried as pending, dead). It runs on the delivering
// worker, so it must be quick; it may be called more than once for the same
// result (delivery is at-least-once).
type ResultHook func(ctx context.Context, target string, o *order.Order, r Result, authoritative bool)
