package tracking

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// HubConfig configures a Hub.
type HubConfig struct {
	// Client is the shared Redis. Required.
	Client redis.UniversalClient
	// Store reads timelines for SSE replay. Required.
	Store *Store
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives erpgate_tracking_streams_active; nil registers nothing.
	Registerer prometheus.Registerer
	// Buffer is each subscriber's channel capacity, and how many events a
	// stream ServeSSE handed over may have waiting to be written; default 8.
	// A subscriber that falls this far behind is dropped and must resync
	// from the timeline (ServeSSE does; a handed-over stream is resynced by
	// the Hub), so one slow client never holds memory.
	Buffer int
	// Block bounds one XREAD BLOCK on the feed, which bounds how long Run
	// takes to notice cancellation; default 2s.
	Block time.Duration
	// Poll, when positive, replaces the blocking read: the feed is read
	// without BLOCK, and after a read that found nothing Run waits Poll.
	// For the embedded Redis (miniredis), which re-runs a blocked XREAD —
	// a scan of the whole feed — after every command any client sends:
	// under load that scan was most of its work and held deliveries to a
	// few dozen a second. Events then reach live streams up to Poll later.
	Poll time.Duration
	// RetryDelay is the pause after a failed feed read; default 500ms.
	RetryDelay time.Duration
	// Writers is the number of goroutines that write live events and
	// heartbeats to the streams ServeSSE handed over to the Hub (see
	// ServeSSE); default 4 per CPU, at least 8. A client that cannot take a
	// write occupies one of them for at most WriteTimeout.
	Writers int
	// WriteTimeout bounds one write to a handed-over stream; default 5s. A
	// client that cannot take an event or heartbeat within it (its socket
	// buffers are full: it stopped reading) is disconnected and resumes
	// with Last-Event-ID when it comes back.
	WriteTimeout time.Duration

	// OnFeed, if set, is called by Run synchronously for every trk:feed
	// entry it reads, in feed order, with the entry's order id, before the
	// entry's event is fanned out. An entry without an order id names
	// nothing and is skipped. It runs on Run's goroutine: keep it short
	// (the tracking read cache invalidates the order with it).
	OnFeed func(orderID string)
	// OnGap, if set, is called whenever the Hub cannot vouch that OnFeed
	// saw every feed entry since OnGap's previous call: when Run has fixed
	// its start position (entries before it were never read; called before
	// Ready is closed), after a failed feed read before retrying it (the
	// feed may have been trimmed or replaced meanwhile), and when Run
	// stops (nothing is read any more). It runs on Run's goroutine.
	OnGap func()

	// noHangupWatch leaves vanished clients to the heartbeat (tests).
	noHangupWatch bool
}

// Hub fans timeline events out to the subscribers of this process. Each
// gateway instance runs one Hub; it follows every partition's feed
// (trk:feed:T), one reader goroutine per partition handing what it reads to
// Run's goroutine, so events appended by any instance reach the subscribers
// of every instance, and one order's events (all on its partition's feed)
// in feed order.
// Only events of orders with a local subscriber are read from their
// timelines. The Hub also owns the SSE connections ServeSSE took over: its
// writer goroutines write their live events and heartbeats (sse_conn.go).
type Hub struct {
	rdb      redis.UniversalClient
	feeds    []string // the feed of every partition
	store    *Store
	log      *slog.Logger
	buffer   int
	block    time.Duration
	poll     time.Duration
	retry    time.Duration
	writers  int
	wtimeout time.Duration
	onFeed   func(string)
	onGap    func()
	active   prometheus.Gauge
	fanout   prometheus.Histogram // recorded → written to a taken-over connection

	ready     chan struct{} // closed once Run knows its start position
	readyOnce sync.Once

	mu      sync.Mutex
	subs    map[string]map[*subscriber]struct{}
	beats   map[time.Duration]*beatGroup // handed-over streams by heartbeat interval
	stopped bool

	// The run queue of handed-over streams with something to write, served
	// by the writer goroutines (sse_conn.go). Lock order: mu, then a
	// stream's mu, then runMu.
	runMu   sync.Mutex
	runCond *sync.Cond
	runq    []*connStream
	runDone bool
	workers sync.WaitGroup // writers, heartbeats, hangup watcher
	quit    chan struct{}  // closed when Run stops

	noHangupWatch bool
	hangups       hangupWatcher // set by Run; nil: heartbeats only
}

// subscriber is one subscription: a channel (Subscribe, and ServeSSE when
// it cannot take the connection over) or a handed-over connection.
type subscriber struct {
	ch     chan Event
	cs     *connStream
	closed bool // guarded by Hub.mu
}

// NewHub returns a Hub; start it with Run.
func NewHub(cfg HubConfig) (*Hub, error) {
	if cfg.Client == nil || cfg.Store == nil {
		return nil, errors.New("tracking: HubConfig.Client and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 8
	}
	if cfg.Block <= 0 {
		cfg.Block = 2 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 500 * time.Millisecond
	}
	if cfg.Writers <= 0 {
		cfg.Writers = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	active, err := register(cfg.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "erpgate_tracking_streams_active",
		Help: "Live tracking event streams (SSE clients) open on this instance.",
	}))
	if err != nil {
		return nil, err
	}
	fanout, err := register(cfg.Registerer, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "erpgate_tracking_fanout_seconds",
		Help:    "From an event's append to Redis (its entry id's time, Redis's clock) to its write to a live stream's connection, per stream.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}))
	if err != nil {
		return nil, err
	}
	h := &Hub{
		fanout: fanout,
		rdb:    cfg.Client, feeds: feedKeys(cfg.Store.space), store: cfg.Store, log: cfg.Logger, buffer: cfg.Buffer,
		block: cfg.Block, poll: cfg.Poll, retry: cfg.RetryDelay, writers: cfg.Writers, wtimeout: cfg.WriteTimeout,
		onFeed: cfg.OnFeed, onGap: cfg.OnGap, active: active,
		ready: make(chan struct{}), subs: make(map[string]map[*subscriber]struct{}),
		beats: make(map[time.Duration]*beatGroup), quit: make(chan struct{}), noHangupWatch: cfg.noHangupWatch,
	}
	h.runCond = sync.NewCond(&h.runMu)
	return h, nil
}

// Ready is closed once Run has fixed its position on the feed: every event
// appended after that reaches subscribers.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run follows the feed until ctx is done, then closes every subscription and
// every stream handed over to it, and returns nil once its goroutines have
// ended. Read errors are logged and retried from the last position, so a
// Redis hiccup delays events but loses none (unless the feed was trimmed
// past the position meanwhile). Run must be called once.
func (h *Hub) Run(ctx context.Context) error {
	defer h.stop()
	last, err := h.start(ctx)
	if err != nil {
		return nil // ctx done
	}
	h.startWriters(ctx)
	h.gap()
	h.readyOnce.Do(func() { close(h.ready) })
	var readers sync.WaitGroup
	defer readers.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel() // before readers.Wait
	got := make(chan feedRead)
	for p := range h.feeds {
		readers.Go(func() { h.follow(rctx, p, last[p], got) })
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-got:
			if r.err != nil {
				h.gap()
				continue
			}
			if h.onFeed != nil {
				for _, m := range r.msgs {
					if o, _ := m.Values["o"].(string); o != "" {
						h.onFeed(o)
					}
				}
			}
			h.dispatch(ctx, r.msgs)
		}
	}
}

// feedRead is what a partition's reader hands to Run: entries read, or a
// read error (the feed may have been trimmed or replaced: a gap).
type feedRead struct {
	msgs []redis.XMessage
	err  error
}

// follow reads partition p's feed after last until ctx is done and hands
// what it reads to out. Read errors are logged and retried from the last
// position.
func (h *Hub) follow(ctx context.Context, p int, last string, out chan<- feedRead) {
	send := func(r feedRead) bool {
		select {
		case out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		args := &redis.XReadArgs{Streams: []string{h.feeds[p], last}, Count: 1000, Block: h.block}
		if h.poll > 0 {
			args.Block = -1 // no BLOCK: answers at once, nil when there is nothing new
		}
		res, err := h.rdb.XRead(ctx, args).Result()
		if errors.Is(err, redis.Nil) {
			if h.poll > 0 {
				sleep(ctx, h.poll)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("tracking hub: reading feed failed; retrying", "partition", p, "err", err)
			if !send(feedRead{err: err}) {
				return
			}
			sleep(ctx, h.retry)
			continue
		}
		for _, st := range res {
			if len(st.Messages) == 0 {
				continue
			}
			if !send(feedRead{msgs: st.Messages}) {
				return
			}
			last = st.Messages[len(st.Messages)-1].ID
		}
	}
}

// gap calls OnGap, if set.
func (h *Hub) gap() {
	if h.onGap != nil {
		h.onGap()
	}
}

// start returns, per partition, the id of the newest feed entry ("0-0"
// for an empty feed), retrying until Redis answers or ctx is done. An
// explicit id instead of "$" makes the position fixed before Ready, so
// nothing slips between a subscriber's history read and the first XREAD.
func (h *Hub) start(ctx context.Context) ([]string, error) {
	for {
		cmds := make([]*redis.XMessageSliceCmd, len(h.feeds))
		_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, f := range h.feeds {
				cmds[i] = p.XRevRangeN(ctx, f, "+", "-", 1)
			}
			return nil
		})
		if err == nil {
			last := make([]string, len(h.feeds))
			for i, c := range cmds {
				last[i] = "0-0"
				if msgs := c.Val(); len(msgs) > 0 {
					last[i] = msgs[0].ID
				}
			}
			return last, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.log.Warn("tracking hub: reading feed position failed; retrying", "err", err)
		sleep(ctx, h.retry)
	}
}

// dispatch reads the events announced in msgs that have local subscribers
// (one pipelined round trip) and hands them out in feed order.
func (h *Hub) dispatch(ctx context.Context, msgs []redis.XMessage) {
	type ref struct{ order, id string }
	var refs []ref
	h.mu.Lock()
	for _, m := range msgs {
		o, _ := m.Values["o"].(string)
		id, _ := m.Values["e"].(string)
		if len(h.subs[o]) > 0 && ValidID(id) {
			refs = append(refs, ref{o, id})
		}
	}
	h.mu.Unlock()
	if len(refs) == 0 {
		return
	}
	cmds := make([]*redis.XMessageSliceCmd, len(refs))
	_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range refs {
			cmds[i] = p.XRange(ctx, h.store.StreamKey(r.order), r.id, r.id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		// The subscribers of these orders would miss events: make them resync.
		h.log.Warn("tracking hub: reading announced events failed; resyncing subscribers", "err", err)
		h.mu.Lock()
		for _, r := range refs {
			for s := range h.subs[r.order] {
				if s.cs != nil {
					h.resyncConn(s.cs)
				} else {
					h.drop(r.order, s)
				}
			}
		}
		h.mu.Unlock()
		return
	}
	for i, r := range refs {
		msgs, _ := cmds[i].Result()
		if len(msgs) != 1 {
			continue
		}
		e, err := decodeEntry(msgs[0])
		if err != nil {
			h.log.Error("tracking hub: undecodable event", "order", r.order, "err", err)
			continue
		}
		h.publish(r.order, e)
	}
}

// publish hands e to the order's local subscribers without ever blocking: a
// channel subscriber whose buffer is full is dropped (its channel closed),
// which tells it to resync from the timeline; a connection whose pending
// list is full is resynced from the timeline by the Hub.
func (h *Hub) publish(orderID string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var f *sseFrame // encoded once for every connection subscriber
	for s := range h.subs[orderID] {
		if s.cs != nil {
			if f == nil {
				f = newFrame(e)
			}
			h.push(s.cs, f)
			continue
		}
		select {
		case s.ch <- e:
		default:
			h.drop(orderID, s)
		}
	}
}

// drop closes and forgets s (a channel or a connection). h.mu must be held.
func (h *Hub) drop(orderID string, s *subscriber) {
	if s.closed {
		return
	}
	s.closed = true
	if s.cs != nil {
		h.dropConn(s.cs)
	} else {
		close(s.ch)
	}
	set := h.subs[orderID]
	delete(set, s)
	if len(set) == 0 {
		delete(h.subs, orderID)
	}
}

// Subscribe returns a channel that receives the order's new events (as
// announced after Ready) and a cancel func that must be called when done. The
// channel is closed when the subscriber fell behind (resync from the
// timeline, then subscribe again), or when the Hub stopped (Stopped reports
// true). Events may repeat ones already read from the timeline: dedupe by id.
func (h *Hub) Subscribe(orderID string) (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, h.buffer)}
	h.mu.Lock()
	if h.stopped {
		s.closed = true
		close(s.ch)
		h.mu.Unlock()
		return s.ch, func() {}
	}
	set := h.subs[orderID]
	if set == nil {
		set = make(map[*subscriber]struct{})
		h.subs[orderID] = set
	}
	set[s] = struct{}{}
	h.mu.Unlock()
	return s.ch, func() {
		h.mu.Lock()
		h.drop(orderID, s)
		h.mu.Unlock()
	}
}

// Stopped reports whether Run has returned; a stopped Hub delivers nothing.
func (h *Hub) Stopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped
}

// Subscribers returns the number of local subscriptions (for tests and debug).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.subs {
		n += len(set)
	}
	return n
}

// stop ends Run: it closes every subscription and connection, waits for
// the writer and heartbeat goroutines, and reports the gap.
func (h *Hub) stop() {
	h.mu.Lock()
	h.stopped = true
	for o, set := range h.subs {
		for s := range set {
			h.drop(o, s)
		}
	}
	h.mu.Unlock()
	h.stopWriters()
	h.gap()
	// Waiters on Ready must not hang on a Hub that never started.
	h.readyOnce.Do(func() { close(h.ready) })
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
