package gateway

// The webhook subscription admin API (admin token):
//
//	GET    /admin/webhooks                    every subscription, secrets redacted
//	POST   /admin/webhooks                    subscribe; the answer shows the secret once
//	DELETE /admin/webhooks/{id}               unsubscribe (not the config file's)
//	GET    /admin/webhooks/dead-letters       events given up on, newest first (?limit=)
//
// Replaying and discarding them: admin_outbox.go.
//
// Subscriptions from the config file are listed too (static: true) but can
// only be changed in the file.

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/tracking"
)

// WebhookAdmin manages webhook subscriptions; *tracking.Webhooks
// implements it.
type WebhookAdmin interface {
	Subscribe(ctx context.Context, s tracking.Subscription) (tracking.Subscription, error)
	List(ctx context.Context) ([]tracking.Subscription, error)
	Delete(ctx context.Context, id string) error
	DeadLetters(ctx context.Context, n int) ([]tracking.DeadLetter, error)
	Backlog(ctx context.Context) (int64, error)
	// Dead-letter actions (admin_outbox.go). Errors: NotFound, Conflict
	// (subscription gone), Unavailable (Redis, or the receiver on replay).
	DeadLetter(ctx context.Context, id string) (tracking.DeadLetter, error)
	ReplayDeadLetter(ctx context.Context, id, actor, reason string) (tracking.DeadLetterAction, error)
	DiscardDeadLetter(ctx context.Context, id, actor, reason string) (tracking.DeadLetterAction, error)
	DeadLetterActions(ctx context.Context, n int) ([]tracking.DeadLetterAction, error)
}

var _ WebhookAdmin = (*tracking.Webhooks)(nil)

// maxDeadLetterList bounds GET /admin/webhooks/dead-letters.
const maxDeadLetterList = 1000

// subscriptionRequest is the body of POST /admin/webhooks. Static and
// CreatedAt are not the caller's to set.
type subscriptionRequest struct {
	ID     string   `json:"id"`
	ShopID string   `json:"shop_id"`
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Types  []string `json:"types"`
}

type webhookList struct {
	Webhooks []tracking.Subscription `json:"webhooks"`
	// Backlog is how many (subscription, order) pairs have events waiting.
	Backlog int64 `json:"backlog"`
}

func (s *Server) handleListWebhooks() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		subs, err := s.webhooks.List(ctx)
		if err != nil {
			return err
		}
		backlog, err := s.webhooks.Backlog(ctx)
		if err != nil {
			return err
		}
		out := webhookList{Webhooks: make([]tracking.Subscription, len(subs)), Backlog: backlog}
		for i, sub := range subs {
			out.Webhooks[i] = sub.Redacted()
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, out)
	}
}

func (s *Server) handleCreateWebhook() echo.HandlerFunc {
	return func(c echo.Context) error {
		var in subscriptionRequest
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
		sub, err := s.webhooks.Subscribe(c.Request().Context(), tracking.Subscription{
			ID: in.ID, ShopID: in.ShopID, URL: in.URL, Secret: in.Secret, Types: in.Types,
		})
		if err != nil {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "webhook subscribed", "id", sub.ID, "shop", sub.ShopID,
			"by", principal(c).ClientID)
		h := c.Response().Header()
		h.Set("Location", "/admin/webhooks/"+url.PathEscape(sub.ID))
		h.Set("Cache-Control", "no-store") // the one answer that shows the secret
		return c.JSON(http.StatusCreated, sub)
	}
}

func (s *Server) handleDeleteWebhook() echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if id == "" || len(id) > 64 {
			return erpgate.Errorf(erpgate.NotFound, "no such webhook subscription")
		}
		if err := s.webhooks.Delete(c.Request().Context(), id); err != nil {
			return err
		}
		s.log.InfoContext(c.Request().Context(), "webhook deleted", "id", id, "by", principal(c).ClientID)
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleWebhookDeadLetters() echo.HandlerFunc {
	return func(c echo.Context) error {
		n, err := queryLimit(c, 100)
		if err != nil {
			return err
		}
		dl, err := s.webhooks.DeadLetters(c.Request().Context(), n)
		if err != nil {
			return err
		}
		if dl == nil {
			dl = []tracking.DeadLetter{}
		}
		return c.JSON(http.StatusOK, map[string]any{"dead_letters": dl})
	}
}
