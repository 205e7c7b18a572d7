package erp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/internal/backoff"
	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// fakeERP is a tiny in-memory ERP: idempotent by external reference, refuses
// sku "SKU-BAD", and fails on demand. (erp/erpfake is the shared one; this
// keeps the worker tests independent of it.)
type fakeERP struct {
	target string

	mu      sync.Mutex
	creates map[string]int // ref → create calls that reached the ERP's books
	calls   map[string]int // ref → create calls received, failed ones included
	firsts  map[string]int // ref → of those, calls marked erp.FirstDelivery
	status  int            // OrderStatus calls
	down    bool
	failFor map[string]int // ref → transient failures still to give
	gate    chan struct{}  // if set, CreateOrder waits for it (or ctx)
	delay   time.Duration  // if set, CreateOrder takes this long
	started chan string    // if set, receives the ref of each CreateOrder call
}

func newFakeERP(target string) *fakeERP {
	return &fakeERP{target: target, creates: map[string]int{}, calls: map[string]int{}, firsts: map[string]int{}, failFor: map[string]int{}}
}

func (f *fakeERP) Target() string { return f.target }

var errDown = &erp.Error{Kind: erp.KindTransient, Code: "unreachable", Reason: "ERP down", Err: errors.New("connection refused")}

func (f *fakeERP) CreateOrder(ctx context.Context, o *order.Order) (erp.Confirmation, error) {
	f.mu.Lock()
	f.calls[o.ID]++
	if erp.FirstDelivery(ctx) {
		f.firsts[o.ID]++
	}
	gate, started, delay := f.gate, f.started, f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	if started != nil {
		started <- o.ID
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return erp.Confirmation{}, &erp.Error{Kind: erp.KindTransient, Code: "timeout", Err: ctx.Err()}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return erp.Confirmation{}, errDown
	}
	if f.failFor[o.ID] > 0 {
		f.failFor[o.ID]--
		return erp.Confirmation{}, errDown
	}
	for _, l := range o.Lines {
		if l.SKU == "SKU-BAD" {
			return erp.Confirmation{}, &erp.Error{Kind: erp.KindPermanent, Code: "unknown_sku", Reason: "SKU-BAD is not sold", Err: errors.New("ERP-4711 raw text")}
		}
	}
	f.creates[o.ID]++
	return erp.Confirmation{
		ERPOrderNumber: f.target + "-SO-" + o.ID, Status: "confirmed",
		Total: o.Total(), LineCount: len(o.Lines), Duplicate: f.creates[o.ID] > 1,
	}, nil
}

func (f *fakeERP) OrderStatus(ctx context.Context, ref string) (erp.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status++
	if f.down {
		return erp.Status{}, errDown
	}
	if f.creates[ref] == 0 {
		return erp.Status{}, &erp.Error{Kind: erp.KindPermanent, Code: "not_found", Reason: "no such order"}
	}
	return erp.Status{ERPOrderNumber: f.target + "-SO-" + ref, Status: "confirmed"}, nil
}

func (f *fakeERP) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }

// held returns how many distinct orders the ERP holds and whether any was
// created twice (the ERP's own books: a duplicate create is not a new order).
func (f *fakeERP) held() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.creates) }

func (f *fakeERP) callsFor(ref string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[ref] }

func (f *fakeERP) firstsFor(ref string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.firsts[ref] }

func (f *fakeERP) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// fakeClock is the injected clock; only the test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// switchPlan is a plan the test can change while workers run.
type switchPlan struct {
	mu     sync.Mutex
	paused map[string]bool
	auth   string
}

func (p *switchPlan) Active(t string) bool { p.mu.Lock(); defer p.mu.Unlock(); return !p.paused[t] }
func (p *switchPlan) Authoritative(*order.Order) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth
}
func (p *switchPlan) pause(t string, v bool) { p.mu.Lock(); p.paused[t] = v; p.mu.Unlock() }

type hookCall struct {
	target, order, state string
	auth                 bool
}

// env is a store on a Redis, two fake ERPs and a dispatcher over them.
type env struct {
	t     *testing.T
	rdb   redis.UniversalClient
	st    *store.Store
	clock *fakeClock
	plan  *switchPlan
	erps  map[string]*fakeERP
	reg   *prometheus.Registry

	mu    sync.Mutex
	hooks []hookCall
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, rdb redis.UniversalClient) *env {
	t.Helper()
	return newEnvParts(t, rdb, 0)
}

// newEnvParts is newEnv with an outbox of parts partitions (0: the
// default, 16). The tests of one batch's concurrency use 1, so that all
// their entries come in one batch.
func newEnvParts(t *testing.T, rdb redis.UniversalClient, parts int) *env {
	t.Helper()
	e := &env{
		t: t, rdb: rdb, clock: &fakeClock{t: t0},
		plan: &switchPlan{paused: map[string]bool{}, auth: erp.V2},
		erps: map[string]*fakeERP{erp.V1: newFakeERP(erp.V1), erp.V2: newFakeERP(erp.V2)},
		reg:  prometheus.NewPedanticRegistry(),
	}
	e.st = store.New(rdb, store.Options{Now: e.clock.Now, Partitions: parts})
	if err := e.st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// config returns a fast test config: retries wait in fake time (they come
// only when the test advances the clock); reclaim is effectively off.
func (e *env) config() erp.DispatcherConfig {
	return erp.DispatcherConfig{
		Outbox:   e.st.Outbox(),
		Orders:   e.st,
		Adapters: map[string]erp.Adapter{erp.V1: e.erps[erp.V1], erp.V2: e.erps[erp.V2]},
		Plan:     e.plan,
		OnResult: func(ctx context.Context, target string, o *order.Order, r erp.Result, auth bool) {
			e.mu.Lock()
			e.hooks = append(e.hooks, hookCall{target, o.ID, r.State, auth})
			e.mu.Unlock()
		},
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:       e.reg,
		Now:              e.clock.Now,
		Rand:             func() float64 { return 0 },
		Name:             "test",
		Consumers:        2,
		BatchSize:        5,
		Block:            20 * time.Millisecond,
		Poll:             2 * time.Millisecond,
		CallTimeout:      5 * time.Second,
		Backoff:          backoff.Policy{Base: time.Minute, Max: 10 * time.Minute},
		MaxDeliveries:    5,
		ReclaimMinIdle:   time.Hour,
		ReclaimEvery:     time.Hour,
		BreakerThreshold: 3,
		BreakerOpenFor:   30 * time.Second,
	}
}

// run starts a dispatcher; the returned stop cancels it and waits for Run.
func (e *env) run(cfg erp.DispatcherConfig) (d *erp.Dispatcher, stop func()) {
	e.t.Helper()
	d = erp.NewDispatcher(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return d, stop
}

func (e *env) accept(id string, skus ...string) {
	e.t.Helper()
	o := &order.Order{
		ID: id, ShopID: "shop-a", ExternalID: e.extFor(id),
		Customer:        order.Customer{Name: "Ada", Email: "ada@example.com"},
		ShippingAddress: order.Address{Name: "Ada", Line1: "1 Road", City: "London", PostalCode: "N1", Country: "GB"},
		Currency:        "EUR",
		Shipping:        order.Shipping{Method: "standard", Price: order.MustDecimal("4.95")},
		CreatedAt:       e.clock.Now(),
	}
	if len(skus) == 0 {
		skus = []string{"SKU-1001"}
	}
	for _, s := range skus {
		o.Lines = append(o.Lines, order.Line{SKU: s, Quantity: 1, UnitPrice: order.MustDecimal("10.00")})
	}
	ev := tracking.Event{Time: o.CreatedAt, Type: tracking.TypeAccepted, Source: tracking.SourceGateway}
	if _, err := e.st.Accept(context.Background(), store.Intake{Order: o, Fingerprint: "fp-" + id, Token: "tok", Event: ev.Encode()}); err != nil {
		e.t.Fatal(err)
	}
}

// extFor returns an external id of shop-a in the partition of order id (the
// store accepts an order only in the partition of its business key; the
// tests name their orders).
func (e *env) extFor(id string) string {
	sp := e.st.Space()
	for k := 0; ; k++ {
		ext := fmt.Sprint("EXT-", id, ".", k)
		if sp.Of(partition.Join("shop-a", ext)) == sp.Of(id) {
			return ext
		}
	}
}

func (e *env) acceptN(n int) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("ord_%02d", i)
		e.accept(id)
		ids = append(ids, id)
	}
	return ids
}

func (e *env) record(id string) *store.Record {
	e.t.Helper()
	r, err := e.st.Order(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) stats() map[string]store.GroupStats {
	e.t.Helper()
	st, err := e.st.Outbox().Stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]store.GroupStats{}
	for _, g := range st {
		m[g.Target] = g
	}
	return m
}

// eventually polls cond until it holds; the bound only keeps a broken test
// from hanging, it asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// backends runs f on miniredis and on the real Redis (when configured).
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("mini", func(t *testing.T) { rdb, _ := redistest.Mini(t); f(t, rdb) })
	t.Run("real", func(t *testing.T) { f(t, redistest.Universal(t)) })
}

func TestDispatcherDeliversEachOrderOnceToEachTarget(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		ids := e.acceptN(20)
		_, stop := e.run(e.config()) // 2 consumers per target
		e.accept("ord_late")         // arrives while the workers run
		ids = append(ids, "ord_late")
		for _, tg := range []string{erp.V1, erp.V2} {
			eventually(t, tg+" holds every order", func() bool { return e.erps[tg].held() == len(ids) })
		}
		eventually(t, "outbox drained", func() bool {
			s := e.stats()
			return s[erp.V1].Pending+s[erp.V1].Lag+s[erp.V2].Pending+s[erp.V2].Lag == 0
		})
		stop()

		for _, tg := range []string{erp.V1, erp.V2} {
			if got := e.erps[tg].totalCalls(); got != len(ids) {
				t.Errorf("%s received %d create calls for %d orders, want one each", tg, got, len(ids))
			}
			for _, id := range ids {
				if n := e.erps[tg].firstsFor(id); n != 1 {
					t.Errorf("%s: %d of the calls for %s marked as first delivery, want its one call", tg, n, id)
				}
			}
		}
		for _, id := range ids {
			r := e.record(id)
			if r.Status != store.StatusReceived {
				t.Errorf("%s status %q, want %q", id, r.Status, store.StatusReceived)
			}
			for _, tg := range []string{erp.V1, erp.V2} {
				res := r.Results[tg]
				if res.State != erp.StateCreated || res.ERPOrderNumber != tg+"-SO-"+id || res.Attempts != 1 || res.Duplicate {
					t.Errorf("%s %s result %+v, want created %s-SO-%s after 1 attempt", id, tg, res, tg, id)
				}
			}
		}
		e.mu.Lock()
		hooks := slices.Clone(e.hooks)
		e.mu.Unlock()
		if len(hooks) != 2*len(ids) {
			t.Errorf("OnResult called %d times, want %d", len(hooks), 2*len(ids))
		}
		for _, h := range hooks {
			if h.state != erp.StateCreated || h.auth != (h.target == erp.V2) {
				t.Errorf("hook %+v: want created, authoritative only for v2", h)
			}
		}
		if problems, err := testutil.GatherAndLint(e.reg); err != nil || len(problems) > 0 {
			t.Errorf("metrics lint: %v %v", problems, err)
		}
	})
}

func TestDispatcherMetrics(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnv(t, rdb)
	e.accept("ord_ok")
	e.accept("ord_bad", "SKU-BAD")
	d, stop := e.run(e.config())
	eventually(t, "both answered by both", func() bool {
		return e.record("ord_ok").Results[erp.V2].State == erp.StateCreated && e.record("ord_bad").Results[erp.V2].State == erp.StateRejected &&
			e.record("ord_ok").Results[erp.V1].State == erp.StateCreated && e.record("ord_bad").Results[erp.V1].State == erp.StateRejected
	})
	eventually(t, "dispatcher running", d.Running)
	want := `
# HELP erpgate_erp_deliveries_total Outbox deliveries to an ERP target by outcome (created, duplicate, rejected, retry, dead).
# TYPE erpgate_erp_deliveries_total counter
erpgate_erp_deliveries_total{outcome="created",target="v1"} 1
erpgate_erp_deliveries_total{outcome="created",target="v2"} 1
erpgate_erp_deliveries_total{outcome="dead",target="v1"} 0
erpgate_erp_deliveries_total{outcome="dead",target="v2"} 0
erpgate_erp_deliveries_total{outcome="duplicate",target="v1"} 0
erpgate_erp_deliveries_total{outcome="duplicate",target="v2"} 0
erpgate_erp_deliveries_total{outcome="rejected",target="v1"} 1
erpgate_erp_deliveries_total{outcome="rejected",target="v2"} 1
erpgate_erp_deliveries_total{outcome="retry",target="v1"} 0
erpgate_erp_deliveries_total{outcome="retry",target="v2"} 0
# HELP erpgate_erp_breaker_state Circuit breaker state per ERP target: 0 closed, 1 half-open, 2 open.
# TYPE erpgate_erp_breaker_state gauge
erpgate_erp_breaker_state{target="v1"} 0
erpgate_erp_breaker_state{target="v2"} 0
`
	compare := func() error {
		return testutil.GatherAndCompare(e.reg, strings.NewReader(want), "erpgate_erp_deliveries_total", "erpgate_erp_breaker_state")
	}
	// Counters move just after the result is recorded: wait for them.
	deadline := time.Now().Add(5 * time.Second)
	for compare() != nil && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if err := compare(); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(e.reg, "erpgate_erp_call_duration_seconds"); n != 2 {
		t.Errorf("call duration series = %d, want 2 (create_order per target)", n)
	}
	if n := testutil.CollectAndCount(e.reg, "erpgate_erp_delivery_lag_seconds"); n != 2 {
		t.Errorf("delivery lag series = %d, want 2", n)
	}
	stop()
	if d.Running() {
		t.Error("Running after stop")
	}
	if n, _ := testutil.GatherAndCount(e.reg); n != 0 {
		t.Errorf("%d series still registered after Run returned, want 0", n)
	}
}

func TestDispatcherPermanentRejection(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnv(t, rdb)
	e.accept("ord_bad", "SKU-1001", "SKU-BAD")
	e.run(e.config())
	eventually(t, "rejected", func() bool { return e.record("ord_bad").Status == store.StatusRejected })
	r := e.record("ord_bad")
	if r.Reason != "SKU-BAD is not sold" || strings.Contains(r.Reason, "ERP-4711") {
		t.Errorf("reason %q, want the shop-safe reason and never the raw ERP text", r.Reason)
	}
	if res := r.Results[erp.V2]; res.State != erp.StateRejected || res.Attempts != 1 {
		t.Errorf("v2 result %+v, want rejected after 1 attempt", res)
	}
	eventually(t, "acknowledged", func() bool { s := e.stats()[erp.V2]; return s.Pending == 0 && s.Lag == 0 })
	if n := e.erps[erp.V2].callsFor("ord_bad"); n != 1 {
		t.Errorf("v2 got %d calls, want 1 (a refusal is not retried)", n)
	}
}

// TestDispatcherRetriesWithBackoff: a transient failure parks the entry for
// the backoff (in fake time) while other orders flow; it is retried when due.
func TestDispatcherRetriesWithBackoff(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		v2 := e.erps[erp.V2]
		v2.failFor["ord_slow"] = 2
		e.accept("ord_slow")
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		e.run(cfg)

		eventually(t, "first failure recorded", func() bool { return e.record("ord_slow").Results[erp.V2].State == erp.StatePending })
		if res := e.record("ord_slow").Results[erp.V2]; res.Attempts != 1 || res.Reason == "" {
			t.Errorf("pending result %+v, want 1 attempt and a reason", res)
		}
		if r := e.record("ord_slow"); r.Status != store.StatusAccepted {
			t.Errorf("status %q while retrying, want accepted", r.Status)
		}
		// Parked until t0 + Base (jitter 0).
		tag := e.st.Space().TagOf("ord_slow")
		due := rdb.ZScore(context.Background(), "outbox:retry:"+tag+":v2", e.rdb.XRange(context.Background(), store.OutboxKey(tag), "-", "+").Val()[0].ID).Val()
		if want := float64(t0.Add(time.Minute).UnixMilli()); due != want {
			t.Errorf("parked until %v, want %v", time.UnixMilli(int64(due)).UTC(), time.UnixMilli(int64(want)).UTC())
		}

		// Others are not held up by it.
		e.accept("ord_fast")
		eventually(t, "ord_fast delivered", func() bool { return v2.held() == 1 })
		e.clock.Advance(59 * time.Second)
		e.accept("ord_fast2") // proves the workers looped with the clock at +59s
		eventually(t, "ord_fast2 delivered", func() bool { return v2.held() == 2 })
		if n := v2.callsFor("ord_slow"); n != 1 {
			t.Fatalf("ord_slow called %d times before its backoff passed, want 1", n)
		}

		e.clock.Advance(time.Second) // +1m: due
		eventually(t, "second attempt", func() bool { return v2.callsFor("ord_slow") == 2 })
		eventually(t, "second failure recorded", func() bool { return e.record("ord_slow").Results[erp.V2].Attempts == 2 })
		e.clock.Advance(2 * time.Minute) // Base·2
		eventually(t, "delivered", func() bool { return e.record("ord_slow").Results[erp.V2].State == erp.StateCreated })
		if res := e.record("ord_slow").Results[erp.V2]; res.Attempts != 3 {
			t.Errorf("result %+v, want 3 attempts", res)
		}
		if n := v2.callsFor("ord_slow"); n != 3 {
			t.Errorf("ord_slow called %d times, want 3", n)
		}
		// Only the first attempt may skip v1's look-before-create: the
		// others follow an attempt that may have created it.
		if n := v2.firstsFor("ord_slow"); n != 1 {
			t.Errorf("%d of ord_slow's calls marked as first delivery, want 1", n)
		}
	})
}

// TestDispatcherFirstDeliveryNeedsNoResult: an order the target already
// has a result for (an earlier attempt through another entry) is never
// delivered as a first delivery, even from a new entry.
func TestDispatcherFirstDeliveryNeedsNoResult(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		e.accept("ord_tried")
		e.accept("ord_new")
		if err := e.st.SetResult(context.Background(), "ord_tried", erp.V2, store.TargetResult{State: erp.StatePending, Attempts: 1}, true); err != nil {
			t.Fatal(err)
		}
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: e.erps[erp.V2]}
		e.run(cfg)
		v2 := e.erps[erp.V2]
		eventually(t, "both delivered", func() bool { return v2.held() == 2 })
		if n := v2.firstsFor("ord_tried"); n != 0 {
			t.Errorf("ord_tried (with a result) delivered as first %d times, want 0", n)
		}
		if n := v2.firstsFor("ord_new"); n != 1 {
			t.Errorf("ord_new delivered as first %d times, want 1", n)
		}
	})
}

// TestDispatcherERPDownLosesNothing: with the ERP down the breaker opens
// after the threshold and nothing more is sent; entries wait; when the ERP
// is back every order arrives exactly once.
func TestDispatcherERPDownLosesNothing(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		v2 := e.erps[erp.V2]
		v2.setDown(true)
		ids := e.acceptN(12)
		cfg := e.config()
		cfg.InFlight = 1 // one call at a time: the breaker's count is exact (see TestDispatcherConcurrentERPDown)
		d, _ := e.run(cfg)

		eventually(t, "breaker opens", func() bool { return d.Breaker(erp.V2).State() == erp.BreakerOpen })
		// v1 delivers everything meanwhile: the workers are looping.
		eventually(t, "v1 delivers", func() bool { return e.erps[erp.V1].held() == len(ids) })
		e.accept("ord_more") // intake goes on
		ids = append(ids, "ord_more")
		eventually(t, "v1 delivers the new one", func() bool { return e.erps[erp.V1].held() == len(ids) })
		calls := v2.totalCalls()
		if calls < 3 || calls > 3+2 { // threshold, plus at most one in flight per other consumer
			t.Errorf("v2 got %d calls before the breaker opened, want about the threshold 3", calls)
		}
		if got := d.Breaker(erp.V2).State(); got != erp.BreakerOpen {
			t.Fatalf("breaker %v, want open", got)
		}
		if got := v2.totalCalls(); got != calls {
			t.Errorf("v2 got %d calls while the breaker was open, want none more than %d", got, calls)
		}
		if s := e.stats()[erp.V2]; s.Pending+s.Lag != int64(len(ids)) {
			t.Errorf("v2 outstanding %d, want %d (nothing lost, nothing acked)", s.Pending+s.Lag, len(ids))
		}

		// Half-open: the probe asks the still-dead ERP and fails: open again.
		probes := v2.status
		e.clock.Advance(30 * time.Second)
		eventually(t, "failed probe", func() bool { v2.mu.Lock(); defer v2.mu.Unlock(); return v2.status > probes })
		eventually(t, "open again", func() bool { return d.Breaker(erp.V2).State() == erp.BreakerOpen })
		if got := v2.totalCalls(); got != calls {
			t.Errorf("probing spent an order: %d create calls, want %d", got, calls)
		}

		// ERP back: the next probe closes the breaker and everything flows.
		v2.setDown(false)
		e.clock.Advance(30 * time.Second)
		eventually(t, "breaker closes", func() bool { return d.Breaker(erp.V2).State() == erp.BreakerClosed })
		e.clock.Advance(10 * time.Minute) // backoffs of the failed ones
		eventually(t, "v2 holds every order", func() bool { return v2.held() == len(ids) })
		eventually(t, "all created", func() bool {
			for _, id := range ids {
				if e.record(id).Status != store.StatusReceived {
					return false
				}
			}
			return true
		})
		v2.mu.Lock()
		defer v2.mu.Unlock()
		for _, id := range ids {
			if v2.creates[id] != 1 {
				t.Errorf("%s created %d times in v2, want 1", id, v2.creates[id])
			}
		}
	})
}

// TestDispatcherReclaimsFromDeadConsumer: a worker read entries and died
// before acknowledging; another worker takes them over after the idle time.
func TestDispatcherReclaimsFromDeadConsumer(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		e.acceptN(3)
		var ms []erp.Message
		var err error
		for p := range e.st.Outbox().Partitions() {
			got, rerr := e.st.Outbox().Read(context.Background(), erp.V2, "crashed-worker", p, 10, 0)
			ms, err = append(ms, got...), errors.Join(err, rerr)
		}
		if err != nil || len(ms) != 3 {
			t.Fatalf("crashed worker read %d, %v; want 3", len(ms), err)
		}
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: e.erps[erp.V2]}
		cfg.CallTimeout = 250 * time.Millisecond
		cfg.Backoff = backoff.Policy{Base: time.Millisecond, Max: 10 * time.Millisecond}
		cfg.ReclaimMinIdle = 800 * time.Millisecond
		cfg.ReclaimEvery = 10 * time.Millisecond
		e.run(cfg)
		eventually(t, "reclaimed and delivered", func() bool { return e.erps[erp.V2].held() == 3 })
		for _, id := range []string{"ord_00", "ord_01", "ord_02"} {
			eventually(t, id+" recorded", func() bool { return e.record(id).Results[erp.V2].State == erp.StateCreated })
			if res := e.record(id).Results[erp.V2]; res.Attempts != 2 {
				t.Errorf("%s result %+v, want attempt 2 (the dead worker's was the first)", id, res)
			}
			if n := e.erps[erp.V2].firstsFor(id); n != 0 {
				t.Errorf("%s: reclaimed delivery marked as first (the dead worker may have created it)", id)
			}
		}
		eventually(t, "acknowledged", func() bool { s := e.stats()[erp.V2]; return s.Pending == 0 })
	})
}

// TestDispatcherSlowBatchIsNotStolen: entries waiting in a batch behind slow
// calls would look abandoned after ReclaimMinIdle; the worker keeps its hold
// on them, so no other worker delivers them a second time.
func TestDispatcherSlowBatchIsNotStolen(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		v2 := e.erps[erp.V2]
		v2.delay = 250 * time.Millisecond
		ids := e.acceptN(6)
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.BatchSize = 6 // one consumer takes them all; the last waits 1.25s
		cfg.CallTimeout = 600 * time.Millisecond
		cfg.Backoff = backoff.Policy{Base: time.Millisecond, Max: 10 * time.Millisecond}
		cfg.ReclaimMinIdle = 1200 * time.Millisecond
		cfg.ReclaimEvery = 5 * time.Millisecond
		e.run(cfg)
		e.wantV2DeliveredOnce(t, ids)
	})
}

// wantV2DeliveredOnce waits until v2 holds every order of ids and its group
// has nothing pending, then checks that each was created by one call after
// one attempt (handing an entry back is not a delivery).
func (e *env) wantV2DeliveredOnce(t *testing.T, ids []string) {
	t.Helper()
	v2 := e.erps[erp.V2]
	eventually(t, "all delivered", func() bool { return v2.held() == len(ids) })
	eventually(t, "all acked", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 0 })
	for _, id := range ids {
		if n := v2.callsFor(id); n != 1 {
			t.Errorf("%s called %d times, want 1", id, n)
		}
		if a := e.record(id).Results[erp.V2].Attempts; a != 1 {
			t.Errorf("%s attempts %d, want 1", id, a)
		}
	}
}

// TestDispatcherDeadLetterAndReplay: an order that keeps failing in v2 while
// v2 is otherwise healthy is dead-lettered after MaxDeliveries; replaying it
// into v2 only delivers it there without touching v1.
func TestDispatcherDeadLetterAndReplay(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		e := newEnv(t, rdb)
		v1, v2 := e.erps[erp.V1], e.erps[erp.V2]
		v2.mu.Lock()
		v2.failFor["ord_poison"] = 1000
		v2.mu.Unlock()
		e.accept("ord_poison")
		cfg := e.config()
		cfg.MaxDeliveries = 3
		cfg.BreakerThreshold = 100 // a poison message, not an outage
		_, stop := e.run(cfg)
		for n := 1; n < 3; n++ {
			// Advance only once the failure is parked, or it is parked
			// relative to the advanced clock.
			eventually(t, fmt.Sprintf("failure %d recorded", n), func() bool {
				return e.record("ord_poison").Results[erp.V2].Attempts == n
			})
			e.clock.Advance(10 * time.Minute)
		}
		eventually(t, "dead-lettered", func() bool { n, _ := e.st.Outbox().DeadLetterCount(ctx); return n == 1 })
		r := e.record("ord_poison")
		if res := r.Results[erp.V2]; res.State != erp.StateDead || res.Attempts != 3 || strings.Contains(res.Reason, "refused") {
			t.Errorf("v2 result %+v, want dead after 3 attempts with a shop-safe reason", res)
		}
		if res := r.Results[erp.V1]; res.State != erp.StateCreated {
			t.Errorf("v1 result %+v, want created (v1 unaffected)", res)
		}
		dl, err := e.st.Outbox().DeadLetters(ctx, "", 10)
		if err != nil || len(dl) != 1 || dl[0].OrderID != "ord_poison" || dl[0].Target != erp.V2 || dl[0].Deliveries != 3 {
			t.Fatalf("dead letters %+v, %v; want ord_poison for v2 after 3 deliveries", dl, err)
		}
		if s := e.stats()[erp.V2]; s.Pending != 0 {
			t.Errorf("v2 pending %d after dead-lettering, want 0", s.Pending)
		}
		want := `
# HELP erpgate_erp_dead_letters_total Outbox entries moved to the dead-letter stream, by target.
# TYPE erpgate_erp_dead_letters_total counter
erpgate_erp_dead_letters_total{target="v1"} 0
erpgate_erp_dead_letters_total{target="v2"} 1
`
		// The worker counts the dead letter right after writing it.
		eventually(t, "dead letter counted", func() bool {
			return testutil.GatherAndCompare(e.reg, strings.NewReader(want), "erpgate_erp_dead_letters_total") == nil
		})

		// Fixed; replay into v2 only.
		v2.mu.Lock()
		v2.failFor["ord_poison"] = 0
		v2.mu.Unlock()
		if n, err := e.st.Outbox().Replay(ctx, erp.V2, dl[0].ID); err != nil || n != 1 {
			t.Fatalf("Replay = %d, %v", n, err)
		}
		eventually(t, "replayed into v2", func() bool { return e.record("ord_poison").Status == store.StatusReceived })
		eventually(t, "v1 skipped the replay", func() bool { s := e.stats()[erp.V1]; return s.Pending+s.Lag == 0 })
		stop()
		if n := v1.callsFor("ord_poison"); n != 1 {
			t.Errorf("v1 got %d calls, want 1 (the replay was for v2 only)", n)
		}
		if res := e.record("ord_poison").Results[erp.V2]; res.State != erp.StateCreated || res.Attempts != 1 {
			t.Errorf("v2 result after replay %+v, want created at its first delivery", res)
		}
		if n := v2.firstsFor("ord_poison"); n != 1 {
			t.Errorf("%d of ord_poison's v2 calls marked as first delivery, want only the very first (not the replay)", n)
		}
	})
}

// TestDispatcherPausedTargetWaits: a paused target reads nothing, its entries
// wait (and the trimmer keeps them); resumed, it catches up.
func TestDispatcherPausedTargetWaits(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		e := newEnv(t, rdb)
		e.plan.pause(erp.V1, true)
		ids := e.acceptN(5)
		e.run(e.config())
		eventually(t, "v2 delivers", func() bool { return e.erps[erp.V2].held() == len(ids) })
		eventually(t, "v2 acked", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 0 })
		if n := e.erps[erp.V1].totalCalls(); n != 0 {
			t.Errorf("paused v1 got %d calls", n)
		}
		if s := e.stats()[erp.V1]; s.Lag != int64(len(ids)) || s.Pending != 0 {
			t.Errorf("paused v1 stats %+v, want all %d waiting unread", s, len(ids))
		}
		if r, err := e.st.Outbox().Trim(ctx); err != nil || r.Trimmed != 0 {
			t.Errorf("Trim while v1 lags = %+v, %v; want nothing trimmed", r, err)
		}

		e.plan.pause(erp.V1, false)
		eventually(t, "v1 catches up", func() bool { return e.erps[erp.V1].held() == len(ids) })
		eventually(t, "v1 acked", func() bool { s := e.stats()[erp.V1]; return s.Pending+s.Lag == 0 })
		if r, err := e.st.Outbox().Trim(ctx); err != nil || r.Trimmed != int64(len(ids)) {
			t.Errorf("Trim after catch-up = %+v, %v; want all %d trimmed", r, err, len(ids))
		}
	})
}

// TestDispatcherGracefulStop: on stop a call in flight finishes and is
// recorded; fetched entries not yet started are handed back uncharged and a
// later dispatcher delivers them.
func TestDispatcherGracefulStop(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnv(t, rdb)
		v2 := e.erps[erp.V2]
		gate, started := make(chan struct{}), make(chan string, 10)
		v2.gate, v2.started = gate, started
		ids := e.acceptN(3)
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.Consumers = 1
		cfg.InFlight = 1 // see TestDispatcherConcurrentStopHandsBackUnstarted
		_, stop := e.run(cfg)
		first := <-started
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		select {
		case <-stopped:
			t.Fatal("Run returned while a call was in flight")
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		<-stopped

		if r := e.record(first); r.Status != store.StatusReceived {
			t.Errorf("in-flight %s status %q, want its result recorded", first, r.Status)
		}
		if n := v2.totalCalls(); n != 1 {
			t.Errorf("%d calls, want only the one in flight", n)
		}
		// The others were handed back (pending, parked) or, in partitions
		// whose reader waited for the busy worker, never read.
		s := e.stats()[erp.V2]
		if s.Pending+s.Lag != int64(len(ids)-1) {
			t.Errorf("pending %d + unread %d after stop, want %d handed back or unread", s.Pending, s.Lag, len(ids)-1)
		}

		v2.mu.Lock()
		v2.gate, v2.started = nil, nil
		v2.mu.Unlock()
		e.run(cfg)
		eventually(t, "rest delivered", func() bool { return v2.held() == len(ids) })
		for _, id := range ids {
			if n := v2.callsFor(id); n != 1 {
				t.Errorf("%s called %d times, want 1", id, n)
			}
			if id != first {
				eventually(t, id+" recorded", func() bool { return e.record(id).Results[erp.V2].State == erp.StateCreated })
				if a := e.record(id).Results[erp.V2].Attempts; a != 1 {
					t.Errorf("%s attempts %d, want 1 (handing back is not a delivery)", id, a)
				}
			}
		}
	})
}

// cutProxy forwards TCP to a Redis and can cut the line: while down it
// drops every connection, so the client sees a Redis that is really gone.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setDown(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = v
	if v {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestDispatcherSurvivesRedisOutage: workers keep running while Redis is
// unreachable and deliver everything once it is back.
func TestDispatcherSurvivesRedisOutage(t *testing.T) {
	backends(t, func(t *testing.T, u redis.UniversalClient) {
		direct := redistest.SingleNode(t, u)
		proxy := newCutProxy(t, direct.Options().Addr)
		rdb := redis.NewClient(&redis.Options{
			Addr: proxy.ln.Addr().String(), DB: direct.Options().DB,
			MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond,
		})
		t.Cleanup(func() { rdb.Close() })
		e := newEnv(t, rdb)
		ids := e.acceptN(4)
		proxy.setDown(true)
		d, _ := e.run(e.config())
		eventually(t, "running", d.Running)
		time.Sleep(100 * time.Millisecond) // let the workers meet the outage
		if n := e.erps[erp.V2].totalCalls(); n != 0 {
			t.Fatalf("%d ERP calls without Redis, want 0", n)
		}
		proxy.setDown(false)
		for _, tg := range []string{erp.V1, erp.V2} {
			eventually(t, tg+" delivers after the outage", func() bool { return e.erps[tg].held() == len(ids) })
		}
	})
}

func TestDispatcherDeadLettersUnknownType(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnv(t, rdb)
	rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: store.OutboxKey(e.st.Space().Tag(0)), Values: []string{"type", "po.future", "id", "PO-1"}})
	cfg := e.config()
	cfg.Adapters = map[string]erp.Adapter{erp.V2: e.erps[erp.V2]}
	e.run(cfg)
	eventually(t, "dead-lettered", func() bool { n, _ := e.st.Outbox().DeadLetterCount(context.Background()); return n == 1 })
	dl, _ := e.st.Outbox().DeadLetters(context.Background(), "", 1)
	if !strings.Contains(dl[0].Reason, "po.future") {
		t.Errorf("reason %q, want it to name the type", dl[0].Reason)
	}
}

func TestDispatcherConfigValidate(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnv(t, rdb)
	tests := []struct {
		name string
		edit func(c *erp.DispatcherConfig)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(c *erp.DispatcherConfig) {}, ""},
		{"no outbox", func(c *erp.DispatcherConfig) { c.Outbox = nil }, "Outbox"},
		{"no orders", func(c *erp.DispatcherConfig) { c.Orders = nil }, "Orders"},
		{"no adapters", func(c *erp.DispatcherConfig) { c.Adapters = nil }, "adapter"},
		{"misnamed adapter", func(c *erp.DispatcherConfig) { c.Adapters = map[string]erp.Adapter{erp.V1: e.erps[erp.V2]} }, "reports target"},
		{"reserved name", func(c *erp.DispatcherConfig) { c.Name = "_backoff" }, "reserved"},
		{"too many consumers", func(c *erp.DispatcherConfig) { c.Consumers = 65 }, "Consumers"},
		{"huge batch", func(c *erp.DispatcherConfig) { c.BatchSize = 5000 }, "BatchSize"},
		{"jitter", func(c *erp.DispatcherConfig) { c.Backoff.Jitter = 2 }, "Jitter"},
		{"max below base", func(c *erp.DispatcherConfig) { c.Backoff.Max = time.Millisecond }, "Backoff"},
		{"reclaim steals live calls", func(c *erp.DispatcherConfig) { c.ReclaimMinIdle = time.Second }, "ReclaimMinIdle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := erp.DispatcherConfig{Outbox: e.st.Outbox(), Orders: e.st, Adapters: map[string]erp.Adapter{erp.V2: e.erps[erp.V2]}}
			tt.edit(&c)
			err := c.WithDefaults().Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error about %s", err, tt.want)
			}
			if tt.want != "" {
				if err := erp.NewDispatcher(c).Run(context.Background()); err == nil {
					t.Error("Run with an invalid config = nil, want the validation error")
				}
			}
		})
	}
}
