package gateway

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/order"
	"erpgate/store"
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
	ID           string                        `json:"id"`
	ExternalID   string                        `json:"external_id"`
	Status       string                        `json:"status"`
	StatusReason string                        `json:"status_reason,omitempty"`
	Order        order.Order                   `json:"order"`
	ERP          map[string]store.TargetResult `json:"erp"`
	Tracking     trackingLink                  `json:"tracking"`
}

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
		return c.JSON(http.StatusOK, s.orderView(rec))
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
		return c.JSON(http.StatusOK, s.orderView(rec))
	}
}

func (s *Server) orderView(rec *store.Record) orderResponse {
	res := rec.Results
	if res == nil {
		res = map[string]store.TargetResult{}
	}
	return orderResponse{
		ID: rec.Order.ID, ExternalID: rec.Order.ExternalID, Status: rec.Status, StatusReason: rec.Reason,
		Order: rec.Order, ERP: res,
		Tracking: trackingLink{URL: s.trackingURL(rec.Order.ID, rec.Token), Token: rec.Token},
	}
}
