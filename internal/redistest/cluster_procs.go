package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of its own for one test — 3 primaries and 3
// replicas with AOF on loopback, started by scripts/redis-cluster.sh (the
// same cluster scripts/test.sh and scripts/bench.sh use) and stopped at
// cleanup. Drills kill, restart and reshard its nodes.
type Cluster struct {
	Dir    string   // the nodes' directories: Dir/<port>/
	Addrs  []string // every node, primaries and replicas
	script string
}

// Node is one line of CLUSTER NODES.
type Node struct {
	ID, Addr  string
	Primary   bool
	PrimaryID string // of a replica
	Failed    bool
	Slots     int // how many slots a primary serves
}

// StartCluster starts a 3+3 cluster on free loopback ports. It fails the
// test when redis-server or redis-cli is missing: the drills that need a
// cluster are never skipped.
//
// The base port is drawn from ERPGATE_CLUSTER_PORTS ("LO-HI[,LO-HI…]", the
// range a shared machine gives this test) or else from 20000–29990; each
// node also needs its port + 10000 (the cluster bus) free.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	for _, tool := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: the Redis Cluster drills need redis-server and redis-cli (Debian package redis-server)", tool)
		}
	}
	c := &Cluster{Dir: t.TempDir(), script: filepath.Join(repoRoot(t), "scripts", "redis-cluster.sh")}
	t.Cleanup(c.stop)
	var lastErr error
	for range 5 {
		base := freeClusterBase(t)
		out, err := exec.Command("bash", c.script, "start", strconv.Itoa(base), c.Dir).CombinedOutput()
		if err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			c.Addrs = strings.Split(lines[len(lines)-1], ",")
			return c
		}
		lastErr = fmt.Errorf("%v: %s", err, out)
		c.stop() // a port was taken meanwhile: clear up and draw again
		os.RemoveAll(c.Dir)
	}
	t.Fatalf("redis-cluster.sh start: %v", lastErr)
	return nil
}

// Seeds returns the nodes as host:port,host:port,…
func (c *Cluster) Seeds() string { return strings.Join(c.Addrs, ",") }

// URL returns the gateway's --redis-url for the cluster.
func (c *Cluster) URL() string { return "redis+cluster://" + c.Seeds() }

// Client returns a cluster client, closed at cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// Nodes returns the cluster's view of its nodes, asked of the first node
// that answers.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	var lastErr error
	for _, a := range c.Addrs {
		rc := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialTimeout: 300 * time.Millisecond})
		raw, err := rc.ClusterNodes(ctx).Result()
		rc.Close()
		if err != nil {
			lastErr = err
			continue
		}
		return parseNodes(raw), nil
	}
	return nil, fmt.Errorf("no cluster node answers: %w", lastErr)
}

func parseNodes(raw string) []Node {
	var nodes []Node
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := Node{ID: f[0], Addr: addr, Primary: strings.Contains(f[2], "master"),
			Failed: strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?")}
		if f[3] != "-" {
			n.PrimaryID = f[3]
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated or imported
			}
			lo, hi, ok := strings.Cut(r, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if ok {
				b, _ = strconv.Atoi(hi)
			}
			n.Slots += b - a + 1
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// Kill sends SIGKILL to the node at addr (no shutdown, no AOF flush beyond
// what the kernel has) and waits until it is gone.
func (c *Cluster) Kill(t testing.TB, addr string) {
	t.Helper()
	pid := c.pid(t, addr)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", addr, pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitTakenOver waits until the live primaries other than the one at addr
// serve every slot: a replica has taken over a killed primary's slots.
func (c *Cluster) WaitTakenOver(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		nodes, _ := c.Nodes(context.Background())
		served := 0
		for _, n := range nodes {
			if n.Primary && !n.Failed && n.Addr != addr {
				served += n.Slots
			}
		}
		if served == 16384 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica took over the slots of %s within %v: %+v", addr, timeout, nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart starts the node at addr again with its directory (nodes.conf and
// AOF) and waits until it answers.
func (c *Cluster) Restart(t testing.TB, addr string) {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	if out, err := exec.Command("bash", c.script, "node", port, c.Dir).CombinedOutput(); err != nil {
		t.Fatalf("redis-cluster.sh node %s: %v: %s", port, err, out)
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("restarted node %s does not answer after 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitHealthy waits until every slot is served by a primary that answers,
// every live node says cluster_state:ok, and every primary has a replica in
// sync (so that a WAIT for one replica can succeed).
func (c *Cluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		why = c.unhealthy(ctx)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not healthy after %v: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) unhealthy(ctx context.Context) string {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return err.Error()
	}
	slots, synced := 0, map[string]bool{}
	for _, n := range nodes {
		if n.Primary && !n.Failed {
			slots += n.Slots
		}
	}
	if slots != 16384 {
		return fmt.Sprintf("live primaries serve %d of 16384 slots", slots)
	}
	for _, n := range nodes {
		if n.Failed {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond})
		state, err := rc.ClusterInfo(ctx).Result()
		var info string
		if err == nil {
			info, err = rc.Info(ctx, "replication").Result()
		}
		rc.Close()
		if err != nil {
			return fmt.Sprintf("%s: %v", n.Addr, err)
		}
		if !strings.Contains(state, "cluster_state:ok") {
			return n.Addr + ": cluster_state is not ok"
		}
		if !n.Primary && strings.Contains(info, "master_link_status:up") {
			synced[n.PrimaryID] = true
		}
	}
	for _, n := range nodes {
		if n.Primary && n.Slots > 0 && !synced[n.ID] {
			return "primary " + n.Addr + " has no replica in sync"
		}
	}
	return ""
}

func (c *Cluster) pid(t testing.TB, addr string) int {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	raw, err := os.ReadFile(filepath.Join(c.Dir, port, "redis.pid"))
	if err != nil {
		t.Fatalf("pid of node %s: %v", addr, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("pid of node %s: %v", addr, err)
	}
	return pid
}

// stop stops every node and waits until they are gone.
func (c *Cluster) stop() {
	var pids []int
	files, _ := filepath.Glob(filepath.Join(c.Dir, "*", "redis.pid"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			pids = append(pids, pid)
		}
	}
	exec.Command("bash", c.script, "stop", c.Dir).Run()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// freeClusterBase returns a base port whose six ports and six bus ports
// (port + 10000) were free a moment ago.
func freeClusterBase(t testing.TB) int {
	t.Helper()
	type span struct{ lo, hi int }
	spans := []span{{20000, 29990}}
	if env := os.Getenv("ERPGATE_CLUSTER_PORTS"); env != "" {
		spans = nil
		for _, r := range strings.Split(env, ",") {
			lo, hi, _ := strings.Cut(strings.TrimSpace(r), "-")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || b-a < 5 || b > 55535 {
				t.Fatalf("ERPGATE_CLUSTER_PORTS=%q: want LO-HI[,LO-HI…] with at least 6 ports each, HI ≤ 55535", env)
			}
			spans = append(spans, span{a, b - 5})
		}
	}
	for range 200 {
		s := spans[rand.IntN(len(spans))]
		base := s.lo + rand.IntN(s.hi-s.lo+1)
		var held []net.Listener
		ok := true
		for i := range 6 {
			for _, p := range []int{base + i, base + i + 10000} {
				ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
				if err != nil {
					ok = false
					break
				}
				held = append(held, ln)
			}
		}
		for _, ln := range held {
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free cluster base port found (6 ports and their bus ports)")
	return 0
}

// repoRoot is the directory of go.mod above the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
