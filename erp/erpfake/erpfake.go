// Package erpfake is an in-memory erp.Adapter for unit tests of the code
// that drives adapters (delivery workers, release plan, tracking): it holds
// orders in a map, behaves like ERP v2 (idempotent by external reference,
// unknown skus refused, status readable, whole order readable back) and
// fails on demand — down, a queue of injected failures, lost replies, or a
// hook that can block until the caller's context ends.
//
// It passes the conformance suite in erp/erptest, so a test that passes
// against the fake exercises the same contract the real adapters keep.
package erpfake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"erpgate/erp"
	"erpgate/order"
)

// Op names an adapter operation, for injected faults and call counts.
type Op string

// The operations of the fake.
const (
	OpCreate Op = "create" // CreateOrder
	OpStatus Op = "status" // OrderStatus
	OpFetch  Op = "fetch"  // FetchOrder
)

// Config configures a Fake. The zero value is a v2-like fake that sells the
// demo catalog.
type Config struct {
	// Target is what Target returns (empty: erp.V2).
	Target string
	// SKUs lists what the ERP sells (nil: the demo catalog SKU-1001 …
	// SKU-1020). A line with another sku is refused with unknown_sku.
	SKUs []string
	// NumberPrefix starts every ERP order number (empty: "FAKE-"); numbers
	// are the prefix and six or more digits, e.g. FAKE-000001.
	NumberPrefix string
}

// Fault is one injected failure.
type Fault struct {
	// Op is the operation it hits; empty hits the next call of any kind.
	Op Op
	// Err is what the call returns, usually an *erp.Error (Transient,
	// Permanent).
	Err error
	// AfterCreate, for a create, carries the create out first and then
	// returns Err: the ERP has the order but the reply is lost. Redelivery
	// must then see Duplicate.
	AfterCreate bool
}

// Record is one order the fake holds.
type Record struct {
	Ref            string
	ERPOrderNumber string
	// CreateCalls counts the creates received for the order.
	CreateCalls int
	Status      erp.Status
	// Order is a copy of the order as first created.
	Order *order.Order
}

// Fake is the in-memory ERP adapter. It is safe for concurrent use.
type Fake struct {
	target string
	prefix string
	skus   map[string]bool

	mu     sync.Mutex
	seq    int
	orders map[string]*Record
	refs   []string // creation order
	down   bool
	faults []Fault
	hook   func(ctx context.Context, op Op, ref string) error
	calls  map[Op]int
}

var _ erp.Adapter = (*Fake)(nil)

// New returns an empty fake.
func New(cfg Config) *Fake {
	f := &Fake{
		target: cfg.Target,
		prefix: cfg.NumberPrefix,
		skus:   make(map[string]bool),
		orders: make(map[string]*Record),
		calls:  make(map[Op]int),
	}
	if f.target == "" {
		f.target = erp.V2
	}
	if f.prefix == "" {
		f.prefix = "FAKE-"
	}
	skus := cfg.SKUs
	if skus == nil {
		for i := 1001; i <= 1020; i++ {
			skus = append(skus, "SKU-"+strconv.Itoa(i))
		}
	}
	for _, s := range skus {
		f.skus[s] = true
	}
	return f
}

// Transient returns an injected transient failure (Code "service_busy").
func Transient() *erp.Error {
	return &erp.Error{Kind: erp.KindTransient, Code: "service_busy", Reason: "the ERP is temporarily unavailable",
		Err: errors.New("erpfake: injected transient failure")}
}

// Permanent returns an injected permanent failure with a machine code and a
// shop-safe reason.
func Permanent(code, reason string) *erp.Error {
	return &erp.Error{Kind: erp.KindPermanent, Code: code, Reason: reason,
		Err: errors.New("erpfake: injected permanent failure")}
}

// Target returns the configured target name.
func (f *Fake) Target() string { return f.target }

// SetDown makes every call fail transiently (Code "unreachable") until
// SetDown(false).
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Inject queues faults. Each call takes the first queued fault whose Op
// matches it (or is empty); calls that match none behave normally.
func (f *Fake) Inject(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// SetHook installs fn, called at the start of every call with the caller's
// context; a non-nil result is returned to the caller as is. A hook can
// block on ctx.Done() to simulate a hanging ERP, or count and fail calls by
// order. nil removes the hook.
func (f *Fake) SetHook(fn func(ctx context.Context, op Op, ref string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// CreateOrder creates o, or confirms the order already held for o.ID with
// Duplicate set. Unknown skus are refused permanently (Code "unknown_sku").
func (f *Fake) CreateOrder(ctx context.Context, o *order.Order) (erp.Confirmation, error) {
	ref := ""
	if o != nil {
		ref = o.ID
	}
	fault, err := f.begin(ctx, OpCreate, ref)
	if err != nil {
		return erp.Confirmation{}, err
	}
	if fault != nil && !fault.AfterCreate {
		return erp.Confirmation{}, fault.Err
	}
	if o == nil || o.ID == "" {
		return erp.Confirmation{}, Permanent("invalid_order", "the order has no id")
	}
	if err := f.checkSKUs(o); err != nil {
		return erp.Confirmation{}, err
	}

	f.mu.Lock()
	rec, dup := f.orders[o.ID]
	if dup {
		rec.CreateCalls++
	} else {
		f.seq++
		num := strconv.Itoa(f.seq)
		if len(num) < 6 {
			num = strings.Repeat("0", 6-len(num)) + num
		}
		rec = &Record{Ref: o.ID, ERPOrderNumber: f.prefix + num, CreateCalls: 1, Order: o.Clone()}
		rec.Status = erp.Status{ERPOrderNumber: rec.ERPOrderNumber, Status: "confirmed"}
		f.orders[o.ID] = rec
		f.refs = append(f.refs, o.ID)
	}
	c := erp.Confirmation{
		ERPOrderNumber: rec.ERPOrderNumber,
		Status:         rec.Status.Status,
		Total:          rec.Order.Total(),
		LineCount:      len(rec.Order.Lines),
		Duplicate:      dup,
	}
	f.mu.Unlock()

	if fault != nil {
		return erp.Confirmation{}, fault.Err
	}
	return c, nil
}

func (f *Fake) checkSKUs(o *order.Order) error {
	var unknown []string
	seen := map[string]bool{}
	for _, l := range o.Lines {
		if !f.skus[l.SKU] && !seen[l.SKU] {
			seen[l.SKU] = true
			unknown = append(unknown, l.SKU)
		}
	}
	switch len(unknown) {
	case 0:
		return nil
	case 1:
		return Permanent("unknown_sku", unknown[0]+" is not sold by us")
	default:
		last := len(unknown) - 1
		return Permanent("unknown_sku", strings.Join(unknown[:last], ", ")+" and "+unknown[last]+" are not sold by us")
	}
}

// OrderStatus returns the status of the order held for ref; an unknown ref
// is a permanent error with Code "not_found".
func (f *Fake) OrderStatus(ctx context.Context, ref string) (erp.Status, error) {
	fault, err := f.begin(ctx, OpStatus, ref)
	if err != nil {
		return erp.Status{}, err
	}
	if fault != nil {
		return erp.Status{}, fault.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.orders[ref]
	if !ok {
		return erp.Status{}, notFound(ref)
	}
	return rec.Status, nil
}

// FetchOrder returns a copy of the order held for ref (the OrderFetcher
// capability of erp/erptest, as ERP v2 offers it).
func (f *Fake) FetchOrder(ctx context.Context, ref string) (*order.Order, error) {
	fault, err := f.begin(ctx, OpFetch, ref)
	if err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.orders[ref]
	if !ok {
		return nil, notFound(ref)
	}
	return rec.Order.Clone(), nil
}

// begin runs the checks every call starts with: the caller's context, the
// hook, down, and the fault queue. It returns the fault the call takes, if
// any, or an error to return at once.
func (f *Fake) begin(ctx context.Context, op Op, ref string) (*Fault, error) {
	f.mu.Lock()
	f.calls[op]++
	hook := f.hook
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, &erp.Error{Kind: erp.KindTransient, Code: "canceled", Reason: "the ERP is temporarily unavailable", Err: err}
	}
	if hook != nil {
		if err := hook(ctx, op, ref); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, &erp.Error{Kind: erp.KindTransient, Code: "unreachable", Reason: "the ERP is temporarily unavailable",
			Err: errors.New("erpfake: ERP is down")}
	}
	for i, ft := range f.faults {
		if ft.Op == "" || ft.Op == op {
			f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			return &ft, nil
		}
	}
	return nil, nil
}

func notFound(ref string) *erp.Error {
	return &erp.Error{Kind: erp.KindPermanent, Code: "not_found", Reason: "the ERP has no order with this reference",
		Err: fmt.Errorf("erpfake: no order %q", ref)}
}

// SetStatus sets the status of the order held for ref (ERPOrderNumber is
// kept), as the ERP's lifecycle would.
func (f *Fake) SetStatus(ref string, st erp.Status) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.orders[ref]
	if !ok {
		return notFound(ref)
	}
	st.ERPOrderNumber = rec.ERPOrderNumber
	rec.Status = st
	return nil
}

// Holds returns how many orders the fake holds for ref: 0 or 1.
func (f *Fake) Holds(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.orders[ref]; ok {
		return 1
	}
	return 0
}

// Orders returns copies of the orders held, in creation order.
func (f *Fake) Orders() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Record, len(f.refs))
	for i, ref := range f.refs {
		rec := *f.orders[ref]
		rec.Order = rec.Order.Clone()
		out[i] = rec
	}
	return out
}

// Calls returns how many calls of op the fake received, failed ones
// included.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}
