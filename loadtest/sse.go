package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The live tracking scenario: many customers watching their orders.
//
// RunSSE creates orders at a steady pace and, as soon as each is
// acknowledged, opens EventSource-style streams on its timeline
// (GET /v1/tracking/{id}/events?token=…), keeping every stream open until the
// end. The gateway then delivers each order to the ERP, and the resulting
// timeline event ("erp_received") is pushed to the order's open streams:
// the fan-out latency of an event is the time it was received minus the
// time the gateway recorded it: the millisecond part of its id, which is the
// Redis stream entry id of the event in the order's timeline (Redis's clock
// when the event was appended; on loopback the same clock as ours). The time
// in the payload is when the event happened at its source (an ERP status
// change, a supplier's document): received minus that is the event's age,
// reported apart (it includes the ERP's own push delay, which is no part of
// the gateway's fan-out). Events recorded before a stream was open are
// replayed on connect; they are counted as history and not as fan-out. Meanwhile RunSSE reads the gateway's /metrics every
// second for its resident memory (process_resident_memory_bytes) and the
// number of streams it holds (erpgate_tracking_streams_active).
//
// Each stream is one raw keep-alive connection read by one goroutine (no
// net/http client: its two goroutines and buffers per connection would cost
// the shared machine several times as much for 10,000 streams).

// SSEConfig configures RunSSE. Zero fields take the defaults named.
type SSEConfig struct {
	// Target is the gateway's base URL; loopback only unless AllowRemote.
	Target      string
	AllowRemote bool
	// ShopKey creates the orders (default the demo key).
	ShopKey string
	// Streams is how many streams to hold open at once (required, at most
	// MaxSSEStreams).
	Streams int
	// PerOrder is the number of streams on each order (default 1: one
	// customer per order); Streams/PerOrder orders are created.
	PerOrder int
	// OpenRate is orders created (and their streams opened) per second
	// (default 500).
	OpenRate float64
	// Hold is how long every stream stays open after the last one was
	// opened or failed (default 20s): the deliveries of the last orders and
	// the steady memory with all streams open fall in it.
	Hold time.Duration
	// Timeout bounds creating one order and opening one stream (default 10s).
	Timeout time.Duration
	// MaxLines is the largest generated order (default 3).
	MaxLines int
	// RunID prefixes the external ids (default a fresh one); Seed makes the
	// orders reproducible (default random).
	RunID string
	Seed  uint64
	// MetricsPath is where the gateway's Prometheus metrics are (default
	// "/metrics"); "-" reads none.
	MetricsPath string
	// Progress receives a line per second; nil for none.
	Progress io.Writer
}

// Limits and defaults of SSEConfig.
const (
	MaxSSEStreams      = 100_000
	DefaultSSEOpenRate = 500
	DefaultSSEHold     = 20 * time.Second
	sseCreators        = 32 // concurrent order creations
	sseReadBuffer      = 2048
)

// SSEResult is what RunSSE measured.
type SSEResult struct {
	RunID   string `json:"run_id"`
	Target  string `json:"target"`
	Streams int    `json:"streams"`
	// Orders counts orders acknowledged; OrderErrors the failed creations
	// by kind (their streams were not opened).
	Orders      int64            `json:"orders"`
	OrderErrors map[string]int64 `json:"order_errors,omitempty"`
	// Opened counts streams the gateway answered with 200
	// text/event-stream; OpenErrors the others by kind. PeakOpen is the
	// most streams open at once on the client side, Dropped how many the
	// gateway closed before the end.
	Opened     int64            `json:"opened"`
	OpenErrors map[string]int64 `json:"open_errors,omitempty"`
	PeakOpen   int64            `json:"peak_open"`
	Dropped    int64            `json:"dropped"`
	// Events counts every event received; Live those recorded after their
	// stream was open (the fan-out sample) and History the replayed ones.
	// LiveStreams counts streams that received at least one live event.
	Events      int64       `json:"events"`
	Live        int64       `json:"live"`
	History     int64       `json:"history"`
	LiveStreams int64       `json:"live_streams"`
	FanOut      Percentiles `json:"fan_out"`
	// EventAge is received minus the event's own time (its source's clock):
	// fan-out plus however long the source took to report it.
	EventAge Percentiles `json:"event_age"`
	// OpenLatency is from sending the stream request to its headers.
	OpenLatency Percentiles `json:"open_latency"`
	// The gateway's resident memory (bytes) at the start, the most seen
	// while streams were open, and at the end; 0 if unknown. ServerStreams
	// is the most erpgate_tracking_streams_active seen (-1 if unknown).
	RSSStart      int64         `json:"rss_start_bytes"`
	RSSPeak       int64         `json:"rss_peak_bytes"`
	RSSEnd        int64         `json:"rss_end_bytes"`
	ServerStreams float64       `json:"server_streams_max"`
	Elapsed       time.Duration `json:"elapsed_ns"`
}

func (c SSEConfig) withDefaults() (SSEConfig, error) {
	if c.Target == "" {
		c.Target = DefaultTarget
	}
	c.Target = strings.TrimRight(c.Target, "/")
	if !c.AllowRemote {
		if err := CheckLoopback(c.Target); err != nil {
			return c, err
		}
	}
	u, err := checkURL(c.Target)
	if err != nil {
		return c, err
	}
	if u.Scheme != "http" {
		return c, errors.New("sse: only http:// targets (streams use raw HTTP/1.1 connections)")
	}
	if c.Streams < 1 || c.Streams > MaxSSEStreams {
		return c, fmt.Errorf("sse: streams %d must be in [1, %d]", c.Streams, MaxSSEStreams)
	}
	if c.PerOrder == 0 {
		c.PerOrder = 1
	}
	if c.PerOrder < 1 || c.PerOrder > c.Streams {
		return c, fmt.Errorf("sse: streams per order %d must be in [1, %d]", c.PerOrder, c.Streams)
	}
	if c.OpenRate == 0 {
		c.OpenRate = DefaultSSEOpenRate
	}
	if c.OpenRate < 0 || c.OpenRate > 1e6 {
		return c, fmt.Errorf("sse: open rate %g must be in (0, 1e6]", c.OpenRate)
	}
	if c.Hold == 0 {
		c.Hold = DefaultSSEHold
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Hold < 0 || c.Timeout < 0 {
		return c, errors.New("sse: hold and timeout must not be negative")
	}
	if c.MaxLines == 0 {
		c.MaxLines = 3
	}
	if c.MaxLines < 1 || c.MaxLines > MaxMaxLines {
		return c, fmt.Errorf("sse: max lines %d must be in [1, %d]", c.MaxLines, MaxMaxLines)
	}
	if c.ShopKey == "" {
		c.ShopKey = DefaultShopKey
	}
	if c.RunID == "" {
		c.RunID = NewRunID(time.Now())
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.MetricsPath == "" {
		c.MetricsPath = "/metrics"
	}
	return c, nil
}

// sseRun is the state of one RunSSE.
type sseRun struct {
	cfg      SSEConfig
	rc       *rawClient
	basePath string

	mu          sync.Mutex
	fanOut      *Histogram
	eventAge    *Histogram
	openLat     *Histogram
	orderErrors map[string]int64
	openErrors  map[string]int64
	conns       map[net.Conn]struct{}
	closing     bool

	orders, opened, open, peakOpen, dropped atomic.Int64
	events, live, history, liveStreams      atomic.Int64

	rssStart, rssPeak, rssEnd atomic.Int64
	serverStreams             atomic.Int64 // float bits; -1 unknown
}

// RunSSE runs the live tracking scenario (see the comment above SSEConfig).
// It returns when every stream has been held for cfg.Hold after the last
// was opened, or when ctx ends (the result then covers what was done). It
// returns an error only for an invalid configuration.
func RunSSE(ctx context.Context, cfg SSEConfig) (*SSEResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.Target)
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	r := &sseRun{
		cfg: cfg, rc: newRawClient(addr, u.Host), basePath: strings.TrimRight(u.EscapedPath(), "/"),
		fanOut: NewHistogram(), eventAge: NewHistogram(), openLat: NewHistogram(),
		orderErrors: map[string]int64{}, openErrors: map[string]int64{}, conns: map[net.Conn]struct{}{},
	}
	r.serverStreams.Store(-1)
	return r.run(ctx), nil
}

func (r *sseRun) run(ctx context.Context) *SSEResult {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAbort := context.AfterFunc(ctx, r.rc.abortAll)
	defer stopAbort()

	metricsDone := make(chan struct{})
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	r.sampleMetrics(ctx) // the starting point
	r.rssStart.Store(r.rssPeak.Load())
	go func() {
		defer close(metricsDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-metricsCtx.Done():
				return
			case <-t.C:
				r.sampleMetrics(ctx)
				if r.cfg.Progress != nil {
					fmt.Fprintln(r.cfg.Progress, r.progressLine(time.Since(start)))
				}
			}
		}
	}()

	// Create the orders at the configured pace; each acknowledged one gets
	// its streams at once.
	nOrders := (r.cfg.Streams + r.cfg.PerOrder - 1) / r.cfg.PerOrder
	jobs := make(chan int, sseCreators)
	var creators, streams, opens sync.WaitGroup
	for w := range sseCreators {
		creators.Go(func() {
			x := &rawExchange{rc: r.rc, wbuf: make([]byte, 0, 2048)}
			defer x.close()
			rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(w)))
			today := time.Now().UTC()
			for i := range jobs {
				id, token, kind := r.createOrder(ctx, x, rng, today, i)
				if kind != "" {
					r.count(r.orderErrors, kind)
					continue
				}
				r.orders.Add(1)
				n := min(r.cfg.PerOrder, r.cfg.Streams-i*r.cfg.PerOrder)
				opens.Add(n)
				for range n {
					streams.Go(func() { r.stream(ctx, id, token, sync.OnceFunc(opens.Done)) })
				}
			}
		})
	}
	interval := time.Duration(float64(time.Second) / r.cfg.OpenRate)
	timer := time.NewTimer(0)
	<-timer.C
dispatch:
	for i := range nOrders {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break dispatch
			case <-timer.C:
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	creators.Wait()
	allOpen := make(chan struct{})
	go func() {
		opens.Wait()
		close(allOpen)
	}()
	select {
	case <-allOpen:
	case <-ctx.Done():
	}

	// Hold every stream open, then close them all.
	hold := time.NewTimer(r.cfg.Hold)
	select {
	case <-ctx.Done():
	case <-hold.C:
	}
	hold.Stop()
	r.sampleMetrics(ctx)
	r.closeAll()
	streams.Wait()
	stopMetrics()
	<-metricsDone
	r.sampleMetricsInto(context.Background(), &r.rssEnd)

	res := &SSEResult{
		RunID: r.cfg.RunID, Target: r.cfg.Target, Streams: r.cfg.Streams,
		Orders: r.orders.Load(), Opened: r.opened.Load(), PeakOpen: r.peakOpen.Load(), Dropped: r.dropped.Load(),
		Events: r.events.Load(), Live: r.live.Load(), History: r.history.Load(), LiveStreams: r.liveStreams.Load(),
		RSSStart: r.rssStart.Load(), RSSPeak: r.rssPeak.Load(), RSSEnd: r.rssEnd.Load(),
		ServerStreams: float64(r.serverStreams.Load()), Elapsed: time.Since(start),
	}
	r.mu.Lock()
	res.FanOut, res.EventAge, res.OpenLatency = r.fanOut.Summary(), r.eventAge.Summary(), r.openLat.Summary()
	if len(r.orderErrors) > 0 {
		res.OrderErrors = r.orderErrors
	}
	if len(r.openErrors) > 0 {
		res.OpenErrors = r.openErrors
	}
	r.mu.Unlock()
	return res
}

func (r *sseRun) count(m map[string]int64, kind string) {
	r.mu.Lock()
	m[kind]++
	r.mu.Unlock()
}

// createOrder posts order i and returns its id and tracking token, or the
// kind of failure.
func (r *sseRun) createOrder(ctx context.Context, x *rawExchange, rng *rand.Rand, today time.Time, i int) (id, token, kind string) {
	ext := r.cfg.RunID + "-s" + strconv.Itoa(i)
	o := genOrder(rng, ext, r.cfg.MaxLines, today)
	spec := reqSpec{
		method: http.MethodPost, path: r.basePath + "/v1/orders", body: o.appendJSON(nil), retryable: true,
		header: [][2]string{
			{"Authorization", "Bearer " + r.cfg.ShopKey}, {"Content-Type", "application/json"},
			{"Idempotency-Key", "idem-" + ext},
		},
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	status, body, err := x.do(cctx, &spec, time.Now().Add(r.cfg.Timeout))
	if err != nil {
		return "", "", classifyNetError(err)
	}
	if status != http.StatusAccepted {
		return "", "", "http_" + strconv.Itoa(status)
	}
	var a struct {
		ID       string `json:"id"`
		Tracking struct {
			Token string `json:"token"`
		} `json:"tracking"`
	}
	if json.Unmarshal(body, &a) != nil || a.ID == "" || a.Tracking.Token == "" {
		return "", "", KindBadResponse
	}
	return a.ID, a.Tracking.Token, ""
}

// stream opens one event stream on order id and reads it until the run
// closes it. It calls settled once the stream is open or has failed.
func (r *sseRun) stream(ctx context.Context, id, token string, settled func()) {
	defer settled()
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	c, err := r.rc.dialer.DialContext(dctx, "tcp", r.rc.addr)
	cancel()
	if err != nil {
		r.count(r.openErrors, classifyNetError(err))
		return
	}
	if !r.track(c) {
		c.Close()
		return
	}
	defer r.untrack(c)

	sent := time.Now()
	_ = c.SetDeadline(sent.Add(r.cfg.Timeout))
	req := "GET " + r.basePath + "/v1/tracking/" + url.PathEscape(id) + "/events?token=" + url.QueryEscape(token) +
		" HTTP/1.1\r\nHost: " + r.rc.host + "\r\nUser-Agent: erpgate-loadtest\r\nAccept: text/event-stream\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		r.count(r.openErrors, classifyNetError(err))
		return
	}
	br := bufio.NewReaderSize(c, sseReadBuffer)
	body, kind := readSSEHead(br)
	if kind != "" {
		if r.isClosing() {
			return
		}
		r.count(r.openErrors, kind)
		return
	}
	opened := time.Now()
	_ = c.SetDeadline(time.Time{}) // heartbeats every 15 s; the run ends the stream
	r.mu.Lock()
	r.openLat.Record(opened.Sub(sent))
	r.mu.Unlock()
	r.opened.Add(1)
	n := r.open.Add(1)
	for {
		p := r.peakOpen.Load()
		if n <= p || r.peakOpen.CompareAndSwap(p, n) {
			break
		}
	}
	defer r.open.Add(-1)
	settled()

	gotLive := false
	err = readSSEEvents(body, func(recorded, at, received time.Time) {
		r.events.Add(1)
		if recorded.Before(sent.Truncate(time.Millisecond)) {
			r.history.Add(1)
			return
		}
		r.live.Add(1)
		if !gotLive {
			gotLive = true
			r.liveStreams.Add(1)
		}
		r.mu.Lock()
		r.fanOut.Record(received.Sub(recorded))
		r.eventAge.Record(received.Sub(at))
		r.mu.Unlock()
	})
	if !r.isClosing() && ctx.Err() == nil {
		r.dropped.Add(1)
		kind := "closed_by_server"
		if err != nil && !errors.Is(err, io.EOF) {
			kind = classifyNetError(err)
		}
		r.count(r.openErrors, "dropped_"+kind)
	}
}

// readSSEHead reads the response head of a stream request and returns the
// event stream body, or the kind of failure.
func readSSEHead(br *bufio.Reader) (io.Reader, string) {
	line, err := readLine(br)
	if err != nil {
		return nil, classifyNetError(err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return nil, KindBadResponse
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, KindBadResponse
	}
	chunked, eventStream := false, false
	length := int64(-1)
	for range 100 {
		h, err := readLine(br)
		if err != nil {
			return nil, classifyNetError(err)
		}
		if len(h) == 0 {
			if status != http.StatusOK {
				return nil, "http_" + strconv.Itoa(status)
			}
			if !eventStream {
				return nil, KindBadResponse
			}
			switch {
			case chunked:
				return httputil.NewChunkedReader(br), ""
			case length >= 0:
				return io.LimitReader(br, length), ""
			}
			return br, ""
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return nil, KindBadResponse
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.ParseInt(string(v), 10, 64)
		case bytes.EqualFold(k, []byte("Content-Type")):
			eventStream = bytes.HasPrefix(v, []byte("text/event-stream"))
		}
	}
	return nil, KindBadResponse
}

// readSSEEvents reads Server-Sent Events from body until it ends, calling
// event with when the event was recorded (the milliseconds of its id, a
// Redis stream entry id "<ms>-<seq>"), the "time" of its JSON data and when
// it was read. Comments (heartbeats) and retry lines are skipped; an event
// without such an id counts as recorded at its data's time, one whose data
// has no time as happened when read.
func readSSEEvents(body io.Reader, event func(recorded, at, received time.Time)) error {
	br := bufio.NewReaderSize(body, sseReadBuffer)
	var data []byte
	var recorded time.Time
	hasData := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: collect it whole.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			return err
		}
		received := time.Now()
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0: // end of an event
			if hasData {
				var e struct {
					Time time.Time `json:"time"`
				}
				if json.Unmarshal(data, &e) != nil || e.Time.IsZero() {
					e.Time = received
				}
				if recorded.IsZero() {
					recorded = e.Time
				}
				event(recorded, e.Time, received)
				data, hasData = data[:0], false
			}
			recorded = time.Time{}
		case bytes.HasPrefix(line, []byte("id:")):
			recorded = entryTime(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("id:")), []byte(" ")))
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, d...), true
		}
	}
}

func (r *sseRun) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *sseRun) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *sseRun) isClosing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// closeAll ends every stream (the end of the run).
func (r *sseRun) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
	for c := range r.conns {
		_ = c.SetDeadline(time.Unix(1, 0))
	}
}

// sampleMetrics reads the gateway's resident memory and open streams and
// keeps the peaks.
func (r *sseRun) sampleMetrics(ctx context.Context) {
	var rss atomic.Int64
	r.sampleMetricsInto(ctx, &rss)
	for v := rss.Load(); ; {
		p := r.rssPeak.Load()
		if v <= p || r.rssPeak.CompareAndSwap(p, v) {
			break
		}
	}
}

var metricsClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func (r *sseRun) sampleMetricsInto(ctx context.Context, rss *atomic.Int64) {
	if r.cfg.MetricsPath == "-" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.Target+r.cfg.MetricsPath, nil)
	if err != nil {
		return
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	m := parseMetrics(io.LimitReader(resp.Body, 8<<20), "process_resident_memory_bytes", "erpgate_tracking_streams_active")
	if v, ok := m["process_resident_memory_bytes"]; ok {
		rss.Store(int64(v))
	}
	if v, ok := m["erpgate_tracking_streams_active"]; ok {
		for {
			p := r.serverStreams.Load()
			if int64(v) <= p || r.serverStreams.CompareAndSwap(p, int64(v)) {
				break
			}
		}
	}
}

// parseMetrics returns the values of the named unlabelled series in a
// Prometheus text exposition.
func parseMetrics(body io.Reader, names ...string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		for _, n := range names {
			if name == n {
				if f, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil {
					out[n] = f
				}
			}
		}
	}
	return out
}

func (r *sseRun) progressLine(elapsed time.Duration) string {
	r.mu.Lock()
	p99 := r.fanOut.Quantile(0.99)
	r.mu.Unlock()
	return fmt.Sprintf("%4.0fs  orders %d  open %d/%d  live events %d (p99 %s)  history %d  dropped %d  gateway RSS %.0f MiB",
		elapsed.Seconds(), r.orders.Load(), r.open.Load(), r.cfg.Streams, r.live.Load(), fmtDur(p99),
		r.history.Load(), r.dropped.Load(), float64(r.rssPeak.Load())/(1<<20))
}

// WriteSSEText writes the human summary of an SSE run.
func WriteSSEText(w io.Writer, res *SSEResult) error {
	var b strings.Builder
	mib := func(v int64) string {
		if v <= 0 {
			return "?"
		}
		return fmt.Sprintf("%.0f MiB", float64(v)/(1<<20))
	}
	fmt.Fprintf(&b, "run %s  target %s  live tracking streams\n", res.RunID, res.Target)
	fmt.Fprintf(&b, "streams %d  orders %d  opened %d  peak open %d  dropped %d  elapsed %s\n",
		res.Streams, res.Orders, res.Opened, res.PeakOpen, res.Dropped, res.Elapsed.Round(time.Millisecond))
	if len(res.OrderErrors) > 0 {
		b.WriteString("order errors: " + fmtKinds(res.OrderErrors) + "\n")
	}
	if len(res.OpenErrors) > 0 {
		b.WriteString("stream errors: " + fmtKinds(res.OpenErrors) + "\n")
	}
	server := "?"
	if res.ServerStreams >= 0 {
		server = strconv.FormatFloat(res.ServerStreams, 'f', 0, 64)
	}
	fmt.Fprintf(&b, "gateway RSS start %s  peak %s  end %s  server streams (max) %s\n",
		mib(res.RSSStart), mib(res.RSSPeak), mib(res.RSSEnd), server)
	fmt.Fprintf(&b, "events %d: live %d on %d streams, history %d\n\n", res.Events, res.Live, res.LiveStreams, res.History)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tcount\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"fan-out", res.FanOut}, {"event age", res.EventAge}, {"stream open", res.OpenLatency}} {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.p.Count,
			fmtDur(row.p.P50), fmtDur(row.p.P90), fmtDur(row.p.P99), fmtDur(row.p.P999), fmtDur(row.p.Max))
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// entryTime returns the time in a Redis stream entry id "<ms>-<seq>", or
// zero for anything else.
func entryTime(id []byte) time.Time {
	ms, _, ok := bytes.Cut(id, []byte("-"))
	if !ok {
		return time.Time{}
	}
	n, err := strconv.ParseInt(string(ms), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}
