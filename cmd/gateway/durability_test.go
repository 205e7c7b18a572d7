package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"erpgate/internal/redistest"
)

func putJSON(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: %d", url, resp.StatusCode)
	}
}

// waitDelivered waits until the simulator holds every id exactly once for
// each version, and fails with what is missing or doubled otherwise.
func waitDelivered(t *testing.T, sim string, ids []string, versions ...string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var problems []string
	for {
		problems = problems[:0]
		for _, v := range versions {
			var held []simOrder
			if code := getJSON(t, sim+"/sim/orders?version="+v, "", &held); code != 200 {
				t.Fatalf("sim orders: %d", code)
			}
			count := map[string]int{}
			for _, o := range held {
				count[o.ExternalRef]++
			}
			for _, id := range ids {
				if count[id] != 1 {
					problems = append(problems, fmt.Sprintf("%s: %s held %d times", v, id, count[id]))
				}
			}
			if len(held) != len(ids) {
				problems = append(problems, fmt.Sprintf("%s holds %d orders, want %d", v, len(held), len(ids)))
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if len(problems) > 10 {
				problems = append(problems[:10], "…")
			}
			t.Fatalf("not delivered exactly once within 90s:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestERPDownIntakeKeepsAccepting: while the ERP is down the shop still gets
// 202 for every order, and once the ERP is back every order is created
// exactly once in both targets.
func TestERPDownIntakeKeepsAccepting(t *testing.T) {
	gw, logs, _ := startRun(t, "--erp-backoff-max", "500ms", "--erp-breaker-open", "300ms", "--erp-max-deliveries", "1000")
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	putJSON(t, sim+"/sim/faults", `{"down":true}`)

	var ids []string
	for i := range 20 {
		resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody(fmt.Sprintf("DOWN-%d", i)))
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("order %d while ERP down: got %d %v, want 202", i, resp.StatusCode, body)
		}
		ids = append(ids, body["id"].(string))
	}
	// Let the workers fail against the dead ERP for a while.
	time.Sleep(time.Second)
	var held []simOrder
	getJSON(t, sim+"/sim/orders", "", &held)
	if len(held) != 0 {
		t.Fatalf("simulator holds %d orders while down, want 0", len(held))
	}
	putJSON(t, sim+"/sim/faults", `{"down":false}`)
	waitDelivered(t, sim, ids, "v1", "v2")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// startSimProc builds the gateway and the simulator, starts the simulator
// as a process of its own, and returns the gateway binary and the
// simulator's URL.
func startSimProc(t *testing.T) (gwBin, sim string) {
	t.Helper()
	gwBin = buildBinary(t, "./cmd/gateway")
	simBin := buildBinary(t, "./cmd/erpsim")
	simAddr := freePort(t)
	sim = "http://" + simAddr
	startProc(t, simBin, "--listen", simAddr)
	waitPath(t, sim, "/healthz")
	return gwBin, sim
}

type proc struct {
	cmd *exec.Cmd
	log *strings.Builder
	mu  *sync.Mutex
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	p := &proc{cmd: cmd, log: &strings.Builder{}, mu: &sync.Mutex{}}
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			out := p.output()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("log of %s %s:\n%s", filepath.Base(bin), strings.Join(args, " "), out)
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// TestSIGKILLMidLoadLosesNothing is the durability promise on a real Redis:
// a gateway killed with SIGKILL while orders pour in and deliveries are under
// way, then restarted, loses no acknowledged order and creates none twice in
// either ERP — also with replies lost by the ERP on the way back.
func TestSIGKILLMidLoadLosesNothing(t *testing.T) {
	rdb := redistest.Universal(t)
	redisURL := redistest.URL(t, rdb)
	gwBin, sim := startSimProc(t)
	putJSON(t, sim+"/sim/faults", `{"lost_reply_rate":0.1,"latency_ms":5}`)

	gwAddr := freePort(t)
	gw := "http://" + gwAddr
	args := []string{"--listen", gwAddr, "--redis-url", redisURL, "--allow-volatile-redis",
		"--erp-v1-url", sim + "/erp/v1", "--erp-v2-url", sim + "/erp/v2",
		"--erp-backoff-max", "300ms", "--erp-breaker-open", "300ms", "--erp-timeout", "2s"}
	first := startProc(t, gwBin, args...)
	waitReady(t, gw)

	// Shoppers post orders concurrently; the gateway dies under them.
	var (
		mu    sync.Mutex
		acked []string
		seq   atomic.Int64
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := seq.Add(1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw+"/v1/orders",
					strings.NewReader(orderBody(fmt.Sprintf("KILL-%d", n))))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer demo-shop-key")
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue // not acknowledged: the shop would retry; we need not
				}
				var body struct {
					ID string `json:"id"`
				}
				if resp.StatusCode == http.StatusAccepted {
					decodeBody(resp, &body)
					mu.Lock()
					acked = append(acked, body.ID)
					mu.Unlock()
				}
				resp.Body.Close()
			}
		}()
	}
	// Kill once a good number of orders are acknowledged.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d orders acknowledged in 60s; gateway log:\n%s", n, first.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	time.Sleep(300 * time.Millisecond) // shoppers hit a dead gateway for a moment
	cancel()
	wg.Wait()

	// A new gateway on the same Redis finishes the job. It runs under the
	// same instance id (the host name), so its consumers take over what
	// the dead one held at once (docs/recovery.md).
	putJSON(t, sim+"/sim/faults", `{"lost_reply_rate":0,"latency_ms":0}`)
	startProc(t, gwBin, args...)
	waitReady(t, gw)

	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	t.Logf("%d orders acknowledged before SIGKILL", len(ids))
	waitDeliveredAtLeast(t, sim, ids, "v1", "v2")
}

// waitDeliveredAtLeast checks every acknowledged id is held exactly once per
// version. Orders the dead gateway stored but never acknowledged (the shop saw
// a cut connection) may also be delivered; they must not be doubled either.
func waitDeliveredAtLeast(t *testing.T, sim string, ids []string, versions ...string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		var problems []string
		for _, v := range versions {
			var held []simOrder
			getJSON(t, sim+"/sim/orders?version="+v, "", &held)
			count := map[string]int{}
			for _, o := range held {
				count[o.ExternalRef]++
				if count[o.ExternalRef] == 2 {
					problems = append(problems, fmt.Sprintf("%s: %s created twice", v, o.ExternalRef))
				}
			}
			for _, id := range ids {
				if count[id] == 0 {
					problems = append(problems, fmt.Sprintf("%s: acknowledged %s lost", v, id))
				}
			}
		}
		if len(problems) == 0 {
			return
		}
		for _, p := range problems {
			if strings.Contains(p, "twice") {
				t.Fatalf("duplicate in the ERP: %s", p)
			}
		}
		if time.Now().After(deadline) {
			if len(problems) > 10 {
				problems = append(problems[:10], "…")
			}
			t.Fatalf("after restart, not delivered within 120s:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
