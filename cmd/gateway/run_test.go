package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// logAddrs collects "listening" addresses from run's JSON log.
type logAddrs struct {
	mu     sync.Mutex
	lines  []string
	found  map[string]string
	notify chan struct{}
}

func newLogAddrs() *logAddrs {
	return &logAddrs{found: map[string]string{}, notify: make(chan struct{}, 100)}
}

func (l *logAddrs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		l.lines = append(l.lines, line)
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		msg, _ := rec["msg"].(string)
		if u, ok := rec["url"].(string); ok {
			l.found[msg] = u
		}
	}
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *logAddrs) wait(t *testing.T, msgPrefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for k, v := range l.found {
			if strings.HasPrefix(k, msgPrefix) {
				l.mu.Unlock()
				return v
			}
		}
		l.mu.Unlock()
		select {
		case <-l.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no %q log line within 30s; log:\n%s", msgPrefix, strings.Join(l.lines, "\n"))
		}
	}
}

// startRun runs the gateway in-process through run() and returns its URL
// once /readyz answers 200.
func startRun(t *testing.T, args ...string) (gatewayURL string, logs *logAddrs, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = newLogAddrs()
	done := make(chan error, 1)
	full := append([]string{"gateway", "--listen", "127.0.0.1:0", "--erpsim-listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() {
		err := run(ctx, full, func(string) string { return "" }, io.Discard, logs)
		done <- err
		if ctx.Err() == nil {
			logs.Write([]byte(fmt.Sprintf(`{"msg":"run returned early","url":%q}`+"\n", fmt.Sprint(err))))
		}
	}()
	gatewayURL = logs.wait(t, "gateway listening")
	waitReady(t, gatewayURL)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v, want nil after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return within 30s of cancel")
		}
	}
	t.Cleanup(stop)
	return gatewayURL, logs, stop
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	waitPath(t, base, "/readyz")
}

func waitPath(t *testing.T, base, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s%s not 200 within 30s", base, path)
}

func orderBody(ext string) string {
	return fmt.Sprintf(`{"external_id":%q,
	 "customer":{"id":"C-1","name":"Zoë Müller","email":"zoe@example.com","phone":"+49 30 123456"},
	 "shipping_address":{"name":"Zoë Müller","line1":"Hauptstraße 1","line2":"2. OG","city":"Berlin","postal_code":"10115","region":"BE","country":"DE"},
	 "currency":"EUR",
	 "lines":[{"sku":"SKU-1001","description":"Kettle","quantity":2,"unit_price":"19.99","discount":"1.00"},
	          {"sku":"SKU-1002","quantity":1,"unit_price":"5.50"}],
	 "shipping":{"method":"standard","price":"4.95"},
	 "notes":"ring twice"}`, ext)
}

func post(t *testing.T, url, key, body string, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, raw := send(t, req, hdr...)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp, m
}

// send sends req with the extra headers (name, value, …) and returns the
// response with its whole body.
func send(t *testing.T, req *http.Request, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func getJSON(t *testing.T, url, key string, v any) int {
	t.Helper()
	return callJSON(t, http.MethodGet, url, key, "", v)
}

// callJSON sends body (JSON, if any) with the bearer key (if any), decodes
// the answer into v (if not nil) and returns the status.
func callJSON(t *testing.T, method, url, key, body string, v any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

type simOrder struct {
	Version        string `json:"version"`
	ExternalRef    string `json:"external_ref"`
	ERPOrderNumber string `json:"erp_order_number"`
	CreateCalls    int    `json:"create_calls"`
}

// TestRunEmbeddedOrderReachesERP is the README's first promise: with no
// flags, an order posted over REST reaches the simulated ERP through v2
// exactly once, and reading it back shows the ERP's order number.
func TestRunEmbeddedOrderReachesERP(t *testing.T) {
	gw, logs, _ := startRun(t)
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")

	resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody("WEB-1"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/orders: got %d %v, want 202", resp.StatusCode, body)
	}
	id, _ := body["id"].(string)
	if loc := resp.Header.Get("Location"); loc != "/v1/orders/"+id {
		t.Errorf("Location: got %q, want /v1/orders/%s", loc, id)
	}
	if body["status"] != "accepted" || body["external_id"] != "WEB-1" {
		t.Errorf("202 body: got %v", body)
	}

	var held []simOrder
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		held = nil
		getJSON(t, sim+"/sim/orders?version=v2&external_ref="+id, "", &held)
		if len(held) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(held) != 1 || held[0].CreateCalls != 1 {
		t.Fatalf("simulator v2 holds %+v, want exactly one order created once", held)
	}

	var view struct {
		Status string `json:"status"`
		Order  struct {
			ExternalID string `json:"external_id"`
			Notes      string `json:"notes"`
		} `json:"order"`
		ERP map[string]struct {
			State          string `json:"state"`
			ERPOrderNumber string `json:"erp_order_number"`
		} `json:"erp"`
	}
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code := getJSON(t, gw+"/v1/orders/"+id, "demo-shop-key", &view); code != 200 {
			t.Fatalf("GET order: %d", code)
		}
		if view.ERP["v2"].State == "created" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := view.ERP["v2"].ERPOrderNumber, held[0].ERPOrderNumber; got != want || got == "" {
		t.Errorf("erp.v2.erp_order_number: got %q, want %q", got, want)
	}
	if view.Status != "erp_received" || view.Order.Notes != "ring twice" {
		t.Errorf("order view: got status %q notes %q", view.Status, view.Order.Notes)
	}

	// The customer's timeline, with the token from the 202.
	token := body["tracking"].(map[string]any)["token"].(string)
	var tl struct {
		Status string `json:"status"`
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	deadline = time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code := getJSON(t, gw+"/v1/tracking/"+id+"?token="+token, "", &tl); code != 200 {
			t.Fatalf("GET tracking: %d", code)
		}
		if len(tl.Events) >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(tl.Events) < 2 || tl.Events[0].Type != "accepted" || tl.Events[1].Type != "erp_received" {
		t.Errorf("timeline: got %+v, want accepted then erp_received", tl.Events)
	}
	if code := getJSON(t, gw+"/v1/tracking/"+id+"?token=wrong", "", nil); code != 404 {
		t.Errorf("tracking with a wrong token: got %d, want 404", code)
	}
}

func decodeBody(resp *http.Response, v any) {
	json.NewDecoder(resp.Body).Decode(v)
}

// TestMetricsPassPromtool scrapes a live gateway after real traffic and runs
// `promtool check metrics` on it (names, types, help, units).
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool not found but ERPGATE_REQUIRE_TOOLS=1 (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	gw, _, _ := startRun(t)
	if resp, body := post(t, gw+"/v1/orders", "demo-shop-key", orderBody("METRICS-1")); resp.StatusCode != 202 {
		t.Fatalf("POST: %d %v", resp.StatusCode, body)
	}
	resp, err := http.Get(gw + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Every erpgate_ metric the catalogue (which dashboards and alerts are
	// checked against) lists is exported from the start, so no panel or
	// alert waits for a series that only appears later.
	catalogue, err := os.ReadFile("../../ops/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, line := range strings.Split(string(catalogue), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "erpgate_") {
			continue
		}
		listed++
		if !bytes.Contains(scrape, []byte("# TYPE "+f[0]+" ")) {
			t.Errorf("the catalogue lists %s; the scrape lacks it", f[0])
		}
	}
	if listed < 30 {
		t.Errorf("read %d erpgate_ names from ops/metrics.txt; the catalogue is not where the test looks", listed)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestRedisCluster: a redis+cluster:// URL connects with the cluster client
// (the gateway starts, checks persistence on every primary, records its
// partition count and answers ready), while a redis:// URL naming a node of
// a cluster is refused with the hint to name the cluster — also with
// --allow-volatile-redis — since a single-node client follows no
// redirection. A malformed cluster URL is refused with its form.
func TestRedisCluster(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"gateway", "--redis-url", "redis+cluster://127.0.0.1", "--listen", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "redis+cluster://[:password@]h1:p1,h2:p2") {
		t.Errorf("redis+cluster:// without a port = %v, want the URL's form", err)
	}

	server, lerr := exec.LookPath("redis-server")
	if lerr != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
			t.Fatal("redis-server not found but ERPGATE_REQUIRE_TOOLS=1")
		}
		t.Skip("redis-server not installed: the cluster checks are not run")
	}
	// A one-node cluster holding every slot: the smallest real cluster.
	dir := t.TempDir()
	addr := freePort(t)
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--appendonly", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer node.Close()
	ctx := t.Context()
	deadline := time.Now().Add(10 * time.Second)
	for node.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("cluster node did not start")
		}
		time.Sleep(20 * time.Millisecond) // the server is still starting
	}
	if err := node.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(node.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("cluster did not become ok")
		}
		time.Sleep(20 * time.Millisecond)
	}

	err = run(ctx, []string{"gateway", "--redis-url", "redis://" + addr, "--allow-volatile-redis", "--listen", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "name the cluster with redis+cluster://") {
		t.Errorf("a cluster node as redis:// = %v, want refused with the hint to name the cluster", err)
	}

	gw, _, stop := startRun(t, "--redis-url", "redis+cluster://"+addr)
	if resp, err := http.Get(gw + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz on a cluster = %v, %v", resp, err)
	}
	stop()
	if got := node.Get(ctx, "erpgate:partitions").Val(); got != "16" {
		t.Errorf("partition count recorded on the cluster = %q, want 16", got)
	}
}
