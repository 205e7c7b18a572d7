package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/erp"
	"erpgate/notice"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// orderRequest is the body of POST /v1/orders: the canonical order without
// the fields the gateway assigns (id, shop_id, created_at), so a client that
// sends them gets "unknown field" rather than silently ignored data. Amounts
// are read leniently here and checked in toOrder, so that a bad or missing
// amount is reported with its field path alongside every other problem.
type orderRequest struct {
	ExternalID      string         `json:"external_id"`
	Customer        order.Customer `json:"customer"`
	ShippingAddress order.Address  `json:"shipping_address"`
	BillingAddress  *order.Address `json:"billing_address,omitempty"`
	Currency        string         `json:"currency"`
	Lines           []lineRequest  `json:"lines"`
	Shipping        struct {
		Method string     `json:"method"`
		Price  amountJSON `json:"price"`
	} `json:"shipping"`
	RequestedDeliveryDate string `json:"requested_delivery_date,omitempty"`
	Notes                 string `json:"notes,omitempty"`
}

type lineRequest struct {
	SKU         string     `json:"sku"`
	Description string     `json:"description,omitempty"`
	Quantity    int64      `json:"quantity"`
	UnitPrice   amountJSON `json:"unit_price"`
	Discount    amountJSON `json:"discount"`
}

// amountJSON is a decimal amount as sent: whether it was present, and why it
// did not parse.
type amountJSON struct {
	v   order.Decimal
	set bool
	err string
}

func (a *amountJSON) UnmarshalJSON(b []byte) error {
	a.set = true
	if string(b) == "null" {
		a.set = false
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		a.err = `must be a decimal string such as "19.99", not a JSON number`
		return nil
	}
	a.setString(string(b[1 : len(b)-1]))
	return nil
}

// setString sets the amount from the content of a JSON string (as sent,
// escapes not decoded: an escaped amount is not a valid one). The fast
// decoder (decode.go) calls it too, so both paths judge amounts alike.
func (a *amountJSON) setString(s string) {
	a.set = true
	d, err := order.ParseDecimal(s)
	if err != nil {
		a.err = "not a valid amount: " + err.Error()
		return
	}
	a.v = d
}

// check returns the amount, adding a problem for a bad one or a missing
// required one.
func (a amountJSON) check(field string, required bool, problems *[]erpgate.Problem) order.Decimal {
	switch {
	case a.err != "":
		*problems = append(*problems, erpgate.Problem{Field: field, Message: a.err})
	case !a.set && required:
		*problems = append(*problems, erpgate.Problem{Field: field, Message: "is required"})
	}
	return a.v
}

// toOrder returns the canonical order, or an Invalid error listing every bad
// or missing amount (the validator then reports everything else).
func (r *orderRequest) toOrder() (*order.Order, []erpgate.Problem) {
	var problems []erpgate.Problem
	o := &order.Order{
		ExternalID: r.ExternalID, Customer: r.Customer, ShippingAddress: r.ShippingAddress,
		BillingAddress: r.BillingAddress, Currency: r.Currency,
		RequestedDeliveryDate: r.RequestedDeliveryDate, Notes: r.Notes,
	}
	o.Shipping.Method = r.Shipping.Method
	o.Shipping.Price = r.Shipping.Price.check("shipping.price", true, &problems)
	if r.Lines != nil {
		o.Lines = make([]order.Line, len(r.Lines))
	}
	for i, l := range r.Lines {
		p := "lines[" + strconv.Itoa(i) + "]."
		o.Lines[i] = order.Line{SKU: l.SKU, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice.check(p+"unit_price", true, &problems),
			Discount:  l.Discount.check(p+"discount", false, &problems)}
	}
	return o, problems
}

type trackingLink struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

type acceptedResponse struct {
	ID         string       `json:"id"`
	ExternalID string       `json:"external_id"`
	Status     string       `json:"status"`
	Tracking   trackingLink `json:"tracking"`
}

type orderResponse struct {
	ID           string `json:"id"`
	ExternalID   string `json:"external_id"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	// ERPAuthoritative is the target whose answers count for the order
	// under the release plan now; ERPOrderNumber is that target's number.
	ERPAuthoritative string                `json:"erp_authoritative,omitempty"`
	ERPOrderNumber   string                `json:"erp_order_number,omitempty"`
	Order            order.Order           `json:"order"`
	ERP              map[string]targetView `json:"erp"`
	Tracking         trackingLink          `json:"tracking"`
}

// targetView is what one ERP target answered for an order, as the shop
// sees it: every known target is listed (pending until it answers, also
// while the release plan pauses it), and the ERP status follows the order's
// timeline rather than staying at the first answer.
type targetView struct {
	State          string     `json:"state"`
	Authoritative  bool       `json:"authoritative"`
	Paused         bool       `json:"paused,omitempty"`
	ERPOrderNumber string     `json:"erp_order_number,omitempty"`
	ERPStatus      string     `json:"erp_status,omitempty"`
	Duplicate      bool       `json:"duplicate,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	Attempts       int        `json:"attempts"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
}

// OrderPlan is what the order answers need of the release plan;
// *store.Releases implements it.
type OrderPlan interface {
	// Authoritative returns the target whose answers count for o now.
	Authoritative(o *order.Order) string
	// Active reports whether target's deliveries run now (false: paused).
	Active(target string) bool
}

var _ OrderPlan = (*store.Releases)(nil)

// trackingURL is the customer's tracking page for an order.
func (s *Server) trackingURL(id, token string) string {
	return s.publicURL + "/track/" + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
}

func (s *Server) handleCreateOrder() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req orderRequest
		fast := func(body []byte) bool {
			if decodeOrderFast(body, &req) {
				return true
			}
			req = orderRequest{} // encoding/json starts from scratch
			return false
		}
		if err := decodeJSONWith(c, &req, fast); err != nil {
			s.metrics.intake.WithLabelValues("rest", "invalid").Inc()
			return err
		}
		o, amountProblems := req.toOrder()
		if amountProblems != nil {
			err := &erpgate.Error{Code: erpgate.Invalid, Message: "the order has invalid or missing amounts", Problems: amountProblems}
			// Report the validator's findings too, so the shop sees everything at once.
			if verr := o.ValidateAt(s.now()); verr != nil {
				for _, p := range erpgate.ErrorProblems(verr) {
					if !hasProblem(amountProblems, p.Field) {
						err.Problems = append(err.Problems, p)
					}
				}
			}
			s.metrics.intake.WithLabelValues("rest", "invalid").Inc()
			return err
		}
		acc, err := s.intake.Submit(c.Request().Context(), principal(c).ClientID, o, c.Request().Header.Get("Idempotency-Key"))
		if err != nil {
			s.metrics.intake.WithLabelValues("rest", intakeOutcome(err)).Inc()
			return err
		}
		outcome := "accepted"
		if acc.Replayed {
			outcome = "replayed"
			c.Response().Header().Set("Idempotent-Replayed", "true")
		}
		s.metrics.intake.WithLabelValues("rest", outcome).Inc()
		c.Response().Header().Set(echo.HeaderLocation, "/v1/orders/"+acc.OrderID)
		return c.JSON(http.StatusAccepted, acceptedResponse{
			ID: acc.OrderID, ExternalID: acc.ExternalID, Status: "accepted",
			Tracking: trackingLink{URL: s.trackingURL(acc.OrderID, acc.Token), Token: acc.Token},
		})
	}
}

func hasProblem(ps []erpgate.Problem, field string) bool {
	for _, p := range ps {
		if p.Field == field {
			return true
		}
	}
	return false
}

func intakeOutcome(err error) string {
	var paused *notice.IntakePausedError
	if errors.As(err, &paused) {
		return "paused" // a maintenance notice pauses intake (notices.go)
	}
	switch erpgate.ErrorCode(err) {
	case erpgate.Invalid, erpgate.Unprocessable, erpgate.TooLarge, erpgate.UnsupportedMedia:
		return "invalid"
	case erpgate.IdempotencyMismatch, erpgate.Conflict:
		return "conflict"
	default:
		return "error"
	}
}

func (s *Server) handleGetOrder() echo.HandlerFunc {
	return func(c echo.Context) error {
		rec, err := s.store.Order(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		if rec.Order.ShopID != principal(c).ClientID {
			// Someone else's order is indistinguishable from no order.
			return erpgate.Errorf(erpgate.NotFound, "no such order")
		}
		v, err := s.orderView(c.Request().Context(), rec)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

func (s *Server) handleFindOrder() echo.HandlerFunc {
	return func(c echo.Context) error {
		ext := c.QueryParam("external_id")
		if ext == "" {
			return &erpgate.Error{Code: erpgate.Invalid, Message: "query parameter external_id is required",
				Problems: []erpgate.Problem{{Field: "external_id", Message: "required"}}}
		}
		rec, err := s.store.OrderByExternalID(c.Request().Context(), principal(c).ClientID, ext)
		if err != nil {
			return err
		}
		v, err := s.orderView(c.Request().Context(), rec)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

func (s *Server) orderView(ctx context.Context, rec *store.Record) (orderResponse, error) {
	targets, auth, err := s.targetViews(ctx, rec)
	if err != nil {
		return orderResponse{}, err
	}
	return orderResponse{
		ID: rec.Order.ID, ExternalID: rec.Order.ExternalID, Status: rec.Status, StatusReason: rec.Reason,
		ERPAuthoritative: auth, ERPOrderNumber: targets[auth].ERPOrderNumber,
		Order: rec.Order, ERP: targets,
		Tracking: trackingLink{URL: s.trackingURL(rec.Order.ID, rec.Token), Token: rec.Token},
	}, nil
}

// erpStatusWords maps timeline event types back to ERP status words.
var erpStatusWords = func() map[string]string {
	m := make(map[string]string, len(erpEventTypes))
	for word, typ := range erpEventTypes {
		m[typ] = word
	}
	return m
}()

// targetViews returns every ERP target's view of the order (the known
// targets and any other that answered) and the authoritative target ("" when
// the gateway has no release plan). A target's ERP status is the latest
// status its events put on the order's timeline, else its first answer.
func (s *Server) targetViews(ctx context.Context, rec *store.Record) (map[string]targetView, string, error) {
	auth := ""
	if s.plan != nil {
		auth = s.plan.Authoritative(&rec.Order)
	}
	latest := map[string]string{}
	if s.timelines != nil {
		evs, err := s.orderEvents(ctx, rec.Order.ID)
		if err != nil {
			return nil, "", err
		}
		for _, ev := range evs {
			if word, ok := erpStatusWords[ev.Type]; ok && ev.Source == tracking.SourceERP && ev.Details["target"] != "" {
				latest[ev.Details["target"]] = word
			}
		}
	}
	out := make(map[string]targetView, len(erp.KnownTargets))
	add := func(t string) {
		if _, done := out[t]; done {
			return
		}
		v := targetView{State: erp.StatePending, Authoritative: t == auth, Paused: s.plan != nil && !s.plan.Active(t)}
		if r, ok := rec.Results[t]; ok {
			v.State, v.ERPOrderNumber, v.ERPStatus, v.Duplicate, v.Reason, v.Attempts =
				r.State, r.ERPOrderNumber, r.ERPStatus, r.Duplicate, r.Reason, r.Attempts
			if !r.UpdatedAt.IsZero() {
				at := r.UpdatedAt
				v.UpdatedAt = &at
			}
		}
		if word := latest[t]; word != "" {
			v.ERPStatus = word
		}
		out[t] = v
	}
	for _, t := range erp.KnownTargets {
		add(t)
	}
	for t := range rec.Results {
		add(t)
	}
	return out, auth, nil
}

// orderEvents returns the order's timeline, from the tracking cache when
// there is one.
func (s *Server) orderEvents(ctx context.Context, id string) ([]tracking.Event, error) {
	if s.trackCache != nil {
		v, err := s.trackingView(ctx, id)
		if err != nil {
			return nil, err
		}
		return v.events, nil
	}
	return s.timelines.Timeline(ctx, id)
}
