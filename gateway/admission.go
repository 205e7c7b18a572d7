package gateway

// Admission control: what one instance lets in before it does any work.
//
//   - Body memory: every request body is read through a budget. Bytes are
//     charged as they arrive (never from the announced Content-Length) and
//     given back when the request ends. Bodies of requests not (yet)
//     authenticated — no Bearer key checked, credentials inside the body
//     (WS-Security, HMAC signatures) — draw on a small pool of their own,
//     so clients without a key cannot take the memory of those with one.
//     Beyond a pool: 503 overloaded with Retry-After.
//   - Load shedding: beyond MaxInFlight requests at once the instance
//     answers 503 overloaded with Retry-After at once, instead of letting
//     every caller's latency grow.
//   - Connections: LimitListener caps open connections (cmd/gateway).

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
)

// Limits are the instance's admission limits. Zero fields take the
// defaults of DefaultLimits; a negative value switches that limit off.
type Limits struct {
	// MaxInFlight is the most requests served at once; more are shed
	// (503). Health, readiness and metrics requests are never shed.
	MaxInFlight int
	// MaxBodyBytes is the most request-body bytes all requests together
	// hold while being read; MaxUnauthBodyBytes the part of it requests
	// not yet authenticated may hold.
	MaxBodyBytes       int64
	MaxUnauthBodyBytes int64
}

// DefaultLimits are the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{MaxInFlight: 2048, MaxBodyBytes: 256 << 20, MaxUnauthBodyBytes: 16 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxInFlight == 0 {
		l.MaxInFlight = d.MaxInFlight
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxUnauthBodyBytes == 0 {
		l.MaxUnauthBodyBytes = d.MaxUnauthBodyBytes
	}
	return l
}

// shedRetryAfter is the Retry-After of a shed request.
const shedRetryAfter = time.Second

// admission holds the instance's counters.
type admission struct {
	limits   Limits
	inFlight atomic.Int64
	body     atomic.Int64 // body bytes held by all requests
	unauth   atomic.Int64 // of which by unauthenticated ones
	shed     *prometheus.CounterVec
}

func newAdmission(l Limits, reg prometheus.Registerer) (*admission, error) {
	a := &admission{limits: l.withDefaults()}
	a.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_http_shed_requests_total",
		Help: "Requests answered 503 overloaded before any work, by reason (in_flight: too many requests at once; body_bytes: request-body memory exhausted; unauth_body_bytes: the pool of unauthenticated bodies exhausted).",
	}, []string{"reason"})
	cs := []prometheus.Collector{a.shed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "erpgate_http_requests_in_flight",
			Help: "Requests being served by this instance.",
		}, func() float64 { return float64(a.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "erpgate_http_body_bytes_in_flight",
			Help: "Request-body bytes read and held by requests in progress.",
		}, func() float64 { return float64(a.body.Load()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"in_flight", "body_bytes", "unauth_body_bytes"} {
		a.shed.WithLabelValues(r)
	}
	return a, nil
}

// exempt are the routes never shed nor counted: an overloaded instance
// must still say so to its orchestrator and its scraper.
var exempt = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// middleware sheds requests beyond MaxInFlight and reads every body
// through the budget.
func (a *admission) middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if lc, ok := c.Request().Context().Value(connKey{}).(*limitConn); ok {
				lc.headerDone.Store(true)
			}
			if exempt[c.Path()] {
				return next(c)
			}
			n := a.inFlight.Add(1)
			defer a.inFlight.Add(-1)
			if max := a.limits.MaxInFlight; max > 0 && n > int64(max) {
				a.shed.WithLabelValues("in_flight").Inc()
				return overloaded("this instance is serving too many requests at once")
			}
			if r := c.Request(); r.Body != nil && r.Body != http.NoBody {
				b := &budgetBody{rc: r.Body, a: a}
				// A shallow copy: net/http must keep seeing its own body
				// on its request, or it would wait for the rest of a
				// refused body before answering.
				r2 := new(http.Request)
				*r2 = *r
				r2.Body = b
				c.SetRequest(r2)
				c.Set(budgetKey, b)
				defer b.release()
			}
			return next(c)
		}
	}
}

func overloaded(msg string) error {
	return &erpgate.Error{Code: erpgate.Overloaded, RetryAfter: shedRetryAfter,
		Message: msg + "; retry in " + strconv.Itoa(int(shedRetryAfter/time.Second)) + " s"}
}

const budgetKey = "erpgate.body"

// authenticated moves the request's body from the unauthenticated pool
// to the general one: its caller proved a key. Authentication calls it
// before the handler reads the body.
func authenticated(c echo.Context) {
	if b, ok := c.Get(budgetKey).(*budgetBody); ok {
		b.authenticate()
	}
}

// budgetBody charges the bytes it reads to the instance's budget.
type budgetBody struct {
	rc      io.ReadCloser
	a       *admission
	mu      sync.Mutex
	held    int64
	authed  bool
	refused bool
}

var _ io.ReadCloser = (*budgetBody)(nil)

func (b *budgetBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	refused := b.refused
	b.mu.Unlock()
	if refused {
		return 0, overloaded("this instance holds too many request bodies")
	}
	n, err := b.rc.Read(p)
	if n > 0 {
		if cerr := b.charge(int64(n)); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}

func (b *budgetBody) Close() error { return b.rc.Close() }

func (b *budgetBody) charge(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.a
	if max := a.limits.MaxBodyBytes; a.body.Add(n) > max && max > 0 {
		a.body.Add(-n)
		b.refused = true
		a.shed.WithLabelValues("body_bytes").Inc()
		return overloaded("this instance holds too many request bodies")
	}
	if !b.authed {
		if max := a.limits.MaxUnauthBodyBytes; a.unauth.Add(n) > max && max > 0 {
			a.unauth.Add(-n)
			a.body.Add(-n)
			b.refused = true
			a.shed.WithLabelValues("unauth_body_bytes").Inc()
			return overloaded("this instance holds too many request bodies of callers not yet authenticated")
		}
	}
	b.held += n
	return nil
}

func (b *budgetBody) authenticate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.authed {
		b.authed = true
		b.a.unauth.Add(-b.held)
	}
}

// release gives back what the request held, when it ends.
func (b *budgetBody) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.a.body.Add(-b.held)
	if !b.authed {
		b.a.unauth.Add(-b.held)
	}
	b.held = 0
}

// LimitListener returns a listener that keeps at most max connections
// open (max ≤ 0: no limit). A connection beyond is answered at once with
// 503 (Retry-After: 1, a problem+json body) and closed, without reading
// its request. Its connections also answer a request whose header did not
// arrive before the server's read deadline with 408 (net/http would close
// them without a word); give the server ConnContext so that a request in a
// handler is told apart (its body timeout is the handler's to answer).
func LimitListener(ln net.Listener, max int, reg prometheus.Registerer) (net.Listener, error) {
	if max <= 0 {
		max = math.MaxInt64
	}
	l := &limitListener{Listener: ln, max: int64(max)}
	l.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "erpgate_http_rejected_connections_total",
		Help: "Connections answered 503 and closed because the instance had its maximum of open connections.",
	})
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erpgate_http_connections_open",
		Help: "Open client connections of this instance (hijacked live streams included).",
	}, func() float64 { return float64(l.open.Load()) })
	if reg != nil {
		for _, c := range []prometheus.Collector{l.rejected, open} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

type limitListener struct {
	net.Listener
	max      int64
	open     atomic.Int64
	rejected prometheus.Counter
}

// connRefusal is written to a connection over the limit.
var connRefusal = func() []byte {
	body := `{"type":"/problems/overloaded","title":"Service Unavailable","status":503,` +
		`"detail":"this instance has too many open connections; retry in 1 s","code":"overloaded"}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.rejected.Inc()
			go func() {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write(connRefusal)
				c.Close()
			}()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
	// pending: bytes of a request arrived since the last response was
	// written; headerDone: that request's header was read (a handler got
	// it), so a timeout now is the body's, answered by the handler.
	pending    atomic.Bool
	headerDone atomic.Bool
}

// headerTimeout answers a request whose header did not arrive in time.
var headerTimeout = func() []byte {
	body := `{"type":"/problems/timeout","title":"Request Timeout","status":408,` +
		`"detail":"the request header did not arrive in time","code":"timeout"}`
	return []byte("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.pending.Store(true)
	}
	if err != nil && c.pending.Load() && !c.headerDone.Load() {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			// Part of a request header, then silence until the deadline.
			c.pending.Store(false)
			c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			c.Conn.Write(headerTimeout)
		}
	}
	return n, err
}

func (c *limitConn) Write(p []byte) (int, error) {
	c.pending.Store(false)
	c.headerDone.Store(false)
	return c.Conn.Write(p)
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets the gateway's
// middleware find the connection of a request (see LimitListener).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// SyscallConn hands out the raw connection (the live streams' hang-up
// watcher needs its descriptor).
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("not a syscall.Conn")
}

// CloseWrite half-closes like *net.TCPConn (net/http uses it to close
// connections gracefully).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
