package streamgroup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/instance"
	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/internal/streamgroup"
)

// clusterClient returns a client of a 3-primary Redis Cluster: the test
// harness's (ERPGATE_REDIS_URL=redis+cluster://..., redistest.Universal),
// or else a fresh one started with scripts/redis-cluster.sh on
// ERPGATE_TEST_CLUSTER_PORT (default: six free ports, as scripts/test.sh
// picks them) … +5, stopped when the test ends.
func clusterClient(t *testing.T, readers int) *redis.ClusterClient {
	t.Helper()
	if redistest.ClusterURL() != "" {
		c, ok := redistest.Universal(t).(*redis.ClusterClient)
		if !ok {
			t.Fatal("ERPGATE_REDIS_URL names a cluster, but the client is not a cluster client")
		}
		return c
	}
	seeds := ""
	{
		port := os.Getenv("ERPGATE_TEST_CLUSTER_PORT")
		if port == "" {
			port = strconv.Itoa(freeClusterBase(t))
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "redis-cluster.sh")
		dir := t.TempDir()
		out, err := exec.Command(script, "start", port, dir).Output()
		t.Cleanup(func() { _ = exec.Command(script, "stop", dir).Run() })
		if err != nil {
			t.Fatalf("starting a cluster: %v", err)
		}
		seeds = strings.TrimSpace(string(out))
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: strings.Split(seeds, ","),
		// Every blocked read holds a connection of its node's pool for up
		// to its block time: the pool must hold them all, plus some.
		PoolSize: readers + 10,
	})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushDB(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	return c
}

// freeClusterBase returns a port b such that b … b+5 and their cluster bus
// ports (+10000) are free now.
func freeClusterBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		b := 20000 + rand.IntN(20000)
		free := true
		for i := range 6 {
			for _, p := range []int{b + i, b + i + 10000} {
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
				if err != nil {
					free = false
					continue
				}
				l.Close()
			}
		}
		if free {
			return b
		}
	}
	t.Fatal("no six free ports for a cluster")
	return 0
}

// TestGroupOnCluster: a Group on the 16 partition streams of a 3-primary
// cluster (each command and script within one slot, blocked reads routed by
// key): the entries of every partition are delivered exactly once to two
// consumers reading every partition with blocking reads; defer, due and
// dead-letter work in every partition; and a dead instance's pending
// entries in every partition are taken over.
func TestGroupOnCluster(t *testing.T) {
	space := partition.MustNew(partition.Default)
	const consumers, perPart = 2, 25
	rdb := clusterClient(t, consumers*space.N())
	ctx := context.Background()
	cfg := streamgroup.Config{Name: "erp-t"}
	for p := range space.N() {
		tag := space.Tag(p)
		cfg.Streams = append(cfg.Streams, "outbox:"+tag)
		cfg.Parked = append(cfg.Parked, "outbox:retry:"+tag+":t")
		cfg.Dead = append(cfg.Dead, "outbox:dead:"+tag)
	}
	g := streamgroup.New(rdb, cfg)
	for _, sc := range streamgroup.Scripts {
		if err := rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return sc.Load(ctx, n).Err() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Ensure(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	if err := g.Ensure(ctx, "0"); err != nil { // BUSYGROUP is fine
		t.Fatalf("second Ensure: %v", err)
	}
	// The partitions spread over the three primaries.
	nodes := map[string]bool{}
	for p := range space.N() {
		n, err := rdb.MasterForKey(ctx, g.Stream(p))
		if err != nil {
			t.Fatal(err)
		}
		nodes[n.Options().Addr] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("the 16 streams live on %d primaries, want 3", len(nodes))
	}

	add := func(n int) map[string]bool {
		want := map[string]bool{}
		for p := range space.N() {
			for i := range n {
				id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: g.Stream(p), Values: []any{"n", i}}).Result()
				if err != nil {
					t.Fatal(err)
				}
				want[fmt.Sprint(p, "/", id)] = true
			}
		}
		return want
	}

	// 1. Exactly once over 2 consumers × 16 partitions, blocking reads.
	want := add(perPart)
	var mu sync.Mutex
	got := map[string][]string{} // entry → consumers that got it
	by := map[string]int{}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for c := range consumers {
		name := instance.Consumer(fmt.Sprintf("gw-%d", c), "t:0")
		for p := range space.N() {
			wg.Go(func() {
				for rctx.Err() == nil {
					es, err := g.Read(rctx, p, name, 7, 200*time.Millisecond)
					if err != nil {
						if rctx.Err() == nil {
							t.Errorf("read partition %d: %v", p, err)
						}
						return
					}
					var ids []string
					mu.Lock()
					for _, e := range es {
						k := fmt.Sprint(e.Part, "/", e.ID)
						got[k] = append(got[k], name)
						by[name]++
						ids = append(ids, e.ID)
					}
					mu.Unlock()
					// Not rctx: what was read is acknowledged even when the
					// readers are being stopped.
					if err := g.Ack(ctx, p, ids...); err != nil {
						t.Errorf("ack partition %d: %v", p, err)
					}
				}
			})
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if len(got) != len(want) {
		t.Fatalf("%d entries delivered, want %d", len(got), len(want))
	}
	for k, cs := range got {
		if !want[k] || len(cs) != 1 {
			t.Errorf("entry %s delivered to %v, want once", k, cs)
		}
	}
	if len(by) != consumers {
		t.Errorf("deliveries by consumer %v, want both consumers to take part", by)
	}
	for p := range space.N() {
		info, ok, err := g.Info(ctx, p)
		if err != nil || !ok || info.Pending != 0 {
			t.Errorf("partition %d: group %+v (%v, %v), want nothing pending", p, info, ok, err)
		}
	}

	// 2. Defer, due and dead-letter in every partition (one slot each).
	add(1)
	for p := range space.N() {
		es, err := g.Read(ctx, p, "gw-0:t:0", 1, 0)
		if err != nil || len(es) != 1 {
			t.Fatalf("partition %d: read %v, %v", p, es, err)
		}
		if err := g.Defer(ctx, p, es[0].ID, time.UnixMilli(1000), 3); err != nil {
			t.Fatalf("partition %d: defer: %v", p, err)
		}
		due, err := g.Due(ctx, p, "gw-1:t:0", time.UnixMilli(2000), 10)
		if err != nil || len(due) != 1 || due[0].ID != es[0].ID || due[0].Deliveries != 4 {
			t.Fatalf("partition %d: due %+v, %v; want %s with 4 deliveries", p, due, err, es[0].ID)
		}
		if _, ok, err := g.DeadLetter(ctx, p, es[0].ID, "reason", "test"); err != nil || !ok {
			t.Fatalf("partition %d: dead letter: %v, %v", p, ok, err)
		}
		if n := rdb.XLen(ctx, cfg.Dead[p]).Val(); n != 1 {
			t.Errorf("partition %d: %d dead letters, want 1", p, n)
		}
	}

	// 3. A dead instance's pending entries, in every partition, are taken over.
	held := add(3)
	for p := range space.N() {
		if es, err := g.Read(ctx, p, "gw-dead:t:0", 10, 0); err != nil || len(es) != 3 {
			t.Fatalf("partition %d: the dead instance read %d, %v; want 3", p, len(es), err)
		}
	}
	alive := func(_ context.Context, id string) (bool, error) { return id != "gw-dead", nil }
	took := map[string]bool{}
	for p := range space.N() {
		holders, err := g.Holders(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		orphans, err := instance.Orphans(ctx, holders, "gw-0", func(n string) bool { return n == "gw-0:t:0" }, alive)
		if err != nil || len(orphans) != 1 || orphans[0] != "gw-dead:t:0" {
			t.Fatalf("partition %d: orphans %v (%v) of holders %v, want gw-dead's consumer", p, orphans, err, holders)
		}
		es, err := g.Claim(ctx, p, orphans[0], "gw-0:t:0", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			took[fmt.Sprint(e.Part, "/", e.ID)] = true
			if e.Deliveries != 2 {
				t.Errorf("taken-over entry %s has %d deliveries, want 2", e.ID, e.Deliveries)
			}
		}
	}
	if len(took) != len(held) {
		t.Errorf("took over %d entries, want the %d the dead instance held", len(took), len(held))
	}
	for k := range held {
		if !took[k] {
			t.Errorf("entry %s not taken over", k)
		}
	}
}
