package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/store"
)

// acceptOrders accepts an order of shop-a for each id (external id EXT-id).
func acceptOrders(t *testing.T, s *store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.Accept(context.Background(), intake(id, "shop-a", "EXT-"+id, "fp", "")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadOrders: a batch's orders come back index by index; a missing one
// is NotFound without failing the others.
func TestLoadOrders(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := newStore(t, rdb)
		ctx := context.Background()
		acceptOrders(t, s, "ord_1", "ord_2")
		ids := []string{"ord_2", "ord_missing", "ord_1"}
		got, errs, err := s.LoadOrders(ctx, ids)
		if err != nil || len(got) != 3 || len(errs) != 3 {
			t.Fatalf("LoadOrders = %d orders, %d errors, %v; want 3, 3, nil", len(got), len(errs), err)
		}
		for _, i := range []int{0, 2} {
			if errs[i] != nil || got[i] == nil || got[i].ID != ids[i] || got[i].ExternalID != "EXT-"+ids[i] {
				t.Errorf("LoadOrders[%d] = %+v, %v; want order %s", i, got[i], errs[i], ids[i])
			}
			single, err := s.LoadOrder(ctx, ids[i])
			if err != nil || fmt.Sprint(single) != fmt.Sprint(got[i]) {
				t.Errorf("LoadOrders[%d] differs from LoadOrder: %+v vs %+v (%v)", i, got[i], single, err)
			}
		}
		if got[1] != nil || code(errs[1]) != erpgate.NotFound {
			t.Errorf("missing order: %+v, %v; want nil, NotFound", got[1], errs[1])
		}
		if got, errs, err := s.LoadOrders(ctx, nil); got != nil || errs != nil || err != nil {
			t.Errorf("LoadOrders(nil) = %v, %v, %v; want nothing", got, errs, err)
		}
	})
}

// TestLoadOrdersForTellsFreshOrders: an order is fresh for a target until
// the target has a result for it, whatever the other target did.
func TestLoadOrdersForTellsFreshOrders(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := newStore(t, rdb)
		ctx := context.Background()
		acceptOrders(t, s, "ord_1", "ord_2")
		if err := s.SetResult(ctx, "ord_1", erp.V2, store.TargetResult{State: erp.StatePending, Attempts: 1}, true); err != nil {
			t.Fatal(err)
		}
		ids := []string{"ord_1", "ord_2", "ord_missing"}
		for _, c := range []struct {
			target string
			want   []bool
		}{{erp.V2, []bool{false, true, false}}, {erp.V1, []bool{true, true, false}}, {"", []bool{false, false, false}}} {
			got, fresh, errs, err := s.LoadOrdersFor(ctx, c.target, ids)
			if err != nil || len(got) != 3 || len(fresh) != 3 || len(errs) != 3 {
				t.Fatalf("LoadOrdersFor(%q) = %d, %d, %d, %v", c.target, len(got), len(fresh), len(errs), err)
			}
			if got[0] == nil || got[0].ID != "ord_1" || got[1] == nil || got[1].ID != "ord_2" || code(errs[2]) != erpgate.NotFound {
				t.Errorf("LoadOrdersFor(%q) orders %v, errors %v", c.target, got, errs)
			}
			for i := range ids {
				if fresh[i] != c.want[i] {
					t.Errorf("LoadOrdersFor(%q): %s fresh = %v, want %v", c.target, ids[i], fresh[i], c.want[i])
				}
			}
		}
	})
}

func TestLoadOrdersRedisDownIsUnavailable(t *testing.T) {
	s := store.New(downClient(t), store.Options{Partitions: 1})
	if _, _, err := s.LoadOrders(context.Background(), []string{"ord_1"}); code(err) != erpgate.Unavailable {
		t.Errorf("LoadOrders error %v, want code unavailable", err)
	}
}

// TestSetResultConcurrent: results recorded at once by many deliveries (they
// leave together in one pipeline) are each applied to their own order, and
// the forward-only rule still holds per call.
func TestSetResultConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := newStore(t, rdb)
		ctx := context.Background()
		const n = 60
		for i := range n {
			id := fmt.Sprintf("ord_%d", i)
			if _, err := s.Accept(ctx, intake(id, "shop-a", "EXT-"+id, "fp", "")); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2*n+1)
		for i := range n {
			id := fmt.Sprintf("ord_%d", i)
			wg.Go(func() {
				errs[2*i] = s.SetResult(ctx, id, erp.V2, store.TargetResult{State: erp.StateCreated, ERPOrderNumber: "SO-" + id, Attempts: 1, UpdatedAt: t0}, true)
			})
			wg.Go(func() {
				errs[2*i+1] = s.SetResult(ctx, id, erp.V1, store.TargetResult{State: erp.StateRejected, Reason: "no", Attempts: 1, UpdatedAt: t0}, false)
			})
		}
		wg.Go(func() {
			errs[2*n] = s.SetResult(ctx, "ord_missing", erp.V2, store.TargetResult{State: erp.StateCreated, UpdatedAt: t0}, true)
		})
		wg.Wait()
		for i, err := range errs[:2*n] {
			if err != nil {
				t.Errorf("SetResult %d: %v", i, err)
			}
		}
		if code(errs[2*n]) != erpgate.NotFound {
			t.Errorf("SetResult of a missing order: %v, want NotFound", errs[2*n])
		}
		for i := range n {
			id := fmt.Sprintf("ord_%d", i)
			// A later pending result never replaces the final one.
			if err := s.SetResult(ctx, id, erp.V2, store.TargetResult{State: erp.StatePending, Attempts: 2, UpdatedAt: t0}, true); err != nil {
				t.Fatal(err)
			}
			r, err := s.Order(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusReceived || r.Results[erp.V2].ERPOrderNumber != "SO-"+id || r.Results[erp.V2].State != erp.StateCreated ||
				r.Results[erp.V1].State != erp.StateRejected {
				t.Errorf("%s: status %q results %+v; want received, v2 created as SO-%s, v1 rejected", id, r.Status, r.Results, id)
			}
		}
	})
}

// TestSetResultRedisDownIsUnavailable: a failed pipeline is each caller's
// Unavailable.
func TestSetResultRedisDownIsUnavailable(t *testing.T) {
	s := store.New(downClient(t), store.Options{Partitions: 1})
	err := s.SetResult(context.Background(), "ord_1", erp.V2, store.TargetResult{State: erp.StateCreated, UpdatedAt: t0}, true)
	if code(err) != erpgate.Unavailable {
		t.Errorf("SetResult error %v, want code unavailable", err)
	}
}

// TestSetResultAfterScriptFlush: the scripts were flushed from Redis (a
// restart); a result is still recorded.
func TestSetResultAfterScriptFlush(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := newStore(t, rdb)
		ctx := context.Background()
		if _, err := s.Accept(ctx, intake("ord_1", "shop-a", "EXT-1", "fp", "")); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.SetResult(ctx, "ord_1", erp.V2, store.TargetResult{State: erp.StateCreated, ERPOrderNumber: "SO-1", UpdatedAt: t0}, true); err != nil {
			t.Fatalf("SetResult after SCRIPT FLUSH: %v", err)
		}
		if r, err := s.Order(ctx, "ord_1"); err != nil || r.Status != store.StatusReceived {
			t.Errorf("status %v (%v), want received", r, err)
		}
	})
}
