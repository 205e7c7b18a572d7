package erp_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/store"
)

// The deliveries of one batch run concurrently (DispatcherConfig.InFlight).
// These tests hold the calls at a gate, so that they prove how many run at
// once without measuring time.

// waitStarted returns the refs of the next n calls that start.
func waitStarted(t *testing.T, started <-chan string, n int) []string {
	t.Helper()
	var refs []string
	for len(refs) < n {
		select {
		case r := <-started:
			refs = append(refs, r)
		case <-time.After(15 * time.Second):
			t.Fatalf("%d calls started, want %d at once", len(refs), n)
		}
	}
	return refs
}

// TestDispatcherConcurrentBatchDeliversEachOnce: one consumer runs InFlight
// calls of its batch at once; still every order is created once, recorded
// once after one attempt, reported to the hook once and acknowledged.
func TestDispatcherConcurrentBatchDeliversEachOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnvParts(t, rdb, 1)
		v2 := e.erps[erp.V2]
		gate, started := make(chan struct{}), make(chan string, 100)
		v2.gate, v2.started = gate, started
		ids := e.acceptN(30)
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.Consumers, cfg.BatchSize, cfg.InFlight = 1, 30, 8
		e.run(cfg)

		// Eight calls wait at the gate together: they are concurrent.
		waitStarted(t, started, 8)
		select {
		case r := <-started:
			t.Fatalf("call %s started beyond InFlight 8", r)
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		eventually(t, "all delivered", func() bool { return v2.held() == len(ids) })
		eventually(t, "all acked", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 0 })

		for _, id := range ids {
			if n := v2.callsFor(id); n != 1 {
				t.Errorf("%s called %d times, want 1", id, n)
			}
			if r := e.record(id); r.Status != store.StatusReceived || r.Results[erp.V2].Attempts != 1 {
				t.Errorf("%s status %q result %+v, want received after 1 attempt", id, r.Status, r.Results[erp.V2])
			}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		seen := map[string]int{}
		for _, h := range e.hooks {
			seen[h.order]++
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("hook called %d times for %s, want 1", seen[id], id)
			}
		}
	})
}

// TestDispatcherConcurrentTransientFailureParksOnlyThatOne: one order of a
// concurrent batch fails transiently; only it is parked for a retry (and
// charged), the others are created and acknowledged.
func TestDispatcherConcurrentTransientFailureParksOnlyThatOne(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnvParts(t, rdb, 1)
		v2 := e.erps[erp.V2]
		ids := e.acceptN(20)
		v2.failFor["ord_07"] = 1
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.Consumers, cfg.BatchSize, cfg.InFlight = 1, 20, 8
		e.run(cfg)

		eventually(t, "the others delivered", func() bool { return v2.held() == len(ids)-1 })
		eventually(t, "only the failed one outstanding", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 1 })
		if r := e.record("ord_07").Results[erp.V2]; r.State != erp.StatePending || r.Attempts != 1 {
			t.Errorf("failed order result %+v, want pending after 1 attempt", r)
		}
		if st := e.erps[erp.V2]; st.callsFor("ord_06") != 1 || st.callsFor("ord_08") != 1 {
			t.Errorf("neighbours called %d and %d times, want once each", st.callsFor("ord_06"), st.callsFor("ord_08"))
		}

		e.clock.Advance(2 * time.Minute) // its backoff
		eventually(t, "retried", func() bool { return v2.held() == len(ids) })
		eventually(t, "recorded", func() bool { return e.record("ord_07").Results[erp.V2].State == erp.StateCreated })
		if a := e.record("ord_07").Results[erp.V2].Attempts; a != 2 {
			t.Errorf("attempts %d, want 2", a)
		}
		eventually(t, "all acked", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 0 })
	})
}

// TestDispatcherConcurrentStopHandsBackUnstarted: stopping mid-batch lets
// the calls in flight finish and be recorded, and hands the entries not yet
// started back uncharged; a later dispatcher delivers them once.
func TestDispatcherConcurrentStopHandsBackUnstarted(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnvParts(t, rdb, 1)
		v2 := e.erps[erp.V2]
		gate, started := make(chan struct{}), make(chan string, 100)
		v2.gate, v2.started = gate, started
		ids := e.acceptN(10)
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.Consumers, cfg.BatchSize, cfg.InFlight = 1, 10, 3
		_, stop := e.run(cfg)
		inFlight := waitStarted(t, started, 3)
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		select {
		case <-stopped:
			t.Fatal("Run returned while calls were in flight")
		case <-time.After(50 * time.Millisecond):
		}
		close(gate)
		<-stopped

		if n := v2.totalCalls(); n != 3 {
			t.Errorf("%d calls, want only the 3 in flight", n)
		}
		for _, id := range inFlight {
			if r := e.record(id); r.Status != store.StatusReceived {
				t.Errorf("in-flight %s status %q, want its result recorded", id, r.Status)
			}
		}
		if s := e.stats()[erp.V2]; s.Pending != int64(len(ids)-3) {
			t.Errorf("pending %d after stop, want %d handed back (the in-flight ones acknowledged)", s.Pending, len(ids)-3)
		}

		v2.mu.Lock()
		v2.gate, v2.started = nil, nil
		v2.mu.Unlock()
		e.run(cfg)
		e.wantV2DeliveredOnce(t, ids)
	})
}

// TestDispatcherConcurrentERPDown: when the ERP goes down under a
// concurrent batch, only the calls in flight fail (each parked and charged
// once); the breaker opens and the rest of the batch is handed back
// uncharged, and nothing is lost.
func TestDispatcherConcurrentERPDown(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnvParts(t, rdb, 1)
		v2 := e.erps[erp.V2]
		v2.setDown(true)
		gate, started := make(chan struct{}), make(chan string, 100)
		v2.gate, v2.started = gate, started
		ids := e.acceptN(20)
		cfg := e.config()
		cfg.Adapters = map[string]erp.Adapter{erp.V2: v2}
		cfg.Consumers, cfg.BatchSize, cfg.InFlight = 1, 20, 4
		d, _ := e.run(cfg)
		waitStarted(t, started, 4)
		close(gate) // all four fail; three failures open the breaker
		eventually(t, "breaker opens", func() bool { return d.Breaker(erp.V2).State() == erp.BreakerOpen })
		// Every failed call is recorded as a pending attempt, one each.
		charged := func() int {
			n := 0
			for _, id := range ids {
				if _, ok := e.record(id).Results[erp.V2]; ok {
					n++
				}
			}
			return n
		}
		eventually(t, "failed calls recorded", func() bool { return charged() == v2.totalCalls() })
		// The breaker opened after the third failure; calls that started
		// before it did fail too, never more than InFlight-1 of them.
		if n := v2.totalCalls(); n < 3 || n > 3+cfg.InFlight-1 {
			t.Errorf("%d calls while the ERP was down, want between 3 and %d", n, 3+cfg.InFlight-1)
		}
		for _, id := range ids {
			if r, ok := e.record(id).Results[erp.V2]; ok && (r.State != erp.StatePending || r.Attempts != 1 || v2.callsFor(id) != 1) {
				t.Errorf("%s result %+v after %d calls, want pending after 1 attempt", id, r, v2.callsFor(id))
			}
		}
		if s := e.stats()[erp.V2]; s.Pending+s.Lag != int64(len(ids)) {
			t.Errorf("v2 outstanding %d, want %d (nothing lost, nothing acked)", s.Pending+s.Lag, len(ids))
		}

		v2.mu.Lock()
		v2.gate, v2.started = nil, nil
		v2.mu.Unlock()
		v2.setDown(false)
		e.clock.Advance(30 * time.Second)
		eventually(t, "breaker closes", func() bool { return d.Breaker(erp.V2).State() == erp.BreakerClosed })
		e.clock.Advance(10 * time.Minute)
		eventually(t, "v2 holds every order", func() bool { return v2.held() == len(ids) })
		eventually(t, "all acked", func() bool { s := e.stats()[erp.V2]; return s.Pending+s.Lag == 0 })
		v2.mu.Lock()
		defer v2.mu.Unlock()
		for _, id := range ids {
			if v2.creates[id] != 1 {
				t.Errorf("%s created %d times, want 1", id, v2.creates[id])
			}
		}
	})
}

// TestDispatcherBatchLoadsOrdersOnce: with a store that loads a batch's
// orders at once (store.Store), the worker does not load them one by one.
func TestDispatcherBatchLoadsOrdersOnce(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		e := newEnvParts(t, rdb, 1)
		ids := e.acceptN(12)
		counting := &countingOrders{Store: e.st}
		cfg := e.config()
		cfg.Orders = counting
		cfg.Adapters = map[string]erp.Adapter{erp.V2: e.erps[erp.V2]}
		cfg.Consumers, cfg.BatchSize = 1, 12
		e.run(cfg)
		eventually(t, "all delivered", func() bool { return e.erps[erp.V2].held() == len(ids) })
		counting.mu.Lock()
		defer counting.mu.Unlock()
		if counting.single != 0 || counting.batched != len(ids) {
			t.Errorf("%d single and %d batched loads, want 0 and %d", counting.single, counting.batched, len(ids))
		}
	})
}

type countingOrders struct {
	*store.Store
	mu              sync.Mutex
	single, batched int
}

func (c *countingOrders) LoadOrder(ctx context.Context, id string) (*order.Order, error) {
	c.mu.Lock()
	c.single++
	c.mu.Unlock()
	return c.Store.LoadOrder(ctx, id)
}

func (c *countingOrders) LoadOrders(ctx context.Context, ids []string) ([]*order.Order, []error, error) {
	c.mu.Lock()
	c.batched += len(ids)
	c.mu.Unlock()
	return c.Store.LoadOrders(ctx, ids)
}

func (c *countingOrders) LoadOrdersFor(ctx context.Context, target string, ids []string) ([]*order.Order, []bool, []error, error) {
	c.mu.Lock()
	c.batched += len(ids)
	c.mu.Unlock()
	return c.Store.LoadOrdersFor(ctx, target, ids)
}
