package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newTestExchange(t *testing.T, rawURL string) *rawExchange {
	t.Helper()
	addr := strings.TrimPrefix(rawURL, "http://")
	x := &rawExchange{rc: newRawClient(addr, addr)}
	t.Cleanup(x.close)
	return x
}

func deadline() time.Time { return time.Now().Add(5 * time.Second) }

// countConns counts the TCP connections a test server accepted.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestRawClientAgainstNetHTTPServer(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Method", r.Method)
			fmt.Fprintf(w, "%s %s %s %s|%s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Host, body)
		case "/chunked":
			w.Write([]byte("part1-"))
			w.(http.Flusher).Flush() // forces chunked encoding
			w.Write([]byte("part2"))
		case "/big":
			w.Write([]byte(big))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	conns := countConns(srv)
	srv.Start()
	defer srv.Close()
	x := newTestExchange(t, srv.URL)
	ctx := context.Background()

	get := func(path string) (int, string) {
		t.Helper()
		st, body, err := x.do(ctx, &reqSpec{method: "GET", path: path, header: [][2]string{{"Authorization", "Bearer k"}}}, deadline())
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return st, string(body)
	}
	if st, body := get("/echo?a=1"); st != 200 || !strings.HasPrefix(body, "GET /echo?a=1 Bearer k 127.0.0.1:") {
		t.Errorf("GET /echo = %d %q", st, body)
	}
	st, body, err := x.do(ctx, &reqSpec{method: "POST", path: "/echo", body: []byte(`{"a":1}`)}, deadline())
	if err != nil || st != 200 || !strings.HasSuffix(string(body), `|{"a":1}`) {
		t.Errorf("POST /echo = %d %q %v", st, body, err)
	}
	if st, body := get("/chunked"); st != 200 || body != "part1-part2" {
		t.Errorf("GET /chunked = %d %q, want part1-part2", st, body)
	}
	if st, body := get("/big"); st != 200 || len(body) != maxRawBody {
		t.Errorf("GET /big = %d, %d bytes; want the first %d", st, len(body), maxRawBody)
	}
	if st, body := get("/nocontent"); st != 204 || body != "" {
		t.Errorf("GET /nocontent = %d %q", st, body)
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d connections for 6 requests, want 1 (keep-alive, bodies fully consumed)", got)
	}
	if st, body := get("/close"); st != 200 || body != "bye" {
		t.Errorf("GET /close = %d %q", st, body)
	}
	get("/echo")
	if got := conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2: Connection: close must not be reused", got)
	}
}

// rawServer serves each accepted connection with script.
func rawServer(t *testing.T, script func(c net.Conn, br *bufio.Reader, n int)) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := int(accepted.Add(1))
			go func() {
				defer c.Close()
				script(c, bufio.NewReader(c), n)
			}()
		}
	}()
	return "http://" + l.Addr().String(), &accepted
}

func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, req.Body)
	return true
}

// A server that closes an idle keep-alive connection without saying so:
// safe requests are retried once on a new connection, others fail.
func TestRawClientStaleConnection(t *testing.T) {
	url, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		if readRequest(br) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		// then close: the client believes the connection is reusable
	})
	x := newTestExchange(t, url)
	ctx := context.Background()
	for i, spec := range []reqSpec{
		{method: "GET", path: "/", retryable: true},
		{method: "GET", path: "/", retryable: true},
		{method: "POST", path: "/", body: []byte("x"), retryable: true}, // has an Idempotency-Key
	} {
		time.Sleep(20 * time.Millisecond) // let the close arrive
		if st, body, err := x.do(ctx, &spec, deadline()); err != nil || st != 200 || string(body) != "ok" {
			t.Fatalf("request %d: %d %q %v, want a transparent retry", i, st, body, err)
		}
	}
	before := accepted.Load()
	time.Sleep(20 * time.Millisecond)
	_, _, err := x.do(ctx, &reqSpec{method: "POST", path: "/soap", body: []byte("x")}, deadline())
	if err == nil || classifyNetError(err) != KindReset {
		t.Errorf("non-retryable request on a stale connection: err = %v (%s), want a reset", err, classifyNetError(err))
	}
	if got := accepted.Load() - before; got != 0 {
		t.Errorf("non-retryable request was resent on %d new connections, want none", got)
	}
}

func TestRawClientResponses(t *testing.T) {
	tests := []struct {
		name, resp string
		status     int
		body       string
		wantErr    bool
	}{
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 202, "ok", false},
		{"http/1.0 until close", "HTTP/1.0 200 OK\r\n\r\nall of it", 200, "all of it", false},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: 1\n\nz", 200, "z", false},
		{"chunk extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", 200, "abc", false},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 200, "", true},
		{"garbage", "SSH-2.0-OpenSSH\r\n", 0, "", true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, "", true},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, "", true},
		{"header without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
				if readRequest(br) {
					io.WriteString(c, tt.resp)
				}
			})
			x := newTestExchange(t, url)
			st, body, err := x.do(context.Background(), &reqSpec{method: "GET", path: "/"}, deadline())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (st != tt.status || string(body) != tt.body) {
				t.Errorf("got %d %q, want %d %q", st, body, tt.status, tt.body)
			}
		})
	}
}

// A server that never answers: the deadline ends the wait, and abortAll
// ends it at once.
func TestRawClientTimeoutAndAbort(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		readRequest(br)
		time.Sleep(3 * time.Second)
	})
	x := newTestExchange(t, url)
	_, _, err := x.do(context.Background(), &reqSpec{method: "GET", path: "/"}, time.Now().Add(50*time.Millisecond))
	if classifyNetError(err) != KindTimeout {
		t.Errorf("err = %v (%s), want a timeout", err, classifyNetError(err))
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := x.do(context.Background(), &reqSpec{method: "GET", path: "/"}, time.Now().Add(time.Minute))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	x.rc.abortAll()
	select {
	case err := <-done:
		if err == nil {
			t.Error("aborted request succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("abortAll did not end the in-flight request")
	}
	if _, err := x.rc.dial(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("dial after abort: %v, want context.Canceled", err)
	}
}

// The response parser reads outside input: it must never panic or loop.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nbody",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x := &rawExchange{}
		_, body, _, _ := x.readResponse(bufio.NewReaderSize(bytes.NewReader(data), 8<<10))
		if len(body) > maxRawBody {
			t.Fatalf("body of %d bytes exceeds the %d limit", len(body), maxRawBody)
		}
	})
}

// Bodies are read exactly: a body beyond the kept limit is truncated to it
// and the rest consumed, so the next response on the connection parses; a
// chunked body is the concatenation of its chunks.
func TestReadResponseBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (maxRawBody+5000)/16)
	var stream bytes.Buffer
	fmt.Fprintf(&stream, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
	stream.WriteString("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n")
	var want []byte
	for i := range 300 {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*7%200)
		want = append(want, chunk...)
		fmt.Fprintf(&stream, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	stream.WriteString("0\r\nX-Trailer: 1\r\n\r\n")
	stream.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
	br := bufio.NewReaderSize(&stream, 8<<10)
	x := &rawExchange{}
	status, body, keep, err := x.readResponse(br)
	if err != nil || status != 200 || !keep || !bytes.Equal(body, big[:maxRawBody]) {
		t.Fatalf("big body: status %d keep %v err %v, %d bytes (want the first %d of %d)", status, keep, err, len(body), maxRawBody, len(big))
	}
	status, body, keep, err = x.readResponse(br)
	if err != nil || status != 202 || !keep || !bytes.Equal(body, want) {
		t.Fatalf("chunked body: status %d keep %v err %v, %d bytes, want %d", status, keep, err, len(body), len(want))
	}
	if status, body, _, err = x.readResponse(br); err != nil || status != 204 || len(body) != 0 {
		t.Fatalf("third response: status %d err %v body %q", status, err, body)
	}
}

// A request larger than the socket buffers is written in pieces as the
// server reads it (the raw writes meet EAGAIN and wait), and a large answer
// is read in pieces; the connection stays usable.
func TestRawClientLargeBodies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // let the client fill the buffers first
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x\n", n, h.Sum(nil))
		w.Write(bytes.Repeat([]byte("z"), 1<<20))
	}))
	defer srv.Close()
	x := newTestExchange(t, srv.URL)
	body := make([]byte, 8<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	sum := sha256.Sum256(body)
	want := fmt.Sprintf("%d %x\n", len(body), sum[:])
	for i := range 2 {
		status, got, err := x.do(context.Background(), &reqSpec{method: "POST", path: "/", body: body}, deadline())
		if err != nil || status != 200 || !strings.HasPrefix(string(got), want) || len(got) != maxRawBody {
			t.Fatalf("request %d: status %d err %v, answer starts %q (%d bytes), want %q and %d bytes", i, status, err, got[:min(len(got), 80)], len(got), want, maxRawBody)
		}
	}
}
