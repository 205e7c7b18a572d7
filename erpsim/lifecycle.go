package erpsim

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2ws"
)

// The order lifecycle (issue 5). With Config.Lifecycle.Step > 0 every order
// a version creates runs, on the simulator's clock (Config.Clock):
//
//	t0            created: confirmed, with an expected delivery date
//	t0 + ½·Step   the confirmation goes out (v2 pushes "confirmed")
//	+ Step        availability check: allocated when every line is in stock,
//	              else backordered (expected date revised); a backordered
//	              order waits until Restock brings the missing quantity
//	+ Step        picked
//	+ Step        shipped (carrier, tracking number, expected date)
//	+ Step        delivered
//
// so with the demo's 5 s step an order in stock is delivered 22.5 s after it
// was created. Each version is its own system with its own stock ledger
// (both start from the catalog's Stock, and Restock adds to both), so v1 and
// v2 move the same order through the same steps independently. Every change
// is what GetSalesOrderStatus (v2) and GetOrderStatus (v1) answer from then
// on; v2 also pushes it to the callback URL (push.go).
//
// One driver goroutine applies due steps every Tick (a min-heap of due
// times, not a timer or goroutine per order), so thousands of orders cost a
// heap entry each. Tests on a fake clock move the clock and call Advance.

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
	// Reason explains a cancellation or rejection (pushed to the gateway).
	Reason string `json:"reason,omitempty"`
}

// ErrNotFound is returned for an external reference the ERP does not hold.
var ErrNotFound = errors.New("erpsim: no such order")

// Delivery promises, in days after the day of the step that makes them.
const (
	// PromiseDays: an order in stock is expected this many days after it is
	// confirmed (or allocated after a backorder).
	PromiseDays = 3
	// BackorderDays: a backordered order is expected this many days after
	// the shortage is found (supplier lead time plus handling).
	BackorderDays = 10
	// TransitDays: a shipped parcel is expected this many days after
	// shipping.
	TransitDays = 1
)

// Limits of the lifecycle settings.
const (
	MaxLifecycleStep = 24 * time.Hour
	MaxAutoRestock   = 30 * 24 * time.Hour
)

// LifecycleConfig configures the order lifecycle. The zero value turns it
// off: orders stay as created (confirmed, no date) unless SetStatus moves
// them, which is what tests of the SOAP interfaces want. DemoLifecycle is
// the setting of the default demo.
type LifecycleConfig struct {
	// Step is the time between two steps of an order, on the simulator's
	// clock (0..MaxLifecycleStep; 0 = no lifecycle).
	Step time.Duration
	// AutoRestock, when > 0, is how long after an order was backordered its
	// missing quantity arrives by itself (as if a supplier delivered it), so
	// that a demo completes without a supplier taking part. 0 = only Restock
	// (a goods receipt) brings stock. At most MaxAutoRestock.
	AutoRestock time.Duration
	// Tick is how often (in real time) the driver applies due steps;
	// default Step/10 between 10ms and 250ms.
	Tick time.Duration
	// Manual runs no driver: steps happen only when Advance is called (tests
	// on a fake clock that want every step under their control).
	Manual bool
}

// DemoLifecycle is the lifecycle of the default demo: an order in stock is
// delivered about 25 s after it was created; a backordered one waits for its
// stock, which a supplier's shipment brings (goods receipt → Restock), so the
// supply-chain walk-through is not overtaken by stock appearing by itself.
var DemoLifecycle = LifecycleConfig{Step: 5 * time.Second}

func (c LifecycleConfig) validate() error {
	if c.Step < 0 || c.Step > MaxLifecycleStep {
		return fmt.Errorf("lifecycle step must be between 0 and %s", MaxLifecycleStep)
	}
	if c.AutoRestock < 0 || c.AutoRestock > MaxAutoRestock {
		return fmt.Errorf("lifecycle auto_restock must be between 0 and %s", MaxAutoRestock)
	}
	if c.Tick < 0 {
		return errors.New("lifecycle tick must not be negative")
	}
	return nil
}

func (c LifecycleConfig) tick() time.Duration {
	if c.Tick > 0 {
		return c.Tick
	}
	return min(max(c.Step/10, 10*time.Millisecond), 250*time.Millisecond)
}

// Shortage is the quantity of a sku a backordered order still waits for.
type Shortage struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Backorder describes an order that became backordered, for OnBackorder.
type Backorder struct {
	Version     string
	ExternalRef string
	OrderNumber string
	At          time.Time
	Short       []Shortage
}

// StockLevel is one version's stock of one sku, as GET /sim/stock lists it.
type StockLevel struct {
	Version string `json:"version"`
	SKU     string `json:"sku"`
	// OnHand is the free quantity in the warehouse.
	OnHand int64 `json:"on_hand"`
	// Backordered is the quantity waiting orders still miss.
	Backordered int64 `json:"backordered"`
}

// lifecycle is the state of every running order lifecycle. Lock order:
// Sim.advanceMu, then store.mu, then lifecycle.mu (create calls
// startLifecycle with store.mu held); Advance never holds lifecycle.mu while
// taking a store's lock.
type lifecycle struct {
	mu      sync.Mutex
	cfg     LifecycleConfig
	queue   entryHeap
	seq     uint64                 // heap tie-break: equal due times keep insertion order
	orders  map[*record]*orderLife // orders with a running lifecycle
	stock   map[string]map[string]int64
	waiting map[string][]*orderLife // per version, backordered orders in the order they waited
	parcels uint64                  // tracking number series
	events  uint64                  // status change series: push event ids
	hooks   []func(Backorder)

	running bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// orderLife is one order's lifecycle.
type orderLife struct {
	ver       *version
	rec       *record
	status    OrderStatus
	lines     []Shortage // quantity per sku, in line order
	need      []Shortage // while backordered: what is still missing per line sku
	changes   int        // status changes announced so far (the push Sequence)
	announced bool
	manual    bool // moved by SetStatus: the lifecycle no longer steps it
}

// entry is one due item of the lifecycle heap: the next step of an order,
// or an automatic restock.
type entry struct {
	due time.Time
	seq uint64
	ol  *orderLife // a step; nil for a restock
	// restock
	version string
	sku     string
	qty     int64
}

type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(*entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// change is one status change decided under lifecycle.mu and applied to the
// record (and pushed) afterwards.
type change struct {
	ol     *orderLife
	status OrderStatus
	seq    int    // position among the order's changes
	event  uint64 // unique in this simulator's life
	short  []Shortage
}

func newLifecycle(cfg LifecycleConfig, products []Product, versions []string) *lifecycle {
	l := &lifecycle{cfg: cfg, orders: make(map[*record]*orderLife),
		stock: make(map[string]map[string]int64, len(versions)), waiting: make(map[string][]*orderLife)}
	for _, v := range versions {
		m := make(map[string]int64, len(products))
		for _, p := range products {
			m[p.SKU] = max(p.Stock, 0)
		}
		l.stock[v] = m
	}
	return l
}

// schedule adds an entry; l.mu must be held.
func (l *lifecycle) schedule(e *entry) {
	l.seq++
	e.seq = l.seq
	heap.Push(&l.queue, e)
}

// startLifecycle gives a newly created order its first status: confirmed,
// and with the lifecycle on an expected delivery date and a plan for the
// later steps. It runs inside the store's create (store.mu held), before
// the order number is assigned.
func (s *Sim) startLifecycle(rec *record, now time.Time) {
	rec.status = OrderStatus{Status: StatusConfirmed, ChangedAt: now}
	l := s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Step <= 0 {
		return
	}
	ver, lines := s.orderLines(rec)
	if ver == nil {
		return
	}
	rec.status.ExpectedDelivery = civilDate(now, PromiseDays)
	ol := &orderLife{ver: ver, rec: rec, status: rec.status, lines: lines}
	l.orders[rec] = ol
	l.schedule(&entry{due: now.Add(l.cfg.Step / 2), ol: ol})
	l.ensureDriver(s)
}

// orderLines returns the version an order record belongs to and its
// quantity per sku (from the wire payload the version stored).
func (s *Sim) orderLines(rec *record) (*version, []Shortage) {
	var name string
	var lines []Shortage
	add := func(sku string, q int64) {
		for i := range lines {
			if lines[i].SKU == sku {
				lines[i].Quantity += q
				return
			}
		}
		lines = append(lines, Shortage{SKU: sku, Quantity: q})
	}
	switch p := rec.payload.(type) {
	case *erpv2ws.SalesOrder:
		name = "v2"
		for _, ln := range p.Line {
			if ln != nil {
				add(ln.Sku, ln.Quantity)
			}
		}
	case *erpv1ws.Order:
		name = "v1"
		for _, ln := range p.Line {
			if ln != nil {
				add(ln.ItemNo, int64(ln.Quantity))
			}
		}
	default:
		return nil, nil
	}
	return s.versions[name], lines
}

// ensureDriver starts the driver goroutine once; l.mu must be held.
func (l *lifecycle) ensureDriver(s *Sim) {
	if l.running || l.closed || l.cfg.Manual {
		return
	}
	l.running = true
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go s.drive(l.stop, l.done)
}

// drive applies due steps every tick until stop is closed.
func (s *Sim) drive(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTimer(s.lifecycleConfig().tick())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.Advance()
			t.Reset(s.lifecycleConfig().tick())
		}
	}
}

// Close stops the lifecycle driver and the status push (queued pushes are
// dropped: the simulator keeps nothing on disk). The simulator still answers
// SOAP calls; Advance still applies steps when called. Close is idempotent.
func (s *Sim) Close() {
	l := s.life
	l.mu.Lock()
	l.closed = true
	running, stop, done := l.running, l.stop, l.done
	l.running = false
	l.mu.Unlock()
	if running {
		close(stop)
		<-done
	}
	s.push.close()
}

// Advance applies every lifecycle step that is due by the simulator's
// clock and returns how many status changes it made. The driver calls it
// every Tick; tests on a fake clock call it after moving the clock.
func (s *Sim) Advance() int {
	s.advanceMu.Lock()
	now := s.clock()
	l := s.life
	var changes []change
	l.mu.Lock()
	for l.queue.Len() > 0 && !l.queue[0].due.After(now) {
		e := heap.Pop(&l.queue).(*entry)
		// A step happens at its due time, and plans the next one from
		// there: after a jump of the clock one call catches up completely.
		if e.ol == nil {
			l.stock[e.version][e.sku] += e.qty
			changes = l.allocateWaiting(e.version, e.due, changes)
			continue
		}
		if l.orders[e.ol.rec] != e.ol || e.ol.manual {
			continue // finished, forgotten, or taken over by SetStatus
		}
		changes = l.step(e.ol, e.due, changes)
	}
	l.mu.Unlock()
	backorders := s.apply(changes)
	s.advanceMu.Unlock()
	s.notifyBackorders(backorders)
	return len(changes)
}

// step moves ol one step on; l.mu must be held.
func (l *lifecycle) step(ol *orderLife, at time.Time, out []change) []change {
	st := ol.status
	st.ChangedAt = at
	switch ol.status.Status {
	case StatusConfirmed:
		if !ol.announced {
			ol.announced = true
			out = append(out, l.emit(ol, ol.status, nil))
			l.schedule(&entry{due: at.Add(l.cfg.Step), ol: ol})
			return out
		}
		return l.checkAvailability(ol, at, out)
	case StatusAllocated:
		st.Status = StatusPicked
	case StatusPicked:
		st.Status = StatusShipped
		st.Carrier, st.TrackingNumber = l.parcel(ol.ver.name)
		st.ExpectedDelivery = civilDate(at, TransitDays)
	case StatusShipped:
		st.Status = StatusDelivered
		st.ExpectedDelivery = civilDate(at, 0)
	default:
		return out
	}
	out = append(out, l.emit(ol, st, nil))
	if st.Status == StatusDelivered {
		delete(l.orders, ol.rec)
	} else {
		l.schedule(&entry{due: at.Add(l.cfg.Step), ol: ol})
	}
	return out
}

// emit records st as ol's new status and returns the change to apply.
func (l *lifecycle) emit(ol *orderLife, st OrderStatus, short []Shortage) change {
	ol.status = st
	ol.changes++
	l.events++
	return change{ol: ol, status: st, seq: ol.changes, event: l.events, short: short}
}

// checkAvailability allocates ol's lines from stock, or reserves what there
// is and backorders the order; l.mu must be held.
func (l *lifecycle) checkAvailability(ol *orderLife, at time.Time, out []change) []change {
	stock := l.stock[ol.ver.name]
	ol.need = ol.need[:0]
	for _, ln := range ol.lines {
		take := min(stock[ln.SKU], ln.Quantity)
		stock[ln.SKU] -= take
		if take < ln.Quantity {
			ol.need = append(ol.need, Shortage{SKU: ln.SKU, Quantity: ln.Quantity - take})
		}
	}
	if len(ol.need) == 0 {
		return l.allocated(ol, at, out)
	}
	st := ol.status
	st.Status, st.ChangedAt = StatusBackordered, at
	st.ExpectedDelivery = civilDate(at, BackorderDays)
	short := slices.Clone(ol.need)
	out = append(out, l.emit(ol, st, short))
	l.waiting[ol.ver.name] = append(l.waiting[ol.ver.name], ol)
	if l.cfg.AutoRestock > 0 {
		for _, n := range short {
			l.schedule(&entry{due: at.Add(l.cfg.AutoRestock), version: ol.ver.name, sku: n.SKU, qty: n.Quantity})
		}
	}
	return out
}

// allocated moves ol to allocated; l.mu must be held. After a backorder the
// expected date is promised anew from now.
func (l *lifecycle) allocated(ol *orderLife, at time.Time, out []change) []change {
	st := ol.status
	if st.Status == StatusBackordered {
		st.ExpectedDelivery = civilDate(at, PromiseDays)
	}
	st.Status, st.ChangedAt = StatusAllocated, at
	ol.need = nil
	out = append(out, l.emit(ol, st, nil))
	l.schedule(&entry{due: at.Add(l.cfg.Step), ol: ol})
	return out
}

// allocateWaiting hands the free stock of version to its backordered
// orders, oldest first, and allocates those that miss nothing any more;
// l.mu must be held.
func (l *lifecycle) allocateWaiting(version string, at time.Time, out []change) []change {
	stock := l.stock[version]
	waiting := l.waiting[version]
	keep := waiting[:0]
	for _, ol := range waiting {
		if l.orders[ol.rec] != ol || ol.manual {
			// Taken over by SetStatus or forgotten: its reserved stock
			// went with the order.
			continue
		}
		missing := false
		for i := range ol.need {
			n := &ol.need[i]
			take := min(stock[n.SKU], n.Quantity)
			stock[n.SKU] -= take
			n.Quantity -= take
			missing = missing || n.Quantity > 0
		}
		if missing {
			keep = append(keep, ol)
			continue
		}
		out = l.allocated(ol, at, out)
	}
	clear(waiting[len(keep):])
	l.waiting[version] = keep
	return out
}

// parcel returns a carrier and a new tracking number in its format; l.mu
// must be held.
func (l *lifecycle) parcel(version string) (carrier, number string) {
	l.parcels++
	n := l.parcels
	vd := "2"
	if version == "v1" {
		vd = "1"
	}
	pad := func(width int) string {
		d := strconv.FormatUint(n, 10)
		for len(d) < width {
			d = "0" + d
		}
		return d
	}
	switch n % 3 {
	case 1:
		return "DHL", "00340434" + vd + pad(11) // 20 digits, like a DHL parcel number
	case 2:
		return "UPS", "1Z999AA" + vd + pad(10) // 18 characters, like a UPS tracking number
	default:
		return "DPD", "0" + vd + pad(12) // 14 digits, like a DPD parcel number
	}
}

// apply writes decided changes to the orders and pushes v2's, and returns
// the backorders among them for notifyBackorders. A change for an order the
// store no longer holds (Reset) ends its lifecycle. s.advanceMu must be held.
func (s *Sim) apply(changes []change) []Backorder {
	var backorders []Backorder
	for _, c := range changes {
		st := c.ol.ver.store
		st.mu.Lock()
		held := slices.Contains(st.byRef[c.ol.rec.ref], c.ol.rec)
		var number, ref string
		if held {
			c.ol.rec.status = c.status
			number, ref = c.ol.rec.number, c.ol.rec.ref
		}
		st.mu.Unlock()
		if !held {
			s.life.forget(c.ol)
			continue
		}
		if c.ol.ver.name == "v2" {
			s.push.enqueue(pushMessage(number, ref, c))
		}
		if c.status.Status == StatusBackordered {
			backorders = append(backorders, Backorder{Version: c.ol.ver.name, ExternalRef: ref, OrderNumber: number,
				At: c.status.ChangedAt, Short: slices.Clone(c.short)})
		}
	}
	return backorders
}

// notifyBackorders calls the OnBackorder hooks; no lock may be held.
func (s *Sim) notifyBackorders(backorders []Backorder) {
	if len(backorders) == 0 {
		return
	}
	s.life.mu.Lock()
	hooks := slices.Clone(s.life.hooks)
	s.life.mu.Unlock()
	for _, b := range backorders {
		for _, h := range hooks {
			h(b)
		}
	}
}

// forget ends ol's lifecycle.
func (l *lifecycle) forget(ol *orderLife) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.orders[ol.rec] == ol {
		delete(l.orders, ol.rec)
	}
}

// OnBackorder registers fn to be called whenever an order becomes
// backordered, e.g. to issue a purchase order to the sku's supplier. It runs
// on the goroutine that applied the change (the driver, or a caller of
// Advance), after the simulator released its locks, so it may call Restock
// or Advance; it should return soon, as it holds up the lifecycle.
func (s *Sim) OnBackorder(fn func(Backorder)) {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	s.life.hooks = append(s.life.hooks, fn)
}

// Restock books qty more units of sku into stock — a goods receipt — in every
// version (they are two releases over one warehouse), then allocates
// backordered orders that were waiting for it, oldest first. It returns an
// error for an unknown sku or a quantity below 1.
func (s *Sim) Restock(sku string, qty int64) error {
	if _, ok := s.catalog[sku]; !ok {
		return fmt.Errorf("erpsim: restock: unknown sku %q", sku)
	}
	if qty < 1 || qty > v2MaxQuantity {
		return fmt.Errorf("erpsim: restock: quantity must be between 1 and %d", v2MaxQuantity)
	}
	s.advanceMu.Lock()
	now := s.clock()
	l := s.life
	var changes []change
	l.mu.Lock()
	for _, v := range s.names {
		l.stock[v][sku] += qty
		changes = l.allocateWaiting(v, now, changes)
	}
	l.mu.Unlock()
	backorders := s.apply(changes) // allocations only: none
	s.advanceMu.Unlock()
	s.notifyBackorders(backorders)
	return nil
}

// Stock returns every version's stock levels, by version and then in
// catalog order.
func (s *Sim) Stock() []StockLevel {
	l := s.life
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []StockLevel
	for _, v := range s.names {
		short := make(map[string]int64)
		for _, ol := range l.waiting[v] {
			if l.orders[ol.rec] != ol || ol.manual {
				continue
			}
			for _, n := range ol.need {
				short[n.SKU] += n.Quantity
			}
		}
		for _, p := range s.products {
			out = append(out, StockLevel{Version: v, SKU: p.SKU, OnHand: l.stock[v][p.SKU], Backordered: short[p.SKU]})
		}
	}
	return out
}

// Lifecycle returns the lifecycle settings in force.
func (s *Sim) Lifecycle() LifecycleConfig { return s.lifecycleConfig() }

func (s *Sim) lifecycleConfig() LifecycleConfig {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	return s.life.cfg
}

// SetLifecycle changes the lifecycle settings. Steps already planned keep
// their time; the new step applies from each order's next step on, and to
// new orders. Orders created while the lifecycle was off stay as they are.
func (s *Sim) SetLifecycle(c LifecycleConfig) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("erpsim: %w", err)
	}
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	s.life.cfg = c
	if s.life.queue.Len() > 0 {
		s.life.ensureDriver(s)
	}
	return nil
}

// SetStatus moves the order(s) that version holds with external reference
// ref to st, and takes them out of the lifecycle: from now on only SetStatus
// moves them (the simulator remembers such orders to number their pushes). A zero st.ChangedAt means now (by the simulator's clock). The
// change is pushed like a lifecycle step when version is v2. It returns
// ErrUnknownVersion, ErrNotFound or an error for an unknown status word.
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
	s.advanceMu.Lock()
	defer s.advanceMu.Unlock()
	var pushes []*pushItem
	found := v.store.update(ref, func(r *record) {
		r.status = st
		l := s.life
		l.mu.Lock()
		ol := l.orders[r]
		if ol == nil {
			ol = &orderLife{ver: v, rec: r}
			l.orders[r] = ol
		}
		ol.manual = true
		c := l.emit(ol, st, nil)
		l.mu.Unlock()
		if version == "v2" {
			pushes = append(pushes, pushMessage(r.number, r.ref, c))
		}
	})
	if !found {
		return fmt.Errorf("%w %q in %s", ErrNotFound, ref, version)
	}
	for _, p := range pushes {
		s.push.enqueue(p)
	}
	return nil
}

// civilDate returns the date days after t's day (UTC) as "YYYY-MM-DD".
func civilDate(t time.Time, days int) string {
	return t.UTC().AddDate(0, 0, days).Format(time.DateOnly)
}

// lifecycleJSON is the body of GET and PUT /sim/lifecycle: durations in Go
// syntax ("5s", "250ms"). In a PUT, fields left out keep their value.
type lifecycleJSON struct {
	Step        *string `json:"step,omitempty"`
	AutoRestock *string `json:"auto_restock,omitempty"`
}

func lifecycleView(c LifecycleConfig) lifecycleJSON {
	step, auto := c.Step.String(), c.AutoRestock.String()
	return lifecycleJSON{Step: &step, AutoRestock: &auto}
}

// lifecycleRoutes registers the lifecycle and callback inspection API.
func (s *Sim) lifecycleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sim/lifecycle", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, lifecycleView(s.Lifecycle()))
	})
	mux.HandleFunc("PUT /sim/lifecycle", s.handlePutLifecycle)
	mux.HandleFunc("GET /sim/stock", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stock())
	})
	mux.HandleFunc("POST /sim/restock", s.handleRestock)
	mux.HandleFunc("GET /sim/callback", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Callback())
	})
	mux.HandleFunc("PUT /sim/callback", s.handlePutCallback)
}

// handlePutLifecycle serves PUT /sim/lifecycle, e.g. {"step":"1s"} to make
// the demo faster or {"step":"0s"} to stop new lifecycles.
func (s *Sim) handlePutLifecycle(w http.ResponseWriter, r *http.Request) {
	var in lifecycleJSON
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, `body must be a JSON object with "step" and/or "auto_restock" as durations like "5s": `+err.Error())
		return
	}
	c := s.Lifecycle()
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{{"step", in.Step, &c.Step}, {"auto_restock", in.AutoRestock, &c.AutoRestock}} {
		if f.in == nil {
			continue
		}
		d, err := time.ParseDuration(*f.in)
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, f.name+" must be a duration like \"5s\"")
			return
		}
		*f.out = d
	}
	if err := s.SetLifecycle(c); err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, lifecycleView(c))
}

// handleRestock serves POST /sim/restock {"sku":"SKU-1011","quantity":5}.
func (s *Sim) handleRestock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, `body must be {"sku":"…","quantity":n}: `+err.Error())
		return
	}
	if err := s.Restock(in.SKU, in.Quantity); err != nil {
		writeJSONError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
