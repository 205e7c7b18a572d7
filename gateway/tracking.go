package gateway

import (
	"context"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/store"
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

// trackedOrder resolves the order a tracking request names and checks that
// the caller may see it: the customer with the order's tracking token (query
// ?token= or Bearer), or the owning shop with its API key. Anything else is
// 404, never a hint that the order exists.
func (s *Server) trackedOrder(c echo.Context) (*store.Record, error) {
	notFound := erpgate.Errorf(erpgate.NotFound, "no such order")
	id := c.Param("id")
	if id == "" || len(id) > tracking.MaxOrderIDLen {
		return nil, notFound
	}
	rec, err := s.store.Order(c.Request().Context(), id)
	if erpgate.ErrorCode(err) == erpgate.NotFound {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if tok := c.QueryParam("token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(rec.Token)) == 1 {
			return rec, nil
		}
		return nil, notFound
	}
	key := bearer(c)
	if key == "" {
		return nil, notFound
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(rec.Token)) == 1 {
		return rec, nil
	}
	if cl, ok := s.keys.Lookup(key); ok && cl.Kind == KindShop && cl.ID == rec.Order.ShopID {
		return rec, nil
	}
	return nil, notFound
}

type trackingResponse struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	tracking.Summary
	Events []tracking.Event `json:"events"`
}

func (s *Server) handleTracking() echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		evs, err := s.timelines.Timeline(c.Request().Context(), rec.Order.ID)
		if err != nil {
			return err
		}
		if evs == nil {
			evs = []tracking.Event{}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, trackingResponse{
			ID: rec.Order.ID, ExternalID: rec.Order.ExternalID, Summary: tracking.Derive(evs), Events: evs,
		})
	}
}

func (s *Server) handleTrackingEvents() echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		last := c.Request().Header.Get("Last-Event-ID")
		if last == "" {
			last = c.QueryParam("last_event_id")
		}
		return s.live.ServeSSE(c.Request().Context(), c.Response(), rec.Order.ID, last, sseHeartbeat)
	}
}

func (s *Server) handleTrackingPage() echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := s.trackedOrder(c)
		if err != nil {
			return s.trackingPageError(c, err)
		}
		evs, err := s.timelines.Timeline(c.Request().Context(), rec.Order.ID)
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
			OrderID: rec.Order.ID, Reference: rec.Order.ExternalID, Token: rec.Token, Events: evs,
			PageURL: s.trackingURL(rec.Order.ID, rec.Token),
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
