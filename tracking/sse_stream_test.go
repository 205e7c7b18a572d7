package tracking

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
)

// hijackServer serves ServeSSE like the gateway does: a middleware has set
// X-Request-Id before. returned counts handlers that have returned.
func hijackServer(t *testing.T, h *Hub, heartbeat time.Duration, returned *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-"+strings.TrimPrefix(r.URL.Path, "/"))
		if err := h.ServeSSE(r.Context(), w, strings.TrimPrefix(r.URL.Path, "/"), r.Header.Get("Last-Event-ID"), heartbeat); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		if returned != nil {
			returned.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rawClient is a stream client on a bare TCP connection.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
	head string
}

// dialRaw sends the stream request and, if readHead, reads the response head.
func dialRaw(t *testing.T, srv *httptest.Server, orderID string, readHead bool, rcvbuf int) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if rcvbuf > 0 {
		if err := conn.(*net.TCPConn).SetReadBuffer(rcvbuf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(conn, "GET /"+orderID+" HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{conn: conn, r: bufio.NewReader(conn)}
	if readHead {
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var head strings.Builder
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		conn.SetReadDeadline(time.Time{})
		c.head = head.String()
	}
	return c
}

// TestSSEHijackedStream: over HTTP/1.1 the stream is taken over (the
// handler returns while it lives; head with the middleware's headers,
// Connection: close, no chunking), sends history then live events, resyncs
// from the timeline when told to, and resumes after a reconnect: every
// event exactly once, in order.
func TestSSEHijackedStream(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{})
	var returned atomic.Int64
	srv := hijackServer(t, h, time.Hour, &returned)
	writer := newTestStore(t, rdb, nil)

	var want []string
	add := func(i int) {
		want = append(want, mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint("e", i)}).ID)
	}
	for i := range 3 {
		add(i)
	}
	c := dialSSE(t, srv.URL+"/ord_1", "")
	if c.resp.TransferEncoding != nil || c.resp.ContentLength != -1 || !c.resp.Close {
		t.Errorf("response: transfer encoding %v, length %d, close %v; want body until close", c.resp.TransferEncoding, c.resp.ContentLength, c.resp.Close)
	}
	if got := c.resp.Header.Get("X-Request-Id"); got != "req-ord_1" {
		t.Errorf("X-Request-Id = %q, want the middleware's req-ord_1", got)
	}
	if got := c.resp.Header.Get("Cache-Control"); got != "no-cache, no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	var got []string
	for range 3 {
		got = append(got, c.next(t).ID)
	}
	eventually(t, "the handler returned while the stream is open", func() bool {
		return returned.Load() == 1 && testutil.ToFloat64(h.active) == 1 && h.Subscribers() == 1
	})
	add(3)
	got = append(got, c.next(t).ID)

	// Events the feed never announced reach the stream only by a resync
	// from the timeline (as after an overflow or a failed fan-out read).
	for i := 4; i < 6; i++ {
		id, err := rdb.XAdd(context.Background(), &redis.XAddArgs{
			Stream: StreamKey(tagOf("ord_1"), "ord_1"),
			Values: map[string]any{"ev": Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint("e", i), Time: t0}.Encode()},
		}).Result()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	h.mu.Lock()
	for s := range h.subs["ord_1"] {
		h.resyncConn(s.cs)
	}
	h.mu.Unlock()
	got = append(got, c.next(t).ID, c.next(t).ID)
	add(6)
	got = append(got, c.next(t).ID)

	c.close()
	eventually(t, "the closed stream is gone", func() bool {
		return testutil.ToFloat64(h.active) == 0 && h.Subscribers() == 0
	})
	add(7)
	c = dialSSE(t, srv.URL+"/ord_1", got[len(got)-1])
	got = append(got, c.next(t).ID)
	add(8)
	got = append(got, c.next(t).ID)

	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("received %v, want exactly %v", got, want)
	}
}

// TestSSEHeartbeatFindsVanishedClient: with hangups not watched, a client
// that went away is found by the heartbeat write failing, and removed.
func TestSSEHeartbeatFindsVanishedClient(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{noHangupWatch: true})
	srv := hijackServer(t, h, 5*time.Millisecond, nil)
	c := dialRaw(t, srv, "ord_1", true, 0)
	eventually(t, "a heartbeat", func() bool {
		line, err := c.r.ReadString('\n')
		return err == nil && line == ": ping\n"
	})
	if got := testutil.ToFloat64(h.active); got != 1 {
		t.Fatalf("streams_active = %v, want 1", got)
	}
	c.conn.Close()
	eventually(t, "the vanished client removed", func() bool {
		return testutil.ToFloat64(h.active) == 0 && h.Subscribers() == 0
	})
}

// TestSSEHangupNoticed: a client closing its connection is noticed without
// any write (hour-long heartbeat, no events), by the epoll watcher and by
// the portable reading one.
func TestSSEHangupNoticed(t *testing.T) {
	for _, watcher := range []string{"default", "read"} {
		t.Run(watcher, func(t *testing.T) {
			rdb := redistest.Universal(t)
			h := startHub(t, rdb, HubConfig{noHangupWatch: watcher == "read"})
			if watcher == "read" {
				h.mu.Lock()
				h.hangups = readWatcher{h}
				h.mu.Unlock()
			}
			srv := hijackServer(t, h, time.Hour, nil)
			var clients []*rawClient
			for range 3 {
				clients = append(clients, dialRaw(t, srv, "ord_1", true, 0))
			}
			eventually(t, "three streams", func() bool { return testutil.ToFloat64(h.active) == 3 })
			clients[1].conn.Close()
			eventually(t, "the closed one removed", func() bool {
				return testutil.ToFloat64(h.active) == 2 && h.Subscribers() == 2
			})
			clients[0].conn.(*net.TCPConn).CloseWrite() // half-close: gone, as net/http treats it
			eventually(t, "the half-closed one removed", func() bool { return testutil.ToFloat64(h.active) == 1 })
		})
	}
}

// bigEvent is an event of some 17 KB, so that a few fill socket buffers.
func bigEvent(i int) Event {
	d := map[string]string{}
	for k := range 16 {
		d[fmt.Sprintf("k%d", k)] = strings.Repeat(string(rune('a'+k)), MaxDetailValue)
	}
	return Event{Type: TypePicked, Source: SourceERP, Summary: fmt.Sprint("big ", i), Details: d}
}

// stuckServer serves streams with small socket send buffers.
func stuckServer(t *testing.T, h *Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeSSE(r.Context(), w, strings.TrimPrefix(r.URL.Path, "/"), "", time.Hour)
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.(*net.TCPConn).SetWriteBuffer(4096)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestSSEStuckClientDoesNotHoldOthers: a client that never reads, on the
// same order as a healthy one. With a write timeout far beyond the test,
// the healthy client still gets every event while the stuck stream's write
// hangs; with a short one the stuck stream is closed, and the healthy one
// is unaffected.
func TestSSEStuckClientDoesNotHoldOthers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
	}{{"stuck stays stuck", time.Hour}, {"stuck is closed", time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redistest.Universal(t)
			h := startHub(t, rdb, HubConfig{Writers: 2, WriteTimeout: tc.timeout})
			srv := stuckServer(t, h)
			writer := newTestStore(t, rdb, nil)
			stuck := dialRaw(t, srv, "ord_1", false, 4096)
			healthy := dialSSE(t, srv.URL+"/ord_1", "")
			eventually(t, "two streams", func() bool { return testutil.ToFloat64(h.active) == 2 })

			const n = 60 // ~1 MB: far more than the stuck client's buffers
			var want, got []string
			for i := range n {
				want = append(want, mustAppend(t, writer, "ord_1", bigEvent(i)).ID)
				got = append(got, healthy.next(t).ID)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("healthy client received %v, want %v", got, want)
			}
			if tc.timeout == time.Hour {
				// The stuck stream still holds its writer (its write cannot
				// finish), and yet everything reached the healthy one.
				if got := testutil.ToFloat64(h.active); got != 2 {
					t.Errorf("streams_active = %v, want 2 (the stuck one still open)", got)
				}
				return
			}
			eventually(t, "the stuck stream closed", func() bool {
				return testutil.ToFloat64(h.active) == 1 && h.Subscribers() == 1
			})
			stuck.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, err := io.Copy(io.Discard, stuck.conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("the stuck client's connection is still open")
			}
			// The healthy stream goes on.
			e := mustAppend(t, writer, "ord_1", Event{Type: TypeShipped, Source: SourceERP})
			if got := healthy.next(t).ID; got != e.ID {
				t.Errorf("healthy client then got %s, want %s", got, e.ID)
			}
		})
	}
}

// TestHubStopClosesHijackedStreams: http.Server.Shutdown does not know
// hijacked connections, so the Hub closes them when Run ends.
func TestHubStopClosesHijackedStreams(t *testing.T) {
	rdb := redistest.Universal(t)
	h, err := NewHub(HubConfig{Client: rdb, Store: newTestStore(t, rdb, nil), Block: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Ready()
	srv := hijackServer(t, h, time.Hour, nil)
	var clients []*rawClient
	for i := range 5 {
		clients = append(clients, dialRaw(t, srv, fmt.Sprint("ord_", i%2), true, 0))
	}
	eventually(t, "five streams", func() bool { return testutil.ToFloat64(h.active) == 5 })
	cancel()
	<-done
	for i, c := range clients {
		c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.Copy(io.Discard, c.r); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("client %d: connection still open after the hub stopped", i)
			}
		}
	}
	if got := testutil.ToFloat64(h.active); got != 0 {
		t.Errorf("streams_active = %v after stop, want 0", got)
	}
	if got := h.Subscribers(); got != 0 {
		t.Errorf("Subscribers() = %d after stop, want 0", got)
	}
}

// flushRecorder is a ResponseWriter that cannot be hijacked (like
// httptest.ResponseRecorder) and can be read while written.
type flushRecorder struct {
	mu     sync.Mutex
	header http.Header
	code   int
	body   strings.Builder
}

func (r *flushRecorder) Header() http.Header { return r.header }
func (r *flushRecorder) WriteHeader(code int) {
	r.mu.Lock()
	r.code = code
	r.mu.Unlock()
}
func (r *flushRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.Write(b)
}
func (r *flushRecorder) Flush() {}
func (r *flushRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

// TestSSEFallbackWithoutHijack: a writer that cannot be taken over gets the
// stream from ServeSSE's own goroutine, until ctx ends.
func TestSSEFallbackWithoutHijack(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{})
	writer := newTestStore(t, rdb, nil)
	a := mustAppend(t, writer, "ord_1", Event{Type: TypeConfirmed, Source: SourceERP})
	rec := &flushRecorder{header: http.Header{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ServeSSE(ctx, rec, "ord_1", "", time.Hour) }()
	eventually(t, "history", func() bool { return strings.Contains(rec.String(), "id: "+a.ID+"\n") })
	if got := testutil.ToFloat64(h.active); got != 1 {
		t.Errorf("streams_active = %v, want 1", got)
	}
	b := mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP})
	eventually(t, "the live event", func() bool { return strings.Contains(rec.String(), "id: "+b.ID+"\n") })
	select {
	case err := <-done:
		t.Fatalf("ServeSSE returned %v while ctx is live; want it to keep streaming", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeSSE = %v, want nil", err)
	}
	body := rec.String()
	if !strings.HasPrefix(body, "retry: 2000\n\n") || strings.Contains(body, "HTTP/1.1") || strings.Count(body, "id: ") != 2 {
		t.Errorf("body = %q; want retry, then the two events and no response head", body)
	}
	if rec.code != http.StatusOK || rec.header.Get("Content-Type") != "text/event-stream; charset=utf-8" || rec.header.Get("Connection") != "" {
		t.Errorf("status %d, headers %v", rec.code, rec.header)
	}
	if got := testutil.ToFloat64(h.active); got != 0 {
		t.Errorf("streams_active = %v after the stream, want 0", got)
	}
}

// TestSSEOverHTTP2: HTTP/2 streams cannot be hijacked; they take the
// goroutine path and still get history and live events.
func TestSSEOverHTTP2(t *testing.T) {
	rdb := redistest.Universal(t)
	h := startHub(t, rdb, HubConfig{})
	writer := newTestStore(t, rdb, nil)
	a := mustAppend(t, writer, "ord_1", Event{Type: TypeConfirmed, Source: SourceERP})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeSSE(r.Context(), w, "ord_1", "", time.Hour)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ord_1", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	c := &sseClient{resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	if got := c.next(t).ID; got != a.ID {
		t.Errorf("history %s, want %s", got, a.ID)
	}
	b := mustAppend(t, writer, "ord_1", Event{Type: TypePicked, Source: SourceERP})
	if got := c.next(t).ID; got != b.ID {
		t.Errorf("live %s, want %s", got, b.ID)
	}
}

// TestHubOnFeedOnGap: OnFeed sees every feed entry after the start
// position, in order, before its fan-out; OnGap marks the start, a failed
// feed read and the stop.
func TestHubOnFeedOnGap(t *testing.T) {
	rdb := redistest.Universal(t)
	writer := newTestStore(t, rdb, nil)
	mustAppend(t, writer, "ord_old", Event{Type: TypePicked, Source: SourceERP}) // before the start: never seen

	var mu sync.Mutex
	var log []string
	var sub <-chan Event
	fannedOutFirst := false
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		if s == "ord_c" && sub != nil && len(sub) > 0 {
			fannedOutFirst = true
		}
		mu.Unlock()
	}
	logged := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), log...)
	}
	own := redistest.Another(t, rdb)
	h, err := NewHub(HubConfig{
		Client: own, Store: newTestStore(t, own, nil), Block: 50 * time.Millisecond, RetryDelay: 10 * time.Millisecond,
		OnFeed: record, OnGap: func() { record("gap") },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Ready()
	if got := strings.Join(logged(), " "); got != "gap" {
		t.Fatalf("log at Ready = %q, want gap (the start position is fixed)", got)
	}
	ch, unsub := h.Subscribe("ord_c")
	defer unsub()
	mu.Lock()
	sub = ch
	mu.Unlock()

	for _, o := range []string{"ord_a", "ord_b", "ord_a", "ord_c"} {
		mustAppend(t, writer, o, Event{Type: TypePicked, Source: SourceERP})
	}
	recv(t, ch)
	eventually(t, "every entry seen", func() bool { return strings.Join(logged(), " ") == "gap ord_a ord_b ord_a ord_c" })
	mu.Lock()
	if fannedOutFirst {
		t.Error("ord_c's event reached its subscriber before OnFeed saw it")
	}
	mu.Unlock()

	// The feed key turns unreadable: each failed read is a gap.
	bg := context.Background()
	// The saved copy keeps the feed's tag: on a cluster, RENAME stays in one slot.
	if err := rdb.Rename(bg, testFeed, testFeed+":saved").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(bg, testFeed, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a gap after the failed read", func() bool { return len(logged()) > 5 })
	if err := rdb.Del(bg, testFeed).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Rename(bg, testFeed+":saved", testFeed).Err(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, writer, "ord_d", Event{Type: TypePicked, Source: SourceERP})
	eventually(t, "entries after the failure", func() bool {
		l := logged()
		return l[len(l)-1] == "ord_d"
	})
	l := logged()
	for _, s := range l[5 : len(l)-1] {
		if s != "gap" {
			t.Fatalf("log %v: want only gaps between the failure and ord_d", l)
		}
	}

	cancel()
	<-done
	if l := logged(); l[len(l)-1] != "gap" {
		t.Errorf("log after stop %v, want a final gap", l)
	}
}

// BenchmarkSSEStreamMemory reports the Go memory (heap and stacks, after
// GC) one open stream costs, taken over ("hijack") or on its handler's
// goroutine ("goroutine"). The figure includes the test client's side of
// each connection (a bare socket, no goroutine). Run with -benchtime=1x.
func BenchmarkSSEStreamMemory(b *testing.B) {
	const streams = 2000
	for _, mode := range []string{"hijack", "goroutine"} {
		b.Run(mode, func(b *testing.B) {
			h, srv := benchHub(b, mode, streams)
			for b.Loop() {
				before := goMemory()
				conns := make([]net.Conn, 0, streams)
				for i := range streams {
					c, err := net.Dial("tcp", srv.Listener.Addr().String())
					if err != nil {
						b.Fatal(err)
					}
					fmt.Fprintf(c, "GET /ord_%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
					conns = append(conns, c)
				}
				for testutil.ToFloat64(h.active) < streams {
					time.Sleep(10 * time.Millisecond)
				}
				after := goMemory()
				b.ReportMetric(float64(after-before)/streams, "bytes/stream")
				for _, c := range conns {
					c.Close()
				}
				for testutil.ToFloat64(h.active) > 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// noHijack hides every optional interface but Flush.
type noHijack struct{ w http.ResponseWriter }

func (n noHijack) Header() http.Header         { return n.w.Header() }
func (n noHijack) Write(b []byte) (int, error) { return n.w.Write(b) }
func (n noHijack) WriteHeader(code int)        { n.w.WriteHeader(code) }
func (n noHijack) Flush()                      { n.w.(http.Flusher).Flush() }

func goMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

func mustStore(tb testing.TB, rdb redis.UniversalClient) *Store {
	s, err := NewStore(StoreConfig{Space: testSpace, Client: rdb})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func openFileLimit() int {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 1 << 20
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			var soft int
			if _, err := fmt.Sscan(strings.Fields(line)[3], &soft); err == nil {
				return soft
			}
		}
	}
	return 1 << 20
}

// BenchmarkSSEFanOut: one op is one event published to each of 1,000
// open streams (one per order) and read by every client, on taken-over
// connections ("hijack") or handler goroutines ("goroutine"). The clients
// run in the same process, so ns/op includes their reading.
func BenchmarkSSEFanOut(b *testing.B) {
	const streams = 1000
	for _, mode := range []string{"hijack", "goroutine"} {
		b.Run(mode, func(b *testing.B) {
			h, srv := benchHub(b, mode, streams)
			var got sync.WaitGroup
			var readers sync.WaitGroup
			conns := make([]net.Conn, 0, streams)
			for i := range streams {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				fmt.Fprintf(c, "GET /ord_%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
				conns = append(conns, c)
				readers.Go(func() {
					r := bufio.NewReader(c)
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) > 4 && string(line[:4]) == "id: " {
							got.Done()
						}
					}
				})
			}
			for testutil.ToFloat64(h.active) < streams {
				time.Sleep(10 * time.Millisecond)
			}
			round := 0
			cpu0 := cpuTime()
			for b.Loop() {
				round++
				got.Add(streams)
				for i := range streams {
					h.publish(fmt.Sprint("ord_", i), Event{ID: fmt.Sprintf("%d-0", round), Type: TypePicked, Source: SourceERP, Time: t0})
				}
				got.Wait()
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*streams), "cpu-ns/delivery")
			b.StopTimer()
			for _, c := range conns {
				c.Close()
			}
			readers.Wait()
		})
	}
}

// benchHub runs a Hub on the real Redis for a benchmark with the given
// number of streams, and a test server whose handler serves an order's
// stream (path = order id) taken over ("hijack") or on its goroutine
// ("goroutine"). Both stop when the benchmark ends.
func benchHub(b *testing.B, mode string, streams int) (*Hub, *httptest.Server) {
	b.Helper()
	rdb := redistest.Universal(b)
	if lim := openFileLimit(); lim < 2*streams+200 {
		b.Skipf("open-file limit %d too low", lim)
	}
	h, err := NewHub(HubConfig{Client: rdb, Store: mustStore(b, rdb)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	<-h.Ready()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode == "goroutine" {
			w = noHijack{w}
		}
		h.ServeSSE(r.Context(), w, strings.TrimPrefix(r.URL.Path, "/"), "", time.Hour)
	}))
	b.Cleanup(srv.Close)
	return h, srv
}

// tagOf is the partition tag of an order id in the default space.
func tagOf(id string) string { return testSpace.TagOf(id) }
