package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/feedback"
	"erpgate/help"
	"erpgate/order"
	"erpgate/tracking"
)

// Pilot feedback (package feedback):
//
//	POST /v1/feedback                 a shop, with its key: {"topic", "message", "order_id" or
//	                                  "external_id" (optional), "language"}
//	POST /v1/tracking/{id}/feedback   a customer, with the order's tracking token (?token=, Bearer,
//	                                  or the form field "token"): JSON, or a plain HTML form post
//	                                  (application/x-www-form-urlencoded), answered with a small page
//	GET  /admin/feedback              newest first (?topic=, ?revision=, ?limit=, ?before=)
//	GET  /admin/feedback/topics       counts by topic and plan revision, most asked first (?revision=)
//
// Feedback is stored as data and never rendered unescaped: the admin API
// answers JSON, the confirmation page escapes what it shows.

// FeedbackService is what the feedback routes need; *feedback.Service
// implements it. Errors are documented there.
type FeedbackService interface {
	Submit(ctx context.Context, in feedback.Submission) (feedback.Feedback, error)
	List(ctx context.Context, f feedback.Filter) ([]feedback.Feedback, string, error)
	Topics(ctx context.Context, revision int64) ([]feedback.TopicCount, error)
}

var _ FeedbackService = (*feedback.Service)(nil)

// maxFeedbackBody bounds a feedback request body (a message of
// feedback.MaxMessageLen characters, percent-encoded, fits).
const maxFeedbackBody = 32 << 10

type feedbackRequest struct {
	OrderID    string `json:"order_id"`
	ExternalID string `json:"external_id"`
	Topic      string `json:"topic"`
	Message    string `json:"message"`
	Language   string `json:"language"`
	Token      string `json:"token"` // customer route only (also ?token= or Bearer)
}

func (s *Server) initFeedback(svc FeedbackService, reg prometheus.Registerer) error {
	if svc == nil {
		return nil
	}
	s.feedback = svc
	s.feedbackTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_feedback_received_total",
		Help: "Pilot feedback stored, by topic (listed topics; free ones count as other) and channel (shop, customer).",
	}, []string{"topic", "channel"})
	for _, t := range feedback.Topics {
		for _, ch := range []string{feedback.ChannelShop, feedback.ChannelCustomer} {
			s.feedbackTotal.WithLabelValues(t, ch)
		}
	}
	return reg.Register(s.feedbackTotal)
}

func (s *Server) submitFeedback(ctx context.Context, in feedback.Submission) (feedback.Feedback, error) {
	f, err := s.feedback.Submit(ctx, in)
	if err == nil {
		s.feedbackTotal.WithLabelValues(feedback.MetricTopic(f.Topic), f.Channel).Inc()
	}
	return f, err
}

func (s *Server) handleShopFeedback() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req feedbackRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if req.Token != "" {
			return invalidField("token", "not used here: shops authenticate with their key")
		}
		shop := principal(c).ClientID
		ctx := c.Request().Context()
		var o *order.Order
		switch {
		case req.OrderID != "" && req.ExternalID != "":
			return invalidField("order_id", "send order_id or external_id, not both")
		case req.OrderID != "":
			if len(req.OrderID) > tracking.MaxOrderIDLen {
				return invalidField("order_id", "at most 128 characters")
			}
			rec, err := s.store.Order(ctx, req.OrderID)
			if err != nil || rec.Order.ShopID != shop {
				return notYourOrder(err)
			}
			o = &rec.Order
		case req.ExternalID != "":
			if len(req.ExternalID) > 128 {
				return invalidField("external_id", "at most 128 characters")
			}
			rec, err := s.store.OrderByExternalID(ctx, shop, req.ExternalID)
			if err != nil {
				return notYourOrder(err)
			}
			o = &rec.Order
		}
		f, err := s.submitFeedback(ctx, feedback.Submission{Channel: feedback.ChannelShop, ShopID: shop, Order: o,
			Topic: req.Topic, Message: req.Message, Language: req.Language})
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusCreated, f)
	}
}

// notYourOrder turns a failed or foreign order lookup into 404 (or the
// store's outage).
func notYourOrder(err error) error {
	if err != nil && erpgate.ErrorCode(err) != erpgate.NotFound {
		return err
	}
	return &erpgate.Error{Code: erpgate.NotFound, Message: "no such order",
		Problems: []erpgate.Problem{{Field: "order_id", Message: "no order of yours has this id"}}}
}

// handleCustomerFeedback takes a customer's feedback on the order the path
// names, proven by its tracking token. A form post gets an HTML page back
// (also for errors); JSON gets JSON.
func (s *Server) handleCustomerFeedback() echo.HandlerFunc {
	return func(c echo.Context) error {
		req, form, err := readFeedbackBody(c)
		lang := feedbackLang(c, req.Language)
		if err != nil {
			return s.feedbackAnswer(c, form, lang, "", err)
		}
		tok := req.Token
		if tok == "" {
			tok = c.QueryParam("token")
		}
		if tok == "" {
			tok = bearer(c)
		}
		ctx := c.Request().Context()
		id := c.Param("id")
		notFound := erpgate.Errorf(erpgate.NotFound, "no such order")
		if tok == "" || id == "" || len(id) > tracking.MaxOrderIDLen {
			return s.feedbackAnswer(c, form, lang, "", notFound)
		}
		rec, err := s.store.Order(ctx, id)
		if err != nil {
			if erpgate.ErrorCode(err) == erpgate.NotFound {
				err = notFound
			}
			return s.feedbackAnswer(c, form, lang, "", err)
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(rec.Token)) != 1 {
			return s.feedbackAnswer(c, form, lang, "", notFound)
		}
		back := s.trackingURL(rec.Order.ID, rec.Token)
		f, err := s.submitFeedback(ctx, feedback.Submission{Channel: feedback.ChannelCustomer, ShopID: rec.Order.ShopID,
			Order: &rec.Order, Topic: req.Topic, Message: req.Message, Language: lang})
		if err != nil {
			return s.feedbackAnswer(c, form, lang, back, err)
		}
		noStore(c)
		if form {
			return s.feedbackPage(c, http.StatusOK, lang, back, nil)
		}
		// The customer sees what they sent, not the plan details.
		return c.JSON(http.StatusCreated, map[string]any{"id": f.ID, "topic": f.Topic, "time": f.Time})
	}
}

// feedbackLang is the answer page's language: the form's (the tracking
// page's), else negotiated as every page is (help.Locale).
func feedbackLang(c echo.Context, form string) string {
	if t, ok := help.Locale.Supported(form); ok {
		return t.String()
	}
	t, _ := help.Locale.Negotiate(c.Request(), "")
	return t.String()
}

// readFeedbackBody reads JSON or a form post (at most maxFeedbackBody) and
// reports whether it was a form.
func readFeedbackBody(c echo.Context) (feedbackRequest, bool, error) {
	var req feedbackRequest
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/x-www-form-urlencoded" {
		return req, false, decodeJSON(c, &req)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxFeedbackBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return req, true, erpgate.Errorf(erpgate.TooLarge, "the form is larger than %d bytes", maxFeedbackBody)
	}
	if err != nil {
		return req, true, erpgate.Wrap(erpgate.Invalid, err, "could not read the form")
	}
	v, err := url.ParseQuery(string(bytes.TrimSpace(body)))
	if err != nil {
		return req, true, erpgate.Errorf(erpgate.Invalid, "malformed form body")
	}
	for k := range v {
		switch k {
		case "token", "topic", "message", "language", "lang":
			if len(v[k]) > 1 {
				return req, true, invalidField(k, "sent more than once")
			}
		default:
			return req, true, invalidField(k, "unknown form field")
		}
	}
	req.Token, req.Topic, req.Message = v.Get("token"), v.Get("topic"), v.Get("message")
	req.Language = v.Get("language")
	if req.Language == "" {
		req.Language = v.Get("lang")
	}
	return req, true, nil
}

// feedbackAnswer answers an error: problem+json for JSON callers, a page
// for a form post.
func (s *Server) feedbackAnswer(c echo.Context, form bool, lang, back string, err error) error {
	if !form {
		return err
	}
	code := erpgate.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	setRetryAfter(c.Response().Header(), status, err)
	if code == erpgate.Internal {
		s.log.ErrorContext(c.Request().Context(), "internal error", "err", err, "route", c.Path())
	}
	return s.feedbackPage(c, status, lang, back, err)
}

// feedbackPage writes the confirmation (err nil) or the refusal page.
func (s *Server) feedbackPage(c echo.Context, status int, lang, back string, err error) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", help.CSP())
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(status)
	n := help.Note{Lang: lang, BackURL: back, OK: err == nil}
	if err != nil {
		n.Reason = erpgate.ErrorMessage(err)
		for _, p := range erpgate.ErrorProblems(err) {
			n.Problems = append(n.Problems, p.Field+": "+p.Message)
		}
	}
	return help.RenderNote(c.Response(), n)
}

func (s *Server) handleListFeedback() echo.HandlerFunc {
	return func(c echo.Context) error {
		f := feedback.Filter{Topic: c.QueryParam("topic"), Before: c.QueryParam("before")}
		var err error
		if f.Revision, err = intParam(c, "revision", 0, 1<<62); err != nil {
			return err
		}
		limit, err := intParam(c, "limit", 1, feedback.MaxPage)
		if err != nil {
			return err
		}
		f.Limit = int(limit)
		items, next, err := s.feedback.List(c.Request().Context(), f)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"feedback": items, "next_before": next})
	}
}

func (s *Server) handleFeedbackTopics() echo.HandlerFunc {
	return func(c echo.Context) error {
		rev, err := intParam(c, "revision", 0, 1<<62)
		if err != nil {
			return err
		}
		ts, err := s.feedback.Topics(c.Request().Context(), rev)
		if err != nil {
			return err
		}
		noStore(c)
		return c.JSON(http.StatusOK, map[string]any{"topics": ts, "revision": rev, "known_topics": feedback.Topics})
	}
}

// intParam reads an optional integer query parameter in [lo, hi]; absent
// is 0.
func intParam(c echo.Context, name string, lo, hi int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, invalidField(name, "an integer from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
	}
	return n, nil
}
