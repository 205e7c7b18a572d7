package store_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server of the test's own, which it may kill and
// restart on the same data directory.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port string
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" || os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
			t.Fatal("redis-server not found but ERPGATE_REDIS_REQUIRED or ERPGATE_REQUIRE_TOOLS is 1")
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	s := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", s.port, "--bind", "127.0.0.1", "--dir", s.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *redisServer) client() redis.UniversalClient {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + s.port})
}

// TestOutboxLagAfterAOFReload reproduces the backlog that did not exist:
// Redis 7.0 writes a group's reads to the AOF as XCLAIM … LASTID, which
// moves the group's last-delivered id but not its read counter. After an
// AOF rewrite, more orders read and acknowledged, and a Redis crash, XINFO
// GROUPS reports a lag of every order accepted since the rewrite with
// nothing pending. The outbox's backlog (Stats, and the pending-messages
// metric) must still say 0.
func TestOutboxLagAfterAOFReload(t *testing.T) {
	srv := startRedisServer(t)
	ctx := context.Background()
	rdb := srv.client()
	st := newStore(t, rdb)
	ob := st.Outbox()
	drain := func() {
		for _, target := range []string{"v1", "v2"} {
			for {
				ms := read(t, ob, target, "w:"+target+":0", 100)
				if len(ms) == 0 {
					break
				}
				if err := ob.Ack(ctx, target, 0, ids(ms)...); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	accept(t, st, 0, 10)
	drain()
	if err := rdb.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(rdb.Info(ctx, "persistence").Val(), "aof_rewrite_in_progress:0") ||
		!strings.Contains(rdb.Info(ctx, "persistence").Val(), "aof_rewrite_scheduled:0") {
		if time.Now().After(deadline) {
			t.Fatal("AOF rewrite did not finish within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	accept(t, st, 10, 30)
	drain()
	rdb.Close()

	srv.kill() // a crash: the AOF is all Redis has
	srv.start()
	rdb = srv.client()
	defer rdb.Close()
	st = newStore(t, rdb)
	gs := rdb.XInfoGroups(ctx, "outbox:{p0.0}").Val()
	for _, g := range gs {
		t.Logf("after the reload Redis reports group %s: pending %d, entries-read %d, lag %d", g.Name, g.Pending, g.EntriesRead, g.Lag)
	}
	stats, err := st.Outbox().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Pending != 0 || s.Lag != 0 {
			t.Errorf("%s: pending %d, lag %d; want 0 and 0 (every order was delivered and acknowledged)", s.Target, s.Pending, s.Lag)
		}
	}
	want := `
# HELP erpgate_outbox_pending_messages Outbox entries a target has not acknowledged yet (in flight, deferred or not yet read).
# TYPE erpgate_outbox_pending_messages gauge
erpgate_outbox_pending_messages{target="v1"} 0
erpgate_outbox_pending_messages{target="v2"} 0
`
	if err := testutil.CollectAndCompare(st.Collector(), strings.NewReader(want), "erpgate_outbox_pending_messages"); err != nil {
		t.Error(err)
	}

	// A real backlog is still counted: 5 new orders, 2 of them read by v1.
	accept(t, st, 40, 5)
	read(t, st.Outbox(), "v1", "w:v1:0", 2)
	stats, _ = st.Outbox().Stats(ctx)
	if got := stats[0]; got.Pending != 2 || got.Lag != 3 {
		t.Errorf("v1 after 5 new orders, 2 read: pending %d, lag %d; want 2 and 3", got.Pending, got.Lag)
	}
	if got := stats[1]; got.Pending != 0 || got.Lag != 5 {
		t.Errorf("v2 after 5 new orders: pending %d, lag %d; want 0 and 5", got.Pending, got.Lag)
	}
}
