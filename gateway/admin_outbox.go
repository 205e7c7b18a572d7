package gateway

// The outbox and dead-letter admin API (admin token):
//
//	GET    /admin/outbox                               per target: pending, undelivered, oldest age;
//	                                                   dead letters waiting; the last actions
//	GET    /admin/outbox/dead-letters                  dead letters, oldest first (?after=&limit=)
//	GET    /admin/outbox/dead-letters/actions          recorded replays and discards, newest first (?limit=)
//	GET    /admin/outbox/dead-letters/{id}             one
//	POST   /admin/outbox/dead-letters/{id}/replay      {"target":"v1"|"v2","reason":"…"}; target defaults
//	                                                   to the one that gave up
//	DELETE /admin/outbox/dead-letters/{id}?reason=…    discard
//
// and for webhooks (admin_webhooks.go lists them):
//
//	GET    /admin/webhooks/dead-letters/actions
//	GET    /admin/webhooks/dead-letters/{id}
//	POST   /admin/webhooks/dead-letters/{id}/replay    {"reason":"…"}: POSTs the event again now
//	DELETE /admin/webhooks/dead-letters/{id}?reason=…
//
// Every replay and discard is recorded with the admin client's id (and the
// Erpgate-Actor header's person), the time and the reason.

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/store"
	"erpgate/tracking"
)

// OutboxAdmin reads the outbox and acts on its dead letters; *store.Outbox
// implements it.
type OutboxAdmin interface {
	// Stats returns each target's group state. Errors: Unavailable.
	Stats(ctx context.Context) ([]store.GroupStats, error)
	// DeadLetterCount returns how many dead letters wait. Errors: Unavailable.
	DeadLetterCount(ctx context.Context) (int64, error)
	// DeadLetters pages through the dead letters, oldest first. Errors: Unavailable.
	DeadLetters(ctx context.Context, after string, count int64) ([]store.DeadLetter, error)
	// DeadLetterByID returns one. Errors: NotFound, Unavailable.
	DeadLetterByID(ctx context.Context, id string) (store.DeadLetter, error)
	// ReplayDeadLetter puts one back for target. Errors: Invalid, NotFound, Unavailable.
	ReplayDeadLetter(ctx context.Context, id, target, actor, reason string) (store.DeadLetterAction, error)
	// DiscardDeadLetter drops one. Errors: NotFound, Unavailable.
	DiscardDeadLetter(ctx context.Context, id, actor, reason string) (store.DeadLetterAction, error)
	// DeadLetterActions lists recorded actions, newest first. Errors: Unavailable.
	DeadLetterActions(ctx context.Context, n int64) ([]store.DeadLetterAction, error)
}

var _ OutboxAdmin = (*store.Outbox)(nil)

// deadLetterView is an outbox dead letter on the admin API.
type deadLetterView struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OrderID    string    `json:"order_id"`
	Target     string    `json:"target"`
	Reason     string    `json:"reason"`
	Deliveries int64     `json:"deliveries"`
	Entry      string    `json:"outbox_entry"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	DeadAt     time.Time `json:"dead_at,omitzero"`
}

func viewDeadLetter(d store.DeadLetter) deadLetterView {
	return deadLetterView{ID: d.ID, Type: d.Type, OrderID: d.OrderID, Target: d.Target, Reason: d.Reason,
		Deliveries: d.Deliveries, Entry: d.Entry, AcceptedAt: d.At, DeadAt: d.DeadAt}
}

// outboxTargetView is one target's outbox state in GET /admin/outbox.
type outboxTargetView struct {
	Target           string  `json:"target"`
	Pending          int64   `json:"pending"`     // delivered to a worker, not acknowledged (in flight or backing off)
	Undelivered      int64   `json:"undelivered"` // not yet read by any worker
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	DeadLetters      int64   `json:"dead_letters"` // of those listed (up to maxDeadLetterList), this target's
}

// deadLetterActionsShown is how many recent actions GET /admin/outbox shows.
const deadLetterActionsShown = 10

// queryLimit reads ?limit= (1..maxDeadLetterList, default def).
func queryLimit(c echo.Context, def int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxDeadLetterList {
		return 0, &erpgate.Error{Code: erpgate.Invalid, Message: "limit must be a number from 1 to " + strconv.Itoa(maxDeadLetterList),
			Problems: []erpgate.Problem{{Field: "limit", Message: "must be 1.." + strconv.Itoa(maxDeadLetterList)}}}
	}
	return n, nil
}

// deadLetterActionRequest is the body of a replay (all fields optional).
type deadLetterActionRequest struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// readActionRequest reads an optional JSON body (replay) or ?reason=
// (discard). Reasons are bounded: they are a record, not a document.
func readActionRequest(c echo.Context) (deadLetterActionRequest, error) {
	var in deadLetterActionRequest
	if c.Request().ContentLength != 0 && c.Request().Method == http.MethodPost {
		if err := decodeJSON(c, &in); err != nil {
			return in, err
		}
	}
	if in.Reason == "" {
		in.Reason = c.QueryParam("reason")
	}
	if len(in.Reason) > 500 {
		return in, &erpgate.Error{Code: erpgate.Invalid, Message: "reason is too long",
			Problems: []erpgate.Problem{{Field: "reason", Message: "at most 500 bytes"}}}
	}
	return in, nil
}

func (s *Server) handleOutboxSummary() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		stats, err := s.outbox.Stats(ctx)
		if err != nil {
			return err
		}
		total, err := s.outbox.DeadLetterCount(ctx)
		if err != nil {
			return err
		}
		dead, err := s.outbox.DeadLetters(ctx, "", maxDeadLetterList)
		if err != nil {
			return err
		}
		actions, err := s.outbox.DeadLetterActions(ctx, deadLetterActionsShown)
		if err != nil {
			return err
		}
		out := struct {
			Targets       []outboxTargetView       `json:"targets"`
			DeadLetters   int64                    `json:"dead_letters"`
			RecentActions []store.DeadLetterAction `json:"recent_actions"`
		}{Targets: make([]outboxTargetView, 0, len(stats)), DeadLetters: total, RecentActions: actions}
		for _, st := range stats {
			v := outboxTargetView{Target: st.Target, Pending: st.Pending, Undelivered: st.Lag, OldestAgeSeconds: st.Oldest.Seconds()}
			for _, d := range dead {
				if d.Target == st.Target {
					v.DeadLetters++
				}
			}
			out.Targets = append(out.Targets, v)
		}
		noStore(c)
		return c.JSON(http.StatusOK, out)
	}
}

func (s *Server) handleOutboxDeadLetters() echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := queryLimit(c, 100)
		if err != nil {
			return err
		}
		dl, err := s.outbox.DeadLetters(c.Request().Context(), c.QueryParam("after"), int64(n))
		if err != nil {
			return err
		}
		out := struct {
			DeadLetters []deadLetterView `json:"dead_letters"`
			Next        string           `json:"next,omitempty"` // ?after= for the next page
		}{DeadLetters: make([]deadLetterView, 0, len(dl))}
		for _, d := range dl {
			out.DeadLetters = append(out.DeadLetters, viewDeadLetter(d))
		}
		if len(dl) == n {
			out.Next = dl[len(dl)-1].ID
		}
		noStore(c)
		return c.JSON(http.StatusOK, out)
	}
}

func (s *Server) handleOutboxDeadLetter() echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := s.outbox.DeadLetterByID(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, viewDeadLetter(d))
	}
}

// deadLetterAct is one replay or discard: it acts on the dead letter id
// for actor and returns the recorded action.
type deadLetterAct func(ctx context.Context, id string, in deadLetterActionRequest, actor string) (any, error)

// handleDeadLetterAction reads the request, acts, logs what was done (a
// discard as a warning: something will never be delivered) and answers the
// recorded action.
func (s *Server) handleDeadLetterAction(what string, warn bool, act deadLetterAct) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		in, err := readActionRequest(c)
		if err != nil {
			return err
		}
		a, err := act(ctx, c.Param("id"), in, s.releaseActor(c))
		if err != nil {
			return err
		}
		level := slog.LevelInfo
		if warn {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, what, "action", a)
		return c.JSON(http.StatusOK, a)
	}
}

func (s *Server) handleOutboxReplay() echo.HandlerFunc {
	return s.handleDeadLetterAction("dead letter replayed", false, func(ctx context.Context, id string, in deadLetterActionRequest, actor string) (any, error) {
		if in.Target == "" {
			d, err := s.outbox.DeadLetterByID(ctx, id)
			if err != nil {
				return nil, err
			}
			in.Target = d.Target
		}
		return s.outbox.ReplayDeadLetter(ctx, id, in.Target, actor, in.Reason)
	})
}

func (s *Server) handleOutboxDiscard() echo.HandlerFunc {
	return s.handleDeadLetterAction("dead letter discarded", true, func(ctx context.Context, id string, in deadLetterActionRequest, actor string) (any, error) {
		return s.outbox.DiscardDeadLetter(ctx, id, actor, in.Reason)
	})
}

func (s *Server) handleOutboxDeadLetterActions() echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := queryLimit(c, 100)
		if err != nil {
			return err
		}
		a, err := s.outbox.DeadLetterActions(c.Request().Context(), int64(n))
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"actions": a})
	}
}

func (s *Server) handleWebhookDeadLetter() echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := s.webhooks.DeadLetter(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, d)
	}
}

func (s *Server) handleWebhookReplay() echo.HandlerFunc {
	return s.handleDeadLetterAction("webhook dead letter replayed", false, func(ctx context.Context, id string, in deadLetterActionRequest, actor string) (any, error) {
		if in.Target != "" {
			return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "a webhook dead letter goes back to its own subscription",
				Problems: []erpgate.Problem{{Field: "target", Message: "not allowed here"}}}
		}
		return s.webhooks.ReplayDeadLetter(ctx, id, actor, in.Reason)
	})
}

func (s *Server) handleWebhookDiscard() echo.HandlerFunc {
	return s.handleDeadLetterAction("webhook dead letter discarded", true, func(ctx context.Context, id string, in deadLetterActionRequest, actor string) (any, error) {
		return s.webhooks.DiscardDeadLetter(ctx, id, actor, in.Reason)
	})
}

func (s *Server) handleWebhookDeadLetterActions() echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := queryLimit(c, 100)
		if err != nil {
			return err
		}
		a, err := s.webhooks.DeadLetterActions(c.Request().Context(), n)
		if err != nil {
			return err
		}
		if a == nil {
			a = []tracking.DeadLetterAction{}
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"actions": a})
	}
}
