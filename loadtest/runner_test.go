package loadtest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/loadtest"
	"erpgate/loadtest/loadtesttest"
)

// checkInvariants asserts the bookkeeping every result must satisfy.
func checkInvariants(t *testing.T, res *loadtest.Result) {
	t.Helper()
	if got, want := res.Sent+res.NotStarted+res.Unsent, int64(res.Planned); got != want {
		t.Errorf("sent %d + not started %d + unsent %d = %d, want planned %d", res.Sent, res.NotStarted, res.Unsent, got, want)
	}
	if got, want := res.OK+res.ErrorCount(), res.Sent+res.NotStarted; got != want {
		t.Errorf("ok %d + errors %d = %d, want sent+not started = %d", res.OK, res.ErrorCount(), got, want)
	}
	if got, want := res.Errors[loadtest.KindNotStarted], res.NotStarted; got != want {
		t.Errorf("errors[not_started] = %d, want %d", got, want)
	}
	var ops int64
	for _, o := range res.Ops {
		ops += o.Sent
	}
	if ops != res.Sent {
		t.Errorf("sum of per-op sent = %d, want %d", ops, res.Sent)
	}
	var series int64
	for _, s := range res.Series {
		series += s.OK
	}
	if series != res.OK {
		t.Errorf("sum of per-second ok = %d, want %d", series, res.OK)
	}
}

// A server that can serve only one request per 20 ms, offered 100 requests
// per second: an open-loop generator must report the queue that builds up.
// Request k (0-based) is intended at k×10 ms and cannot complete before
// (k+1)×20 ms, so its latency is at least 20+10k ms whatever the machine's
// speed; a closed-loop tool would report about 20 ms throughout.
func TestNoCoordinatedOmission(t *testing.T) {
	t.Parallel()
	gw := &loadtesttest.Gateway{Serial: true, Delay: 20 * time.Millisecond}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target:      srv.URL,
		Schedule:    loadtest.ConstantRate(100, 500*time.Millisecond),
		Mix:         loadtest.Mix{loadtest.OpHealth: 1},
		MaxInflight: 4,
		Seed:        1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if got, want := res.OK, int64(50); got != want {
		t.Fatalf("ok = %d, want %d (errors %v)", got, want, res.Errors)
	}
	// Median request k=25: at least 20+250 ms. Max (k=49): at least 510 ms.
	if got, floor := res.Latency.P50, 200*time.Millisecond; got < floor {
		t.Errorf("p50 = %v, want ≥ %v: queueing delay was omitted", got, floor)
	}
	if got, floor := res.Latency.Max, 450*time.Millisecond; got < floor {
		t.Errorf("max = %v, want ≥ %v: queueing delay was omitted", got, floor)
	}
	if res.Late == 0 {
		t.Errorf("late = 0, want > 0: with 4 slots and a server 2× too slow, requests cannot start on time")
	}
}

// When the run's time bound comes before the backlog is worked off, what
// was due but never sent is counted, not silently dropped.
func TestNotStartedAreCounted(t *testing.T) {
	t.Parallel()
	gw := &loadtesttest.Gateway{Serial: true, Delay: 50 * time.Millisecond}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target:      srv.URL,
		Schedule:    loadtest.ConstantRate(100, 300*time.Millisecond),
		Mix:         loadtest.Mix{loadtest.OpHealth: 1},
		MaxInflight: 1,
		Drain:       time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if res.NotStarted == 0 {
		t.Fatalf("not started = 0, want > 0 (sent %d of %d)", res.Sent, res.Planned)
	}
	if res.Unsent != 0 {
		t.Errorf("unsent = %d, want 0: every request was due", res.Unsent)
	}
	if res.Latency.Count != uint64(res.Planned) {
		t.Errorf("latency count = %d, want every planned request (%d) including the ones never started", res.Latency.Count, res.Planned)
	}
}

func TestMixReachesEveryRouteAndRepeatsAreIdempotent(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	gw := &loadtesttest.Gateway{ERP: erp}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		MaxInflight: 64,
		Target:      srv.URL,
		Schedule:    loadtest.ConstantRate(300, time.Second),
		Mix:         loadtest.Mix{loadtest.OpREST: 5, loadtest.OpSOAP: 2, loadtest.OpRepeat: 3, loadtest.OpTrack: 2, loadtest.OpSupplier: 1, loadtest.OpHealth: 1, loadtest.OpPage: 2},
		RunID:       "lt-mix",
		Seed:        42,
		MaxLines:    3,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if n := res.ErrorCount(); n != 0 {
		t.Fatalf("errors %v, want none", res.Errors)
	}
	hits := gw.Hits()
	for _, route := range []string{"POST /v1/orders", "POST /soap/orders", "GET /v1/tracking/{id}", "GET /v1/supplier/purchase-orders", "GET /healthz", "GET /track/{id}"} {
		if hits[route] == 0 {
			t.Errorf("route %s was never called (hits %v)", route, hits)
		}
	}
	// Each acknowledged order is exactly one ERP order: repeats replayed.
	if got, want := erp.Len(), res.AckedOrders; got != want {
		t.Errorf("ERP holds %d orders, want %d (one per acknowledged order; repeats must not create any)", got, want)
	}
	seen := map[string]bool{}
	channels := map[string]int{}
	for _, a := range res.Acked {
		if !strings.HasPrefix(a.ExternalID, "lt-mix-") {
			t.Errorf("external id %q lacks the run prefix", a.ExternalID)
		}
		if seen[a.ExternalID] {
			t.Errorf("external id %q acknowledged twice: ids must be unique per run", a.ExternalID)
		}
		seen[a.ExternalID] = true
		channels[a.Channel]++
	}
	if channels["rest"] == 0 || channels["soap"] == 0 {
		t.Errorf("acknowledged by channel %v, want both rest and soap", channels)
	}
	var repeats int64
	for _, o := range res.Ops {
		if o.Op == "repeat" {
			repeats = o.OK
		}
	}
	if repeats == 0 {
		t.Errorf("no successful repeats: %+v", res.Ops)
	}
}

// A gateway that answers a repeat with a new order id breaks idempotency;
// the generator must say so.
func TestReplayMismatchIsAnError(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o struct {
			ExternalID string `json:"external_id"`
		}
		_ = decodeJSON(r, &o)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"ord_%d","external_id":%q,"status":"accepted","tracking":{"url":"","token":"t"}}`, n.Add(1), o.ExternalID)
	}))
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		MaxInflight: 64,
		// 50 ms apart: the first order is acknowledged long before the
		// last repeat is due, so there is something to repeat.
		Target: srv.URL, Schedule: loadtest.ConstantRate(20, time.Second),
		Mix: loadtest.Mix{loadtest.OpREST: 1, loadtest.OpRepeat: 1}, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	var repeats int64
	for _, o := range res.Ops {
		if o.Op == "repeat" {
			repeats = o.Sent
		}
	}
	if got := res.Errors[loadtest.KindReplayMismatch]; repeats == 0 || got != repeats {
		t.Errorf("replay_mismatch = %d, want every repeat (%d) to be one; ops %+v", got, repeats, res.Ops)
	}
}

func TestErrorsByKind(t *testing.T) {
	t.Parallel()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		MaxInflight: 64,
		Target:      notFound.URL, Schedule: loadtest.ConstantRate(50, 200*time.Millisecond),
		Mix: loadtest.Mix{loadtest.OpSupplier: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if got, want := res.Errors["http_404"], res.Sent; got != want || got == 0 {
		t.Errorf("errors[http_404] = %d, want %d (all)", got, want)
	}

	// A port nobody listens on: connection refused, and the order's fate is
	// known (nothing was sent), but transport errors count as ambiguous
	// because in general the request may have arrived.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	res, err = loadtest.Run(context.Background(), loadtest.Config{
		MaxInflight: 64,
		Target:      dead, Schedule: loadtest.ConstantRate(50, 200*time.Millisecond), Mix: loadtest.Mix{loadtest.OpREST: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if got, want := res.Errors[loadtest.KindRefused], res.Sent; got != want || got == 0 {
		t.Errorf("errors = %v, want all %d refused", res.Errors, want)
	}
	if res.OK != 0 || res.AckedOrders != 0 {
		t.Errorf("ok %d acked %d, want 0", res.OK, res.AckedOrders)
	}
}

func TestCancelStopsTheRun(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&loadtesttest.Gateway{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := loadtest.Run(ctx, loadtest.Config{
		MaxInflight: 64,
		Target:      srv.URL, Schedule: loadtest.ConstantRate(50, time.Minute), Mix: loadtest.Mix{loadtest.OpHealth: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if res.Unsent == 0 || res.Sent >= int64(res.Planned) {
		t.Errorf("sent %d unsent %d of %d: want the run cut short", res.Sent, res.Unsent, res.Planned)
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.9.8.7", true},
		{"https://[::1]:8443/x", true},
		{"http://localhost:1234", true},
		{"http://10.0.0.1:8080", false},
		{"http://0.0.0.0:8080", false},
		{"http://gateway.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		if err := loadtest.CheckLoopback(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
	_, err := loadtest.Run(context.Background(), loadtest.Config{MaxInflight: 64, Target: "http://192.0.2.1", Schedule: loadtest.ConstantRate(1, time.Second)})
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("Run against a remote target: err = %v, want a refusal naming --allow-remote", err)
	}
}

// With a warm-up, a read-only mix reads from the first request on; the
// warm-up orders are real and count for verification.
func TestWarmupFeedsReads(t *testing.T) {
	t.Parallel()
	erp := loadtesttest.NewERP()
	srv := httptest.NewServer(&loadtesttest.Gateway{ERP: erp})
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		MaxInflight: 64,
		Target:      srv.URL, Schedule: loadtest.ConstantRate(100, 300*time.Millisecond),
		Mix: loadtest.Mix{loadtest.OpTrack: 1}, Warmup: 20, RunID: "lt-warm",
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if len(res.Ops) != 1 || res.Ops[0].Op != "track" || res.Ops[0].OK != int64(res.Planned) {
		t.Errorf("ops %+v: want only successful tracking reads", res.Ops)
	}
	if res.WarmupAcked != 20 || res.AckedOrders != 20 || erp.Len() != 20 {
		t.Errorf("warm-up acked %d, acked orders %d, ERP holds %d: want 20 each", res.WarmupAcked, res.AckedOrders, erp.Len())
	}
	for _, a := range res.Acked {
		if !strings.HasPrefix(a.ExternalID, "lt-warm-w") {
			t.Errorf("warm-up external id %q, want prefix lt-warm-w", a.ExternalID)
		}
	}
}

// Senders are reused most recently idle first: a run whose requests rarely
// overlap keeps reusing one or two keep-alive connections instead of
// opening one per sender (which would be one per request here).
func TestSendersReuseConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(&loadtesttest.Gateway{})
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	res, err := loadtest.Run(context.Background(), loadtest.Config{
		Target: srv.URL, Schedule: loadtest.ConstantRate(50, 800*time.Millisecond),
		Mix: loadtest.Mix{loadtest.OpHealth: 1}, MaxInflight: 1024,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, res)
	if res.OK != int64(res.Planned) {
		t.Fatalf("ok %d of %d (errors %v)", res.OK, res.Planned, res.Errors)
	}
	if got := conns.Load(); got >= int64(res.Planned)/2 {
		t.Errorf("%d connections for %d requests 20 ms apart: idle senders are not being reused", got, res.Planned)
	}
}
