package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Streams on taken-over connections.
//
// A stream held by a handler goroutine costs that goroutine's stack (deep:
// the router and middleware are below it), net/http's background reader,
// the connection's read and write buffers, the chunking writer, a ticker and
// a channel — some 60 KB each, 600 MB for 10,000 customers watching their
// orders. So for HTTP/1.x ServeSSE takes the connection over (Hijack),
// writes the response head and the history itself and hands the bare
// net.Conn to the Hub; the handler returns and all of that is freed. The
// Hub then keeps per stream only the connection, a small struct and the
// events not yet written:
//
//   - publish appends each event (encoded once per event, whatever the
//     number of streams) to the stream's pending list and puts the stream
//     on the run queue; when the list is full (Buffer) it is emptied and
//     the stream marked for a resync: its writer reads the timeline after
//     the last event written, so the stream goes on without gap or repeat;
//   - a fixed pool of writer goroutines takes streams off the run queue
//     and writes their pending events in one write with a deadline
//     (WriteTimeout): a client that does not read cannot hold a writer
//     longer than that, and is closed (it resumes with Last-Event-ID);
//   - one goroutine per heartbeat interval marks every stream for a
//     ": ping" once per interval, as the handler's ticker did (a failed
//     ping write detects a client that vanished without closing), a slice
//     of the streams at a time so that the pings do not come in one burst;
//   - a client that closes its connection is noticed at once by a hangup
//     watcher (epoll on Linux, sse_hangup_linux.go; elsewhere one small
//     reading goroutine per connection), as net/http's background reader
//     noticed it before;
//   - Run's end closes every stream: http.Server.Shutdown does not know
//     taken-over connections.
//
// Over HTTP/2, or with a writer that cannot be taken over (a test
// recorder, a wrapping middleware), ServeSSE keeps the stream on its own
// goroutine instead (serveGoroutine in sse.go).

// sseFrame is one event in SSE framing, shared by every stream it goes to.
type sseFrame struct {
	id string
	b  []byte
}

func newFrame(e Event) *sseFrame {
	var b bytes.Buffer
	if err := appendSSE(&b, e); err != nil {
		// An Event always marshals; keep the stream's framing intact anyway.
		b.Reset()
		b.WriteString("id: " + e.ID + "\nevent: message\ndata: {}\n\n")
	}
	return &sseFrame{id: e.ID, b: b.Bytes()}
}

// connStream is one live stream on a taken-over connection.
type connStream struct {
	conn   net.Conn
	order  string
	beat   time.Duration
	active prometheus.Gauge
	sub    *subscriber // the current subscription; guarded by Hub.mu
	token  uint64      // the hangup watcher's handle; guarded by the watcher
	slot   int         // heartbeat slot in its beatGroup; guarded by Hub.mu

	mu       sync.Mutex
	last     string      // id of the newest event written
	pending  []*sseFrame // published, not written yet
	ping     bool        // a heartbeat is due
	queued   bool        // on the run queue or being written by a writer
	attached bool        // handed over: the Hub's writers write it
	resync   bool        // pending overflowed: read the timeline after last
	closed   bool
}

// close closes the connection and counts the stream out, once.
func (cs *connStream) close() bool {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return false
	}
	cs.closed = true
	cs.pending = nil
	cs.mu.Unlock()
	cs.conn.Close()
	cs.active.Dec()
	return true
}

// beatGroup holds the handed-over streams with one heartbeat interval,
// spread over slots that are visited in turn (one every interval/slots), so
// that 10,000 heartbeats are not written in one burst that delays events.
type beatGroup struct {
	slots []map[*connStream]struct{} // guarded by Hub.mu
	n     int                        // streams in all slots
	next  int                        // slot the next stream goes to
}

// maxBeatSlots bounds the slots of a group; an interval is never cut finer
// than beatSlotMin.
const (
	maxBeatSlots = 16
	beatSlotMin  = 50 * time.Millisecond
)

func newBeatGroup(d time.Duration) *beatGroup {
	n := int(min(max(d/beatSlotMin, 1), maxBeatSlots))
	g := &beatGroup{slots: make([]map[*connStream]struct{}, n)}
	for i := range g.slots {
		g.slots[i] = make(map[*connStream]struct{})
	}
	return g
}

func (g *beatGroup) add(cs *connStream) {
	cs.slot = g.next
	g.next = (g.next + 1) % len(g.slots)
	g.slots[cs.slot][cs] = struct{}{}
	g.n++
}

func (g *beatGroup) remove(cs *connStream) {
	if _, ok := g.slots[cs.slot][cs]; ok {
		delete(g.slots[cs.slot], cs)
		g.n--
	}
}

// handover results.
const (
	handedOver = iota
	handResync
	handStopped
)

var _ hangupWatcher = readWatcher{}

// connChunk bounds one write of history: each chunk gets WriteTimeout.
const connChunk = 32 << 10

// serveConn streams on the connection behind w if w lets it be taken over
// (HTTP/1.x). ok is false if it does not; w is then untouched (apart from
// the headers ServeSSE set). Otherwise the stream is live in the Hub, or
// already over, when serveConn returns.
func (h *Hub) serveConn(ctx context.Context, w http.ResponseWriter, orderID, lastEventID string, heartbeat time.Duration) (ok bool) {
	hd := w.Header().Clone() // what the middleware set, e.g. X-Request-Id
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// Whatever the client sent after the request is never read: this is the
	// connection's last response (Connection: close, body until close).
	h.active.Inc()
	cs := &connStream{conn: conn, order: orderID, beat: heartbeat, active: h.active, last: lastEventID}
	if !h.subscribeConn(cs) {
		cs.close()
		return true
	}
	// The head goes out with the first history, in one write.
	var buf bytes.Buffer
	buf.Write(responseHead(hd))
	buf.WriteString("retry: " + strconv.Itoa(SSERetry) + "\n\n")
	for {
		for {
			evs, err := h.store.Since(ctx, orderID, cs.lastID())
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("tracking sse: reading timeline failed", "order", orderID, "err", err)
				}
				// A stream that ends after its head makes EventSource
				// reconnect; an error status would make it give up.
				_ = h.writeConn(conn, buf.Bytes())
				h.abandon(cs)
				return true
			}
			last := appendNewer(&buf, evs, cs.lastID())
			if h.writeConn(conn, buf.Bytes()) != nil {
				h.abandon(cs)
				return true
			}
			buf.Reset()
			cs.setLast(last)
			if len(evs) < MaxTimeline {
				break // caught up; the subscription covers the rest
			}
		}
		switch h.handover(cs) {
		case handedOver:
			return true
		case handStopped:
			cs.close()
			return true
		}
		// Fell behind while reading the timeline: read on from there.
	}
}

// appendNewer appends the events of evs newer than last to buf and returns
// the id of the newest one appended (last if none).
func appendNewer(buf *bytes.Buffer, evs []Event, last string) string {
	for _, e := range evs {
		if last != "" && CompareIDs(e.ID, last) <= 0 {
			continue
		}
		if appendSSE(buf, e) == nil {
			last = e.ID
		}
	}
	return last
}

// responseHead is the head of a stream's response: the headers set on the
// ResponseWriter, the body running until the connection closes.
func responseHead(hd http.Header) []byte {
	hd.Del("Content-Length")
	hd.Del("Transfer-Encoding")
	hd.Set("Connection", "close")
	if _, ok := hd["Date"]; !ok {
		hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	hd.Write(&b) // sorted; newlines in values become spaces
	b.WriteString("\r\n")
	return b.Bytes()
}

// writeConn writes b in chunks, each within WriteTimeout.
func (h *Hub) writeConn(conn net.Conn, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), connChunk)
		_ = conn.SetWriteDeadline(time.Now().Add(h.wtimeout))
		if _, err := conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (cs *connStream) lastID() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.last
}

func (cs *connStream) setLast(id string) {
	cs.mu.Lock()
	cs.last = id
	cs.mu.Unlock()
}

// subscribeConn subscribes cs to its order; false if the Hub stopped.
func (h *Hub) subscribeConn(cs *connStream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	s := &subscriber{cs: cs}
	cs.sub = s
	set := h.subs[cs.order]
	if set == nil {
		set = make(map[*subscriber]struct{}, 1)
		h.subs[cs.order] = set
	}
	set[s] = struct{}{}
	return true
}

// handover gives cs to the writers, unless it fell behind meanwhile
// (handResync: read the timeline again) or the Hub stopped.
func (h *Hub) handover(cs *connStream) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return handStopped
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.resync {
		cs.resync = false
		return handResync
	}
	cs.attached = true
	g := h.beats[cs.beat]
	if g == nil {
		g = newBeatGroup(cs.beat)
		h.beats[cs.beat] = g
		d := cs.beat
		h.workers.Go(func() { h.beatLoop(d, g) })
	}
	g.add(cs)
	if len(cs.pending) > 0 {
		h.schedule(cs)
	}
	if h.hangups != nil {
		h.hangups.watch(cs)
	}
	return handedOver
}

// abandon ends a stream that failed before its handover.
func (h *Hub) abandon(cs *connStream) {
	h.mu.Lock()
	if cs.sub != nil {
		h.drop(cs.order, cs.sub)
	}
	h.mu.Unlock()
	cs.close()
}

// closeConn ends a handed-over stream (write failed, client hung up).
func (h *Hub) closeConn(cs *connStream) {
	h.mu.Lock()
	if cs.sub != nil {
		h.drop(cs.order, cs.sub) // closes it
	}
	h.mu.Unlock()
	cs.close() // in case it was dropped before without being closed
}

// push queues f for cs; a full pending list is replaced by a resync.
// h.mu is held.
func (h *Hub) push(cs *connStream, f *sseFrame) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return
	}
	if cs.resync || len(cs.pending) >= h.buffer {
		// The timeline has every event the list would hold: hold none.
		cs.resync, cs.pending = true, nil
	} else {
		cs.pending = append(cs.pending, f)
	}
	if cs.attached {
		h.schedule(cs)
	}
}

// resyncConn makes cs read the timeline after the last event it wrote
// instead of its pending events. h.mu is held.
func (h *Hub) resyncConn(cs *connStream) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return
	}
	cs.resync, cs.pending = true, nil
	if cs.attached {
		h.schedule(cs)
	}
}

// dropConn closes a dropped connection subscriber. h.mu is held.
func (h *Hub) dropConn(cs *connStream) {
	cs.mu.Lock()
	attached := cs.attached
	cs.mu.Unlock()
	if g := h.beats[cs.beat]; g != nil {
		g.remove(cs)
	}
	if h.hangups != nil && attached {
		h.hangups.forget(cs)
	}
	cs.close()
}

// schedule puts cs on the run queue unless it is there or being written.
// cs.mu is held.
func (h *Hub) schedule(cs *connStream) {
	if cs.queued || cs.closed {
		return
	}
	cs.queued = true
	h.runMu.Lock()
	if !h.runDone {
		h.runq = append(h.runq, cs)
		h.runCond.Signal()
	}
	h.runMu.Unlock()
}

// startWriters starts the writer goroutines and the hangup watcher. ctx
// (Run's) bounds the writers' timeline reads.
func (h *Hub) startWriters(ctx context.Context) {
	if !h.noHangupWatch {
		h.hangups = newHangupWatcher(h)
	}
	for range h.writers {
		h.workers.Go(func() { h.writeLoop(ctx) })
	}
}

// stopWriters ends the writers, heartbeats and the hangup watcher (every
// stream is closed by then, so no write blocks) and waits for them.
func (h *Hub) stopWriters() {
	h.runMu.Lock()
	h.runDone = true
	h.runq = nil
	h.runCond.Broadcast()
	h.runMu.Unlock()
	close(h.quit)
	if h.hangups != nil {
		h.hangups.stop()
	}
	h.workers.Wait()
}

func (h *Hub) writeLoop(ctx context.Context) {
	var buf bytes.Buffer
	for {
		h.runMu.Lock()
		for len(h.runq) == 0 && !h.runDone {
			h.runCond.Wait()
		}
		if h.runDone {
			h.runMu.Unlock()
			return
		}
		cs := h.runq[0]
		h.runq[0] = nil
		h.runq = h.runq[1:]
		h.runMu.Unlock()
		h.writeStream(ctx, cs, &buf)
		if buf.Cap() > 64<<10 {
			buf = bytes.Buffer{} // one large batch does not pin its buffer
		}
	}
}

// writeStream writes what cs has to send — the timeline after the last
// event written if it fell behind, its pending events newer than that, or
// else a due heartbeat — until nothing is left, then takes cs off the run
// queue. A failed or timed-out write, or a failed timeline read, closes the
// stream (its client resumes with Last-Event-ID).
func (h *Hub) writeStream(ctx context.Context, cs *connStream, buf *bytes.Buffer) {
	for {
		cs.mu.Lock()
		frames, ping, resync, last := cs.pending, cs.ping, cs.resync, cs.last
		cs.pending, cs.ping, cs.resync = nil, false, false
		if cs.closed || len(frames) == 0 && !ping && !resync {
			cs.queued = false
			cs.mu.Unlock()
			return
		}
		cs.mu.Unlock()
		buf.Reset()
		if resync {
			for {
				evs, err := h.store.Since(ctx, cs.order, last)
				if err != nil {
					h.log.Debug("tracking sse: resync from the timeline failed; closing the stream", "order", cs.order, "err", err)
					h.endWrite(cs)
					return
				}
				last = appendNewer(buf, evs, last)
				if len(evs) < MaxTimeline {
					break
				}
			}
		}
		live := 0
		for _, f := range frames {
			if last != "" && CompareIDs(f.id, last) <= 0 {
				continue
			}
			buf.Write(f.b)
			last = f.id
			frames[live] = f
			live++
		}
		if buf.Len() == 0 && ping {
			buf.WriteString(": ping\n\n")
		}
		if buf.Len() > 0 && h.writeConn(cs.conn, buf.Bytes()) != nil {
			h.endWrite(cs)
			return
		}
		if live > 0 {
			now := time.Now().UnixMilli()
			for _, f := range frames[:live] {
				if ms, _, ok := parseID(f.id); ok {
					h.fanout.Observe(float64(now-int64(ms)) / 1000)
				}
			}
		}
		cs.mu.Lock()
		cs.last = last
		cs.mu.Unlock()
	}
}

// endWrite closes cs from its writer.
func (h *Hub) endWrite(cs *connStream) {
	h.closeConn(cs)
	cs.mu.Lock()
	cs.queued = false
	cs.mu.Unlock()
}

// beatLoop marks, every interval d, each stream of g for a heartbeat (sent
// unless events go out in the same write); it visits one slot of g every
// d/len(slots). It ends when g is empty (a new stream with interval d starts
// a new group) or the Hub stops.
func (h *Hub) beatLoop(d time.Duration, g *beatGroup) {
	t := time.NewTicker(d / time.Duration(len(g.slots)))
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % len(g.slots) {
		select {
		case <-h.quit:
			return
		case <-t.C:
		}
		h.mu.Lock()
		if g.n == 0 {
			if h.beats[d] == g {
				delete(h.beats, d)
			}
			h.mu.Unlock()
			return
		}
		for cs := range g.slots[slot] {
			cs.mu.Lock()
			cs.ping = true
			h.schedule(cs)
			cs.mu.Unlock()
		}
		h.mu.Unlock()
	}
}

// hangupWatcher closes handed-over streams whose client closed the
// connection.
type hangupWatcher interface {
	watch(cs *connStream)  // Hub.mu is held
	forget(cs *connStream) // Hub.mu is held
	stop()
}

// readWatcher notices hangups with one goroutine per connection blocked in
// Read: portable, but a goroutine stack per stream. Used where epoll is
// not available.
type readWatcher struct{ h *Hub }

func (w readWatcher) watch(cs *connStream) {
	w.h.workers.Go(func() {
		var b [64]byte
		for {
			if _, err := cs.conn.Read(b[:]); err != nil {
				w.h.closeConn(cs)
				return
			}
		}
	})
}

func (readWatcher) forget(*connStream) {}
func (readWatcher) stop()              {}

// appendSSE appends e in SSE framing ("id:", "event:", "data:" and a blank
// line) to buf. JSON never contains a raw newline, so data is always a
// single line.
func appendSSE(buf *bytes.Buffer, e Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	buf.WriteString("id: ")
	buf.WriteString(e.ID)
	buf.WriteString("\nevent: ")
	if validName(e.Type) {
		buf.WriteString(e.Type)
	} else {
		buf.WriteString("message") // never let a stored value break the framing
	}
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
	return nil
}
