package erpsim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv2ws"
)

// The v2 interface: idempotent by ExternalReference, structured data, typed
// ErpFault details. See soap/erpv2ws/erpv2.wsdl.

func init() { registerVersion("v2", newV2) }

// Limits of the simulated ERP v2. They are the ERP's own and deliberately
// at least as wide as the canonical order's (order.Max*), so a valid order
// is never refused for its size.
const (
	v2MaxLines    = 999
	v2MaxRefLen   = 64
	v2MaxTextLen  = 255  // names, address fields, sku, method
	v2MaxDescLen  = 1000 // line description
	v2MaxNotesLen = 4000
	v2MaxQuantity = 1_000_000
)

type v2Handler struct {
	sim *Sim
	v   *version
}

func newV2(s *Sim) *version {
	v := &version{path: "/erp/v2", wsdl: erpv2ws.WSDL, numberPrefix: "SO-2V-", ns: erpv2ws.Namespace}
	h := &v2Handler{sim: s, v: v}
	v.serve = h.serve
	v.fast = map[string]fastOp{
		"CreateSalesOrder": fastOpOf(readV2Create, h.createSalesOrder),
	}
	v.fault = func(faultCode, code, msg string) *soap.Fault {
		return v2Fault(faultCode, erpv2ws.ErrorCode(code), msg)
	}
	return v
}

func (h *v2Handler) serve(ctx context.Context, req *soap.Request) (any, error) {
	if req.Operation.Space != erpv2ws.Namespace {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST,
			fmt.Sprintf("unknown operation {%s}%s", req.Operation.Space, req.Operation.Local))
	}
	switch req.Operation.Local {
	case "CreateSalesOrder":
		return h.create(req)
	case "GetSalesOrder":
		return h.get(req)
	case "GetSalesOrderStatus":
		return h.status(req)
	default:
		// The supply-chain operations (supplyws.go).
		if resp, handled, err := h.serveSupply(req); handled {
			return resp, err
		}
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "unknown operation "+req.Operation.Local)
	}
}

func (h *v2Handler) create(req *soap.Request) (any, error) {
	var in erpv2ws.CreateSalesOrder
	if err := req.Decode(&in); err != nil {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "CreateSalesOrder does not match the schema")
	}
	return h.createSalesOrder(&in)
}

// createSalesOrder answers a CreateSalesOrder read by Decode or by the
// fast path.
func (h *v2Handler) createSalesOrder(in *erpv2ws.CreateSalesOrder) (any, error) {
	so := in.SalesOrder
	total, f := h.check(so)
	if f != nil {
		h.sim.log.Debug("erpsim: v2 order refused", "external_ref", refOf(so), "fault", f.String)
		return nil, f
	}
	now := h.sim.clock()
	rec, existed, err := h.v.store.createOnce(so.ExternalReference, now, func(r *record) {
		r.total = total
		r.currency = so.Currency
		r.lineCount = len(so.Line)
		r.payload = so
		h.sim.startLifecycle(r, now)
	})
	if errors.Is(err, errStoreFull) {
		h.sim.log.Warn("erpsim: v2 order store full; refusing creates", "max_orders", h.v.store.max)
		return nil, v2Fault(soap.FaultServer, erpv2ws.ErrorCodeSERVICE_UNAVAILABLE, "the ERP cannot take more orders")
	}
	if err != nil {
		return nil, v2Fault(soap.FaultServer, erpv2ws.ErrorCodeSERVICE_UNAVAILABLE, "internal error")
	}
	return &erpv2ws.CreateSalesOrderResponse{
		SalesOrderNumber:  rec.number,
		ExternalReference: rec.ref,
		Status:            ptr(erpv2ws.OrderStatus(rec.status.Status)),
		OrderTotal:        money(rec.total),
		Currency:          rec.currency,
		LineCount:         int32(rec.lineCount),
		AlreadyExists:     existed,
	}, nil
}

func (h *v2Handler) get(req *soap.Request) (any, error) {
	var in erpv2ws.GetSalesOrder
	if err := req.Decode(&in); err != nil {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "GetSalesOrder does not match the schema")
	}
	return h.getSalesOrder(&in)
}

// getSalesOrder answers a GetSalesOrder.
func (h *v2Handler) getSalesOrder(in *erpv2ws.GetSalesOrder) (any, error) {
	rec, f := h.lookup(in.ExternalReference)
	if f != nil {
		return nil, f
	}
	return &erpv2ws.GetSalesOrderResponse{
		SalesOrderNumber: rec.number,
		Status:           ptr(erpv2ws.OrderStatus(rec.status.Status)),
		OrderTotal:       money(rec.total),
		LineCount:        int32(rec.lineCount),
		CreatedAt:        timestamp(rec.createdAt),
		SalesOrder:       rec.payload.(*erpv2ws.SalesOrder),
	}, nil
}

func (h *v2Handler) status(req *soap.Request) (any, error) {
	var in erpv2ws.GetSalesOrderStatus
	if err := req.Decode(&in); err != nil {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "GetSalesOrderStatus does not match the schema")
	}
	return h.salesOrderStatus(&in)
}

// salesOrderStatus answers a GetSalesOrderStatus.
func (h *v2Handler) salesOrderStatus(in *erpv2ws.GetSalesOrderStatus) (any, error) {
	rec, f := h.lookup(in.ExternalReference)
	if f != nil {
		return nil, f
	}
	out := &erpv2ws.GetSalesOrderStatusResponse{
		SalesOrderNumber:  rec.number,
		ExternalReference: rec.ref,
		Status:            ptr(erpv2ws.OrderStatus(rec.status.Status)),
		StatusChangedAt:   timestamp(rec.status.ChangedAt),
		Carrier:           rec.status.Carrier,
		TrackingNumber:    rec.status.TrackingNumber,
	}
	if rec.status.ExpectedDelivery != "" {
		out.ExpectedDeliveryDate = ptr(erpv2ws.CalendarDate(rec.status.ExpectedDelivery))
	}
	return out, nil
}

func (h *v2Handler) lookup(ref string) (record, *soap.Fault) {
	if ref == "" {
		return record{}, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "ExternalReference is required")
	}
	rec, ok := h.v.store.lookup(ref)
	if !ok {
		return record{}, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeNOT_FOUND, "no sales order with external reference "+ref)
	}
	return rec, nil
}

// check validates a v2 sales order as the ERP would and computes its total:
// first the form (INVALID_ORDER, every finding at once), then the skus
// against the catalog (UNKNOWN_SKU, one issue per line).
func (h *v2Handler) check(so *erpv2ws.SalesOrder) (order.Decimal, *soap.Fault) {
	if so == nil {
		return 0, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "SalesOrder is required")
	}
	var c v2Checker
	c.text("ExternalReference", so.ExternalReference, true, v2MaxRefLen)
	c.text("SalesChannel", so.SalesChannel, false, v2MaxTextLen)
	c.text("CustomerOrderReference", so.CustomerOrderReference, false, v2MaxTextLen)
	if so.OrderedAt != nil {
		if _, err := time.Parse(time.RFC3339Nano, string(*so.OrderedAt)); err != nil {
			c.add("OrderedAt", 0, "", "not a date-time with zone")
		}
	}
	if so.Customer == nil {
		c.add("Customer", 0, "", "is required")
	} else {
		c.text("Customer.CustomerNumber", so.Customer.CustomerNumber, false, v2MaxTextLen)
		c.text("Customer.Name", so.Customer.Name, true, v2MaxTextLen)
		c.text("Customer.Email", so.Customer.Email, true, v2MaxTextLen)
		c.text("Customer.Phone", so.Customer.Phone, false, v2MaxTextLen)
	}
	c.address("ShipTo", so.ShipTo, true)
	c.address("BillTo", so.BillTo, false)
	if !isCurrency(so.Currency) {
		c.add("Currency", 0, "", "must be an ISO 4217 code")
	}
	if len(so.Line) == 0 || len(so.Line) > v2MaxLines {
		c.add("Line", 0, "", fmt.Sprintf("an order has 1 to %d lines", v2MaxLines))
	}
	var total order.Decimal
	ok := true
	var unknown []*erpv2ws.Issue
	for i, l := range so.Line {
		if l == nil {
			c.add(fmt.Sprintf("Line[%d]", i+1), i+1, "", "is empty")
			continue
		}
		n := int(l.LineNumber)
		path := fmt.Sprintf("Line[%d]", i+1)
		if n != i+1 {
			c.add(path+".LineNumber", i+1, l.Sku, fmt.Sprintf("lines must be numbered 1, 2, 3, …; got %d at position %d", l.LineNumber, i+1))
		}
		c.text(path+".Sku", l.Sku, true, v2MaxTextLen)
		c.text(path+".Description", l.Description, false, v2MaxDescLen)
		qok := l.Quantity >= 1 && l.Quantity <= v2MaxQuantity
		if !qok {
			c.add(path+".Quantity", i+1, l.Sku, fmt.Sprintf("must be between 1 and %d", v2MaxQuantity))
		}
		price, pok := c.money(path+".UnitPrice", l.UnitPrice, true)
		disc, dok := c.money(path+".Discount", l.Discount, false)
		gross, gok := price.MulIntChecked(l.Quantity)
		switch {
		case !pok || !dok || !qok:
			ok = false
		case !gok:
			c.add(path, i+1, l.Sku, "line amount out of range")
			ok = false
		case disc > gross:
			c.add(path+".Discount", i+1, l.Sku, "discount exceeds quantity x unit price")
			ok = false
		default:
			if total, gok = total.AddChecked(gross.Sub(disc)); !gok {
				c.add(path, i+1, l.Sku, "order total out of range")
				ok = false
			}
		}
		if l.Sku != "" {
			if _, sold := h.sim.catalog[l.Sku]; !sold {
				unknown = append(unknown, &erpv2ws.Issue{Field: path + ".Sku", LineNumber: int32(i + 1), Sku: l.Sku, Text: "unknown sku " + l.Sku})
			}
		}
	}
	if so.Shipping == nil {
		c.add("Shipping", 0, "", "is required")
		ok = false
	} else {
		c.text("Shipping.Method", so.Shipping.Method, true, v2MaxTextLen)
		if p, pok := c.money("Shipping.Price", so.Shipping.Price, true); pok && ok {
			if total, ok = total.AddChecked(p); !ok {
				c.add("Shipping.Price", 0, "", "order total out of range")
			}
		}
	}
	if so.RequestedDeliveryDate != nil {
		if _, err := time.Parse(time.DateOnly, string(*so.RequestedDeliveryDate)); err != nil {
			c.add("RequestedDeliveryDate", 0, "", "not a date YYYY-MM-DD")
		}
	}
	c.text("Notes", so.Notes, false, v2MaxNotesLen)

	if len(c.issues) > 0 {
		return 0, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_ORDER,
			fmt.Sprintf("sales order %s is invalid: %s %s", so.ExternalReference, c.issues[0].Field, c.issues[0].Text), c.issues...)
	}
	if len(unknown) > 0 {
		skus := make([]string, len(unknown))
		for i, is := range unknown {
			skus[i] = is.Sku
		}
		msg := "unknown sku " + skus[0]
		if len(skus) > 1 {
			msg = "unknown skus " + strings.Join(skus, ", ")
		}
		return 0, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeUNKNOWN_SKU, msg, unknown...)
	}
	return total, nil
}

// v2MaxIssues bounds the issues of one fault, so a hostile order cannot
// turn into a huge fault.
const v2MaxIssues = 100

// v2Checker collects the findings of check.
type v2Checker struct{ issues []*erpv2ws.Issue }

func (c *v2Checker) add(field string, line int, sku, text string) {
	if len(c.issues) < v2MaxIssues {
		c.issues = append(c.issues, &erpv2ws.Issue{Field: field, LineNumber: int32(line), Sku: sku, Text: text})
	}
}

func (c *v2Checker) text(field, s string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.add(field, 0, "", "is required")
	case !utf8.ValidString(s):
		c.add(field, 0, "", "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		c.add(field, 0, "", "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (c *v2Checker) address(field string, a *erpv2ws.Address, required bool) {
	if a == nil {
		if required {
			c.add(field, 0, "", "is required")
		}
		return
	}
	c.text(field+".Name", a.Name, true, v2MaxTextLen)
	c.text(field+".Street1", a.Street1, true, v2MaxTextLen)
	c.text(field+".Street2", a.Street2, false, v2MaxTextLen)
	c.text(field+".City", a.City, true, v2MaxTextLen)
	c.text(field+".PostalCode", a.PostalCode, true, v2MaxTextLen)
	c.text(field+".Region", a.Region, false, v2MaxTextLen)
	if len(a.CountryCode) != 2 || !isUpper(a.CountryCode) {
		c.add(field+".CountryCode", 0, "", "must be an ISO 3166-1 alpha-2 code")
	}
}

// money parses an amount that must not be negative.
func (c *v2Checker) money(field string, m *erpv2ws.Money, required bool) (order.Decimal, bool) {
	if m == nil {
		if required {
			c.add(field, 0, "", "is required")
			return 0, false
		}
		return 0, true
	}
	d, err := order.ParseDecimal(strings.TrimSpace(string(*m)))
	if err != nil || d < 0 {
		c.add(field, 0, "", "must be a non-negative decimal with at most 4 fractional digits")
		return 0, false
	}
	return d, true
}

func isCurrency(s string) bool { return len(s) == 3 && isUpper(s) }

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func refOf(so *erpv2ws.SalesOrder) string {
	if so == nil {
		return ""
	}
	return so.ExternalReference
}

// v2Fault builds a v2 fault with its typed ErpFault detail.
func v2Fault(faultCode string, code erpv2ws.ErrorCode, msg string, issues ...*erpv2ws.Issue) *soap.Fault {
	return &soap.Fault{
		Code:          faultCode,
		String:        msg,
		HTTPStatus:    http.StatusInternalServerError,
		Detail:        soap.FaultDetail{Code: string(code), Message: msg},
		DetailElement: &erpv2ws.ErpFault{ErrorCode: ptr(code), Message: msg, Issue: issues},
	}
}

func ptr[T any](v T) *T { return &v }

func money(d order.Decimal) *erpv2ws.Money { return ptr(erpv2ws.Money(d.String())) }

func timestamp(t time.Time) *erpv2ws.Timestamp {
	return ptr(erpv2ws.Timestamp(t.UTC().Format(time.RFC3339Nano)))
}
