// Package loadtest is erpgate's open-loop load generator: it sends a
// configurable mix of requests (REST and SOAP orders of varied size,
// idempotent repeats, tracking reads, supplier reads) on a fixed arrival
// schedule, measures each latency from the request's intended send time in a
// log-linear histogram, and afterwards checks against the ERP simulator's
// inspection API that every acknowledged order was created exactly once.
//
// Open loop is the point. A closed-loop generator (N workers each sending
// the next request when the last one returns) slows down exactly when the
// server does, so it never records the queueing delay real clients would
// suffer ("coordinated omission"). Here request i is due at a fixed time, the
// clock for its latency starts then, and when all in-flight slots are busy
// the wait counts too.
//
// The package depends only on the standard library. cmd/loadtest is its
// command line.
package loadtest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures one run. Zero fields take the defaults named.
type Config struct {
	// Target is the gateway's base URL, e.g. http://127.0.0.1:8080. It must
	// be a loopback address unless AllowRemote is set (see CheckLoopback).
	Target      string
	AllowRemote bool
	// Schedule is the arrival plan (required).
	Schedule Schedule
	// Mix weighs the operations (default DefaultMix).
	Mix Mix
	// ShopKey and SupplierKey are the bearer keys (defaults: the demo keys).
	ShopKey     string
	SupplierKey string
	// MaxInflight bounds concurrent requests (default 1024): it is the most
	// senders (each a goroutine with its own keep-alive connection) the run
	// starts. They are started as the load needs them and the most recently
	// idle one takes the next request. When every sender is busy, due
	// requests wait for one, the wait counts in their latency, and they
	// count as late.
	MaxInflight int
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// LateAfter: a request that starts more than this after its intended time
	// counts as late (default 5ms). Late requests are still measured from
	// their intended time; the count says the generator or its slots, not
	// only the server, were saturated.
	LateAfter time.Duration
	// Drain is how long after the schedule's end backlogged requests may
	// still start (default 10s). Requests due but not started by then count
	// as not_started. The whole run ends by schedule + Drain + Timeout.
	Drain time.Duration
	// MaxLines is the largest number of lines in a generated order (default 5).
	MaxLines int
	// Warmup is a number of REST orders sent before the schedule starts and
	// not measured, so that repeats and tracking reads have orders to work
	// on from the first second (at most MaxWarmup). They are real orders:
	// they count as acknowledged for verification.
	Warmup int
	// RunID prefixes every external id, making them unique per run (default
	// "lt" + time + random).
	RunID string
	// Seed makes the operation sequence and the generated orders
	// reproducible (default: random).
	Seed uint64
	// SOAP describes the SOAP order intake (default DefaultSOAPTemplate()).
	SOAP *SOAPTemplate
	// UseNetHTTP sends with net/http instead of the built-in minimal
	// HTTP/1.1 client (which is used for http:// targets because it costs a
	// fraction of net/http's CPU per request; see rawClient). https://
	// targets and a Client always use net/http.
	UseNetHTTP bool
	// Client, when set, sends the requests with net/http (default for the
	// net/http path: NewClient(MaxInflight), which ignores proxy settings
	// and never follows redirects).
	Client *http.Client
	// Progress receives one line per second while the run lasts; nil for none.
	Progress io.Writer
}

// Defaults of Config.
const (
	DefaultTarget      = "http://127.0.0.1:8080"
	DefaultShopKey     = "demo-shop-key"
	DefaultSupplierKey = "demo-supplier-key-1"
	DefaultMaxInflight = 1024
	DefaultTimeout     = 10 * time.Second
	DefaultLateAfter   = 5 * time.Millisecond
	DefaultDrain       = 10 * time.Second
	DefaultMaxLines    = 5
	MaxMaxInflight     = 100_000
	MaxMaxLines        = 500 // the gateway's own limit
	MaxWarmup          = 1_000_000
)

// withDefaults fills in zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Target == "" {
		c.Target = DefaultTarget
	}
	c.Target = strings.TrimRight(c.Target, "/")
	if !c.AllowRemote {
		if err := CheckLoopback(c.Target); err != nil {
			return c, err
		}
	} else if _, err := checkURL(c.Target); err != nil {
		return c, err
	}
	if err := c.Schedule.Validate(); err != nil {
		return c, err
	}
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	if err := c.Mix.Validate(); err != nil {
		return c, err
	}
	if c.ShopKey == "" {
		c.ShopKey = DefaultShopKey
	}
	if c.SupplierKey == "" {
		c.SupplierKey = DefaultSupplierKey
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxInflight < 1 || c.MaxInflight > MaxMaxInflight {
		return c, fmt.Errorf("max inflight %d must be in [1, %d]", c.MaxInflight, MaxMaxInflight)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.LateAfter == 0 {
		c.LateAfter = DefaultLateAfter
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.Timeout < 0 || c.LateAfter < 0 || c.Drain < 0 {
		return c, errors.New("timeout, late-after and drain must not be negative")
	}
	if c.MaxLines == 0 {
		c.MaxLines = DefaultMaxLines
	}
	if c.MaxLines < 1 || c.MaxLines > MaxMaxLines {
		return c, fmt.Errorf("max lines %d must be in [1, %d]", c.MaxLines, MaxMaxLines)
	}
	if c.Warmup < 0 || c.Warmup > MaxWarmup {
		return c, fmt.Errorf("warmup %d must be in [0, %d]", c.Warmup, MaxWarmup)
	}
	if c.RunID == "" {
		c.RunID = NewRunID(time.Now())
	}
	if len(c.RunID) > 40 || strings.ContainsAny(c.RunID, " \t\r\n/?#%") {
		return c, fmt.Errorf("run id %q: at most 40 characters, no spaces or URL delimiters", c.RunID)
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.SOAP == nil {
		c.SOAP = DefaultSOAPTemplate()
	}
	if c.Client != nil || strings.HasPrefix(c.Target, "https://") {
		c.UseNetHTTP = true
	}
	if c.Client == nil {
		c.Client = NewClient(c.MaxInflight)
	}
	return c, nil
}

// NewRunID returns a run id: "lt" + UTC time to the second + 4 random hex
// digits, e.g. "lt20260101T120000-a1b2".
func NewRunID(now time.Time) string {
	var b [2]byte
	_, _ = crand.Read(b[:])
	return "lt" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// NewClient returns the HTTP client the generator uses by default: keep-alive
// connections for up to maxInflight concurrent requests, no proxy (a proxy
// from the environment would silently route loopback traffic elsewhere), no
// compression, and no redirects (a redirect could lead off loopback).
func NewClient(maxInflight int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxInflight,
		MaxIdleConnsPerHost: maxInflight,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckLoopback refuses a URL whose host is not a loopback address
// (127.0.0.0/8, ::1 or "localhost"). Names are not resolved: a name that
// resolves to loopback today may not tomorrow.
//
// Why: the tool sends thousands of requests a second and creates real
// orders. Pointed by mistake at a shared, staging or production system it is
// a denial-of-service attack and fills an ERP with fake orders; a deliberate
// remote run needs AllowRemote (--allow-remote).
func CheckLoopback(raw string) error {
	u, err := checkURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: refusing to send load there without --allow-remote", raw)
}

func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: no host", raw)
	}
	return u, nil
}

// Ack is an order the gateway acknowledged: 202 for REST, a SOAP response
// naming the order id.
type Ack struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Channel    string `json:"channel"` // "rest" or "soap"
}

// OpResult is the outcome of one operation kind.
type OpResult struct {
	Op      string           `json:"op"`
	Sent    int64            `json:"sent"`
	OK      int64            `json:"ok"`
	Errors  map[string]int64 `json:"errors,omitempty"`
	Latency Percentiles      `json:"latency"`
}

// StepResult is the outcome of one step of the schedule. Latency covers the
// requests intended in the step (wherever they completed); OKPerSecond counts
// successes completed within the step's time window, so a server that falls
// behind shows both a lower OKPerSecond and a higher latency.
type StepResult struct {
	Step        int           `json:"step"`
	Rate        float64       `json:"rate"`
	Duration    time.Duration `json:"duration_ns"`
	Planned     int           `json:"planned"`
	OK          int64         `json:"ok"`
	Errors      int64         `json:"errors"`
	Late        int64         `json:"late"`
	NotStarted  int64         `json:"not_started"`
	OKPerSecond float64       `json:"ok_per_second"`
	Latency     Percentiles   `json:"latency"`
}

// Sample is one second of the run, by completion time.
type Sample struct {
	Second int           `json:"second"`
	Sent   int64         `json:"sent"`
	OK     int64         `json:"ok"`
	Errors int64         `json:"errors"`
	P50    time.Duration `json:"p50_ns"`
	P90    time.Duration `json:"p90_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
}

// Result is everything a run measured.
type Result struct {
	RunID    string    `json:"run_id"`
	Target   string    `json:"target"`
	Schedule string    `json:"schedule"`
	Mix      string    `json:"mix"`
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"`
	// Elapsed runs from the first intended send time to the last completion.
	Elapsed time.Duration `json:"elapsed_ns"`
	Planned int           `json:"planned"`
	// Unsent counts requests not yet due when the run was cancelled; they
	// are not errors.
	Unsent int64 `json:"unsent"`
	Sent   int64 `json:"sent"`
	OK     int64 `json:"ok"`
	// Late counts requests started more than LateAfter after their intended time.
	Late      int64         `json:"late"`
	LateAfter time.Duration `json:"late_after_ns"`
	// NotStarted counts due requests never sent because the run's time bound
	// came first; they are also in Errors["not_started"] and in the latency
	// histogram with the time they had waited (a lower bound).
	NotStarted int64            `json:"not_started"`
	Errors     map[string]int64 `json:"errors"`
	// Latency is over every completed or abandoned request, measured from its
	// intended send time.
	Latency Percentiles  `json:"latency"`
	Ops     []OpResult   `json:"ops"`
	Steps   []StepResult `json:"steps"`
	Series  []Sample     `json:"series"`
	// Warmup is the number of unmeasured warm-up orders sent, WarmupAcked
	// how many of them were acknowledged (they are in Acked).
	Warmup      int `json:"warmup"`
	WarmupAcked int `json:"warmup_acked"`
	// AckedOrders counts orders acknowledged; Acked lists them for Verify.
	AckedOrders int   `json:"acked_orders"`
	Acked       []Ack `json:"-"`
	// AmbiguousOrders counts new-order requests whose outcome is unknown
	// (timeout, transport error, 5xx, unreadable answer): the gateway may
	// have stored them, so Verify tolerates that many unexpected ERP orders.
	AmbiguousOrders int64 `json:"ambiguous_orders"`
	// GeneratorCPU is the CPU time (user + system) the load tool's own
	// process used from the start of the schedule to the end of the run;
	// GeneratorCPUPerRequest divides it by Sent. On a machine the tool shares
	// with the server, this is capacity the server did not get. Zero where
	// it cannot be measured.
	GeneratorCPU           time.Duration `json:"generator_cpu_ns"`
	GeneratorCPUPerRequest time.Duration `json:"generator_cpu_per_request_ns"`
	// Verification is filled in by the caller after Verify.
	Verification *Verification `json:"verification,omitempty"`
}

// ErrorCount returns the number of failed requests.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Error kinds, besides "http_<status>".
const (
	KindTimeout        = "timeout"         // the request's deadline passed
	KindRefused        = "refused"         // connection refused
	KindReset          = "reset"           // connection reset or closed early
	KindTransport      = "transport"       // any other network error
	KindCanceled       = "canceled"        // the run was cancelled while it was in flight
	KindNotStarted     = "not_started"     // due, but never sent within the run's time bound
	KindBadResponse    = "bad_response"    // a success status with an unusable body
	KindReplayMismatch = "replay_mismatch" // an idempotent repeat answered with a different order id
	KindSOAPFault      = "soap_fault"      // a SOAP fault with status 200 (should be 500)
)

// job is one due request.
type job struct {
	arr Arrival
	op  Op
	due time.Time
}

// Run executes cfg's schedule against the target and returns what it
// measured. It stops by itself after the schedule, the drain time and one
// request timeout; cancelling ctx stops it sooner (the result then covers
// what was done). It returns an error only for an invalid configuration.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	return r.run(ctx), nil
}

type runner struct {
	cfg      Config
	raw      *rawClient // nil when sending with net/http
	basePath string     // the target URL's path, prefixed to every request path
	rec      *recorder
	pool     *orderPool
	start    time.Time
	today    time.Time

	// Pre-rendered order bodies (bodies.go) and each operation's fixed
	// headers, so that a request costs a copy, not an encoding.
	restBodies, soapBodies *bodySet
	headers                [numOps][][2]string
	extPrefix              string // cfg.RunID + "-"

	stop     chan struct{} // closed when no further request may start
	stopOnce sync.Once
	stopped  atomic.Bool
}

func newRunner(cfg Config) (*runner, error) {
	r := &runner{cfg: cfg, pool: newOrderPool(4096), stop: make(chan struct{}), today: time.Now().UTC()}
	r.extPrefix = cfg.RunID + "-"
	r.restBodies = restBodies(cfg.Seed, r.extPrefix, cfg.MaxLines, r.today)
	if cfg.Mix[OpSOAP] > 0 {
		var err error
		if r.soapBodies, err = soapBodies(cfg.SOAP, cfg.Seed, r.extPrefix, cfg.MaxLines, r.today); err != nil {
			return nil, fmt.Errorf("soap template: %w", err)
		}
	}
	shop := [2]string{"Authorization", "Bearer " + cfg.ShopKey}
	jsonType := [2]string{"Content-Type", "application/json"}
	r.headers[OpREST] = [][2]string{shop, jsonType}
	r.headers[OpRepeat] = r.headers[OpREST]
	r.headers[OpSOAP] = [][2]string{shop, {"Content-Type", cfg.SOAP.ContentType}}
	if cfg.SOAP.Action != "" {
		r.headers[OpSOAP] = append(r.headers[OpSOAP], [2]string{"SOAPAction", `"` + cfg.SOAP.Action + `"`})
	}
	r.headers[OpSupplier] = [][2]string{{"Authorization", "Bearer " + cfg.SupplierKey}}
	if !cfg.UseNetHTTP {
		u, _ := url.Parse(cfg.Target) // checked by withDefaults
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		r.raw = newRawClient(addr, u.Host)
		r.basePath = strings.TrimRight(u.EscapedPath(), "/")
	}
	return r, nil
}

func (r *runner) halt() {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		close(r.stop)
	})
}

func (r *runner) run(ctx context.Context) *Result {
	cfg := r.cfg
	if r.raw != nil {
		// A cancelled run must not wait for in-flight requests to time out.
		stopAbort := context.AfterFunc(ctx, r.raw.abortAll)
		defer stopAbort()
	}
	warm := r.warmup(ctx)
	cpu0, cpuOK := processCPU()
	r.start = time.Now()
	r.rec = newRecorder(r.start, cfg.Schedule)

	// Hard bound: nothing starts after the schedule plus the drain time.
	hard := time.AfterFunc(cfg.Schedule.Duration()+cfg.Drain, r.halt)
	defer hard.Stop()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case <-runCtx.Done():
			r.halt()
		case <-r.stop:
		}
	}()

	senders := newSenderPool(r, ctx)
	progressDone := make(chan struct{})
	progressStop := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(progressStop)
	}()

	dispatched := r.dispatch(senders)
	senders.close()
	close(progressStop)
	<-progressDone

	// What was due but never handed to a worker could not start on time.
	stopAt := time.Now()
	var unsent int64
	cfg.Schedule.Arrivals(func(a Arrival) bool {
		if a.Index < dispatched {
			return true
		}
		due := r.start.Add(a.Offset)
		if due.After(stopAt) {
			unsent++
		} else {
			r.rec.notStarted(a, due, stopAt)
		}
		return true
	})
	res := r.rec.result(stopAt)
	if cpu1, ok := processCPU(); ok && cpuOK {
		res.GeneratorCPU = cpu1 - cpu0
		if res.Sent > 0 {
			res.GeneratorCPUPerRequest = res.GeneratorCPU / time.Duration(res.Sent)
		}
	}
	res.RunID, res.Target, res.Schedule, res.Mix, res.Seed = cfg.RunID, cfg.Target, cfg.Schedule.String(), cfg.Mix.String(), cfg.Seed
	res.LateAfter = cfg.LateAfter
	res.Unsent = unsent
	res.Planned = cfg.Schedule.Total()
	res.Warmup, res.WarmupAcked = cfg.Warmup, len(warm)
	res.Acked = append(warm, res.Acked...)
	res.AckedOrders = len(res.Acked)
	for i, st := range cfg.Schedule.Steps {
		res.Steps[i].Rate, res.Steps[i].Planned = st.Rate, st.count()
	}
	return res
}

// progress prints one line a second until stop is closed.
func (r *runner) progress(stop <-chan struct{}) {
	if r.cfg.Progress == nil {
		<-stop
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			fmt.Fprintln(r.cfg.Progress, r.rec.progressLine(now))
		}
	}
}

// warmup sends cfg.Warmup REST orders, a few at a time, before the clock
// starts, and returns the acknowledged ones. It is bounded by the count and,
// per order, by the request timeout; cancelling ctx ends it.
func (r *runner) warmup(ctx context.Context) []Ack {
	n := r.cfg.Warmup
	if n == 0 {
		return nil
	}
	var (
		mu   sync.Mutex
		acks []Ack
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := range min(32, r.cfg.MaxInflight, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := r.newWorker(rand.New(rand.NewPCG(r.cfg.Seed^0x5741524d, uint64(w))))
			defer wk.close()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				out := wk.send(ctx, time.Now().Add(r.cfg.Timeout), job{arr: Arrival{Index: -1 - i}}, OpREST, pooled{})
				if out.ack != nil {
					mu.Lock()
					acks = append(acks, *out.ack)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acks
}

// dispatch hands each arrival to a sender at its intended time and returns
// how many it handed over. It never waits for a response; when every sender
// is busy (MaxInflight requests in flight) it waits for one to finish, and
// the requests' latencies, measured from their intended times, grow
// accordingly (and they count as late).
func (r *runner) dispatch(senders *senderPool) int {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x6c6f6164))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	n := 0
	r.cfg.Schedule.Arrivals(func(a Arrival) bool {
		due := r.start.Add(a.Offset)
		if d := time.Until(due); d > 0 {
			// Sleeping overshoots by up to a millisecond or so; the
			// arrivals that became due meanwhile go out back to back on the
			// next iterations, and their latency clocks started on time.
			timer.Reset(d)
			select {
			case <-r.stop:
				return false
			case <-timer.C:
			}
		}
		s := senders.get(r.stop)
		if s == nil {
			return false
		}
		s.jobs <- job{arr: a, op: r.cfg.Mix.pick(rng), due: due}
		n++
		return true
	})
	return n
}

// senderPool holds the goroutines that send requests, each with its own
// keep-alive connection. Senders are started as the load needs them, up to
// MaxInflight, and an idle one is reused last-in first-out: the most recently
// used sender (its stack, buffers and connection still in the CPU caches)
// takes the next request, as net/http's Transport reuses its most recently
// idle connection. So a run at a modest rate keeps only as many senders and
// connections busy as its concurrency needs, instead of cycling through
// MaxInflight cold ones.
type senderPool struct {
	r   *runner
	ctx context.Context
	max int

	mu    sync.Mutex
	idle  []*sender
	all   []*sender
	freed chan struct{} // a token after a sender went idle; only dispatch waits
	wg    sync.WaitGroup
}

type sender struct {
	jobs chan job // capacity 1: dispatch never waits on a sender it took
	w    *worker
}

func newSenderPool(r *runner, ctx context.Context) *senderPool {
	return &senderPool{r: r, ctx: ctx, max: r.cfg.MaxInflight, freed: make(chan struct{}, 1)}
}

// get returns an idle sender, starting one if fewer than max exist, or waits
// for one to become idle. It returns nil when stop is closed first.
func (p *senderPool) get(stop <-chan struct{}) *sender {
	for {
		p.mu.Lock()
		if n := len(p.idle); n > 0 {
			s := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return s
		}
		if len(p.all) < p.max {
			id := uint64(len(p.all))
			s := &sender{jobs: make(chan job, 1), w: p.r.newWorker(rand.New(rand.NewPCG(p.r.cfg.Seed^0x9e3779b97f4a7c15, id)))}
			p.all = append(p.all, s)
			p.mu.Unlock()
			p.wg.Add(1)
			go p.loop(s)
			return s
		}
		p.mu.Unlock()
		select {
		case <-p.freed:
		case <-stop:
			return nil
		}
	}
}

// loop sends s's jobs until its queue is closed.
func (p *senderPool) loop(s *sender) {
	defer p.wg.Done()
	defer s.w.close()
	r := p.r
	for j := range s.jobs {
		if r.stopped.Load() {
			r.rec.notStarted(j.arr, j.due, time.Now())
		} else {
			s.w.do(p.ctx, j)
		}
		p.mu.Lock()
		p.idle = append(p.idle, s)
		p.mu.Unlock()
		select {
		case p.freed <- struct{}{}:
		default:
		}
	}
}

// close ends every sender after its current request and waits for them.
func (p *senderPool) close() {
	p.mu.Lock()
	all := p.all
	p.mu.Unlock()
	for _, s := range all {
		close(s.jobs)
	}
	p.wg.Wait()
}

type worker struct {
	r    *runner
	rng  *rand.Rand
	x    *rawExchange // this worker's connection, in raw mode
	body []byte       // the request body, rendered here (reused)
	num  []byte       // scratch for the external id's suffix
}

func (r *runner) newWorker(rng *rand.Rand) *worker {
	w := &worker{r: r, rng: rng}
	if r.raw != nil {
		w.x = &rawExchange{rc: r.raw, wbuf: make([]byte, 0, 4096)}
	}
	return w
}

// close releases the worker's connection.
func (w *worker) close() {
	if w.x != nil {
		w.x.close()
	}
}

// pooled is an acknowledged REST order kept for repeats and tracking reads.
// Its body is rendered again from its request index when repeated: the
// rendering is deterministic, so the repeat carries the same bytes.
type pooled struct {
	id, externalID, token string
	index                 int
}

// orderPool is a bounded ring of recently acknowledged REST orders.
type orderPool struct {
	mu    sync.Mutex
	ring  []pooled
	next  int
	count int
}

func newOrderPool(n int) *orderPool { return &orderPool{ring: make([]pooled, n)} }

func (p *orderPool) add(o pooled) {
	p.mu.Lock()
	p.ring[p.next] = o
	p.next = (p.next + 1) % len(p.ring)
	p.count = min(p.count+1, len(p.ring))
	p.mu.Unlock()
}

func (p *orderPool) pick(r *rand.Rand) (pooled, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count == 0 {
		return pooled{}, false
	}
	return p.ring[r.IntN(p.count)], true
}

// outcome of one request.
type outcome struct {
	op   Op     // the operation actually performed (a repeat with nothing to repeat becomes a new order)
	kind string // "" for success, else an error kind
	ack  *Ack
	// ambiguous: a new order whose fate is unknown.
	ambiguous bool
}

func (w *worker) do(ctx context.Context, j job) {
	r := w.r
	op := j.op
	var prev pooled
	if op == OpRepeat || op == OpTrack || op == OpPage {
		p, ok := r.pool.pick(w.rng)
		if !ok {
			op = OpREST // nothing acknowledged yet to repeat or track
		} else {
			prev = p
		}
	}
	started := time.Now()
	if started.Sub(j.due) > r.cfg.LateAfter {
		r.rec.late(j.arr)
	}
	r.rec.started(op, started)
	out := w.send(ctx, started.Add(r.cfg.Timeout), j, op, prev)
	if out.kind != "" && ctx.Err() != nil && out.kind != KindBadResponse && !strings.HasPrefix(out.kind, "http_") {
		out.kind = KindCanceled
	}
	r.rec.done(j, out, time.Now())
}

// send performs one operation; deadline bounds it.
func (w *worker) send(ctx context.Context, deadline time.Time, j job, op Op, prev pooled) outcome {
	r := w.r
	cfg := &r.cfg
	out := outcome{op: op}
	spec := reqSpec{method: http.MethodGet, header: r.headers[op]}
	wantStatus := http.StatusOK
	var (
		externalID string
		err        error
	)
	switch op {
	case OpREST, OpRepeat:
		index := j.arr.Index
		if op == OpRepeat {
			index = prev.index
		}
		w.num = extSuffix(w.num[:0], index)
		if op == OpRepeat {
			externalID = prev.externalID
		} else {
			externalID = r.extPrefix + string(w.num)
		}
		w.body, _ = r.restBodies.render(w.body[:0], index, string(w.num))
		spec.method, spec.path, spec.body, wantStatus = http.MethodPost, "/v1/orders", w.body, http.StatusAccepted
		spec.header = append(spec.header[:len(spec.header):len(spec.header)], [2]string{"Idempotency-Key", "idem-" + externalID})
	case OpSOAP:
		w.num = extSuffix(w.num[:0], j.arr.Index)
		externalID = r.extPrefix + string(w.num)
		if w.body, err = r.soapBodies.render(w.body[:0], j.arr.Index, string(w.num)); err != nil {
			out.kind = KindBadResponse // unreachable: the template was test-rendered at start
			return out
		}
		spec.method, spec.path, spec.body = http.MethodPost, cfg.SOAP.Path, w.body
	case OpTrack:
		spec.path = "/v1/tracking/" + url.PathEscape(prev.id) + "?token=" + url.QueryEscape(prev.token)
	case OpPage:
		spec.path = "/track/" + url.PathEscape(prev.id) + "?token=" + url.QueryEscape(prev.token)
	case OpSupplier:
		spec.path = "/v1/supplier/purchase-orders"
	case OpHealth:
		spec.path = "/healthz"
	}
	spec.retryable = spec.method == http.MethodGet || op == OpREST || op == OpRepeat

	statusCode, data, err := w.roundTrip(ctx, deadline, &spec)
	if err != nil {
		out.kind = classifyNetError(err)
		out.ambiguous = op == OpREST || op == OpSOAP
		return out
	}
	if statusCode != wantStatus && !(op == OpRepeat && statusCode == http.StatusOK) {
		out.kind = "http_" + strconv.Itoa(statusCode)
		out.ambiguous = (op == OpREST || op == OpSOAP) && statusCode >= 500
		return out
	}
	switch op {
	case OpREST, OpRepeat:
		a, ok := parseRESTAck(data)
		if !ok || len(a.id) == 0 || string(a.externalID) != externalID {
			out.kind = KindBadResponse
			out.ambiguous = op == OpREST
			return out
		}
		if op == OpRepeat {
			if string(a.id) != prev.id {
				out.kind = KindReplayMismatch
			}
			return out
		}
		id := string(a.id)
		out.ack = &Ack{ID: id, ExternalID: externalID, Channel: "rest"}
		r.pool.add(pooled{id: id, externalID: externalID, token: string(a.token), index: j.arr.Index})
	case OpSOAP:
		sr, err := parseSOAPResponse(data, cfg.SOAP.IDElements)
		switch {
		case err != nil:
			out.kind, out.ambiguous = KindBadResponse, true
		case sr.fault != "":
			out.kind, out.ambiguous = KindSOAPFault, true
		default:
			out.ack = &Ack{ID: sr.id, ExternalID: externalID, Channel: "soap"}
		}
	}
	return out
}

// roundTrip sends spec with the raw client or net/http and returns the
// status and up to 64 KiB of the body (valid until the next call).
func (w *worker) roundTrip(ctx context.Context, deadline time.Time, spec *reqSpec) (int, []byte, error) {
	if w.x != nil {
		if w.r.basePath != "" {
			spec.path = w.r.basePath + spec.path
		}
		return w.x.do(ctx, spec, deadline)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var rd io.Reader
	if spec.body != nil {
		// A copy: the transport may still read the body after Do returns
		// an error, and w.body is reused.
		rd = bytes.NewReader(bytes.Clone(spec.body))
	}
	req, err := http.NewRequestWithContext(ctx, spec.method, w.r.cfg.Target+spec.path, rd)
	if err != nil {
		return 0, nil, err
	}
	for _, h := range spec.header {
		req.Header.Set(h[0], h[1])
	}
	resp, err := w.r.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	// Read what we need, discard the rest so the connection is reused.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRawBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// classifyNetError names a transport failure.
func classifyNetError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return KindReset
	default:
		return KindTransport
	}
}
