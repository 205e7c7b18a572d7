package tracking

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"erpgate"
)

// DefaultHeartbeat is the SSE heartbeat interval used when ServeSSE is given
// none: short enough for proxies with a 30–60 s idle timeout.
const DefaultHeartbeat = 15 * time.Second

// SSERetry is the reconnect delay (ms) ServeSSE advises browsers to use.
const SSERetry = 2000

// ServeSSE streams the order's timeline to w as Server-Sent Events.
//
// It first sends every event after lastEventID (the request's Last-Event-ID
// header; "" sends the whole timeline), then live events as they are
// appended by any gateway instance, without gap or duplicate at the seam: it
// subscribes before reading history and skips live events it has sent
// already. Each event is
//
//	id: <event id>
//	event: <event type>
//	data: <Event as JSON, with "id">
//
// and every heartbeat interval (DefaultHeartbeat if <= 0) a comment line
// ": ping" keeps proxies from closing an idle stream. A stream that falls behind is resynced from the timeline, or
// closed so that its client resumes with Last-Event-ID.
//
// Over HTTP/1.x (w can be hijacked, directly or via Unwrap) ServeSSE takes
// the connection over: it writes the response head itself, with the headers
// already set on w (e.g. X-Request-Id), "Connection: close" and a body that
// runs until the connection closes (no chunking, as EventSource accepts),
// then the history, and hands the connection to the Hub and returns, so
// that an open stream costs no goroutine and no buffers (see sse_conn.go).
// The Hub's writers then send live events and heartbeats, each write within
// HubConfig.WriteTimeout; a client that does not keep up, hangs up or stops
// answering is disconnected; and when Run ends every such stream is closed
// (http.Server.Shutdown does not know hijacked connections). Otherwise
// (HTTP/2, a writer that cannot be hijacked) ServeSSE streams from its own
// goroutine until ctx is done (the client went away) or the Hub stops, and
// clears the connection's write deadline (http.Server.WriteTimeout would cut
// the stream) through http.ResponseController; w must then support Flush
// (directly or via Unwrap).
//
// The caller authenticates and authorizes before calling. ServeSSE returns an
// error only before anything was written (Invalid for a malformed
// lastEventID or order id; Unavailable when the Hub is stopped), so the caller
// can still answer with an error status; once streaming has started it
// returns nil and logs what went wrong itself. After it returned nil the
// caller must not touch w.
func (h *Hub) ServeSSE(ctx context.Context, w http.ResponseWriter, orderID, lastEventID string, heartbeat time.Duration) error {
	if err := checkOrderID(orderID); err != nil {
		return err
	}
	if lastEventID != "" && !ValidID(lastEventID) {
		return erpgate.Errorf(erpgate.Invalid, "Last-Event-ID is not an event id")
	}
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil
	}
	if h.Stopped() {
		return erpgate.Errorf(erpgate.Unavailable, "live tracking is shutting down")
	}
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache, no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if h.serveConn(ctx, w, orderID, lastEventID, heartbeat) {
		return nil
	}
	h.serveGoroutine(ctx, w, orderID, lastEventID, heartbeat)
	return nil
}

// serveGoroutine streams from the calling goroutine until ctx is done or the
// Hub stops: the way for writers that cannot be taken over.
func (h *Hub) serveGoroutine(ctx context.Context, w http.ResponseWriter, orderID, lastEventID string, heartbeat time.Duration) {
	h.active.Inc()
	defer h.active.Dec()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // not every writer supports deadlines; fine
	w.WriteHeader(http.StatusOK)

	s := &sseWriter{w: w, rc: rc, last: lastEventID}
	if err := s.retry(SSERetry); err != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		ch, cancel := h.Subscribe(orderID)
		for {
			evs, err := h.store.Since(ctx, orderID, s.last)
			if err != nil {
				cancel()
				if ctx.Err() == nil {
					h.log.Warn("tracking sse: reading timeline failed", "order", orderID, "err", err)
				}
				return
			}
			for _, e := range evs {
				if err := s.event(e); err != nil {
					cancel()
					return
				}
			}
			if len(evs) < MaxTimeline {
				break // caught up; the subscription covers the rest
			}
		}
		if err := s.flush(); err != nil {
			cancel()
			return
		}
		resync, done := s.live(ctx, ch, tick.C)
		cancel()
		if done || !resync || h.Stopped() {
			return
		}
	}
}

// live copies events from ch to the client until the channel closes
// (resync=true) or the stream ends (done=true).
func (s *sseWriter) live(ctx context.Context, ch <-chan Event, tick <-chan time.Time) (resync, done bool) {
	for {
		select {
		case <-ctx.Done():
			return false, true
		case <-tick:
			if _, err := io.WriteString(s.w, ": ping\n\n"); err != nil {
				return false, true
			}
			if s.flush() != nil {
				return false, true
			}
		case e, ok := <-ch:
			if !ok {
				return true, false
			}
			if err := s.event(e); err != nil {
				return false, true
			}
			// Drain what is already buffered before one flush.
			for more := true; more; {
				select {
				case e, ok := <-ch:
					if !ok {
						return true, s.flush() != nil
					}
					if err := s.event(e); err != nil {
						return false, true
					}
				default:
					more = false
				}
			}
			if s.flush() != nil {
				return false, true
			}
		}
	}
}

type sseWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	last string // id of the newest event sent
	buf  bytes.Buffer
}

// event writes e unless it is not newer than the last one sent.
func (s *sseWriter) event(e Event) error {
	if s.last != "" && CompareIDs(e.ID, s.last) <= 0 {
		return nil
	}
	if err := WriteSSE(s.w, e, &s.buf); err != nil {
		return err
	}
	s.last = e.ID
	return nil
}

// retry sends the reconnect delay the browser should use.
func (s *sseWriter) retry(ms int) error {
	s.buf.Reset()
	s.buf.WriteString("retry: ")
	s.buf.WriteString(strconv.Itoa(ms))
	s.buf.WriteString("\n\n")
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return err
	}
	return s.flush()
}

func (s *sseWriter) flush() error {
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// WriteSSE writes one event in SSE framing ("id:", "event:", "data:" and a
// blank line). buf is scratch space and may be nil. JSON never contains a raw
// newline, so data is always a single line.
func WriteSSE(w io.Writer, e Event, buf *bytes.Buffer) error {
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if err := appendSSE(buf, e); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
