package erp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/internal/instance"
	"erpgate/order"
)

// Dispatcher runs the delivery workers: per target, one reader per outbox
// partition that fetches batches from the target's consumer group on that
// partition, and Consumers workers that deliver each entry of a batch
// through the target's adapter.
//
// Semantics: at-least-once from the outbox, exactly-once in the ERP through
// the adapter's idempotent create. Success (created or duplicate) and
// permanent refusal are recorded and acknowledged. A transient failure is not
// acknowledged: the entry is deferred (parked, still pending) for a jittered
// exponential backoff while the consumer goes on with other entries, so one
// failing order never stalls a healthy ERP. After MaxDeliveries the entry is
// dead-lettered. A breaker per target stops all calls while the ERP is down;
// entries simply wait. Intake never waits on any of this.
//
// A consumer delivers the entries of a fetched batch up to InFlight at a
// time, starting them in outbox order; the checks above (stop, pause,
// breaker) come before each start, so when the ERP goes down at most the
// calls already in flight fail, and the unstarted rest is handed back.
// Messages other than orders (Handlers) are delivered alone: every call
// started before one has finished when it starts, and it has finished
// before the next starts, so their relative order is kept. The batch's
// acknowledgements leave together when the batch is done (an entry's result
// is always recorded before it is acknowledged; an acknowledgement lost to
// a crash only means one more delivery, which the adapter answers as a
// duplicate).
type Dispatcher struct {
	cfg      DispatcherConfig
	met      *metrics
	breakers map[string]*Breaker
	running  atomic.Bool
	own      map[string]bool // this run's consumer names (set before Run starts them)
}

// consumerName is the name of consumer i of target in instance id. This
// release names one consumer per target (i = 0), the same on every
// partition.
func consumerName(id, target string, i int) string {
	return instance.Consumer(id, fmt.Sprintf("%s:%d", target, i))
}

// NewDispatcher returns a dispatcher for cfg with defaults applied. Run
// validates the config.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	cfg = cfg.WithDefaults()
	d := &Dispatcher{cfg: cfg, met: newMetrics(), breakers: make(map[string]*Breaker)}
	for target := range cfg.Adapters {
		d.breakers[target] = NewBreaker(cfg.BreakerThreshold, cfg.BreakerOpenFor, cfg.Now, func(from, to BreakerState) {
			d.met.breaker.WithLabelValues(target).Set(float64(to))
			cfg.Logger.Warn("erp breaker", "target", target, "from", from.String(), "to", to.String())
		})
	}
	return d
}

// Breaker returns the circuit breaker of target, or nil for an unknown one.
func (d *Dispatcher) Breaker(target string) *Breaker { return d.breakers[target] }

// Running reports whether Run is running (for /readyz).
func (d *Dispatcher) Running() bool { return d.running.Load() }

// Run delivers until ctx is cancelled, then stops cleanly: calls in flight
// finish (bounded by CallTimeout) and are recorded; entries fetched but not
// started are handed back at once for another worker; nothing is lost.
// It returns an error only for an invalid config or a failed metrics
// registration.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.cfg.Validate(); err != nil {
		return err
	}
	if reg := d.cfg.Registerer; reg != nil {
		if err := d.met.register(reg); err != nil {
			return fmt.Errorf("erp dispatcher metrics: %w", err)
		}
		defer d.met.unregister(reg)
	}
	var wg sync.WaitGroup
	d.own = make(map[string]bool)
	for target := range d.cfg.Adapters {
		d.own[consumerName(d.cfg.Name, target, 0)] = true
	}
	for target, a := range d.cfg.Adapters {
		d.met.init(target)
		name := consumerName(d.cfg.Name, target, 0)
		newConsumer := func() *consumer {
			c := &consumer{d: d, target: target, name: name, adapter: a, br: d.breakers[target]}
			c.log = d.cfg.Logger.With("target", target, "consumer", name)
			return c
		}
		w := newWorkers(ctx)
		for p := range d.cfg.Outbox.Partitions() {
			r := &reader{c: newConsumer(), part: p, started: time.Now()}
			r.c.log = r.c.log.With("partition", p)
			wg.Go(func() { r.run(ctx, w) })
		}
		for range d.cfg.Consumers {
			c := newConsumer()
			wg.Go(func() {
				for {
					w.idle(+1)
					select {
					case b := <-w.batches:
						c.work(ctx, w.more(b, d.cfg.BatchSize))
					case <-ctx.Done():
						return
					}
				}
			})
		}
	}
	d.running.Store(true)
	wg.Wait()
	d.running.Store(false)
	return nil
}

// workers is the hand-over between a target's readers and its workers. A
// reader fetches only while some worker is idle, so that an instance whose
// workers are all busy (a slow ERP) does not take entries other instances
// could deliver; it then waits on the channel for a worker, which the
// readers get in turn. A worker that takes a batch also takes the batches
// other readers are offering at that moment, up to BatchSize entries: with
// the entries spread over many partitions, one partition's batch is often
// small, and the worker's InFlight concurrency spans them all.
//
// n counts the idle workers: a worker adds itself before it waits, the
// reader whose batch it takes subtracts it once handed over (so the reader
// never sees its own worker as idle), and a batch taken in addition gives
// its reader's subtraction back.
type workers struct {
	batches chan batch
	mu      sync.Mutex
	cond    *sync.Cond
	n       int // idle workers
	done    bool
}

func newWorkers(ctx context.Context) *workers {
	w := &workers{batches: make(chan batch)}
	w.cond = sync.NewCond(&w.mu)
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
		w.cond.Broadcast()
	})
	return w
}

// idle counts a worker becoming idle (+1) or busy (-1).
func (w *workers) idle(d int) {
	w.mu.Lock()
	w.n += d
	w.mu.Unlock()
	if d > 0 {
		w.cond.Broadcast()
	}
}

// more adds to b the batches offered right now, up to max entries.
func (w *workers) more(b batch, max int) batch {
	for len(b.msgs) < max {
		select {
		case o := <-w.batches:
			w.idle(+1) // not another worker: give back its reader's subtraction
			b.msgs = append(b.msgs, o.msgs...)
			if o.read.Before(b.read) {
				b.read = o.read
			}
		default:
			return b
		}
	}
	return b
}

// waitIdle returns once some worker is idle, or the run is stopping.
func (w *workers) waitIdle() {
	w.mu.Lock()
	for w.n == 0 && !w.done {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// batch is entries fetched together (from one partition, or several merged).
type batch struct {
	msgs []Message
	read time.Time // wall clock: when they were fetched (their idle time started)
}

// consumer delivers the batches of one target, with the deliveries of its
// current batch running beside it.
type consumer struct {
	d       *Dispatcher
	target  string
	name    string
	adapter Adapter
	br      *Breaker
	log     *slog.Logger

	mu   sync.Mutex
	acks []Message // entries of the current batch finished and waiting for the batch's ack
}

// opTimeout bounds the bookkeeping (record, ack, defer) that must finish even
// when the worker is stopping.
const opTimeout = 5 * time.Second

// work delivers a fetched batch: up to InFlight entries at once, started in
// order, and acknowledges the finished ones together at the end.
func (c *consumer) work(ctx context.Context, b batch) {
	cfg := &c.d.cfg
	batch := b.msgs
	orders, ok := c.preload(ctx, batch)
	if !ok {
		// The store is in trouble, not the ERP: hand the batch back
		// uncharged and pause.
		c.handBack(ctx, batch)
		sleep(ctx, cfg.Poll)
		return
	}
	slots := make(chan struct{}, cfg.InFlight)
	var wg sync.WaitGroup
	defer c.flushAcks(ctx)
	defer wg.Wait()
	touched := b.read
	for len(batch) > 0 {
		// A free slot first, so that the checks below see the outcome of
		// the calls that finished meanwhile (with InFlight 1: of the
		// previous one).
		slots <- struct{}{}
		// Stop starting deliveries when told to stop, paused or when the
		// ERP went down mid-batch; hand the rest back uncharged.
		if ctx.Err() != nil || c.br.State() != BreakerClosed || !cfg.Plan.Active(c.target) {
			<-slots
			c.handBack(ctx, batch)
			return
		}
		// Entries waiting in a slow batch grow idle; before they could look
		// abandoned to Reclaim, acknowledge the finished ones, re-assert the
		// hold on the waiting ones, and drop any that another worker took
		// over meanwhile.
		if time.Since(touched) >= cfg.ReclaimMinIdle/4 {
			c.flushAcks(ctx)
			batch = c.touch(ctx, batch)
			touched = time.Now()
			if len(batch) == 0 {
				<-slots
				return
			}
		}
		m := batch[0]
		batch = batch[1:]
		pre := orders[entryOf(m)]
		if m.Type != TypeOrderCreate {
			// Another type's message goes alone (see Dispatcher).
			wg.Wait()
			c.deliver(ctx, m, pre)
			<-slots
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			c.deliver(ctx, m, pre)
		})
	}
}

// loaded is an order of a batch loaded before its delivery.
type loaded struct {
	o     *order.Order
	fresh bool // the target has no result for o yet (FreshLoader)
	err   error
}

// preload loads the orders of batch's order messages in one round trip when
// the store can (BatchLoader); it returns nil (each delivery loads its own)
// when it cannot, and false when the store failed.
func (c *consumer) preload(ctx context.Context, batch []Message) (map[entry]*loaded, bool) {
	fl, isFresh := c.d.cfg.Orders.(FreshLoader)
	bl, isBatch := c.d.cfg.Orders.(BatchLoader)
	if !isBatch && !isFresh {
		return nil, true
	}
	var ids []string
	var entries []entry
	for _, m := range batch {
		if m.Type == TypeOrderCreate && (m.Only == "" || m.Only == c.target) {
			ids = append(ids, m.OrderID)
			entries = append(entries, entryOf(m))
		}
	}
	if len(ids) == 0 || (len(ids) < 2 && !isFresh) {
		return nil, true
	}
	lctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var got []*order.Order
	var fresh []bool
	var errs []error
	var err error
	if isFresh {
		got, fresh, errs, err = fl.LoadOrdersFor(lctx, c.target, ids)
	} else {
		got, errs, err = bl.LoadOrders(lctx, ids)
		fresh = make([]bool, len(ids))
	}
	if err == nil && (len(got) != len(ids) || len(errs) != len(ids) || len(fresh) != len(ids)) {
		err = fmt.Errorf("loading orders returned %d orders, %d fresh flags and %d errors for %d ids", len(got), len(fresh), len(errs), len(ids))
	}
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("load orders failed", "err", err, "orders", len(ids))
		}
		return nil, false
	}
	out := make(map[entry]*loaded, len(ids))
	for i, e := range entries {
		out[e] = &loaded{o: got[i], fresh: fresh[i], err: errs[i]}
	}
	return out, true
}

// touch keeps the entries of batch still held by c (see Outbox.Touch).
func (c *consumer) touch(ctx context.Context, batch []Message) []Message {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	kept := make(map[entry]bool, len(batch))
	for part, ids := range byPart(batch) {
		k, err := c.d.cfg.Outbox.Touch(tctx, c.target, c.name, part, ids...)
		if err != nil {
			// Deliver anyway: at worst another worker delivers too, and the
			// ERP reports the second as a duplicate.
			c.log.Warn("touch failed", "err", err)
			return batch
		}
		for _, id := range k {
			kept[entry{part, id}] = true
		}
	}
	out := batch[:0]
	for _, m := range batch {
		if kept[entryOf(m)] {
			out = append(out, m)
		} else {
			c.log.Info("entry taken over by another worker", "entry", m.ID, "partition", m.Part)
		}
	}
	return out
}

// probe asks the ERP for the status of a reference that does not exist: any
// answer proves it is up again. A half-open breaker thus never spends an
// order (and its delivery count) on testing the ERP.
func (c *consumer) probe(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.d.cfg.CallTimeout)
	start := time.Now()
	_, err := c.adapter.OrderStatus(cctx, c.d.cfg.ProbeRef)
	cancel()
	c.d.met.call.WithLabelValues(c.target, "order_status").Observe(time.Since(start).Seconds())
	if err == nil || IsPermanent(err) {
		c.br.Success()
		return
	}
	c.log.Warn("erp probe failed", "err", err)
	c.br.Failure()
}

// deliver handles one entry to its end: acknowledged (at the end of the
// batch), deferred or dead. pre is its order if the batch loaded it.
func (c *consumer) deliver(ctx context.Context, m Message, pre *loaded) {
	cfg := &c.d.cfg
	log := c.log.With("entry", m.ID, "order", m.OrderID, "deliveries", m.Deliveries)
	// The bookkeeping after a call must happen even if we are stopping:
	// otherwise an order the ERP created would be created again elsewhere.
	octx := context.WithoutCancel(ctx)

	if m.Only != "" && m.Only != c.target {
		c.ack(octx, log, m) // a replay meant for another target
		return
	}
	if m.Type != TypeOrderCreate {
		if h := cfg.Handlers[m.Type]; h != nil {
			c.deliverWith(ctx, log, m, h) // handler.go
			return
		}
		c.dead(octx, log, m, nil, "unsupported message type "+m.Type)
		return
	}
	var o *order.Order
	var err error
	if pre != nil {
		o, err = pre.o, pre.err
	} else {
		o, err = cfg.Orders.LoadOrder(ctx, m.OrderID)
	}
	if err != nil {
		if erpgate.ErrorCode(err) == erpgate.NotFound {
			c.dead(octx, log, m, nil, "order record not found")
			return
		}
		// The store is in trouble, not the ERP and not the message: hand it
		// back uncharged and pause.
		log.Error("load order failed", "err", err)
		c.handBack(ctx, []Message{m})
		sleep(ctx, cfg.Poll)
		return
	}
	if m.Deliveries > cfg.MaxDeliveries {
		// Its last delivery was cut short (a worker died mid-call).
		c.dead(octx, log, m, o, fmt.Sprintf("%d deliveries without an answer", m.Deliveries-1))
		return
	}
	auth := cfg.Plan.Authoritative(o) == c.target

	cctx, cancel := context.WithTimeout(octx, cfg.CallTimeout)
	if pre != nil && pre.fresh && m.Deliveries == 1 && m.Only == "" {
		cctx = WithFirstDelivery(cctx) // firstdelivery.go
	}
	start := time.Now()
	conf, err := c.adapter.CreateOrder(cctx, o)
	cancel()
	c.d.met.call.WithLabelValues(c.target, "create_order").Observe(time.Since(start).Seconds())
	now := cfg.Now()

	switch {
	case err == nil:
		c.br.Success()
		r := Result{
			State: StateCreated, ERPOrderNumber: conf.ERPOrderNumber, ERPStatus: conf.Status,
			Duplicate: conf.Duplicate, Attempts: int(m.Deliveries), UpdatedAt: now,
		}
		if !c.record(octx, log, m, o, r, auth) {
			return
		}
		c.ack(octx, log, m)
		outcome := "created"
		if conf.Duplicate {
			outcome = "duplicate"
		}
		c.d.met.deliveries.WithLabelValues(c.target, outcome).Inc()
		if !m.At.IsZero() {
			c.d.met.lag.WithLabelValues(c.target).Observe(max(now.Sub(m.At), 0).Seconds())
		}
	case IsPermanent(err):
		c.br.Success() // the ERP answered: it is up
		r := Result{State: StateRejected, Reason: shopReason(err), Attempts: int(m.Deliveries), UpdatedAt: now}
		log.Info("erp rejected order", "err", err)
		if !c.record(octx, log, m, o, r, auth) {
			return
		}
		c.ack(octx, log, m)
		c.d.met.deliveries.WithLabelValues(c.target, "rejected").Inc()
	default:
		c.br.Failure()
		if m.Deliveries >= cfg.MaxDeliveries {
			c.dead(octx, log, m, o, err.Error())
			return
		}
		due := now.Add(cfg.Backoff.Delay(m.Deliveries, cfg.Rand()))
		log.Warn("erp delivery failed; retrying later", "err", err, "due", due)
		if err := c.park(octx, m, due, m.Deliveries); err != nil {
			// Still pending under our name: Reclaim brings it back.
			log.Error("defer failed", "err", err)
		}
		r := Result{State: StatePending, Reason: "the ERP is not reachable yet; delivery is retried automatically", Attempts: int(m.Deliveries), UpdatedAt: now}
		c.record(octx, log, m, o, r, auth)
		c.d.met.deliveries.WithLabelValues(c.target, "retry").Inc()
	}
}

// record stores r and calls the hook; false means the store failed and the
// entry must stay pending (it is delivered again; the ERP reports a duplicate).
func (c *consumer) record(ctx context.Context, log *slog.Logger, m Message, o *order.Order, r Result, auth bool) bool {
	rctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := c.d.cfg.Orders.SetResult(rctx, m.OrderID, c.target, r, auth); err != nil {
		log.Error("record erp result failed; entry stays pending", "state", r.State, "err", err)
		return false
	}
	if c.d.cfg.OnResult != nil {
		c.d.cfg.OnResult(rctx, c.target, o, r, auth)
	}
	return true
}

// ack marks m done: its acknowledgement leaves with the batch's (flushAcks).
func (c *consumer) ack(_ context.Context, _ *slog.Logger, m Message) {
	c.mu.Lock()
	c.acks = append(c.acks, m)
	c.mu.Unlock()
}

// flushAcks acknowledges the finished entries of the batch in one call.
func (c *consumer) flushAcks(ctx context.Context) {
	c.mu.Lock()
	ms := c.acks
	c.acks = nil
	c.mu.Unlock()
	if len(ms) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	for part, ids := range byPart(ms) {
		if err := c.d.cfg.Outbox.Ack(actx, c.target, part, ids...); err != nil {
			// Delivered again later; the adapter makes that harmless.
			c.log.Error("ack failed", "err", err, "entries", len(ids))
		}
	}
}

// dead records the order as failed for this target (if it exists) and moves
// the entry to the dead-letter stream.
func (c *consumer) dead(ctx context.Context, log *slog.Logger, m Message, o *order.Order, opsReason string) {
	log.Error("dead-lettering outbox entry", "reason", opsReason)
	if o != nil {
		r := Result{
			State: StateDead, Reason: "the order could not be delivered to the ERP; operators have been alerted",
			Attempts: int(m.Deliveries), UpdatedAt: c.d.cfg.Now(),
		}
		if !c.record(ctx, log, m, o, r, c.d.cfg.Plan.Authoritative(o) == c.target) {
			return
		}
	}
	dctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := c.d.cfg.Outbox.DeadLetter(dctx, c.target, m, opsReason); err != nil {
		log.Error("dead-letter failed; entry stays pending", "err", err)
		return
	}
	c.d.met.deliveries.WithLabelValues(c.target, "dead").Inc()
	c.d.met.dead.WithLabelValues(c.target).Inc()
}

func (c *consumer) park(ctx context.Context, m Message, due time.Time, deliveries int64) error {
	dctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return c.d.cfg.Outbox.Defer(dctx, c.target, m, due, deliveries)
}

// handBack returns fetched entries that were not delivered, due at once and
// without charging the delivery, so any worker (including one of another
// instance) can take them when it may deliver.
func (c *consumer) handBack(ctx context.Context, msgs []Message) {
	octx := context.WithoutCancel(ctx)
	now := c.d.cfg.Now()
	for _, m := range msgs {
		if err := c.park(octx, m, now, max(m.Deliveries-1, 0)); err != nil {
			c.log.Error("hand back failed; entry is reclaimed later", "entry", m.ID, "err", err)
		}
	}
}

// entry names an outbox entry: entry ids are unique within a partition only.
type entry struct {
	part int
	id   string
}

func entryOf(m Message) entry { return entry{m.Part, m.ID} }

// byPart groups the ids of ms by partition.
func byPart(ms []Message) map[int][]string {
	out := make(map[int][]string)
	for _, m := range ms {
		out[m.Part] = append(out[m.Part], m.ID)
	}
	return out
}

// shopReason returns the shop-safe reason of a permanent ERP failure.
func shopReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return "the ERP refused the order"
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// metrics are the worker metrics of the catalogue.
type metrics struct {
	deliveries *prometheus.CounterVec
	dead       *prometheus.CounterVec
	breaker    *prometheus.GaugeVec
	call       *prometheus.HistogramVec
	lag        *prometheus.HistogramVec
}

func newMetrics() *metrics {
	return &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_erp_deliveries_total",
			Help: "Outbox deliveries to an ERP target by outcome (created, duplicate, rejected, retry, dead).",
		}, []string{"target", "outcome"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_erp_dead_letters_total",
			Help: "Outbox entries moved to the dead-letter stream, by target.",
		}, []string{"target"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erpgate_erp_breaker_state",
			Help: "Circuit breaker state per ERP target: 0 closed, 1 half-open, 2 open.",
		}, []string{"target"}),
		call: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "erpgate_erp_call_duration_seconds",
			Help:    "Duration of ERP calls by target and operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"target", "operation"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "erpgate_erp_delivery_lag_seconds",
			Help:    "Time from accepting an order to the ERP target confirming it.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12), // 50ms … ~3h
		}, []string{"target"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.dead, m.breaker, m.call, m.lag}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, r := range m.collectors()[:i] {
				reg.Unregister(r)
			}
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

// init creates the series of target so dashboards show zeros, not gaps.
func (m *metrics) init(target string) {
	for _, o := range []string{"created", "duplicate", "rejected", "retry", "dead"} {
		m.deliveries.WithLabelValues(target, o)
	}
	m.dead.WithLabelValues(target)
	m.breaker.WithLabelValues(target)
	m.call.WithLabelValues(target, "create_order")
	m.lag.WithLabelValues(target)
}
