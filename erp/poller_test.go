package erp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/internal/redistest"
	"erpgate/order/ordertest"
	"erpgate/store"
)

// pollEnv is a poller over the real open-order set (miniredis) and a fake v1.
type pollEnv struct {
	open    *store.OpenOrders
	fake    *erpfake.Fake
	poller  *erp.Poller
	reg     *prometheus.Registry
	mu      sync.Mutex
	now     time.Time
	rev     int64             // plan revision
	auth    map[string]string // order → authoritative target; missing = NotFound
	done    map[string]bool   // Finished
	records map[string][]string
}

var pollT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newPollEnv(t *testing.T, rdb redis.UniversalClient) *pollEnv {
	t.Helper()
	e := &pollEnv{
		open: store.New(rdb, store.Options{Partitions: 4}).OpenOrders(), fake: erpfake.New(erpfake.Config{Target: erp.V1, NumberPrefix: "V1-"}),
		reg: prometheus.NewRegistry(), now: pollT0,
		auth: map[string]string{}, done: map[string]bool{}, records: map[string][]string{},
	}
	var err error
	e.poller, err = erp.NewPoller(erp.PollerConfig{
		Adapter: e.fake, Open: e.open, Registerer: e.reg, Interval: 2 * time.Second, Recheck: 30 * time.Second,
		Now:      func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
		Revision: func() int64 { e.mu.Lock(); defer e.mu.Unlock(); return e.rev },
		Authority: func(_ context.Context, id string) (string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			a, ok := e.auth[id]
			if !ok {
				return "", erpgate.Errorf(erpgate.NotFound, "no order %s", id)
			}
			return a, nil
		},
		Record: func(_ context.Context, id string, st erp.Status) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.records[id] = append(e.records[id], st.Status)
			return nil
		},
		Finished: func(_ context.Context, id string) (bool, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.done[id], nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// order creates an order in the fake v1 and opens it.
func (e *pollEnv) order(t *testing.T, id, authority string) {
	t.Helper()
	o := ordertest.Valid()
	o.ID = id
	if _, err := e.fake.CreateOrder(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.auth[id] = authority
	e.mu.Unlock()
	if err := e.open.Add(context.Background(), erp.V1, id, pollT0); err != nil {
		t.Fatal(err)
	}
}

func (e *pollEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *pollEnv) pollOnce(t *testing.T) int {
	t.Helper()
	n, err := e.poller.PollOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *pollEnv) recorded(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Compact(slices.Clone(e.records[id]))
}

func (e *pollEnv) isOpen(t *testing.T, id string) bool {
	t.Helper()
	_, ok, err := e.open.Due(context.Background(), erp.V1, id)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestPollerFollowsAuthoritativeOrdersToTheEnd(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newPollEnv(t, rdb)
	e.order(t, "o_v1", erp.V1)
	e.order(t, "o_v2", erp.V2) // v2 pushes; v1 is not asked
	e.order(t, "o_flaky", erp.V1)
	e.order(t, "o_gone", erp.V1)
	e.mu.Lock()
	delete(e.auth, "o_gone") // the gateway no longer knows it
	e.mu.Unlock()
	// v1 fails o_flaky's status until it has been recorded once.
	e.fake.SetHook(func(_ context.Context, op erpfake.Op, ref string) error {
		if op == erpfake.OpStatus && ref == "o_flaky" && len(e.recorded("o_flaky")) == 0 {
			return erpfake.Transient()
		}
		return nil
	})

	if n := e.pollOnce(t); n != 4 {
		t.Fatalf("first poll claimed %d orders, want 4", n)
	}
	if got := e.recorded("o_v1"); !slices.Equal(got, []string{"confirmed"}) {
		t.Errorf("o_v1 recorded %v, want [confirmed]", got)
	}
	if got := e.recorded("o_v2"); len(got) != 0 {
		t.Errorf("o_v2 recorded %v, want nothing (not authoritative)", got)
	}
	if e.isOpen(t, "o_gone") {
		t.Error("o_gone still open, want closed")
	}
	if got := e.recorded("o_flaky"); len(got) != 0 {
		t.Errorf("o_flaky recorded %v after a failed poll, want nothing yet", got)
	}

	// Nothing is due until the interval has passed.
	e.advance(time.Second)
	if n := e.pollOnce(t); n != 0 {
		t.Errorf("poll before the interval claimed %d, want 0", n)
	}
	e.fake.SetHook(nil)
	for _, st := range []string{"allocated", "shipped", "delivered"} {
		if err := e.fake.SetStatus("o_v1", erp.Status{Status: st, Carrier: "DHL", TrackingNumber: "1"}); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Second)
		e.pollOnce(t)
		e.pollOnce(t) // a repeat poll changes nothing
	}
	if got, want := e.recorded("o_v1"), []string{"confirmed", "allocated", "shipped", "delivered"}; !slices.Equal(got, want) {
		t.Errorf("o_v1 recorded %v, want %v", got, want)
	}
	if e.isOpen(t, "o_v1") {
		t.Error("o_v1 still open after delivered, want closed")
	}
	if got := e.recorded("o_flaky"); !slices.Equal(got, []string{"confirmed"}) {
		t.Errorf("o_flaky recorded %v, want [confirmed] after the retry", got)
	}

	// The order v2 is authoritative for: looked at again after Recheck,
	// closed once it is finished for the customer.
	calls := e.fake.Calls(erpfake.OpStatus)
	e.mu.Lock()
	e.done["o_v2"] = true
	e.mu.Unlock()
	e.advance(30 * time.Second)
	e.pollOnce(t)
	if e.isOpen(t, "o_v2") {
		t.Error("o_v2 still open after it finished, want closed")
	}
	if got := e.fake.Calls(erpfake.OpStatus) - calls; got != 1 {
		t.Errorf("v1 got %d status calls in the last round, want 1 (o_flaky only; o_v2 never asked)", got)
	}
	if got := e.recorded("o_v2"); len(got) != 0 {
		t.Errorf("o_v2 recorded %v, want nothing", got)
	}

	for _, c := range []struct {
		outcome string
		min     float64
	}{{erp.PollOpen, 2}, {erp.PollFinal, 1}, {erp.PollGone, 1}, {erp.PollError, 1}, {erp.PollNotAuthoritative, 1}, {erp.PollFinished, 1}} {
		if got := e.polls(t, c.outcome); got < c.min {
			t.Errorf("polls{outcome=%s} = %v, want at least %v", c.outcome, got, c.min)
		}
	}
	if problems, err := testutil.GatherAndLint(e.reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

// TestPollerWakesParkedOrdersOnANewRevision: an order v1 created while v2
// led is parked until DefaultRecheck; a back-out (a new plan revision)
// makes v1 authoritative and wakes it, so its status is polled at once.
func TestPollerWakesParkedOrdersOnANewRevision(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newPollEnv(t, rdb)
	e.order(t, "o_parked", erp.V2)
	if err := e.open.Reschedule(context.Background(), erp.V1, pollT0.Add(erp.DefaultRecheck), "o_parked"); err != nil {
		t.Fatal(err)
	}
	e.order(t, "o_leased", erp.V1)
	if n := e.pollOnce(t); n != 1 {
		t.Fatalf("first poll claimed %d, want 1 (o_leased; o_parked is not due)", n)
	}
	e.advance(time.Second)
	if n := e.pollOnce(t); n != 0 {
		t.Fatalf("poll without a new revision claimed %d, want 0", n)
	}

	e.mu.Lock()
	e.rev++ // back-out: v1 leads again
	e.auth["o_parked"] = erp.V1
	e.mu.Unlock()
	if n := e.pollOnce(t); n != 2 {
		t.Fatalf("poll after the new revision claimed %d, want 2 (both woken)", n)
	}
	if got := e.recorded("o_parked"); !slices.Equal(got, []string{"confirmed"}) {
		t.Errorf("o_parked recorded %v, want [confirmed] right after the back-out", got)
	}
	e.advance(time.Second)
	if n := e.pollOnce(t); n != 0 {
		t.Errorf("the same revision again claimed %d, want 0 (woken once)", n)
	}

	// A delivery that began under the old plan adds its order parked after
	// the wake; the second wake (CallTimeout + Interval later) takes it.
	e.order(t, "o_late", erp.V1)
	if err := e.open.Reschedule(context.Background(), erp.V1, e.now.Add(erp.DefaultRecheck), "o_late"); err != nil {
		t.Fatal(err)
	}
	e.advance(10*time.Second + 2*time.Second) // the env's CallTimeout is the default 10s
	e.pollOnce(t)
	if got := e.recorded("o_late"); !slices.Equal(got, []string{"confirmed"}) {
		t.Errorf("o_late recorded %v, want [confirmed] after the second wake", got)
	}
	// No third wake: an order parked now stays parked.
	e.order(t, "o_parked_later", erp.V2)
	if err := e.open.Reschedule(context.Background(), erp.V1, e.now.Add(erp.DefaultRecheck), "o_parked_later"); err != nil {
		t.Fatal(err)
	}
	e.advance(15 * time.Second)
	e.pollOnce(t)
	if due, ok, _ := e.open.Due(context.Background(), erp.V1, "o_parked_later"); !ok || due.Before(e.now) {
		t.Errorf("o_parked_later due %v (%v) at %v: woken a third time", due, ok, e.now)
	}
}

func (e *pollEnv) polls(t *testing.T, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "erpgate_tracking_erp_polls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["target"] == erp.V1 && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no polls metric for outcome %s", outcome)
	return 0
}

func TestPollerUnknownToTheERPIsClosed(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newPollEnv(t, rdb)
	e.mu.Lock()
	e.auth["o_lost"] = erp.V1 // the gateway knows it, v1 does not
	e.mu.Unlock()
	if err := e.open.Add(context.Background(), erp.V1, "o_lost", pollT0); err != nil {
		t.Fatal(err)
	}
	e.pollOnce(t)
	if e.isOpen(t, "o_lost") {
		t.Error("an order v1 does not know stays open, want closed")
	}
}

func TestPollerRecordFailureRetries(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newPollEnv(t, rdb)
	var fails int
	p, err := erp.NewPoller(erp.PollerConfig{
		Adapter: e.fake, Open: e.open, Now: func() time.Time { return e.now },
		Authority: func(context.Context, string) (string, error) { return erp.V1, nil },
		Record: func(context.Context, string, erp.Status) error {
			fails++
			return errors.New("redis down")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.order(t, "o1", erp.V1)
	if _, err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fails != 1 || !e.isOpen(t, "o1") {
		t.Errorf("after a failed record: %d record calls, open %v; want 1 and still open", fails, e.isOpen(t, "o1"))
	}
	due, _, _ := e.open.Due(context.Background(), erp.V1, "o1")
	if want := pollT0.Add(2 * time.Second); !due.Equal(want) {
		t.Errorf("o1 due %v, want %v (polled again after the interval)", due, want)
	}
}

func TestPollerRunStopsOnCancel(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newPollEnv(t, rdb)
	p, err := erp.NewPoller(erp.PollerConfig{
		Adapter: e.fake, Open: e.open, Idle: time.Millisecond,
		Authority: func(context.Context, string) (string, error) { return erp.V1, nil },
		Record: func(_ context.Context, id string, st erp.Status) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.records[id] = append(e.records[id], st.Status)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.order(t, "o1", erp.V1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.recorded("o1")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run recorded nothing within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewPollerValidates(t *testing.T) {
	_, err := erp.NewPoller(erp.PollerConfig{Adapter: erpfake.New(erpfake.Config{Target: erp.V2})})
	if err == nil {
		t.Fatal("NewPoller accepted an incomplete config")
	}
	for _, want := range []string{"Adapter is for v2, not v1", "Open is required", "Authority is required", "Record is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
