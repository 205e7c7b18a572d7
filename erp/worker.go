package erp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/internal/instance"
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

// DispatcherConfig configures the delivery workers. Zero values take the
// defaults documented on each field (see WithDefaults).
type DispatcherConfig struct {
	Outbox   Outbox             // required
	Orders   Orders             // required
	Adapters map[string]Adapter // required: target name → adapter (Adapter.Target() must equal the key)
	Plan     Plan               // default StaticPlan{}
	OnResult ResultHook         // optional
	// Handlers deliver the message types other than TypeOrderCreate (the
	// supplier documents, see handler.go), by type; optional. A type with
	// no handler is dead-lettered as unsupported.
	Handlers map[string]Handler

	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // optional: metrics are registered while Run runs
	Now        func() time.Time      // default time.Now; drives backoff due times and the breaker
	Rand       func() float64        // default math/rand/v2.Float64; jitter draws in [0, 1)

	// Name is the instance id: the consumers are named
	// "<Name>:<target>:<n>" (internal/instance), the same again after a
	// restart, so that a restarted instance takes over its own pending
	// entries at once. Two live processes must never share one. Default:
	// the host name.
	Name string
	// Instances tells which instances are alive; with it and an Outbox that
	// is an Adopter, the entries of a dead instance's consumers are taken
	// over within about TakeoverEvery of its heartbeat expiring, rather than
	// after ReclaimMinIdle. Optional.
	Instances Liveness
	// TakeoverEvery is how often each consumer looks for the entries of
	// dead instances (and of this instance's consumers from an earlier run
	// that this run does not have); default 1s.
	TakeoverEvery time.Duration

	// Consumers is the number of workers per target; default 2. Each
	// partition of the outbox has one reader per target in every instance
	// (the consumer "<Name>:<target>:0" of that partition's group), which
	// fetches a batch and hands it to the next free worker of its target:
	// every partition is read by every instance, and the readers take
	// turns at the workers (a channel serves waiting senders in order), so
	// no partition starves.
	Consumers int
	BatchSize int // entries fetched at once per consumer; default 64
	// InFlight is how many entries of its batch a consumer delivers at once;
	// default 16. The calls of one consumer overlap (an ERP call is mostly
	// waiting), while the batch's bookkeeping stays shared: its orders are
	// loaded in one round trip and its acknowledgements sent in one. 1
	// delivers a batch one entry after the other.
	InFlight int
	Block    time.Duration // how long a read waits for new entries; default 1s (also bounds stop latency)
	// ReadPoll, when positive, replaces the blocking read: a partition's
	// reader reads without BLOCK and, finding nothing, waits ReadPoll. For
	// the embedded Redis (miniredis), which re-runs every blocked read after
	// every command any client sends; with one blocked reader per partition
	// and target that re-running would be most of its work.
	ReadPoll    time.Duration
	Poll        time.Duration // pause while paused, breaker open, or after an infrastructure error; default 250ms
	CallTimeout time.Duration // deadline of one ERP call; default 15s

	Backoff       Backoff // wait after transient failures; default {Base: 1s, Max: 1m, Jitter: 0.3}
	MaxDeliveries int64   // deliveries before an entry is dead-lettered; default 10

	ReclaimMinIdle time.Duration // an entry pending this long belongs to a dead consumer; default 2m
	ReclaimEvery   time.Duration // how often each consumer looks for such entries; default 30s

	BreakerThreshold int           // consecutive transient failures that open the breaker; default 5
	BreakerOpenFor   time.Duration // how long it stays open before a probe; default 30s
	// ProbeRef is the external reference whose status a half-open breaker
	// asks the ERP for. Any answer, including "not found", proves the ERP is
	// up, so no order is spent on probing. Default "erpgate-breaker-probe".
	ProbeRef string
}

// WithDefaults returns c with every zero field set to its default.
func (c DispatcherConfig) WithDefaults() DispatcherConfig {
	if c.Plan == nil {
		c.Plan = StaticPlan{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Name == "" {
		c.Name = instance.Default()
	}
	setDefault(&c.TakeoverEvery, time.Second)
	setDefault(&c.Consumers, 2)
	setDefault(&c.BatchSize, 64)
	setDefault(&c.InFlight, 16)
	setDefault(&c.Block, time.Second)
	setDefault(&c.Poll, 250*time.Millisecond)
	setDefault(&c.CallTimeout, 15*time.Second)
	setDefault(&c.Backoff.Base, time.Second)
	setDefault(&c.Backoff.Max, time.Minute)
	if c.Backoff.Jitter == 0 {
		c.Backoff.Jitter = 0.3
	}
	setDefault(&c.MaxDeliveries, 10)
	setDefault(&c.ReclaimMinIdle, 2*time.Minute)
	setDefault(&c.ReclaimEvery, 30*time.Second)
	setDefault(&c.BreakerThreshold, 5)
	setDefault(&c.BreakerOpenFor, 30*time.Second)
	if c.ProbeRef == "" {
		c.ProbeRef = "erpgate-breaker-probe"
	}
	return c
}

func setDefault[T int | int64 | time.Duration](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// Validate reports every problem with c (after defaults) at once.
func (c DispatcherConfig) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Outbox == nil {
		bad("Outbox is required")
	}
	if c.Orders == nil {
		bad("Orders is required")
	}
	if len(c.Adapters) == 0 {
		bad("at least one adapter is required")
	}
	for name, a := range c.Adapters {
		switch {
		case a == nil:
			bad("adapter %q is nil", name)
		case a.Target() != name:
			bad("adapter registered as %q reports target %q", name, a.Target())
		}
	}
	if c.Plan == nil || c.Logger == nil || c.Now == nil || c.Rand == nil {
		bad("Plan, Logger, Now and Rand must be set (use WithDefaults)")
	}
	if err := instance.Validate(c.Name); err != nil {
		bad("Name %q: %v", c.Name, err)
	}
	if c.Consumers < 1 || c.Consumers > 64 {
		bad("Consumers %d must be in 1..64", c.Consumers)
	}
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		bad("BatchSize %d must be in 1..1000", c.BatchSize)
	}
	if c.InFlight < 1 || c.InFlight > 256 {
		bad("InFlight %d must be in 1..256", c.InFlight)
	}
	if c.Block < time.Millisecond {
		bad("Block %v must be at least 1ms", c.Block)
	}
	if c.ReadPoll < 0 {
		bad("ReadPoll %v must not be negative", c.ReadPoll)
	}
	if c.Outbox != nil && c.Outbox.Partitions() < 1 {
		bad("the outbox has no partitions")
	}
	if c.Poll <= 0 || c.CallTimeout <= 0 || c.ReclaimEvery <= 0 || c.BreakerOpenFor <= 0 || c.TakeoverEvery <= 0 {
		bad("Poll, CallTimeout, ReclaimEvery, TakeoverEvery and BreakerOpenFor must be positive")
	}
	if c.Backoff.Base <= 0 || c.Backoff.Max < c.Backoff.Base {
		bad("Backoff needs 0 < Base (%v) ≤ Max (%v)", c.Backoff.Base, c.Backoff.Max)
	}
	if c.Backoff.Jitter < 0 || c.Backoff.Jitter > 1 {
		bad("Backoff.Jitter %v must be in [0, 1]", c.Backoff.Jitter)
	}
	if c.MaxDeliveries < 1 {
		bad("MaxDeliveries %d must be at least 1", c.MaxDeliveries)
	}
	// A live consumer re-asserts its hold on a batch every ReclaimMinIdle/4
	// and then spends at most about CallTimeout on one entry, and a deferred
	// entry waits at most Backoff.Max: an entry idle longer than that is
	// safely reclaimed, never stolen from a live worker or pulled early out
	// of its backoff.
	if c.ReclaimMinIdle < 2*c.CallTimeout || c.ReclaimMinIdle <= c.Backoff.Max {
		bad("ReclaimMinIdle %v must be at least twice CallTimeout %v and exceed Backoff.Max %v", c.ReclaimMinIdle, c.CallTimeout, c.Backoff.Max)
	}
	if c.BreakerThreshold < 1 {
		bad("BreakerThreshold %d must be at least 1", c.BreakerThreshold)
	}
	if len(errs) > 0 {
		return errors.New("erp dispatcher config: " + strings.Join(errs, "; "))
	}
	return nil
}

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

// reader fetches the batches of one target on one partition and hands them
// to the target's workers.
type reader struct {
	c           *consumer // its name, and for probing the ERP and handing entries back
	part        int
	lastReclaim time.Time // wall clock: paces Reclaim against Redis idle times
	lastAdopt   time.Time // wall clock: paces the look for dead instances' entries
	recovered   bool      // took over its own entries of the previous run
	started     time.Time // wall clock: when this run's reader started
}

// maxErrorPause caps the pause between outbox reads while Redis fails.
const maxErrorPause = 5 * time.Second

// opTimeout bounds the bookkeeping (record, ack, defer) that must finish even
// when the worker is stopping.
const opTimeout = 5 * time.Second

func (r *reader) run(ctx context.Context, w *workers) {
	c := r.c
	cfg := &c.d.cfg
	failures := 0 // consecutive outbox failures: the pause grows with them, and few are logged
	for ctx.Err() == nil {
		if !cfg.Plan.Active(c.target) {
			sleep(ctx, cfg.Poll)
			continue
		}
		switch c.br.State() {
		case BreakerOpen:
			sleep(ctx, cfg.Poll)
			continue
		case BreakerHalfOpen:
			if c.br.Allow() {
				c.probe(ctx)
			} else {
				sleep(ctx, cfg.Poll)
			}
			continue
		}
		w.waitIdle()
		msgs, err := r.fetch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				failures++
				if failures == 1 || failures%20 == 0 {
					c.log.Error("outbox read failed", "err", err, "failures", failures)
				}
				sleep(ctx, min(cfg.Poll<<min(failures-1, 10), maxErrorPause))
			}
			continue
		}
		if failures > 0 {
			c.log.Info("outbox reachable again", "after_failures", failures)
			failures = 0
		}
		if len(msgs) == 0 {
			if cfg.ReadPoll > 0 {
				sleep(ctx, cfg.ReadPoll)
			}
			continue
		}
		select {
		case w.batches <- batch{msgs: msgs, read: time.Now()}:
			w.idle(-1)
		case <-ctx.Done():
			c.handBack(ctx, msgs)
		}
	}
}

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

// fetch returns the next entries to deliver: deferred entries that are due
// first (they are the oldest), then entries of dead consumers, then new ones.
func (r *reader) fetch(ctx context.Context) ([]Message, error) {
	c := r.c
	cfg := &c.d.cfg
	msgs, err := cfg.Outbox.Due(ctx, c.target, c.name, r.part, cfg.Now(), cfg.BatchSize)
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	if msgs, err := r.adopt(ctx); err != nil || len(msgs) > 0 {
		return msgs, err
	}
	if time.Since(r.lastReclaim) >= cfg.ReclaimEvery {
		r.lastReclaim = time.Now()
		msgs, err = cfg.Outbox.Reclaim(ctx, c.target, c.name, r.part, cfg.ReclaimMinIdle, cfg.BatchSize)
		if err != nil || len(msgs) > 0 {
			if len(msgs) > 0 {
				c.log.Info("reclaimed entries of a dead consumer", "count", len(msgs))
			}
			return msgs, err
		}
	}
	block := cfg.Block
	if cfg.ReadPoll > 0 {
		block = 0
	}
	return cfg.Outbox.Read(ctx, c.target, c.name, r.part, cfg.BatchSize, block)
}

// adopt takes over entries nobody else will finish: first the entries its
// own name holds from the previous run of this instance, delivered at once
// after a restart; then,
// every TakeoverEvery, those of consumers of dead instances and of this
// instance's consumers this run does not have. A live instance's entries,
// however slow its consumers, are never taken here (only by ReclaimMinIdle).
func (r *reader) adopt(ctx context.Context) ([]Message, error) {
	c := r.c
	cfg := &c.d.cfg
	ad, ok := cfg.Outbox.(Adopter)
	if !ok {
		return nil, nil
	}
	if !r.recovered {
		// Idle since before this run started: the previous run's entries,
		// never those this reader fetched and handed on already.
		msgs, err := ad.Adopt(ctx, c.target, r.part, c.name, c.name, time.Since(r.started).Truncate(time.Millisecond), cfg.BatchSize)
		if err != nil || len(msgs) > 0 {
			if len(msgs) > 0 {
				c.log.Info("taking over this instance's entries of its previous run", "count", len(msgs))
			}
			return msgs, err
		}
		r.recovered = true
	}
	if time.Since(r.lastAdopt) < cfg.TakeoverEvery {
		return nil, nil
	}
	r.lastAdopt = time.Now()
	holders, err := ad.Holders(ctx, c.target, r.part)
	if err != nil {
		return nil, err
	}
	var alive func(context.Context, string) (bool, error)
	if cfg.Instances != nil {
		alive = cfg.Instances.Alive
	}
	orphans, err := instance.Orphans(ctx, holders, cfg.Name, func(n string) bool { return c.d.own[n] }, alive)
	for _, o := range orphans {
		// The idle floor keeps two instances adopting the same orphan at
		// once from both taking an entry: a claim resets its idle time.
		msgs, aerr := ad.Adopt(ctx, c.target, r.part, o, c.name, adoptMinIdle, cfg.BatchSize)
		if aerr != nil {
			return nil, aerr
		}
		if len(msgs) > 0 {
			c.log.Info("took over entries of a dead instance", "from", o, "count", len(msgs))
			r.lastAdopt = time.Time{} // more may wait: look again next round
			return msgs, nil
		}
	}
	return nil, err
}

// adoptMinIdle is the idle time an orphan's entry must have before it is
// taken over (see adopt).
const adoptMinIdle = time.Second

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
