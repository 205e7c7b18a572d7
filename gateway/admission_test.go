package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate/store"
)

// serveGateway serves a gateway over a real listener (connections, as an
// attacker opens them) and returns its address.
func serveGateway(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = nullStore{}
	}
	if cfg.Keyring == nil {
		cfg.Keyring, _ = NewKeyring(DemoClients())
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return restNow }
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, ln.Addr().String()
}

// trickle opens n connections that each announce a 1 MiB body, send the
// headers and the first part bytes of it, and then stop sending.
func trickle(t *testing.T, addr string, n int, head, part string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, head+"Content-Length: 1048576\r\n\r\n"+part); err != nil {
			t.Fatal(err)
		}
	}
	return conns
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTricklingBodiesDoNotReserveMemory: 300 connections announcing 1 MiB
// each and sending a few bytes — unauthenticated SOAP (credentials would be
// inside the envelope) and authenticated REST — raise the heap by less
// than 40 MiB. Reserving the announced length would take 300 MiB.
func TestTricklingBodiesDoNotReserveMemory(t *testing.T) {
	const n, bound = 300, 40 << 20
	for _, tc := range []struct{ name, head, part string }{
		{"soap without credentials", "POST /soap/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: text/xml\r\n",
			`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`},
		{"rest with a key", "POST /v1/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer demo-shop-key\r\n",
			`{"external_id":"X",`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr := serveGateway(t, Config{})
			before := heapInUse()
			trickle(t, addr, n, tc.head, tc.part)
			want := int64(n * len(tc.part))
			waitFor(t, "every body to be read as far as it was sent", func() bool { return s.admission.body.Load() >= want })
			grew := int64(heapInUse()) - int64(before)
			t.Logf("%d trickling connections: heap +%.1f MiB", n, float64(grew)/(1<<20))
			if grew > bound {
				t.Errorf("heap grew by %d MiB, want < %d MiB", grew>>20, bound>>20)
			}
		})
	}
}

// TestUnauthenticatedBodyBudget: bodies of callers without a checked key
// share a small pool; beyond it they are refused with 503 and Retry-After
// (a SOAP fault on the SOAP endpoint), while a caller with a key still gets
// through.
func TestUnauthenticatedBodyBudget(t *testing.T) {
	s, addr := serveGateway(t, Config{Limits: Limits{MaxUnauthBodyBytes: 64 << 10}})
	part := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` + strings.Repeat(" ", 20<<10)
	trickle(t, addr, 3, "POST /soap/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: text/xml\r\n", part)
	waitFor(t, "three bodies held", func() bool { return s.admission.unauth.Load() >= 3*int64(len(part)) })

	conns := trickle(t, addr, 1, "POST /soap/orders HTTP/1.1\r\nHost: gw\r\nContent-Type: text/xml\r\n", part)
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conns[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "overloaded") || !strings.Contains(string(body), "Fault") {
		t.Errorf("fourth unauthenticated body: %d Retry-After %q\n%s\nwant a 503 overloaded fault with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	if r2, _ := postWith(t, "http://"+addr+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON); r2.StatusCode != http.StatusAccepted {
		t.Errorf("authenticated order while the unauthenticated pool is full: %d, want 202", r2.StatusCode)
	}
}

// blockingStore holds every accept until release is closed.
type blockingStore struct {
	nullStore
	arrived chan struct{}
	release chan struct{}
}

func (b blockingStore) Accept(ctx context.Context, in store.Intake) (store.Accepted, error) {
	b.arrived <- struct{}{}
	<-b.release
	return b.nullStore.Accept(ctx, in)
}

// TestShedBeyondMaxInFlight: with MaxInFlight requests under way, the next
// one is answered 503 overloaded with Retry-After at once; health checks
// still answer.
func TestShedBeyondMaxInFlight(t *testing.T) {
	st := blockingStore{arrived: make(chan struct{}, 2), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	_, addr := serveGateway(t, Config{Store: st, Limits: Limits{MaxInFlight: 2}, Registerer: reg, Gatherer: reg})
	post := func(ext string) *http.Response {
		body := strings.Replace(validOrderJSON, `"WEB-1"`, `"`+ext+`"`, 1)
		resp, _ := postWith(t, "http://"+addr+"/v1/orders", "demo-shop-key", "application/json", body)
		return resp
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { post(fmt.Sprint("HELD-", i)) })
	}
	<-st.arrived
	<-st.arrived
	resp := post("SHED")
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("third request: %v, want 503 with Retry-After: 1", resp)
	}
	if h, err := http.Get("http://" + addr + "/healthz"); err != nil || h.StatusCode != http.StatusOK {
		t.Errorf("healthz while saturated: %v %v", h, err)
	}
	close(st.release)
	wg.Wait()
	if got := counterValueLabels(t, reg, "erpgate_http_shed_requests_total", "in_flight"); got != 1 {
		t.Errorf("shed counter = %v, want 1", got)
	}
}

// TestLimitListener: beyond the connection limit a connection is answered
// 503 with Retry-After and closed; once one closes, a new one is served.
func TestLimitListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := LimitListener(raw, 2, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()
	get := func(c net.Conn) *http.Response {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var held []net.Conn
	for range 2 {
		c, _ := net.Dial("tcp", raw.Addr().String())
		defer c.Close()
		if r := get(c); r.StatusCode != 200 {
			t.Fatalf("connection within the limit: %d", r.StatusCode)
		}
		held = append(held, c)
	}
	c, _ := net.Dial("tcp", raw.Addr().String())
	defer c.Close()
	if r := get(c); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %d %v, want 503 with Retry-After", r.StatusCode, r.Header)
	}
	held[0].Close()
	waitFor(t, "a free connection slot", func() bool {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			return false
		}
		defer c.Close()
		return get(c).StatusCode == 200
	})
}

// TestReadTimeoutsAre408: a request whose header stops arriving gets 408
// (net/http alone closes without a word), one whose body stops arriving
// gets 408 timeout too (a problem for REST, a fault for SOAP) — not 400.
func TestReadTimeoutsAre408(t *testing.T) {
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{Store: nullStore{}, Keyring: keys, Now: func() time.Time { return restNow }})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := LimitListener(raw, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond, ConnContext: ConnContext}
	go srv.Serve(ln)
	defer srv.Close()
	for _, tc := range []struct{ name, send, want string }{
		{"header", "POST /v1/orders HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer demo-shop-key\r\nContent-Ty", `"code":"timeout"`},
		{"rest body", "POST /v1/orders HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer demo-shop-key\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ext", `"code":"timeout"`},
		{"soap body", "POST /soap/orders HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer demo-shop-key\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<soap", `<e:code>timeout</e:code>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", raw.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.send)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), tc.want) {
				t.Errorf("got %d %s, want 408 with %s", resp.StatusCode, b, tc.want)
			}
		})
	}
	// An idle keep-alive connection that times out is closed silently.
	c, _ := net.Dial("tcp", raw.Addr().String())
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("idle connection got %q, want nothing", b)
	}
}
