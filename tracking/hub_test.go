package tracking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/internal/redistest"
)

// startHub runs a Hub on its own connection to the same database as rdb (as
// a second gateway instance would) until the test ends.
// hooks, if any, are added to that connection.
func startHub(t *testing.T, rdb redis.UniversalClient, cfg HubConfig, hooks ...redis.Hook) *Hub {
	t.Helper()
	own := redistest.Another(t, rdb)
	for _, h := range hooks {
		own.AddHook(h)
	}
	cfg.Client = own
	if cfg.Store == nil {
		cfg.Store = newTestStore(t, own, nil)
	}
	if cfg.Block == 0 {
		cfg.Block = 100 * time.Millisecond
	}
	h, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Ready()
	return h
}

func recv(t *testing.T, ch <-chan Event) (Event, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for a live event")
		return Event{}, false
	}
}

func TestHubAcrossInstances(t *testing.T) {
	rdb := redistest.Universal(t)
	a := startHub(t, rdb, HubConfig{})
	b := startHub(t, rdb, HubConfig{})
	writer := newTestStore(t, rdb, nil) // a third instance appends

	chA, cancelA := a.Subscribe("ord_1")
	defer cancelA()
	chB, cancelB := b.Subscribe("ord_1")
	defer cancelB()
	ch2, cancel2 := b.Subscribe("ord_2")
	defer cancel2()

	e1 := mustAppend(t, writer, "ord_1", Event{Type: TypeConfirmed, Source: SourceERP, Summary: "one"})
	e2 := mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP, Summary: "two"})
	o2 := mustAppend(t, writer, "ord_2", Event{Type: TypeShipped, Source: SourceERP})

	for name, ch := range map[string]<-chan Event{"a": chA, "b": chB} {
		for _, want := range []Event{e1, e2} {
			got, ok := recv(t, ch)
			if !ok || got.ID != want.ID || got.Summary != want.Summary || got.Type != want.Type {
				t.Errorf("hub %s: got %+v (open %v), want %+v", name, got, ok, want)
			}
		}
	}
	// ord_2's subscriber sees ord_2's event first: none of ord_1's leaked to it.
	if got, _ := recv(t, ch2); got.ID != o2.ID {
		t.Errorf("ord_2 subscriber got %+v first, want %s", got, o2.ID)
	}
	cancelA()
	cancelA() // idempotent
	if got, want := a.Subscribers(), 0; got != want {
		t.Errorf("subscribers after cancel = %d, want %d", got, want)
	}
}

func TestHubDropsSlowSubscriber(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{Buffer: 1})
	s := newTestStore(t, rdb, nil)
	ch, cancel := h.Subscribe("ord_1")
	defer cancel()
	fast, cancelFast := h.Subscribe("ord_1")
	defer cancelFast()

	var want []string
	for i := range 3 {
		want = append(want, mustAppend(t, s, "ord_1", Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint(i)}).ID)
		// The fast subscriber keeps up.
		if got, _ := recv(t, fast); got.ID != want[i] {
			t.Fatalf("fast subscriber got %s, want %s", got.ID, want[i])
		}
	}
	// The slow one got the first event buffered, then was dropped: closed, not blocked.
	if got, ok := recv(t, ch); !ok || got.ID != want[0] {
		t.Fatalf("slow subscriber first = %s (open %v), want %s", got.ID, ok, want[0])
	}
	if _, ok := recv(t, ch); ok {
		t.Fatal("slow subscriber still open after overflowing its buffer; want closed (resync)")
	}
}

func TestHubStopClosesSubscribers(t *testing.T) {
	rdb := redistest.Universal(t)
	s := newTestStore(t, rdb, nil)
	h, err := NewHub(HubConfig{Client: rdb, Store: s, Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	<-h.Ready()
	ch, unsub := h.Subscribe("ord_1")
	defer unsub()
	cancel()
	<-done
	if _, ok := recv(t, ch); ok {
		t.Error("subscription open after the hub stopped")
	}
	if !h.Stopped() {
		t.Error("Stopped() = false after Run returned")
	}
	late, _ := h.Subscribe("ord_1")
	if _, ok := recv(t, late); ok {
		t.Error("subscription on a stopped hub is open")
	}
	err = h.ServeSSE(context.Background(), httptest.NewRecorder(), "ord_1", "", time.Second)
	if got, want := erpgate.ErrorCode(err), erpgate.Unavailable; got != want {
		t.Errorf("ServeSSE on a stopped hub: code %q, want %q", got, want)
	}
}

// sseEvent is one parsed SSE event.
type sseEvent struct {
	ID, Type string
	Event    Event
}

type sseClient struct {
	resp   *http.Response
	r      *bufio.Reader
	pings  int
	cancel context.CancelFunc
}

func dialSSE(t *testing.T, url, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("SSE response %s %q, want 200 text/event-stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.cancel(); c.resp.Body.Close() }

// next returns the next event, counting heartbeats on the way.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	var data string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading SSE: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data != "" {
				if err := json.Unmarshal([]byte(data), &ev.Event); err != nil {
					t.Fatalf("SSE data %q: %v", data, err)
				}
				return ev
			}
		case strings.HasPrefix(line, ":"):
			c.pings++
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case strings.HasPrefix(line, "retry: "):
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
}

func sseServer(t *testing.T, h *Hub, heartbeat time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/")
		if err := h.ServeSSE(r.Context(), w, id, r.Header.Get("Last-Event-ID"), heartbeat); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSSEResumeNoGapNoDuplicate(t *testing.T) {
	rdb := redistest.Universal(t)
	reg := prometheus.NewRegistry()
	h := startHub(t, rdb, HubConfig{Registerer: reg})
	srv := sseServer(t, h, time.Hour)
	writer := newTestStore(t, rdb, nil) // events come from another instance

	var want []string
	add := func(i int) {
		want = append(want, mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint("e", i)}).ID)
	}
	for i := range 3 {
		add(i)
	}
	c := dialSSE(t, srv.URL+"/ord_1", "")
	var got []string
	for range 3 { // history
		got = append(got, c.next(t).ID)
	}
	add(3)
	e := c.next(t) // live
	got = append(got, e.ID)
	if e.Type != TypePicked || e.Event.ID != e.ID || e.Event.Summary != "e3" {
		t.Errorf("live event = %+v, want type picked, data id = SSE id, summary e3", e)
	}
	eventually(t, "streams_active = 1", func() bool { return testutil.ToFloat64(h.active) == 1 })
	// The live event's fan-out was measured (history is not fan-out).
	eventually(t, "one fan-out sample", func() bool { return fanoutSamples(t, reg) == 1 })
	c.close()
	eventually(t, "streams_active = 0 after disconnect", func() bool { return testutil.ToFloat64(h.active) == 0 })

	// Missed while disconnected.
	add(4)
	add(5)
	c = dialSSE(t, srv.URL+"/ord_1", got[len(got)-1])
	got = append(got, c.next(t).ID, c.next(t).ID)
	add(6)
	got = append(got, c.next(t).ID)

	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("received %v, want exactly %v", got, want)
	}
}

// TestSSESeam appends while clients connect: whatever the interleaving of
// history read and live delivery, each client sees every event once, in order.
func TestSSESeam(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{})
	srv := sseServer(t, h, time.Hour)
	writer := newTestStore(t, rdb, nil)

	const n = 60
	var mu sync.Mutex
	var want []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			e, err := writer.Append(context.Background(), "ord_1", Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint(i)})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want = append(want, e.ID)
			mu.Unlock()
		}
	}()
	var clients []*sseClient
	for range 4 {
		clients = append(clients, dialSSE(t, srv.URL+"/ord_1", ""))
	}
	<-done
	for i, c := range clients {
		var got []string
		for range n {
			got = append(got, c.next(t).ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("client %d received %v, want %v", i, got, want)
		}
	}
}

func TestSSEHeartbeatAndErrors(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{})
	srv := sseServer(t, h, 5*time.Millisecond)
	writer := newTestStore(t, rdb, nil)
	c := dialSSE(t, srv.URL+"/ord_1", "")
	eventually(t, "a heartbeat", func() bool {
		// Append after a few heartbeats so next() has something to return.
		mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP})
		c.next(t)
		return c.pings > 0
	})

	for _, bad := range []struct{ order, last string }{{"ord_1", "junk"}, {"ord 1", ""}} {
		rec := httptest.NewRecorder()
		err := h.ServeSSE(context.Background(), rec, bad.order, bad.last, time.Second)
		if got, want := erpgate.ErrorCode(err), erpgate.Invalid; got != want {
			t.Errorf("ServeSSE(%q, %q): code %q, want %q", bad.order, bad.last, got, want)
		}
		if rec.Body.Len() != 0 || rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "" {
			t.Errorf("ServeSSE wrote before failing: %d %q", rec.Code, rec.Body.String())
		}
	}
}

func TestWriteSSEFraming(t *testing.T) {
	var b bytes.Buffer
	e := Event{ID: "5-1", Type: "bad\ntype", Summary: "line1\nline2", Time: t0}
	if err := WriteSSE(&b, e, nil); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if strings.Count(got, "\n") != 4 || !strings.HasPrefix(got, "id: 5-1\nevent: message\ndata: {") || !strings.HasSuffix(got, "}\n\n") {
		t.Errorf("WriteSSE = %q; want three lines and a blank one, with a safe event name", got)
	}
}

// TestHubManySubscribers: 10,000 subscribers on one instance each get their
// order's event, and publishing never blocks on the ones not reading.
func TestHubManySubscribers(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	h, err := NewHub(HubConfig{Client: rdb, Store: newTestStore(t, rdb, nil), Buffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	const subs, orders = 10000, 500
	chans := make([]<-chan Event, subs)
	for i := range subs {
		ch, cancel := h.Subscribe(fmt.Sprint("ord_", i%orders))
		defer cancel()
		chans[i] = ch
	}
	if got := h.Subscribers(); got != subs {
		t.Fatalf("Subscribers() = %d, want %d", got, subs)
	}
	for round := range 3 { // nobody reads: the third round overflows every buffer
		for o := range orders {
			h.publish(fmt.Sprint("ord_", o), Event{ID: fmt.Sprintf("%d-%d", round+1, o), Type: TypePicked})
		}
	}
	for i, ch := range chans {
		for round := range 2 {
			e, ok := <-ch
			if want := fmt.Sprintf("%d-%d", round+1, i%orders); !ok || e.ID != want {
				t.Fatalf("subscriber %d got %q (open %v), want %s", i, e.ID, ok, want)
			}
		}
		if _, ok := <-ch; ok {
			t.Fatalf("subscriber %d still open after overflowing", i)
		}
	}
	if got := h.Subscribers(); got != 0 {
		t.Errorf("Subscribers() after overflow = %d, want 0", got)
	}
}

// BenchmarkHubSubscribe reports the memory one live subscription costs
// (run with -benchmem; B/op is the figure).
func BenchmarkHubSubscribe(b *testing.B) {
	rdb, _ := redistest.Mini(b)
	s, _ := NewStore(StoreConfig{Space: testSpace, Client: rdb})
	h, _ := NewHub(HubConfig{Client: rdb, Store: s})
	cancels := make([]func(), 0, b.N)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, cancel := h.Subscribe(fmt.Sprint("ord_", i))
		cancels = append(cancels, cancel)
	}
	b.StopTimer()
	for _, c := range cancels {
		c()
	}
}

// fanoutSamples returns how many writes erpgate_tracking_fanout_seconds
// has measured.
func fanoutSamples(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "erpgate_tracking_fanout_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// blockedReads counts XREAD commands sent with BLOCK.
type blockedReads struct{ n atomic.Int64 }

func (h *blockedReads) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *blockedReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *blockedReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "xread" {
			for _, a := range cmd.Args() {
				if s, _ := a.(string); strings.EqualFold(s, "block") {
					h.n.Add(1)
				}
			}
		}
		return next(ctx, cmd)
	}
}

// With Poll (the embedded Redis), the hub never leaves a blocked XREAD on
// the server — miniredis re-runs one, a scan of the whole feed, after every
// command — and live events still arrive, in order.
func TestHubPollsWithoutBlocking(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	hook := &blockedReads{}
	h := startHub(t, rdb, HubConfig{Poll: 5 * time.Millisecond}, hook)

	ch, stop := h.Subscribe("ord_1")
	defer stop()
	writer := newTestStore(t, rdb, nil)
	var want []string
	for _, typ := range []string{TypeConfirmed, TypePicked, TypeShipped} {
		time.Sleep(10 * time.Millisecond) // a few empty polls in between
		want = append(want, mustAppend(t, writer, "ord_1", Event{Type: typ, Source: SourceERP}).ID)
	}
	for i, id := range want {
		if got, ok := recv(t, ch); !ok || got.ID != id {
			t.Fatalf("event %d: got %s (open %v), want %s", i, got.ID, ok, id)
		}
	}
	if n := hook.n.Load(); n != 0 {
		t.Errorf("%d XREADs with BLOCK, want none with Poll", n)
	}
}
