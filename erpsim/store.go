package erpsim

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"erpgate/order"
)

// errStoreFull is returned when a version holds MaxOrders orders.
var errStoreFull = errors.New("erpsim: order store full")

// record is one order a simulated ERP holds.
type record struct {
	ref         string
	number      string
	createCalls int
	createdAt   time.Time
	status      OrderStatus
	total       order.Decimal
	currency    string
	lineCount   int
	// payload is the version's wire form of the order as received, kept to
	// answer reads. It is never modified after the record is stored, so
	// copies of a record may share it.
	payload any
}

// store is the order book of one simulated version. Records are handed out
// by value, so callers never race with later updates.
type store struct {
	mu      sync.Mutex
	version string
	prefix  string
	max     int
	seq     int
	byRef   map[string][]*record
	list    []*record // creation order
}

func newStore(version, prefix string, max int) *store {
	return &store{version: version, prefix: prefix, max: max, byRef: make(map[string][]*record)}
}

// nextNumber returns the next order number; st.mu must be held.
func (st *store) nextNumber() string {
	st.seq++
	n := strconv.Itoa(st.seq)
	if len(n) < 6 {
		n = "000000"[len(n):] + n
	}
	return st.prefix + n
}

// insert adds a record built by fill; st.mu must be held.
func (st *store) insert(ref string, now time.Time, fill func(*record)) (*record, error) {
	if len(st.list) >= st.max {
		return nil, errStoreFull
	}
	rec := &record{ref: ref, createCalls: 1, createdAt: now}
	fill(rec)
	rec.number = st.nextNumber()
	st.byRef[ref] = append(st.byRef[ref], rec)
	st.list = append(st.list, rec)
	return rec, nil
}

// createOnce is an idempotent create: if an order with ref exists, it counts
// the call on it and returns it with existed set; otherwise it stores a new
// order built by fill. Check and insert are one step, so concurrent creates
// of one ref make one order.
func (st *store) createOnce(ref string, now time.Time, fill func(*record)) (rec record, existed bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if recs := st.byRef[ref]; len(recs) > 0 {
		recs[0].createCalls++
		return *recs[0], true, nil
	}
	r, err := st.insert(ref, now, fill)
	if err != nil {
		return record{}, false, err
	}
	return *r, false, nil
}

// createNew always stores a new order, even if ref is already held: the
// behaviour of a non-idempotent interface (the old release, v1).
func (st *store) createNew(ref string, now time.Time, fill func(*record)) (record, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r, err := st.insert(ref, now, fill)
	if err != nil {
		return record{}, err
	}
	return *r, nil
}

// lookup returns the first order stored with ref.
func (st *store) lookup(ref string) (record, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if recs := st.byRef[ref]; len(recs) > 0 {
		return *recs[0], true
	}
	return record{}, false
}

// update applies fn to every order stored with ref and reports whether
// there was one.
func (st *store) update(ref string, fn func(*record)) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	recs := st.byRef[ref]
	for _, r := range recs {
		fn(r)
	}
	return len(recs) > 0
}

// infos returns the orders with ref (all if ref is empty) for inspection.
func (st *store) infos(ref string) []OrderInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	recs := st.list
	if ref != "" {
		recs = st.byRef[ref]
	}
	out := make([]OrderInfo, len(recs))
	for i, r := range recs {
		out[i] = r.info(st.version)
	}
	return out
}

// len returns the number of orders held.
func (st *store) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.list)
}

// reset forgets every order. Numbers keep counting up, so a number is never
// given to two orders in one simulator's life.
func (st *store) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.byRef = make(map[string][]*record)
	st.list = nil
}

func (r *record) info(version string) OrderInfo {
	return OrderInfo{
		Version:          version,
		ExternalRef:      r.ref,
		ERPOrderNumber:   r.number,
		CreateCalls:      r.createCalls,
		Status:           r.status.Status,
		Total:            r.total,
		Currency:         r.currency,
		LineCount:        r.lineCount,
		CreatedAt:        r.createdAt,
		Carrier:          r.status.Carrier,
		TrackingNumber:   r.status.TrackingNumber,
		ExpectedDelivery: r.status.ExpectedDelivery,
	}
}
