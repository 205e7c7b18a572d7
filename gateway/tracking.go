package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/tracking"
)

// Timelines is what the gateway reads of the tracking store.
type Timelines interface {
	Timeline(ctx context.Context, orderID string) ([]tracking.Event, error)
	// Count records an event written outside Append (the accept script's
	// first event) in the tracking metrics.
	Count(e tracking.Event)
}

// LiveStreams serves an order's timeline as Server-Sent Events.
type LiveStreams interface {
	ServeSSE(ctx context.Context, w http.ResponseWriter, orderID, lastEventID string, heartbeat time.Duration) error
}

// sseHeartbeat keeps proxies from closing idle event streams.
const sseHeartbeat = 15 * time.Second

// trackingView is what the tracking routes need of an order: who may see
// it, its timeline, and the rendered JSON answer of GET /v1/tracking/{id}.
// Everything in it is either fixed at accept (ids, shop, token) or derived
// from the timeline, so the read cache (TrackingCache) invalidates it
// exactly when an event is appended. It is shared between requests:
// read-only.
type trackingView struct {
	id, externalID, shopID, token string
	events                        []tracking.Event
	body                          []byte
}

// TrackingCache caches tracking views by order id; cmd/gateway wires its
// invalidation to the tracking Hub's feed and the store's appends (see
// tracking.ReadCache).
type TrackingCache = tracking.ReadCache[*trackingView]

// NewTrackingCache returns a tracking read cache of at most maxBytes.
func NewTrackingCache(maxBytes int, reg prometheus.Registerer) (*TrackingCache, error) {
	return tracking.NewReadCache(tracking.ReadCacheConfig[*trackingView]{
		MaxBytes: maxBytes, Registerer: reg, Size: (*trackingView).size,
	})
}

// size estimates the bytes v holds (the rendered body dominates; each event
// is counted at its JSON size plus struct overhead).
func (v *trackingView) size() int {
	n := 256 + len(v.id) + len(v.externalID) + len(v.shopID) + len(v.token) + 2*cap(v.body)
	return n + len(v.events)*160
}

// trackedOrder resolves the order a tracking request names and checks that
// the caller may see it: the customer with the order's tracking token (query
// ?token= or Bearer), or the owning shop with its API key. Anything else is
// 404, never a hint that the order exists.
func (s *Server) trackedOrder(c echo.Context) (*trackingView, error) {
	notFound := erpgate.Errorf(erpgate.NotFound, "no such order")
	id := c.Param("id")
	if id == "" || len(id) > tracking.MaxOrderIDLen {
		return nil, notFound
	}
	v, err := s.trackingView(c.Request().Context(), id)
	if erpgate.ErrorCode(err) == erpgate.NotFound {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if tok := c.QueryParam("token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(v.token)) == 1 {
			return v, nil
		}
		return nil, notFound
	}
	key := bearer(c)
	if key == "" {
		return nil, notFound
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(v.token)) == 1 {
		return v, nil
	}
	if cl, ok := s.keys.Lookup(key); ok && cl.Kind == KindShop && cl.ID == v.shopID {
		return v, nil
	}
	return nil, notFound
}

// trackingView returns the order's view, from the cache when there is one.
func (s *Server) trackingView(ctx context.Context, id string) (*trackingView, error) {
	if s.trackCache == nil {
		return s.loadTrackingView(ctx, id)
	}
	return s.trackCache.Get(ctx, id, func(ctx context.Context) (*trackingView, error) {
		return s.loadTrackingView(ctx, id)
	})
}

// loadTrackingView reads the order and its timeline from Redis and renders
// the answer.
func (s *Server) loadTrackingView(ctx context.Context, id string) (*trackingView, error) {
	rec, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.timelines.Timeline(ctx, rec.Order.ID)
	if err != nil {
		return nil, err
	}
	if evs == nil {
		evs = []tracking.Event{}
	}
	body, err := json.Marshal(trackingResponse{
		ID: rec.Order.ID, ExternalID: rec.Order.ExternalID, Summary: tracking.Derive(evs), Events: evs,
	})
	if err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	return &trackingView{
		id: rec.Order.ID, externalID: rec.Order.ExternalID, shopID: rec.Order.ShopID, token: rec.Token,
		events: evs, body: append(body, '\n'),
	}, nil
}

type trackingResponse struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	tracking.Summary
	Events []tracking.Event `json:"events"`
}

func (s *Server) handleTracking() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSONBlob(http.StatusOK, v.body)
	}
}

func (s *Server) handleTrackingEvents() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		last := c.Request().Header.Get("Last-Event-ID")
		if last == "" {
			last = c.QueryParam("last_event_id")
		}
		return s.live.ServeSSE(c.Request().Context(), c.Response(), v.id, last, sseHeartbeat)
	}
}

func (s *Server) handleTrackingPage() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return s.trackingPageError(c, err)
		}
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", tracking.PageCSP())
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		c.Response().WriteHeader(http.StatusOK)
		return tracking.RenderPage(c.Response(), tracking.PageData{
			OrderID: v.id, Reference: v.externalID, Token: v.token, Events: v.events,
			PageURL: s.trackingURL(v.id, v.token),
		})
	}
}

// trackingPageError answers a browser with a small HTML page instead of
// problem+json.
func (s *Server) trackingPageError(c echo.Context, err error) error {
	status, msg := http.StatusNotFound, "We could not find this order. Please check the link in your confirmation e-mail."
	if erpgate.ErrorCode(err) != erpgate.NotFound {
		status, msg = http.StatusServiceUnavailable, "Tracking is unavailable right now. Please try again in a minute."
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTML(status, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Order tracking</title></head><body><main><h1>Order tracking</h1><p>`+msg+`</p></main></body></html>`)
}
