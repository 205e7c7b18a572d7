package erpv2

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"erpgate/order"
	"erpgate/soap/erpv2ws"
)

// toV2 translates a canonical order to a v2 sales order. v2 has a field for
// every canonical one, so nothing is encoded or dropped:
//
//	ID → ExternalReference, ShopID → SalesChannel, ExternalID →
//	CustomerOrderReference, CreatedAt → OrderedAt (RFC 3339, UTC),
//	customer → Customer, shipping/billing address → ShipTo/BillTo
//	(line1/line2 → Street1/Street2), lines → Line (LineNumber 1, 2, …;
//	a zero discount is left out), amounts as exact decimal text.
//
// The lines and amounts of one order share backing arrays (the amounts one
// string), so a translation costs a fixed number of allocations whatever
// the line count.
func toV2(o *order.Order) *erpv2ws.SalesOrder {
	// All amounts are formatted into one buffer that becomes one string;
	// each Money is a slice of it, in one backing array.
	text := make([]byte, 0, 24*(2*len(o.Lines)+1))
	ends := make([]int, 0, 2*len(o.Lines)+1)
	add := func(d order.Decimal) {
		text = d.AppendText(text)
		ends = append(ends, len(text))
	}
	for _, l := range o.Lines {
		add(l.UnitPrice)
		if !l.Discount.IsZero() {
			add(l.Discount)
		}
	}
	add(o.Shipping.Price)
	all := string(text)
	amounts := make([]erpv2ws.Money, len(ends))
	start := 0
	for i, end := range ends {
		amounts[i] = erpv2ws.Money(all[start:end])
		start = end
	}
	next := 0
	money := func() *erpv2ws.Money {
		next++
		return &amounts[next-1]
	}

	so := &erpv2ws.SalesOrder{
		ExternalReference:      o.ID,
		SalesChannel:           o.ShopID,
		CustomerOrderReference: o.ExternalID,
		Customer: &erpv2ws.Customer{
			CustomerNumber: o.Customer.ID,
			Name:           o.Customer.Name,
			Email:          o.Customer.Email,
			Phone:          o.Customer.Phone,
		},
		ShipTo:   address(o.ShippingAddress),
		Currency: o.Currency,
		Notes:    o.Notes,
	}
	if !o.CreatedAt.IsZero() {
		ts := erpv2ws.Timestamp(o.CreatedAt.UTC().Format(time.RFC3339Nano))
		so.OrderedAt = &ts
	}
	if o.BillingAddress != nil {
		so.BillTo = address(*o.BillingAddress)
	}
	lines := make([]erpv2ws.OrderLine, len(o.Lines))
	so.Line = make([]*erpv2ws.OrderLine, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = erpv2ws.OrderLine{
			LineNumber:  int32(i + 1),
			Sku:         l.SKU,
			Description: l.Description,
			Quantity:    l.Quantity,
			UnitPrice:   money(),
		}
		if !l.Discount.IsZero() {
			lines[i].Discount = money()
		}
		so.Line[i] = &lines[i]
	}
	so.Shipping = &erpv2ws.Shipping{Method: o.Shipping.Method, Price: money()}
	if o.RequestedDeliveryDate != "" {
		d := erpv2ws.CalendarDate(o.RequestedDeliveryDate)
		so.RequestedDeliveryDate = &d
	}
	return so
}

func address(a order.Address) *erpv2ws.Address {
	return &erpv2ws.Address{
		Name:        a.Name,
		Street1:     a.Line1,
		Street2:     a.Line2,
		City:        a.City,
		PostalCode:  a.PostalCode,
		Region:      a.Region,
		CountryCode: a.Country,
	}
}

// fromV2 translates a v2 sales order (as GetSalesOrder returns it) back to
// the canonical order: the inverse of toV2, so fromV2(toV2(o)) equals o for
// every valid order (CreatedAt in UTC). It fails on amounts or timestamps
// it cannot read exactly, and on lines out of order.
func fromV2(so *erpv2ws.SalesOrder) (*order.Order, error) {
	o := &order.Order{
		ID:         so.ExternalReference,
		ShopID:     so.SalesChannel,
		ExternalID: so.CustomerOrderReference,
		Currency:   so.Currency,
		Notes:      so.Notes,
	}
	if so.OrderedAt != nil {
		t, err := time.Parse(time.RFC3339Nano, string(*so.OrderedAt))
		if err != nil {
			return nil, fmt.Errorf("OrderedAt %q: %w", *so.OrderedAt, err)
		}
		o.CreatedAt = t.UTC()
	}
	if c := so.Customer; c != nil {
		o.Customer = order.Customer{ID: c.CustomerNumber, Name: c.Name, Email: c.Email, Phone: c.Phone}
	}
	if so.ShipTo != nil {
		o.ShippingAddress = canonicalAddress(so.ShipTo)
	}
	if so.BillTo != nil {
		a := canonicalAddress(so.BillTo)
		o.BillingAddress = &a
	}
	o.Lines = make([]order.Line, len(so.Line))
	for i, l := range so.Line {
		if l == nil || int(l.LineNumber) != i+1 {
			return nil, fmt.Errorf("line at position %d is missing or misnumbered", i+1)
		}
		price, err := decimal(l.UnitPrice)
		if err != nil {
			return nil, fmt.Errorf("Line[%d].UnitPrice: %w", i+1, err)
		}
		var disc order.Decimal
		if l.Discount != nil {
			if disc, err = decimal(l.Discount); err != nil {
				return nil, fmt.Errorf("Line[%d].Discount: %w", i+1, err)
			}
		}
		o.Lines[i] = order.Line{SKU: l.Sku, Description: l.Description, Quantity: l.Quantity, UnitPrice: price, Discount: disc}
	}
	if s := so.Shipping; s != nil {
		price, err := decimal(s.Price)
		if err != nil {
			return nil, fmt.Errorf("Shipping.Price: %w", err)
		}
		o.Shipping = order.Shipping{Method: s.Method, Price: price}
	}
	if so.RequestedDeliveryDate != nil {
		o.RequestedDeliveryDate = string(*so.RequestedDeliveryDate)
	}
	return o, nil
}

func canonicalAddress(a *erpv2ws.Address) order.Address {
	return order.Address{
		Name:       a.Name,
		Line1:      a.Street1,
		Line2:      a.Street2,
		City:       a.City,
		PostalCode: a.PostalCode,
		Region:     a.Region,
		Country:    a.CountryCode,
	}
}

// decimal reads an xsd:decimal exactly. Besides our own form it takes the
// other lexical forms XML Schema allows ("+1.5", ".5", "5.", surrounding
// white space), since an ERP may write them.
func decimal(m *erpv2ws.Money) (order.Decimal, error) {
	if m == nil {
		return 0, errors.New("missing amount")
	}
	s := strings.TrimSpace(string(*m))
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return order.ParseDecimal(sign + s)
}
