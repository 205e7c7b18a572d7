package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/store"
)

// startRedisServer starts a redis-server of its own with args on a free
// loopback port and returns its address once it answers. A missing
// redis-server fails the test under ERPGATE_REQUIRE_TOOLS=1 or
// ERPGATE_REDIS_REQUIRED=1 and skips it otherwise.
func startRedisServer(t *testing.T, args ...string) string {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
			t.Fatal("redis-server not found but ERPGATE_REQUIRE_TOOLS or ERPGATE_REDIS_REQUIRED is 1")
		}
		t.Skip("redis-server not installed")
	}
	addr := freePort(t)
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(server, append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(), "--save", ""}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// TestAppendfsyncWarning: the README promises a warning at start when Redis
// syncs its AOF less often than every write (appendfsync everysec), and none
// when it syncs always.
func TestAppendfsyncWarning(t *testing.T) {
	const warning = "redis appendfsync is not always"
	for _, fsync := range []string{"everysec", "always"} {
		t.Run(fsync, func(t *testing.T) {
			addr := startRedisServer(t, "--appendonly", "yes", "--appendfsync", fsync)
			_, logs, stop := startRun(t, "--redis-url", "redis://"+addr)
			stop()
			logs.mu.Lock()
			defer logs.mu.Unlock()
			var found bool
			for _, l := range logs.lines {
				if strings.Contains(l, warning) && strings.Contains(l, `"appendfsync":"`+fsync+`"`) {
					found = true
				}
			}
			if want := fsync != "always"; found != want {
				t.Errorf("appendfsync %s: warning logged = %v, want %v", fsync, found, want)
			}
		})
	}
}

// TestSIGKILLRestartTakesOverAtOnce: a gateway killed with SIGKILL while
// its workers hold orders in slow ERP calls, and restarted with the same
// instance id and the default delivery flags, delivers every in-flight
// order at once — not after --erp-reclaim-idle (2m) — with none lost and
// none created twice.
func TestSIGKILLRestartTakesOverAtOnce(t *testing.T) {
	rdb := redistest.Universal(t)
	redisURL := redistest.URL(t, rdb)
	gwBin, sim := startSimProc(t)
	// Every ERP call takes 3s: the killed gateway holds its orders mid-call.
	putJSON(t, sim+"/sim/faults", `{"latency_ms":3000}`)

	gwAddr := freePort(t)
	gw := "http://" + gwAddr
	args := []string{"--listen", gwAddr, "--redis-url", redisURL, "--allow-volatile-redis",
		"--erp-v1-url", sim + "/erp/v1", "--erp-v2-url", sim + "/erp/v2", "--instance-id", "gw-kill"}
	first := startProc(t, gwBin, args...)
	waitReady(t, gw)
	var ids []string
	for i := range 60 {
		resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody(fmt.Sprintf("RESTART-%d", i)))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("order %d: got %d %v, want 202", i, resp.StatusCode, body)
		}
		ids = append(ids, body["id"].(string))
	}
	// Kill once the workers hold orders in flight.
	held := func() int64 {
		var n int64
		space := partition.MustNew(partition.Default)
		for _, g := range []string{"erp-v1", "erp-v2"} {
			for p := range space.N() {
				cs, _ := rdb.XInfoConsumers(t.Context(), store.OutboxKey(space.Tag(p)), g).Result()
				for _, c := range cs {
					if strings.HasPrefix(c.Name, "gw-kill:") {
						n += c.Pending
					}
				}
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for held() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway's consumers hold %d entries after 30s, want ≥ 20", held())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	inFlight := held()
	putJSON(t, sim+"/sim/faults", `{"latency_ms":0}`)

	start := time.Now()
	startProc(t, gwBin, args...)
	waitReady(t, gw)
	// With the fix this takes seconds; without it the held entries wait for
	// --erp-reclaim-idle (2m). The bound is far from both.
	waitDeliveredWithin(t, sim, ids, 60*time.Second, "v1", "v2")
	t.Logf("%d entries held by the killed gateway; all %d orders in both ERPs %v after the restart began",
		inFlight, len(ids), time.Since(start).Round(100*time.Millisecond))
}

// waitDeliveredWithin waits up to d until the simulator holds every id
// exactly once per version; a duplicate fails at once.
func waitDeliveredWithin(t *testing.T, sim string, ids []string, d time.Duration, versions ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var missing []string
		for _, v := range versions {
			var held []simOrder
			getJSON(t, sim+"/sim/orders?version="+v, "", &held)
			count := map[string]int{}
			for _, o := range held {
				if count[o.ExternalRef]++; count[o.ExternalRef] == 2 {
					t.Fatalf("%s: %s created twice", v, o.ExternalRef)
				}
			}
			for _, id := range ids {
				if count[id] == 0 {
					missing = append(missing, v+": "+id)
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries missing after %v, e.g. %v", len(missing), d, missing[:min(5, len(missing))])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedWebhookGetsNoHistory: in the default mode (embedded Redis), a
// webhook subscription created after orders were placed receives only
// events stamped after its creation — the later orders' and the later
// status changes of the earlier ones, never their history — and the log
// shows no webhook feed errors.
func TestEmbeddedWebhookGetsNoHistory(t *testing.T) {
	gw, logs, stop := startRun(t)
	var mu sync.Mutex
	var got []map[string]any
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer rcv.Close()

	for i := range 5 {
		if resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody(fmt.Sprintf("HIST-%d", i))); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("order: %d %v", resp.StatusCode, body)
		}
	}
	time.Sleep(1500 * time.Millisecond) // several rounds of the webhook feed reader without a subscription
	resp, sub := post(t, gw+"/admin/webhooks", "demo-admin-token",
		fmt.Sprintf(`{"shop_id":"demo-shop","url":%q}`, rcv.URL))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /admin/webhooks: %d %v", resp.StatusCode, sub)
	}
	created, err := time.Parse(time.RFC3339Nano, sub["created_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody("NEW-1"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("order: %d %v", resp.StatusCode, body)
	}
	newID := body["id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		var seen bool
		for _, p := range got {
			seen = seen || p["order_id"] == newID
		}
		mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the order placed after the subscription reached no webhook within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // whatever history would follow
	stop()
	mu.Lock()
	defer mu.Unlock()
	for _, p := range got {
		id, _ := p["id"].(string)
		ms, _, _ := strings.Cut(id, "-")
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n < created.UnixMilli() {
			t.Errorf("delivered event %v of order %v from before the subscription (created %v)", id, p["order_id"], created)
		}
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, l := range logs.lines {
		if strings.Contains(l, "tracking webhooks") && (strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`)) {
			t.Errorf("webhook problem logged in normal use: %s", l)
		}
	}
}

// The start-up refusal docs/recovery.md documents: --erp-reclaim-idle must
// exceed --erp-backoff-max and be at least twice --erp-timeout; a bad
// --instance-id is refused too.
func TestRecoveryFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--erp-reclaim-idle", "1m", "--erp-backoff-max", "1m"}, "must exceed --erp-backoff-max"},
		{[]string{"--erp-reclaim-idle", "30s", "--erp-timeout", "20s", "--erp-backoff-max", "10s"}, "at least twice --erp-timeout"},
		{[]string{"--instance-id", "gw:1"}, "--instance-id"},
	} {
		err := run(t.Context(), append([]string{"gateway", "--listen", "127.0.0.1:0"}, tc.args...),
			func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: run = %v, want a refusal naming %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseFlags([]string{"gateway"}, func(string) string { return "" }, io.Discard); err != nil {
		t.Errorf("default flags refused: %v", err)
	}
}
