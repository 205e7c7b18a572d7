package redistest

import (
	"context"
	"testing"
	"time"
)

func TestParseNodes(t *testing.T) {
	raw := `07c3 127.0.0.1:30004@40004 slave e7d1 0 1796658442064 1 connected
e7d1 127.0.0.1:30000@40000 myself,master - 0 0 1 connected 0-5460 [5461->-1e2f]
1e2f 127.0.0.1:30001@40001 master,fail - 0 0 2 disconnected 5461-10922
9a0b 127.0.0.1:30002@40002 master - 0 0 3 connected 10923 10924-16383
`
	got := parseNodes(raw)
	want := []Node{
		{ID: "07c3", Addr: "127.0.0.1:30004", PrimaryID: "e7d1"},
		{ID: "e7d1", Addr: "127.0.0.1:30000", Primary: true, Slots: 5461},
		{ID: "1e2f", Addr: "127.0.0.1:30001", Primary: true, Failed: true, Slots: 5462},
		{ID: "9a0b", Addr: "127.0.0.1:30002", Primary: true, Slots: 5461},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d nodes %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("node %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestClusterKillAndRestart: what the drills rely on. A key written and
// confirmed by WAIT on one replica survives SIGKILL of its primary; the
// replica takes over its slots; the killed node comes back as a replica
// and the cluster is healthy again.
func TestClusterKillAndRestart(t *testing.T) {
	cl := StartCluster(t)
	cl.WaitHealthy(t, 30*time.Second)
	ctx := context.Background()
	cc := cl.Client(t)
	if err := cc.Set(ctx, "drill-key", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	primary, err := cc.MasterForKey(ctx, "drill-key")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := primary.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n < 1 {
		t.Fatalf("WAIT 1: %d %v, want ≥ 1 replica", n, err)
	}
	addr := primary.Options().Addr
	cl.Kill(t, addr)
	cl.WaitTakenOver(t, addr, 30*time.Second)
	cl.Restart(t, addr)
	cl.WaitHealthy(t, 30*time.Second)
	nodes, _ := cl.Nodes(ctx)
	for _, n := range nodes {
		if n.Addr == addr && n.Primary {
			t.Errorf("restarted %s is a primary again; want a replica of its successor", addr)
		}
	}
	if v, err := cc.Get(ctx, "drill-key").Result(); err != nil || v != "v" {
		t.Errorf("after failover GET = %q %v, want v", v, err)
	}
}
