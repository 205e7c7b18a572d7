package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/internal/redistest"
	"erpgate/store"
)

func TestInstancesRegistry(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := t.Context()
	reg := store.NewInstances(rdb, 300*time.Millisecond)
	a := store.Instance{ID: "gw-a", Version: "1.2.3", Commit: "abc", Address: "http://a", Started: time.Now().Add(-time.Hour)}
	b := store.Instance{ID: "gw-b", Started: time.Now()}
	if err := reg.Heartbeat(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := reg.Heartbeat(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := reg.Heartbeat(ctx, store.Instance{ID: "bad:id"}); err == nil {
		t.Error("Heartbeat with id bad:id = nil, want an error")
	}
	list, err := reg.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "gw-b" || list[1].ID != "gw-a" {
		t.Fatalf("List = %+v, want gw-b then gw-a (newest heartbeat first)", list)
	}
	if got := list[1]; got.Version != "1.2.3" || got.Commit != "abc" || got.Address != "http://a" || got.LastSeen.IsZero() || !got.Started.Equal(a.Started.UTC()) {
		t.Errorf("List()[1] = %+v, want the heartbeat's record with LastSeen set", got)
	}
	for _, id := range []string{"gw-a", "gw-b"} {
		if ok, err := reg.Alive(ctx, id); err != nil || !ok {
			t.Errorf("Alive(%s) = %v, %v right after a heartbeat, want true", id, ok, err)
		}
	}
	if ok, _ := reg.Alive(ctx, "gw-never"); ok {
		t.Error("Alive(gw-never) = true, want false")
	}
	// Without heartbeats an instance dies after the ttl (Redis's clock); its
	// record stays listed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := reg.Alive(ctx, "gw-a")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gw-a still alive 10s after its last heartbeat with a 300ms ttl")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if list, _ := reg.List(ctx); len(list) != 2 {
		t.Errorf("List after expiry has %d instances, want 2 (dead ones stay known)", len(list))
	}
}

// TestTakeoverDeadInstanceNotSlowOne: on a real Redis, a live instance takes
// over the entries a dead instance held within seconds of its heartbeat
// expiring, while the entries of a live instance stuck in slow ERP calls
// stay with it (ReclaimMinIdle is 30m here: nothing moves by idle time).
func TestTakeoverDeadInstanceNotSlowOne(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st := newStore(t, rdb)
	reg := store.NewInstances(rdb, time.Second)
	const slowN, deadN = 5, 20

	cfg := func(name string, a erp.Adapter, batch int) erp.DispatcherConfig {
		return erp.DispatcherConfig{
			Outbox: st.Outbox(), Orders: st, Adapters: map[string]erp.Adapter{"v1": a},
			Name: name, Instances: reg, Consumers: 1, BatchSize: batch, InFlight: batch,
			CallTimeout: time.Hour, ReclaimMinIdle: 3 * time.Hour,
		}
	}
	run := func(name string, a erp.Adapter, batch int) {
		go reg.Run(ctx, store.Instance{ID: name, Started: time.Now()}, nil)
		go erp.NewDispatcher(cfg(name, a, batch)).Run(ctx)
	}
	waitHeld := func(consumer string, n int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			p, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "outbox:{p0.0}", Group: "erp-v1", Start: "-", End: "+", Count: 1000, Consumer: consumer}).Result()
			if err == nil && int64(len(p)) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d entries (%v), want %d", consumer, len(p), err, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// A live instance whose ERP calls hang holds slowN orders.
	slow := erpfake.New(erpfake.Config{Target: "v1"})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // the hanging calls end with the test
	slow.SetHook(func(ctx context.Context, _ erpfake.Op, _ string) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-release:
			return erpfake.Transient()
		}
	})
	accept(t, st, 0, slowN)
	run("gw-slow", slow, slowN)
	waitHeld("gw-slow:v1:0", slowN)

	// A dead instance read deadN orders and never finished them.
	if err := reg.Heartbeat(ctx, store.Instance{ID: "gw-dead", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	accept(t, st, slowN, deadN)
	if got := read(t, st.Outbox(), "v1", "gw-dead:v1:0", deadN); len(got) != deadN {
		t.Fatalf("the dead instance read %d entries, want %d", len(got), deadN)
	}

	// A healthy instance takes the dead one's orders, not the slow one's.
	start := time.Now()
	live := erpfake.New(erpfake.Config{Target: "v1"})
	run("gw-live", live, 64)
	deadline := time.Now().Add(60 * time.Second)
	for len(live.Orders()) < deadN {
		if time.Now().After(deadline) {
			t.Fatalf("the live instance created %d of the dead one's %d orders within 60s", len(live.Orders()), deadN)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the dead instance's %d orders were created %v after the live instance started (instance ttl 1s)", deadN, time.Since(start).Round(10*time.Millisecond))
	time.Sleep(3 * time.Second) // three more rounds of looking for orphans
	var got []string
	for _, r := range live.Orders() {
		got = append(got, r.Ref)
	}
	slices.Sort(got)
	for i := range slowN {
		if id := orderID(i); slices.Contains(got, id) {
			t.Errorf("the live instance created %s, an order the live slow instance holds", id)
		}
	}
	for i := slowN; i < slowN+deadN; i++ {
		if live.Holds(orderID(i)) != 1 {
			t.Errorf("the live instance holds %s %d times, want 1", orderID(i), live.Holds(orderID(i)))
		}
	}
	waitHeld("gw-slow:v1:0", slowN)
	waitHeld("gw-dead:v1:0", 0)
}

func orderID(i int) string { return fmt.Sprintf("ord_%d", i) }

// accept accepts orders ord_<from> … ord_<from+n-1>.
func accept(t *testing.T, s *store.Store, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		id := orderID(i)
		if _, err := s.Accept(context.Background(), intake(id, "shop-a", id, "fp", "")); err != nil {
			t.Fatal(err)
		}
	}
}
