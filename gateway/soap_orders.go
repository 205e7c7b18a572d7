package gateway

// The shop-facing SOAP OrderService (WSDL: soap/orderws/orderservice.wsdl).
//
// It is a second door to the same rooms: SubmitOrder goes through the shared
// Intake (validation, idempotency, durable accept) and GetOrder /
// GetOrderStatus read the same store records as the REST API, so the two
// channels cannot drift. What is SOAP-specific lives here: the hardened
// envelope reading (package soap), a strict decode that refuses elements the
// schema does not declare, the translation between the gowsdl wire types and
// the canonical order, field paths named after WSDL elements, credentials
// (Bearer header or WS-Security UsernameToken) and faults instead of
// problem+json.

import (
	"context"
	"encoding/xml"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/orderws"
	"erpgate/store"
)

// soapOrdersPath is where the OrderService is served (POST) and its WSDL
// (GET ?wsdl). The WSDL's soap:address is rewritten to it.
const soapOrdersPath = "/soap/orders"

// soapTimestamp is how points in time are written (Timestamp in the WSDL):
// RFC 3339 in UTC with milliseconds, the precision orders are stored with.
const soapTimestamp = "2006-01-02T15:04:05.000Z07:00"

// handleOrderServiceWSDL serves the OrderService WSDL (see handleWSDL).
func (s *Server) handleOrderServiceWSDL() echo.HandlerFunc {
	return handleWSDL(orderws.WSDL, orderws.DefaultLocation, soapOrdersPath, methodNotAllowed)
}

// handleOrderService is the SOAP endpoint (see serveSOAP).
func (s *Server) handleOrderService() echo.HandlerFunc {
	return s.serveSOAP(soapService{
		namespace:        orderws.Namespace,
		unknownOperation: unknownOperation,
		limits:           soap.DefaultLimits(), // 1 MiB body, depth/element/attribute/token bounds
		authenticate:     s.soapShop,
		ops: soapOps{
			orderws.OpSubmitOrder:    soapOpDecoding(s.decodeSubmitOrder, s.soapSubmitOrder),
			orderws.OpGetOrder:       soapOp(s.soapGetOrder),
			orderws.OpGetOrderStatus: soapOp(s.soapGetOrderStatus),
		},
	})
}

// soapShop authenticates the shop: transport-level credentials are checked
// before the body is read, a WS-Security UsernameToken after.
func (s *Server) soapShop(x *soapExchange) (*soap.Request, string, bool) {
	var viaHeader *Client
	if x.c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		cl, f := s.soapBearer(x.c)
		if f != nil {
			x.refuse(f)
			return nil, "", false
		}
		viaHeader = &cl
		authenticated(x.c)
	}
	req, ok := x.read()
	if !ok {
		return nil, "", false
	}
	shop, f := s.soapPrincipal(req, viaHeader)
	if f != nil {
		x.refuse(f)
		return nil, "", false
	}
	authenticated(x.c)
	x.c.Set(principalKey, Principal{ClientID: shop, Kind: KindShop})
	return req, shop, true
}

func unknownOperation(op xml.Name) error {
	return unknownOperationError("SubmitOrder, GetOrder and GetOrderStatus in "+orderws.Namespace, op)
}

func authFault(status int, code, msg string) *soap.Fault {
	return &soap.Fault{Code: soap.FaultClient, String: msg, HTTPStatus: status,
		Detail: soap.FaultDetail{Code: code, Message: msg}}
}

// soapBearer authenticates the Authorization header. Failures are
// transport-level, so they get the HTTP status REST uses (401, 403) — with a
// SOAP fault as the body, which SOAP toolkits raise as a fault.
func (s *Server) soapBearer(c echo.Context) (Client, *soap.Fault) {
	key := bearer(c)
	if key == "" {
		return Client{}, authFault(http.StatusUnauthorized, erpgate.Unauthorized,
			"unsupported Authorization scheme: send Authorization: Bearer <api key> or a WS-Security UsernameToken")
	}
	cl, ok := s.keys.Lookup(key)
	if !ok {
		return Client{}, authFault(http.StatusUnauthorized, erpgate.Unauthorized, "invalid API key")
	}
	if cl.Kind != KindShop {
		return Client{}, authFault(http.StatusForbidden, erpgate.Forbidden, "this key may not call the OrderService")
	}
	return cl, nil
}

// soapPrincipal returns the authenticated shop. A WS-Security UsernameToken
// (Username = client id, Password = API key as PasswordText) authenticates
// at the message level; its failures are Client faults with HTTP 500 as WS-I
// BP wants for faults. When a Bearer header was also sent, both must name
// the same client. A Security header without any UsernameToken (e.g. only a
// wsu:Timestamp, which some toolkits always add) is ignored.
func (s *Server) soapPrincipal(req *soap.Request, viaHeader *Client) (string, *soap.Fault) {
	user, pass, ok := req.UsernameToken()
	if !ok {
		tokens, digest := req.UsernameTokens()
		switch {
		case digest:
			return "", authFault(http.StatusInternalServerError, erpgate.Unauthorized,
				"WS-Security PasswordDigest is not supported (API keys are stored only as hashes): send the key as PasswordText over TLS, or Authorization: Bearer <api key>")
		case tokens > 1:
			return "", authFault(http.StatusInternalServerError, erpgate.Unauthorized, "the WS-Security header must hold exactly one UsernameToken")
		case tokens == 1:
			return "", authFault(http.StatusInternalServerError, erpgate.Unauthorized, "the WS-Security UsernameToken needs a Username (your client id) and a Password (your API key)")
		case viaHeader != nil:
			return viaHeader.ID, nil
		default:
			return "", authFault(http.StatusUnauthorized, erpgate.Unauthorized,
				"missing credentials: send Authorization: Bearer <api key> or a WS-Security UsernameToken")
		}
	}
	cl, found := s.keys.Lookup(pass)
	if !found || cl.ID != user {
		// One message for both: which half was wrong is no business of a
		// caller who does not hold the key.
		return "", authFault(http.StatusInternalServerError, erpgate.Unauthorized, "invalid WS-Security UsernameToken")
	}
	if cl.Kind != KindShop {
		return "", authFault(http.StatusInternalServerError, erpgate.Forbidden, "this key may not call the OrderService")
	}
	if viaHeader != nil && viaHeader.ID != cl.ID {
		return "", authFault(http.StatusInternalServerError, erpgate.Unauthorized, "the Authorization header and the WS-Security UsernameToken name different clients")
	}
	return cl.ID, nil
}

// decodeSubmitOrder decodes SubmitOrder: the fast path (soap_decode.go)
// when it takes the request, else Request.DecodeStrict.
func (s *Server) decodeSubmitOrder(req *soap.Request, in *orderws.SubmitOrder) error {
	if decodeSubmitOrderFast(req, in) {
		return nil
	}
	*in = orderws.SubmitOrder{} // DecodeStrict starts from scratch
	if err := req.DecodeStrict(in); err != nil {
		s.metrics.intake.WithLabelValues("soap", "invalid").Inc()
		return err
	}
	return nil
}

// soapSubmitOrder is SubmitOrder: translate, the shared Intake.
func (s *Server) soapSubmitOrder(ctx context.Context, call soapCall, in *orderws.SubmitOrder) (any, error) {
	shop := call.caller
	o, err := orderFromWire(in.Order, s.now())
	if err != nil {
		s.metrics.intake.WithLabelValues("soap", "invalid").Inc()
		return nil, err
	}
	key, keyField := in.IdempotencyKey, "IdempotencyKey"
	if h := call.r.Header.Get("Idempotency-Key"); h != "" {
		if key != "" && key != h {
			s.metrics.intake.WithLabelValues("soap", "invalid").Inc()
			return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "the IdempotencyKey element and the Idempotency-Key header differ",
				Problems: []erpgate.Problem{{Field: "IdempotencyKey", Message: "must equal the Idempotency-Key header when both are sent"}}}
		}
		key, keyField = h, "Idempotency-Key"
	}
	acc, err := s.intake.Submit(ctx, shop, o, key)
	if err != nil {
		s.metrics.intake.WithLabelValues("soap", intakeOutcome(err)).Inc()
		return nil, soapProblems(err, keyField)
	}
	outcome := "accepted"
	if acc.Replayed {
		outcome = "replayed"
	}
	s.metrics.intake.WithLabelValues("soap", outcome).Inc()
	return &orderws.SubmitOrderResponse{
		OrderId:    acc.OrderID,
		ExternalId: acc.ExternalID,
		Status:     "accepted",
		Tracking:   s.wireTracking(acc.OrderID, acc.Token),
		Replayed:   acc.Replayed,
	}, nil
}

// soapGetOrder is GetOrder.
func (s *Server) soapGetOrder(ctx context.Context, call soapCall, in *orderws.GetOrder) (any, error) {
	rec, err := s.soapFindOrder(ctx, call.caller, in.OrderId, in.ExternalId)
	if err != nil {
		return nil, err
	}
	out := &orderws.GetOrderResponse{
		OrderId:      rec.Order.ID,
		ExternalId:   rec.Order.ExternalID,
		Status:       rec.Status,
		StatusReason: rec.Reason,
		Order:        wireOrder(&rec.Order),
		Tracking:     s.wireTracking(rec.Order.ID, rec.Token),
	}
	if !rec.Order.CreatedAt.IsZero() {
		ts := orderws.Timestamp(rec.Order.CreatedAt.UTC().Format(soapTimestamp))
		out.CreatedAt = &ts
	}
	targets, _, err := s.targetViews(ctx, rec)
	if err != nil {
		return nil, err
	}
	for _, target := range slices.Sorted(maps.Keys(targets)) {
		out.ErpResult = append(out.ErpResult, wireResult(target, targets[target]))
	}
	return out, nil
}

// soapGetOrderStatus is GetOrderStatus.
func (s *Server) soapGetOrderStatus(ctx context.Context, call soapCall, in *orderws.GetOrderStatus) (any, error) {
	rec, err := s.soapFindOrder(ctx, call.caller, in.OrderId, in.ExternalId)
	if err != nil {
		return nil, err
	}
	return &orderws.GetOrderStatusResponse{
		OrderId:      rec.Order.ID,
		ExternalId:   rec.Order.ExternalID,
		Status:       rec.Status,
		StatusReason: rec.Reason,
		Tracking:     s.wireTracking(rec.Order.ID, rec.Token),
	}, nil
}

// maxOrderIDLen bounds an order id we look up; real ids are 30 characters.
const maxOrderIDLen = 64

// soapFindOrder returns the shop's order named by exactly one of id and ext.
// Someone else's order is indistinguishable from no order.
func (s *Server) soapFindOrder(ctx context.Context, shop, id, ext string) (*store.Record, error) {
	switch {
	case (id == "") == (ext == ""):
		return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "give exactly one of OrderId and ExternalId",
			Problems: []erpgate.Problem{{Field: "OrderId", Message: "give exactly one of OrderId and ExternalId"}}}
	case id != "":
		if len(id) > maxOrderIDLen {
			return nil, erpgate.Errorf(erpgate.NotFound, "no such order")
		}
		rec, err := s.store.Order(ctx, id)
		if err != nil {
			return nil, err
		}
		if rec.Order.ShopID != shop {
			return nil, erpgate.Errorf(erpgate.NotFound, "no such order")
		}
		return rec, nil
	default:
		if len(ext) > order.MaxExternalIDLen {
			return nil, erpgate.Errorf(erpgate.NotFound, "no such order")
		}
		return s.store.OrderByExternalID(ctx, shop, ext)
	}
}

func (s *Server) wireTracking(id, token string) *orderws.TrackingLink {
	return &orderws.TrackingLink{Url: orderws.AnyURI(s.trackingURL(id, token)), Token: token}
}

// --- translation between wire types and the canonical order ---

// orderFromWire translates a decoded SubmitOrder/Order into the canonical
// order. Amounts go through their decimal string form, never a float. A
// required amount that is missing or an amount that is not an exact decimal
// is a problem of its own; when there is any, the order's other problems are
// listed with it (validated at now), so the shop sees everything at once.
func orderFromWire(w *orderws.Order, now time.Time) (*order.Order, error) {
	if w == nil {
		return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "the order is missing",
			Problems: []erpgate.Problem{{Field: "Order", Message: "required"}}}
	}
	var probs []erpgate.Problem
	money := func(m *orderws.Money, field string, required bool) order.Decimal {
		if m == nil {
			if required {
				probs = append(probs, erpgate.Problem{Field: field, Message: "required"})
			}
			return 0
		}
		d, err := parseXSDDecimal(string(*m))
		if err != nil {
			probs = append(probs, erpgate.Problem{Field: field, Message: decimalMessage(err)})
		}
		return d
	}
	o := &order.Order{
		ExternalID: w.ExternalId,
		Currency:   w.Currency,
		Notes:      w.Notes,
	}
	if c := w.Customer; c != nil {
		o.Customer = order.Customer{ID: c.Id, Name: c.Name, Email: c.Email, Phone: c.Phone}
	}
	if a := w.ShippingAddress; a != nil {
		o.ShippingAddress = addressFromWire(a)
	}
	if a := w.BillingAddress; a != nil {
		b := addressFromWire(a)
		o.BillingAddress = &b
	}
	if len(w.Line) > 0 {
		o.Lines = make([]order.Line, len(w.Line))
	}
	for i, l := range w.Line {
		if l == nil {
			continue
		}
		p := "Order/Line[" + strconv.Itoa(i+1) + "]/"
		n := len(probs)
		o.Lines[i] = order.Line{
			SKU:         l.Sku,
			Description: l.Description,
			Quantity:    l.Quantity,
			UnitPrice:   money(l.UnitPrice, p+"UnitPrice", true),
		}
		badPrice := len(probs) > n
		o.Lines[i].Discount = money(l.Discount, p+"Discount", false)
		if badPrice {
			// Without a unit price the discount rule (at most quantity ×
			// unit price) would report a phantom problem.
			o.Lines[i].Discount = 0
		}
	}
	if sh := w.Shipping; sh != nil {
		o.Shipping = order.Shipping{Method: sh.Method, Price: money(sh.Price, "Order/Shipping/Price", true)}
	} else {
		probs = append(probs, erpgate.Problem{Field: "Order/Shipping", Message: "required"})
	}
	if d := w.RequestedDeliveryDate; d != nil {
		o.RequestedDeliveryDate = strings.Trim(string(*d), xmlSpace)
	}
	if len(probs) == 0 {
		return o, nil
	}
	// Add the validator's findings, except for fields already reported
	// (their zero stand-in values would only produce a second, misleading
	// problem).
	reported := make(map[string]bool, len(probs))
	for _, p := range probs {
		reported[p.Field] = true
	}
	for _, p := range erpgate.ErrorProblems(o.ValidateAt(now)) {
		if f := soapPath(p.Field); !reported[f] && !reported[parentPath(f)] {
			probs = append(probs, erpgate.Problem{Field: f, Message: p.Message})
		}
	}
	if len(probs) > order.MaxProblems {
		n := len(probs) - (order.MaxProblems - 1)
		probs = append(probs[:order.MaxProblems-1], erpgate.Problem{Message: strconv.Itoa(n) + " more problems not listed"})
	}
	count := strconv.Itoa(len(probs)) + " problems"
	if len(probs) == 1 {
		count = "1 problem"
	}
	return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "the order is invalid: " + count, Problems: probs}
}

func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return ""
}

func addressFromWire(a *orderws.Address) order.Address {
	return order.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City,
		PostalCode: a.PostalCode, Region: a.Region, Country: a.Country}
}

// xmlSpace is the whitespace XML Schema collapses around decimals and dates.
const xmlSpace = " \t\r\n"

// parseXSDDecimal parses the lexical forms xsd:decimal allows — an optional
// sign, optional leading zeros, "5." and ".5", and trailing fractional zeros —
// into an order.Decimal, exactly. Everything order.ParseDecimal refuses
// beyond that (exponents, more than 4 significant fractional digits, out of
// range) stays refused.
func parseXSDDecimal(s string) (order.Decimal, error) {
	s = strings.Trim(s, xmlSpace)
	neg := false
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && frac == "" || strings.ContainsAny(intPart+frac, "+-") {
		return 0, order.ErrDecimalSyntax
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if hasDot {
		frac = strings.TrimRight(frac, "0")
	}
	if frac != "" {
		intPart += "." + frac
	}
	if neg {
		intPart = "-" + intPart
	}
	return order.ParseDecimal(intPart)
}

func decimalMessage(err error) string {
	switch {
	case errors.Is(err, order.ErrDecimalPrecision):
		return "must have at most 4 fractional digits"
	case errors.Is(err, order.ErrDecimalRange):
		return "must be at most " + order.MaxDecimal.String()
	default:
		return "must be a decimal number such as 19.99"
	}
}

func wireOrder(o *order.Order) *orderws.Order {
	money := func(d order.Decimal) *orderws.Money {
		m := orderws.Money(d.String())
		return &m
	}
	w := &orderws.Order{
		ExternalId:      o.ExternalID,
		Customer:        &orderws.Customer{Id: o.Customer.ID, Name: o.Customer.Name, Email: o.Customer.Email, Phone: o.Customer.Phone},
		ShippingAddress: wireAddress(&o.ShippingAddress),
		Currency:        o.Currency,
		Line:            make([]*orderws.OrderLine, len(o.Lines)),
		Shipping:        &orderws.Shipping{Method: o.Shipping.Method, Price: money(o.Shipping.Price)},
		Notes:           o.Notes,
	}
	if o.BillingAddress != nil {
		w.BillingAddress = wireAddress(o.BillingAddress)
	}
	for i, l := range o.Lines {
		wl := &orderws.OrderLine{Sku: l.SKU, Description: l.Description, Quantity: l.Quantity, UnitPrice: money(l.UnitPrice)}
		if !l.Discount.IsZero() {
			wl.Discount = money(l.Discount)
		}
		w.Line[i] = wl
	}
	if o.RequestedDeliveryDate != "" {
		d := orderws.CalendarDate(o.RequestedDeliveryDate)
		w.RequestedDeliveryDate = &d
	}
	return w
}

func wireAddress(a *order.Address) *orderws.Address {
	return &orderws.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City,
		PostalCode: a.PostalCode, Region: a.Region, Country: a.Country}
}

func wireResult(target string, r targetView) *orderws.ErpResult {
	out := &orderws.ErpResult{Target: target, State: r.State, ErpOrderNumber: r.ERPOrderNumber, ErpStatus: r.ERPStatus,
		Reason: r.Reason, Authoritative: r.Authoritative, Paused: r.Paused}
	if r.UpdatedAt != nil {
		ts := orderws.Timestamp(r.UpdatedAt.UTC().Format(soapTimestamp))
		out.UpdatedAt = &ts
	}
	return out
}

// soapFieldNames maps the canonical order's field names (the JSON names the
// validator uses in problem paths) to the WSDL's element names.
var soapFieldNames = map[string]string{
	"external_id": "ExternalId", "customer": "Customer", "id": "Id", "name": "Name", "email": "Email",
	"phone": "Phone", "shipping_address": "ShippingAddress", "billing_address": "BillingAddress",
	"line1": "Line1", "line2": "Line2", "city": "City", "postal_code": "PostalCode", "region": "Region",
	"country": "Country", "currency": "Currency", "lines": "Line", "sku": "Sku", "description": "Description",
	"quantity": "Quantity", "unit_price": "UnitPrice", "discount": "Discount", "shipping": "Shipping",
	"method": "Method", "price": "Price", "requested_delivery_date": "RequestedDeliveryDate", "notes": "Notes",
}

// soapPath turns a validator path ("lines[2].unit_price") into the path of
// the request element it came from ("Order/Line[3]/UnitPrice": WSDL names,
// 1-based positions as in XPath). An empty path (a note about the whole
// order) stays empty.
func soapPath(p string) string {
	if p == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("Order")
	for seg := range strings.SplitSeq(p, ".") {
		name, idx, hasIdx := strings.Cut(seg, "[")
		if n, ok := soapFieldNames[name]; ok {
			name = n
		}
		b.WriteString("/")
		b.WriteString(name)
		if hasIdx {
			if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				b.WriteString("[" + strconv.Itoa(i+1) + "]")
			} else {
				b.WriteString("[" + idx)
			}
		}
	}
	return b.String()
}

// soapProblems rewrites the problem paths of an intake error for SOAP
// clients. keyField names where the idempotency key came from.
func soapProblems(err error, keyField string) error {
	var e *erpgate.Error
	if !errors.As(err, &e) || len(e.Problems) == 0 {
		return err
	}
	out := *e
	out.Problems = make([]erpgate.Problem, len(e.Problems))
	for i, p := range e.Problems {
		if p.Field == "Idempotency-Key" {
			p.Field = keyField
		} else {
			p.Field = soapPath(p.Field)
		}
		out.Problems[i] = p
	}
	return &out
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
