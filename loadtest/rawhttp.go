package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// rawClient is a minimal HTTP/1.1 client for plain-http targets: one
// keep-alive connection per worker, the request written with one write, the
// response parsed in place. It exists because the generator shares the
// machine with the server it measures: net/http's client spends most of its
// CPU on per-request goroutine hand-offs, header maps and allocations, which
// at tens of thousands of requests a second would be taken from the server
// and show up as a lower ceiling. It supports exactly what the gateway
// sends back: Content-Length or chunked bodies, keep-alive and
// Connection: close. Config.UseNetHTTP switches back to net/http.
//
// It pays: one request with its answer from a canned server on the same
// machine costs 6.8 µs of process CPU with this client and 22.7 µs with
// net/http's, 14 allocations against 70 (BenchmarkClientRaw and
// BenchmarkClientNetHTTP, -benchtime=20000x, medians of 5; both include the
// same canned server's share).
type rawClient struct {
	addr   string // host:port
	host   string // Host header
	dialer net.Dialer

	mu       sync.Mutex
	conns    map[*rawConn]struct{}
	canceled bool
}

type rawConn struct {
	c     net.Conn
	w     io.Writer // c, or its raw I/O (connio_unix.go)
	br    *bufio.Reader
	reuse bool // at least one exchange completed on it
}

// maxRawBody bounds how much of a response body is kept; the rest is read
// and dropped so the connection stays usable.
const maxRawBody = 64 << 10

func newRawClient(addr, host string) *rawClient {
	return &rawClient{
		addr: addr, host: host,
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		conns:  map[*rawConn]struct{}{},
	}
}

// abortAll makes every open connection fail at once (run cancelled), so
// that no worker waits for its request timeout.
func (rc *rawClient) abortAll() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.canceled = true
	for c := range rc.conns {
		_ = c.c.SetDeadline(time.Unix(1, 0))
	}
}

func (rc *rawClient) dial(ctx context.Context) (*rawConn, error) {
	c, err := rc.dialer.DialContext(ctx, "tcp", rc.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	conn := &rawConn{c: c, w: c}
	var rd io.Reader = c
	if cio := newConnIO(c); cio != nil {
		conn.w, rd = cio, cio
	}
	conn.br = bufio.NewReaderSize(rd, 8<<10)
	rc.mu.Lock()
	if rc.canceled {
		rc.mu.Unlock()
		c.Close()
		return nil, context.Canceled
	}
	rc.conns[conn] = struct{}{}
	rc.mu.Unlock()
	return conn, nil
}

func (rc *rawClient) drop(c *rawConn) {
	rc.mu.Lock()
	delete(rc.conns, c)
	rc.mu.Unlock()
	c.c.Close()
}

// rawExchange is one worker's connection and buffers.
type rawExchange struct {
	rc      *rawClient
	conn    *rawConn
	wbuf    []byte
	body    []byte
	discard []byte // scratch for what is read beyond maxRawBody
}

// reqSpec is a request to send.
type reqSpec struct {
	method, path string
	header       [][2]string
	body         []byte
	// retryable: resending after a failure on a reused connection cannot
	// create anything twice (GET, or a POST carrying an Idempotency-Key).
	retryable bool
}

// do sends req and returns the status and (up to maxRawBody of) the body;
// the body slice is reused by the next call. deadline bounds the exchange.
// A failure on a reused keep-alive connection before any byte of the answer
// arrived (the server may have closed it while idle) is retried once on a
// fresh connection when that cannot create anything twice.
func (x *rawExchange) do(ctx context.Context, req *reqSpec, deadline time.Time) (int, []byte, error) {
	status, body, stale, err := x.once(ctx, req, deadline)
	if stale && req.retryable && ctx.Err() == nil {
		status, body, _, err = x.once(ctx, req, deadline)
	}
	return status, body, err
}

func (x *rawExchange) once(ctx context.Context, req *reqSpec, deadline time.Time) (status int, body []byte, stale bool, err error) {
	if x.conn == nil {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		c, err := x.rc.dial(dctx)
		cancel()
		if err != nil {
			return 0, nil, false, err
		}
		x.conn = c
	}
	c := x.conn
	reused := c.reuse
	if err := c.c.SetDeadline(deadline); err != nil {
		x.close()
		return 0, nil, false, err
	}
	b := x.wbuf[:0]
	b = append(b, req.method...)
	b = append(b, ' ')
	b = append(b, req.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, x.rc.host...)
	b = append(b, "\r\nUser-Agent: erpgate-loadtest\r\n"...)
	for _, h := range req.header {
		b = append(b, h[0]...)
		b = append(b, ": "...)
		b = append(b, h[1]...)
		b = append(b, "\r\n"...)
	}
	if req.body != nil || req.method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, req.body...)
	x.wbuf = b
	if _, err := c.w.Write(b); err != nil {
		x.close()
		return 0, nil, reused && isConnGone(err), err
	}
	status, body, keep, err := x.readResponse(c.br)
	if err != nil {
		x.close()
		return status, nil, reused && status == 0 && isConnGone(err), err
	}
	c.reuse = true
	if !keep {
		x.close()
	}
	return status, body, false, nil
}

func (x *rawExchange) close() {
	if x.conn != nil {
		x.rc.drop(x.conn)
		x.conn = nil
	}
}

func isConnGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readResponse reads one response. status is 0 until the status line was
// read; keep reports whether the connection may be reused.
func (x *rawExchange) readResponse(br *bufio.Reader) (status int, body []byte, keep bool, err error) {
	for range 5 { // skip at most a few 1xx interim responses
		line, err := readLine(br)
		if err != nil {
			return 0, nil, false, err
		}
		// "HTTP/1.1 202 Accepted"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, nil, false, fmt.Errorf("malformed status line %q", line)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, nil, false, fmt.Errorf("malformed status line %q", line)
		}
		http10 := line[7] == '0'
		var (
			length  int64 = -1
			chunked bool
			closeC  = http10
		)
		for n := 0; ; n++ {
			if n > 200 {
				return status, nil, false, errors.New("too many response headers")
			}
			h, err := readLine(br)
			if err != nil {
				return status, nil, false, err
			}
			if len(h) == 0 {
				break
			}
			k, v, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				return status, nil, false, fmt.Errorf("malformed header %q", h)
			}
			v = bytes.TrimSpace(v)
			switch {
			case bytes.EqualFold(k, []byte("Content-Length")):
				length, err = strconv.ParseInt(string(v), 10, 64)
				if err != nil || length < 0 {
					return status, nil, false, fmt.Errorf("bad Content-Length %q", v)
				}
			case bytes.EqualFold(k, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(v, []byte("chunked"))
			case bytes.EqualFold(k, []byte("Connection")):
				if bytes.EqualFold(v, []byte("close")) {
					closeC = true
				} else if bytes.EqualFold(v, []byte("keep-alive")) {
					closeC = false
				}
			}
		}
		if status < 200 {
			continue
		}
		x.body = x.body[:0]
		switch {
		case status == 204 || status == 304:
		case chunked:
			err = x.readChunked(br)
		case length >= 0:
			err = x.readN(br, length)
		default: // body until the server closes
			err = x.readN(br, -1)
			closeC = true
		}
		return status, x.body, !closeC && err == nil, err
	}
	return 0, nil, false, errors.New("too many interim responses")
}

// readN appends n bytes of body (n < 0: until EOF), keeping at most
// maxRawBody.
func (x *rawExchange) readN(br *bufio.Reader, n int64) error {
	for n != 0 {
		// Read straight into the body's spare room while under the limit,
		// then into a small scratch array.
		if cap(x.body)-len(x.body) < 512 && len(x.body) < maxRawBody {
			x.body = append(x.body, make([]byte, 4096)...)[:len(x.body)]
		}
		dst := x.body[len(x.body):cap(x.body)]
		if len(x.body) >= maxRawBody {
			// Past the limit: read into scratch (allocated only when a
			// body this large comes: a local array would escape and cost
			// an allocation per response).
			if x.discard == nil {
				x.discard = make([]byte, 4096)
			}
			dst = x.discard
		} else if room := maxRawBody - len(x.body); len(dst) > room {
			dst = dst[:room]
		}
		if n > 0 && int64(len(dst)) > n {
			dst = dst[:n]
		}
		m, err := br.Read(dst)
		if len(x.body) < maxRawBody {
			x.body = x.body[:len(x.body)+m]
		}
		if n > 0 {
			n -= int64(m)
		}
		if err != nil {
			if n < 0 && errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func (x *rawExchange) readChunked(br *bufio.Reader) error {
	for range 1 << 20 {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			for range 100 { // trailers, then the empty line
				t, err := readLine(br)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
			return errors.New("too many trailers")
		}
		if err := x.readN(br, size); err != nil {
			return err
		}
		if crlf, err := readLine(br); err != nil || len(crlf) != 0 {
			return errors.New("malformed chunk end")
		}
	}
	return errors.New("too many chunks")
}

// readLine returns one CRLF- (or LF-) terminated line without the
// terminator. The slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("response line too long")
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
