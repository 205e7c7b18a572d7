package erpsim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// The v1 interface: the old release's order interface. It is NOT
// idempotent — every CreateOrder stores a new order, also for a Reference
// already held, so a repeat shows in GET /sim/orders as a second order with
// the same external_ref — and it looks orders up by Reference
// (FindOrderByReference, oldest first) and reports status by OrderNumber
// (GetOrderStatus). Its store is its own: it models another system than v2.
// See soap/erpv1ws/erpv1.wsdl.

func init() { registerVersion("v1", newV1) }

// Limits of the simulated ERP v1 beyond the schema's maxLength facets
// (which it enforces too).
const (
	v1MaxLines    = 999
	v1MaxQuantity = 1_000_000
	// v1MaxIssues bounds the issues of one fault, so a hostile order cannot
	// turn into a huge fault.
	v1MaxIssues = 100
)

type v1Handler struct {
	sim *Sim
	v   *version
}

func newV1(s *Sim) *version {
	v := &version{path: "/erp/v1", wsdl: erpv1ws.WSDL, numberPrefix: "V1-", ns: erpv1ws.Namespace}
	h := &v1Handler{sim: s, v: v}
	v.serve = h.serve
	v.fast = map[string]fastOp{
		"CreateOrder":          fastOpOf(readV1Create, h.createOrder),
		"FindOrderByReference": fastOpOf(readV1Find, h.findOrders),
	}
	v.fault = func(faultCode, code, msg string) *soap.Fault {
		return v1Fault(faultCode, erpv1ws.ErrorCode(code), msg)
	}
	return v
}

func (h *v1Handler) serve(_ context.Context, req *soap.Request) (any, error) {
	if req.Operation.Space != erpv1ws.Namespace {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST,
			fmt.Sprintf("unknown operation {%s}%s", req.Operation.Space, req.Operation.Local))
	}
	switch req.Operation.Local {
	case "CreateOrder":
		return h.create(req)
	case "FindOrderByReference":
		return h.find(req)
	case "GetOrderStatus":
		return h.status(req)
	default:
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "unknown operation "+req.Operation.Local)
	}
}

func (h *v1Handler) create(req *soap.Request) (any, error) {
	var in erpv1ws.CreateOrder
	if err := req.Decode(&in); err != nil {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "CreateOrder does not match the schema")
	}
	return h.createOrder(&in)
}

// createOrder answers a CreateOrder read by Decode or by the fast path.
func (h *v1Handler) createOrder(in *erpv1ws.CreateOrder) (any, error) {
	o := in.Order
	total, f := h.check(o)
	if f != nil {
		ref := ""
		if o != nil {
			ref = o.Reference
		}
		h.sim.log.Debug("erpsim: v1 order refused", "reference", ref, "fault", f.String)
		return nil, f
	}
	now := h.sim.clock()
	rec, err := h.v.store.createNew(o.Reference, now, func(r *record) {
		r.total = total
		r.currency = o.Currency
		r.lineCount = len(o.Line)
		r.payload = o
		h.sim.startLifecycle(r, now)
	})
	if errors.Is(err, errStoreFull) {
		h.sim.log.Warn("erpsim: v1 order store full; refusing creates", "max_orders", h.v.store.max)
		return nil, v1Fault(soap.FaultServer, erpv1ws.ErrorCodeSERVICE_UNAVAILABLE, "the ERP cannot take more orders")
	}
	if err != nil {
		return nil, v1Fault(soap.FaultServer, erpv1ws.ErrorCodeSERVICE_UNAVAILABLE, "internal error")
	}
	return &erpv1ws.CreateOrderResponse{
		OrderNumber: rec.number,
		Reference:   rec.ref,
		Status:      v1Status(rec.status.Status),
		OrderTotal:  v1Amount(rec.total),
		Currency:    rec.currency,
		LineCount:   int32(rec.lineCount),
	}, nil
}

func (h *v1Handler) find(req *soap.Request) (any, error) {
	var in erpv1ws.FindOrderByReference
	if err := req.Decode(&in); err != nil {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "FindOrderByReference does not match the schema")
	}
	return h.findOrders(&in)
}

// findOrders answers a FindOrderByReference.
func (h *v1Handler) findOrders(in *erpv1ws.FindOrderByReference) (any, error) {
	if in.Reference == "" {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "Reference is required")
	}
	out := &erpv1ws.FindOrderByReferenceResponse{}
	for _, rec := range v1Matches(h.v.store, in.Reference) {
		m := &erpv1ws.OrderRecord{
			OrderNumber: rec.number,
			Reference:   rec.ref,
			Status:      v1Status(rec.status.Status),
			EnteredAt:   v1Timestamp(rec.createdAt),
			OrderTotal:  v1Amount(rec.total),
			Currency:    rec.currency,
			LineCount:   int32(rec.lineCount),
		}
		if in.IncludeDetails {
			m.Order = rec.payload.(*erpv1ws.Order)
		}
		out.Match = append(out.Match, m)
	}
	return out, nil
}

func (h *v1Handler) status(req *soap.Request) (any, error) {
	var in erpv1ws.GetOrderStatus
	if err := req.Decode(&in); err != nil {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "GetOrderStatus does not match the schema")
	}
	return h.orderStatus(&in)
}

// orderStatus answers a GetOrderStatus.
func (h *v1Handler) orderStatus(in *erpv1ws.GetOrderStatus) (any, error) {
	if in.OrderNumber == "" {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "OrderNumber is required")
	}
	rec, ok := v1ByNumber(h.v.store, in.OrderNumber)
	if !ok {
		return nil, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeNOT_FOUND, "no order with number "+in.OrderNumber)
	}
	out := &erpv1ws.GetOrderStatusResponse{
		OrderNumber: rec.number,
		Reference:   rec.ref,
		Status:      v1Status(rec.status.Status),
		StatusDate:  v1Timestamp(rec.status.ChangedAt),
		Carrier:     rec.status.Carrier,
		TrackingNo:  rec.status.TrackingNumber,
	}
	if rec.status.ExpectedDelivery != "" {
		d := erpv1ws.CalendarDate(rec.status.ExpectedDelivery)
		out.PlannedDelivery = &d
	}
	return out, nil
}

// check validates a v1 order as the old ERP would — the schema's facets
// first (INVALID_ORDER, every finding at once), then the items against the
// catalog (UNKNOWN_SKU, one issue per line) — and computes the total it
// books: Σ Quantity × NetPrice + ShippingCharge.
func (h *v1Handler) check(o *erpv1ws.Order) (order.Decimal, *soap.Fault) {
	if o == nil {
		return 0, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_REQUEST, "Order is required")
	}
	var c v1Checker
	c.text("Reference", o.Reference, true, erpv1ws.MaxReferenceLen)
	c.text("CustomerOrderNo", o.CustomerOrderNo, false, erpv1ws.MaxCustomerOrderNoLen)
	c.text("CustomerName", o.CustomerName, true, erpv1ws.MaxCustomerNameLen)
	c.text("DeliveryName", o.DeliveryName, true, erpv1ws.MaxDeliveryNameLen)
	c.text("DeliveryAddress", o.DeliveryAddress, true, erpv1ws.MaxDeliveryAddressLen)
	if !v1Code(o.DeliveryCountry, 2) {
		c.add("DeliveryCountry", 0, "", "must be an ISO 3166-1 alpha-2 code")
	}
	if !v1Code(o.Currency, 3) {
		c.add("Currency", 0, "", "must be an ISO 4217 code")
	}
	c.text("ShipVia", o.ShipVia, false, erpv1ws.MaxShipViaLen)
	c.text("Remarks", o.Remarks, false, erpv1ws.MaxRemarksLen)
	if len(o.OrderText) > erpv1ws.MaxOrderTexts {
		c.add("OrderText", 0, "", fmt.Sprintf("at most %d order texts", erpv1ws.MaxOrderTexts))
	}
	for i, t := range o.OrderText {
		if t == nil {
			c.add(fmt.Sprintf("OrderText[%d]", i+1), 0, "", "is empty")
			continue
		}
		c.text(fmt.Sprintf("OrderText[%d]", i+1), string(*t), false, erpv1ws.MaxOrderTextLen)
	}
	if len(o.Line) == 0 || len(o.Line) > v1MaxLines {
		c.add("Line", 0, "", fmt.Sprintf("an order has 1 to %d lines", v1MaxLines))
	}
	var total order.Decimal
	ok := true
	var unknown []*erpv1ws.Issue
	for i, l := range o.Line {
		path := fmt.Sprintf("Line[%d]", i+1)
		if l == nil {
			c.add(path, int32(i+1), "", "is empty")
			ok = false
			continue
		}
		if int(l.LineNo) != i+1 {
			c.add(path+".LineNo", int32(i+1), l.ItemNo, fmt.Sprintf("lines must be numbered 1, 2, 3, …; got %d at position %d", l.LineNo, i+1))
		}
		c.text(path+".ItemNo", l.ItemNo, true, erpv1ws.MaxItemNoLen)
		c.text(path+".ItemText", l.ItemText, false, erpv1ws.MaxItemTextLen)
		if l.Quantity < 1 || l.Quantity > v1MaxQuantity {
			c.add(path+".Quantity", int32(i+1), l.ItemNo, fmt.Sprintf("must be between 1 and %d", v1MaxQuantity))
			ok = false
		}
		price, pok := c.amount(path+".NetPrice", l.NetPrice)
		if !pok {
			ok = false
		}
		if ok {
			lt, lok := price.MulIntChecked(int64(l.Quantity))
			if lok {
				total, lok = total.AddChecked(lt)
			}
			if !lok {
				c.add(path, int32(i+1), l.ItemNo, "line amount out of range")
				ok = false
			}
		}
		if l.ItemNo != "" {
			if _, sold := h.sim.catalog[l.ItemNo]; !sold {
				unknown = append(unknown, &erpv1ws.Issue{Field: path + ".ItemNo", LineNo: int32(i + 1), ItemNo: l.ItemNo, Text: "unknown item " + l.ItemNo})
			}
		}
	}
	if p, pok := c.amount("ShippingCharge", o.ShippingCharge); pok && ok {
		if total, ok = total.AddChecked(p); !ok {
			c.add("ShippingCharge", 0, "", "order total out of range")
		}
	}
	if len(c.issues) > 0 {
		return 0, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeINVALID_ORDER,
			fmt.Sprintf("order %s is invalid: %s %s", o.Reference, c.issues[0].Field, c.issues[0].Text), c.issues...)
	}
	if len(unknown) > 0 {
		items := make([]string, len(unknown))
		for i, is := range unknown {
			items[i] = is.ItemNo
		}
		msg := "unknown item " + items[0]
		if len(items) > 1 {
			msg = "unknown items " + strings.Join(items, ", ")
		}
		if len(unknown) > v1MaxIssues {
			unknown = unknown[:v1MaxIssues]
		}
		return 0, v1Fault(soap.FaultClient, erpv1ws.ErrorCodeUNKNOWN_SKU, msg, unknown...)
	}
	return total, nil
}

// v1Checker collects the findings of check.
type v1Checker struct{ issues []*erpv1ws.Issue }

func (c *v1Checker) add(field string, line int32, item, text string) {
	if len(c.issues) < v1MaxIssues {
		c.issues = append(c.issues, &erpv1ws.Issue{Field: field, LineNo: line, ItemNo: item, Text: text})
	}
}

// text checks a string against a maxLength facet (in characters).
func (c *v1Checker) text(field, s string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.add(field, 0, "", "is required")
	case !utf8.ValidString(s):
		c.add(field, 0, "", "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		c.add(field, 0, "", "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// amount parses a required Amount: non-negative, at most 2 decimals.
func (c *v1Checker) amount(field string, a *erpv1ws.Amount) (order.Decimal, bool) {
	if a == nil {
		c.add(field, 0, "", "is required")
		return 0, false
	}
	d, err := order.ParseDecimal(strings.TrimSpace(string(*a)))
	if err != nil || d < 0 || d.FracDigits() > 2 {
		c.add(field, 0, "", "must be a non-negative amount with at most 2 decimals")
		return 0, false
	}
	return d, true
}

// v1Code reports whether s is n upper-case ASCII letters (a country or
// currency code).
func v1Code(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// v1Matches returns every order st holds with ref, oldest first. Records
// are copies; their payload is never modified after storing.
func v1Matches(st *store, ref string) []record {
	st.mu.Lock()
	defer st.mu.Unlock()
	recs := st.byRef[ref]
	out := make([]record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// v1ByNumber finds an order by its number. Numbers grow with the list (the
// store appends and numbers from one counter), so a binary search over the
// list finds it without an index, also after a reset.
func v1ByNumber(st *store, number string) (record, bool) {
	want, ok := v1Seq(st.prefix, number)
	if !ok {
		return record{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	i := sort.Search(len(st.list), func(i int) bool {
		seq, _ := v1Seq(st.prefix, st.list[i].number)
		return seq >= want
	})
	if i < len(st.list) && st.list[i].number == number {
		return *st.list[i], true
	}
	return record{}, false
}

// v1Seq parses the counter of an order number prefix + digits.
func v1Seq(prefix, number string) (int, bool) {
	digits, ok := strings.CutPrefix(number, prefix)
	if !ok || digits == "" || len(digits) > 12 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// v1Codes maps the simulator's status words to v1's status codes.
var v1Codes = map[string]erpv1ws.OrderStatus{
	StatusConfirmed:   erpv1ws.OrderStatusENTERED,
	StatusBackordered: erpv1ws.OrderStatusBACKORDER,
	StatusAllocated:   erpv1ws.OrderStatusRELEASED,
	StatusPicked:      erpv1ws.OrderStatusPICKED,
	StatusShipped:     erpv1ws.OrderStatusSHIPPED,
	StatusDelivered:   erpv1ws.OrderStatusDELIVERED,
	StatusCancelled:   erpv1ws.OrderStatusCANCELLED,
	StatusRejected:    erpv1ws.OrderStatusREJECTED,
}

func v1Status(word string) *erpv1ws.OrderStatus {
	c, ok := v1Codes[word]
	if !ok {
		c = erpv1ws.OrderStatusENTERED
	}
	return &c
}

func v1Amount(d order.Decimal) *erpv1ws.Amount {
	a := erpv1ws.Amount(d.Round(2).String())
	return &a
}

func v1Timestamp(t time.Time) *erpv1ws.Timestamp {
	ts := erpv1ws.Timestamp(t.UTC().Format(time.RFC3339Nano))
	return &ts
}

// v1Fault builds a v1 fault with its typed ErpFault detail.
func v1Fault(faultCode string, code erpv1ws.ErrorCode, msg string, issues ...*erpv1ws.Issue) *soap.Fault {
	return &soap.Fault{
		Code:          faultCode,
		String:        msg,
		HTTPStatus:    http.StatusInternalServerError,
		Detail:        soap.FaultDetail{Code: string(code), Message: msg},
		DetailElement: &erpv1ws.ErpFault{ErrorCode: &code, Message: msg, Issue: issues},
	}
}
