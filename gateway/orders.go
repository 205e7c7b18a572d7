package gateway

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/order"
	"erpgate/store"
)

// orderRequest is the body of POST /v1/orders: the canonical order without
// the fields the gateway assigns (id, shop_id, created_at), so a client that
// sends them gets "unknown field" rather than silently ignored data.
type orderRequest struct {
	ExternalID            string         `json:"external_id"`
	Customer              order.Customer `json:"customer"`
	ShippingAddress       order.Address  `json:"shipping_address"`
	BillingAddress        *order.Address `json:"billing_address,omitempty"`
	Currency              string         `json:"currency"`
	Lines                 []order.Line   `json:"lines"`
	Shipping              order.Shipping `json:"shipping"`
	RequestedDeliveryDate string         `json:"requested_delivery_date,omitempty"`
	Notes                 string         `json:"notes,omitempty"`
}

func (r *orderRequest) order() *order.Order {
	return &order.Order{
		ExternalID: r.ExternalID, Customer: r.Customer, ShippingAddress: r.ShippingAddress,
		BillingAddress: r.BillingAddress, Currency: r.Currency, Lines: r.Lines, Shipping: r.Shipping,
		RequestedDeliveryDate: r.RequestedDeliveryDate, Notes: r.Notes,
	}
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
		if err := decodeJSON(c, &req); err != nil {
			s.metrics.intake.WithLabelValues("rest", "invalid").Inc()
			return err
		}
		acc, err := s.intake.Submit(c.Request().Context(), principal(c).ClientID, req.order(), c.Request().Header.Get("Idempotency-Key"))
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
