package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/store"
)

func TestOpenOrdersClaimLeasesAndReschedules(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		open := store.New(rdb, store.Options{Partitions: 4}).OpenOrders()
		for i, id := range []string{"o1", "o2", "o3"} {
			if err := open.Add(ctx, "v1", id, t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		// A repeated Add (a repeated delivery result) keeps the due time.
		if err := open.Add(ctx, "v1", "o1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if due, ok, _ := open.Due(ctx, "v1", "o1"); !ok || !due.Equal(t0) {
			t.Errorf("o1 due %v (%v), want %v", due, ok, t0)
		}
		lease := t0.Add(time.Minute)
		got, err := open.Claim(ctx, "v1", t0.Add(time.Second), lease, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"o1", "o2"}; !slices.Equal(got, want) {
			t.Errorf("Claim = %v, want %v (due by now, oldest first)", got, want)
		}
		// Leased: not handed out again before the lease ends.
		if got, _ := open.Claim(ctx, "v1", t0.Add(30*time.Second), lease, 10); !slices.Equal(got, []string{"o3"}) {
			t.Errorf("second Claim = %v, want [o3] only", got)
		}
		if err := open.Reschedule(ctx, "v1", t0.Add(5*time.Second), "o1", "gone"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := open.Due(ctx, "v1", "gone"); ok {
			t.Error("Reschedule added an order that was not open")
		}
		if err := open.Remove(ctx, "v1", "o2"); err != nil {
			t.Fatal(err)
		}
		if got, _ := open.Claim(ctx, "v1", t0.Add(2*time.Minute), t0.Add(3*time.Minute), 1); !slices.Equal(got, []string{"o1"}) {
			t.Errorf("Claim(1) = %v, want [o1] (rescheduled earliest)", got)
		}
		if n, _ := open.Len(ctx, "v1"); n != 2 {
			t.Errorf("Len = %d, want 2 (o1, o3)", n)
		}
		if n, _ := open.Len(ctx, "v2"); n != 0 {
			t.Errorf("v2 Len = %d, want 0 (sets are per target)", n)
		}
		if _, err := open.Claim(ctx, "v1", t0, t0, 0); erpgate.ErrorCode(err) != erpgate.Invalid {
			t.Errorf("Claim(0) error = %v, want Invalid", err)
		}
	})
}

func TestOpenOrdersConcurrentClaimsAreDisjoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		open := store.New(rdb, store.Options{Partitions: 4}).OpenOrders()
		const n = 200
		for i := range n {
			if err := open.Add(ctx, "v1", fmt.Sprintf("o%03d", i), t0); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					ids, err := open.Claim(ctx, "v1", t0, t0.Add(time.Hour), 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ids) == 0 {
						return
					}
					mu.Lock()
					for _, id := range ids {
						seen[id]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("claimed %d distinct orders, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s claimed %d times, want once", id, c)
			}
		}
	})
}

func TestOpenOrdersUnavailable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	open := store.New(rdb, store.Options{Partitions: 4}).OpenOrders()
	ctx := context.Background()
	if err := open.Add(ctx, "v1", "o1", t0); erpgate.ErrorCode(err) != erpgate.Unavailable {
		t.Errorf("Add = %v, want Unavailable", err)
	}
	if _, err := open.Claim(ctx, "v1", t0, t0, 1); erpgate.ErrorCode(err) != erpgate.Unavailable {
		t.Errorf("Claim = %v, want Unavailable", err)
	}
}

// TestOpenOrdersWake: every order due after now becomes due now, over more
// than one step; orders due already keep their time.
func TestOpenOrdersWake(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		open := store.New(rdb, store.Options{Partitions: 1}).OpenOrders() // one set: the wake takes more than one step
		if err := open.Add(ctx, "v1", "early", t0.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		const parked = store.MaxOpenClaim + 5
		for i := range parked {
			if err := open.Add(ctx, "v1", fmt.Sprint("p", i), t0.Add(time.Duration(i+1)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := open.Wake(ctx, "v1", t0)
		if err != nil || n != parked {
			t.Fatalf("wake = %d, %v; want %d", n, err, parked)
		}
		if due, ok, _ := open.Due(ctx, "v1", fmt.Sprint("p", parked-1)); !ok || !due.Equal(t0) {
			t.Errorf("last parked order due %v (%v), want %v", due, ok, t0)
		}
		ids, err := open.Claim(ctx, "v1", t0, t0.Add(time.Hour), store.MaxOpenClaim)
		if err != nil || len(ids) != store.MaxOpenClaim || ids[0] != "early" {
			t.Fatalf("claim after wake: %d ids (first %v), %v; want %d, early first", len(ids), ids[:min(1, len(ids))], err, store.MaxOpenClaim)
		}
		if n, err := open.Wake(ctx, "v1", t0.Add(2*time.Hour)); err != nil || n != 0 {
			t.Errorf("wake after the leases: %d, %v; want 0", n, err)
		}
	})
}

// TestOpenOrdersClaimRoundRobin: claims start at the next partition each
// time, so an order in a quiet partition is claimed within one round of
// claims even while another partition has more due than a claim takes.
func TestOpenOrdersClaimRoundRobin(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := store.New(rdb, store.Options{Partitions: 4})
		open := s.OpenOrders()
		sp := s.Space()
		quiet := ""
		for i := 0; quiet == ""; i++ {
			if id := fmt.Sprint("o", i); sp.Of(id) == 2 {
				quiet = id
			}
		}
		for i := 0; i < 100; i++ {
			if id := fmt.Sprint("b", i); sp.Of(id) == 0 {
				if err := open.Add(ctx, "v1", id, t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := open.Add(ctx, "v1", quiet, t0); err != nil {
			t.Fatal(err)
		}
		for range sp.N() {
			ids, err := open.Claim(ctx, "v1", t0, t0.Add(time.Hour), 2)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(ids, quiet) {
				return
			}
		}
		t.Errorf("the quiet partition's order was not claimed within %d claims", sp.N())
	})
}
