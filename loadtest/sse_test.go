package loadtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/loadtest"
)

// sseGateway is a fake gateway for the live tracking scenario: it accepts
// orders, serves each order's event stream (the order's "accepted" event
// as history, then one live event a moment after the stream opened), and
// /metrics.
type sseGateway struct {
	// failOrder and badToken plant failures by order sequence (1-based).
	failOrder func(n int) bool
	badToken  func(n int) bool
	// dropAfterLive makes the gateway end each stream after its live event.
	dropAfterLive bool
	// noLive sends no live event.
	noLive bool

	mu      sync.Mutex
	seq     int
	tokens  map[string]string
	created map[string]time.Time
	active  atomic.Int64
	peak    atomic.Int64
}

func (g *sseGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/orders":
		io.Copy(io.Discard, r.Body)
		g.mu.Lock()
		g.seq++
		n := g.seq
		if g.tokens == nil {
			g.tokens, g.created = map[string]string{}, map[string]time.Time{}
		}
		id := fmt.Sprintf("ord_%d", n)
		g.tokens[id] = fmt.Sprintf("tok%d", n)
		if g.badToken != nil && g.badToken(n) {
			g.tokens[id] = "other"
		}
		g.created[id] = time.Now()
		g.mu.Unlock()
		if g.failOrder != nil && g.failOrder(n) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":%q,"external_id":"x","status":"accepted","tracking":{"url":"/track/%s","token":"tok%d"}}`+"\n", id, id, n)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/tracking/") && strings.HasSuffix(r.URL.Path, "/events"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/tracking/"), "/events")
		g.mu.Lock()
		tok, created := g.tokens[id], g.created[id]
		g.mu.Unlock()
		if tok == "" || r.URL.Query().Get("token") != tok {
			http.NotFound(w, r)
			return
		}
		n := g.active.Add(1)
		defer g.active.Add(-1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "retry: 2000\n\n")
		writeEvent(w, fmt.Sprintf("%d-0", created.UnixMilli()), "accepted", created)
		fmt.Fprintf(w, ": ping\n\n")
		w.(http.Flusher).Flush()
		if !g.noLive {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			now := time.Now()
			writeEvent(w, fmt.Sprintf("%d-0", now.UnixMilli()), "erp_received", now)
			w.(http.Flusher).Flush()
		}
		if g.dropAfterLive {
			return
		}
		<-r.Context().Done()
	case r.URL.Path == "/metrics":
		fmt.Fprintf(w, "# HELP process_resident_memory_bytes x\n# TYPE process_resident_memory_bytes gauge\n"+
			"process_resident_memory_bytes 4.2e+07\nerpgate_tracking_streams_active %d\n"+
			"erpgate_http_requests_total{route=\"/x\"} 5\n", g.active.Load())
	default:
		http.NotFound(w, r)
	}
}

func writeEvent(w io.Writer, id, typ string, at time.Time) {
	data, _ := json.Marshal(map[string]any{"id": id, "time": at, "type": typ, "source": "gateway", "summary": "s"})
	fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", id, typ, data)
}

func runSSE(t *testing.T, g *sseGateway, cfg loadtest.SSEConfig) *loadtest.SSEResult {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	cfg.Target = srv.URL
	if cfg.OpenRate == 0 {
		cfg.OpenRate = 2000
	}
	if cfg.Hold == 0 {
		cfg.Hold = 300 * time.Millisecond
	}
	res, err := loadtest.RunSSE(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunSSECountsStreamsAndEvents(t *testing.T) {
	t.Parallel()
	g := &sseGateway{}
	res := runSSE(t, g, loadtest.SSEConfig{Streams: 30, PerOrder: 3})
	if res.Orders != 10 || res.Opened != 30 || res.Dropped != 0 || len(res.OpenErrors) != 0 || len(res.OrderErrors) != 0 {
		t.Fatalf("orders %d opened %d dropped %d errors %v %v; want 10 orders, 30 opened, none dropped or failed",
			res.Orders, res.Opened, res.Dropped, res.OpenErrors, res.OrderErrors)
	}
	// Every stream was open at the same time: the hold starts after the
	// last one opened.
	if res.PeakOpen != 30 || g.peak.Load() != 30 {
		t.Errorf("peak open: client %d, server %d; want 30", res.PeakOpen, g.peak.Load())
	}
	// Each stream got one replayed and one live event; whether the live one
	// was recorded before the client had read the head is up to the
	// scheduler, so only the sum is exact.
	if res.Events != 60 || res.Live+res.History != 60 || res.Live < 1 || res.FanOut.Count != uint64(res.Live) {
		t.Errorf("events %d (live %d, history %d), fan-out samples %d; want 60 = live + history, live > 0, samples = live",
			res.Events, res.Live, res.History, res.FanOut.Count)
	}
	if res.LiveStreams > 30 || res.LiveStreams < 1 {
		t.Errorf("live streams %d, want 1..30", res.LiveStreams)
	}
	if res.RSSPeak != 42_000_000 || res.RSSStart != 42_000_000 || res.RSSEnd != 42_000_000 {
		t.Errorf("RSS start/peak/end %d/%d/%d, want 42000000 each", res.RSSStart, res.RSSPeak, res.RSSEnd)
	}
	if res.ServerStreams < 0 || res.ServerStreams > 30 {
		t.Errorf("server streams %g, want 0..30", res.ServerStreams)
	}
	if res.OpenLatency.Count != 30 {
		t.Errorf("open latency samples %d, want 30", res.OpenLatency.Count)
	}
	var out strings.Builder
	if err := loadtest.WriteSSEText(&out, res); err != nil || !strings.Contains(out.String(), "fan-out") {
		t.Errorf("text report %q, %v", out.String(), err)
	}
}

func TestRunSSEFailures(t *testing.T) {
	t.Parallel()
	g := &sseGateway{
		failOrder:     func(n int) bool { return n == 2 },
		badToken:      func(n int) bool { return n == 3 },
		dropAfterLive: true,
	}
	res := runSSE(t, g, loadtest.SSEConfig{Streams: 5, MetricsPath: "-"})
	if res.Orders != 4 || res.OrderErrors["http_503"] != 1 {
		t.Errorf("orders %d, order errors %v; want 4 and one http_503", res.Orders, res.OrderErrors)
	}
	if res.Opened != 3 || res.OpenErrors["http_404"] != 1 {
		t.Errorf("opened %d, open errors %v; want 3 and one http_404", res.Opened, res.OpenErrors)
	}
	if res.Dropped != 3 || res.OpenErrors["dropped_closed_by_server"] != 3 {
		t.Errorf("dropped %d, errors %v; want the 3 open streams closed by the server", res.Dropped, res.OpenErrors)
	}
	if res.RSSPeak != 0 || res.ServerStreams != -1 {
		t.Errorf("metrics read although switched off: rss %d, streams %g", res.RSSPeak, res.ServerStreams)
	}
}

func TestRunSSECancel(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&sseGateway{noLive: true})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *loadtest.SSEResult)
	go func() {
		res, _ := loadtest.RunSSE(ctx, loadtest.SSEConfig{Target: srv.URL, Streams: 4, OpenRate: 1000, Hold: time.Hour})
		done <- res
	}()
	time.Sleep(50 * time.Millisecond) // let it open streams (not required: any moment will do)
	cancel()
	res := <-done // a run held for an hour must end with ctx
	if res == nil {
		t.Fatal("no result")
	}
	if res.Dropped != 0 {
		t.Errorf("dropped %d: streams ended by the run are not drops", res.Dropped)
	}
}

func TestSSEConfigRefusals(t *testing.T) {
	for _, c := range []loadtest.SSEConfig{
		{Target: "http://127.0.0.1:1", Streams: 0},
		{Target: "http://127.0.0.1:1", Streams: loadtest.MaxSSEStreams + 1},
		{Target: "http://127.0.0.1:1", Streams: 2, PerOrder: 3},
		{Target: "http://example.com", Streams: 2},
		{Target: "https://127.0.0.1:1", Streams: 2},
		{Target: "http://127.0.0.1:1", Streams: 2, OpenRate: -1},
	} {
		if _, err := loadtest.RunSSE(context.Background(), c); err == nil {
			t.Errorf("RunSSE(%+v): no error, want a refusal", c)
		}
	}
}
