package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/store"
)

// TestAcceptWaitReplicas: with WaitReplicas an accept is confirmed only when
// that many replicas hold it. More replicas than the primary has (none on
// the single test node, one per primary on the test cluster) answer
// OutcomeUnknown — the primary holds the order, so the shop's retry
// replays it under the same id; as many as it has confirm at once.
func TestAcceptWaitReplicas(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := context.Background()
	replicas := 0
	if _, ok := rdb.(*redis.ClusterClient); ok {
		replicas = 1 // scripts/redis-cluster.sh: one replica per primary
	}
	wait := func(n int) *store.Store {
		s := store.New(rdb, store.Options{Partitions: 4, Now: func() time.Time { return t0 }, WaitReplicas: n, WaitTimeout: 50 * time.Millisecond})
		if err := s.Init(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := wait(replicas + 1)
	id := s.NewOrderID("shop-a", "EXT-W", func() string { return "ord_w" + time.Now().Format("150405.000000000") })
	in := intake(id, "shop-a", "EXT-W", "fpw", "key-w")
	if _, err := s.Accept(ctx, in); erpgate.ErrorCode(err) != erpgate.OutcomeUnknown {
		t.Fatalf("accept waiting for %d replicas of %d = %v, want outcome_unknown", replicas+1, replicas, err)
	}
	// The primary holds it: the retry replays the same order.
	acc, err := wait(0).Accept(ctx, in)
	if err != nil || acc.OrderID != id || !acc.Replayed {
		t.Fatalf("retry = %+v, %v; want %s replayed", acc, err, id)
	}
	// A supplier document's accept waits the same way.
	docID := s.NewDocumentID("SUP-W", func() string { return "sd_w" + time.Now().Format("150405.000000000") })
	doc := store.DocumentIntake{Doc: ackDoc(docID, "SUP-W", "ACK-W", "PO-W"), Fingerprint: "fpd"}
	if _, err := s.AcceptSupplierDocument(ctx, doc); erpgate.ErrorCode(err) != erpgate.OutcomeUnknown {
		t.Fatalf("document accept waiting for %d replicas of %d = %v, want outcome_unknown", replicas+1, replicas, err)
	}
	if acc, err := wait(0).AcceptSupplierDocument(ctx, doc); err != nil || acc.ID != docID || !acc.Replayed {
		t.Fatalf("document retry = %+v, %v; want %s replayed", acc, err, docID)
	}
	if replicas > 0 {
		id2 := s.NewOrderID("shop-a", "EXT-W2", func() string { return "ord_v" + time.Now().Format("150405.000000000") })
		acc, err := wait(replicas).Accept(ctx, intake(id2, "shop-a", "EXT-W2", "fpw2", ""))
		if err != nil || acc.OrderID != id2 || acc.Replayed {
			t.Fatalf("accept waiting for %d replicas = %+v, %v; want %s stored", replicas, acc, err, id2)
		}
	}
}

// TestCheckDurabilityEveryPrimary: on a cluster every primary must persist
// (each holds a share of the orders): one primary without AOF fails the
// check, naming that primary. The test servers run with AOF, so the check
// passes on them as they are (the refusal of a single node without AOF is
// TestCheckDurability's).
func TestCheckDurabilityEveryPrimary(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := context.Background()
	if err := store.CheckDurability(ctx, rdb, nil); err != nil {
		t.Fatalf("durability of the test Redis: %v, want nil (AOF on)", err)
	}
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return
	}
	var mu sync.Mutex
	var victim *redis.Client
	if err := c.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if victim == nil || n.Options().Addr < victim.Options().Addr {
			victim = n
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := victim.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.ConfigSet(context.Background(), "appendonly", "yes") })
	err := store.CheckDurability(ctx, rdb, nil)
	if err == nil || !strings.Contains(err.Error(), victim.Options().Addr) || !strings.Contains(err.Error(), "appendonly is no") {
		t.Errorf("durability with primary %s without AOF = %v, want refused naming it", victim.Options().Addr, err)
	}
}
