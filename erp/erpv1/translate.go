package erpv1

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// Errors of the translation. They are wrapped with details; test with
// errors.Is.
var (
	// ErrUntranslatable: ToV1 cannot express the order in v1 without
	// changing what the ERP books (a sku or reference longer than v1's field,
	// a quantity beyond v1's range, no lines, text that is not UTF-8).
	ErrUntranslatable = errors.New("erpv1: the order cannot be expressed in ERP interface v1")
	// ErrNoGatewayData: the v1 order carries no ERPGATE1 data, so it was
	// not sent by the gateway (or its remarks were replaced in the ERP).
	ErrNoGatewayData = errors.New("erpv1: the v1 order carries no gateway data")
	// ErrCorrupt: the v1 order carries ERPGATE1 data that is malformed,
	// incomplete, or does not restore the order it was made from (the
	// integrity tag does not match, e.g. because the order was edited in the
	// ERP).
	ErrCorrupt = errors.New("erpv1: the gateway data of the v1 order is corrupt")
)

// ToV1 down-translates the canonical order o into v1's CreateOrder request.
//
// v1's business fields get the best the old release can show: the
// gateway's order id as Reference, the shop's order number, the customer's
// name, the delivery address as one line, net prices per unit with the
// discount folded in (rounded to cents), the shipping method and charge.
// Everything v1 has no field for, and every value a v1 field holds only
// approximately, is carried in Remarks (and, when it does not fit, in
// OrderText) in the ERPGATE1 encoding (see the package documentation), so
// that FromV1 restores o exactly.
//
// ToV1 fails with ErrUntranslatable when v1 cannot book o as it is: a
// reference or sku that v1's fields cannot hold unchanged (truncating them
// would name another order or item), a quantity beyond v1's xsd:int, an
// order without lines, a text that is not valid UTF-8, or data beyond v1's
// Remarks and OrderText capacity. None of these happens for an order that
// passes (*order.Order).Validate. An empty o.ID is translated (Reference
// empty); the adapter refuses to send it.
func ToV1(o *order.Order) (*erpv1ws.CreateOrder, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: the order is missing", ErrUntranslatable)
	}
	if err := checkUTF8(o); err != nil {
		return nil, err
	}
	if len(o.Lines) == 0 {
		return nil, fmt.Errorf("%w: the order has no lines", ErrUntranslatable)
	}
	if v1Text(o.ID, erpv1ws.MaxReferenceLen) != o.ID {
		return nil, fmt.Errorf("%w: the order id does not fit v1's Reference (at most %d characters, one line)",
			ErrUntranslatable, erpv1ws.MaxReferenceLen)
	}
	v := &erpv1ws.Order{
		Reference:       o.ID,
		CustomerOrderNo: v1Text(o.ExternalID, erpv1ws.MaxCustomerOrderNoLen),
		CustomerName:    v1Text(o.Customer.Name, erpv1ws.MaxCustomerNameLen),
		DeliveryName:    v1Text(o.ShippingAddress.Name, erpv1ws.MaxDeliveryNameLen),
		DeliveryAddress: v1Text(addressLine(&o.ShippingAddress), erpv1ws.MaxDeliveryAddressLen),
		DeliveryCountry: v1Text(o.ShippingAddress.Country, erpv1ws.MaxCountryLen),
		Currency:        v1Text(o.Currency, erpv1ws.MaxCurrencyLen),
		Line:            make([]*erpv1ws.OrderLine, len(o.Lines)),
		ShipVia:         v1Text(o.Shipping.Method, erpv1ws.MaxShipViaLen),
		ShippingCharge:  amount(o.Shipping.Price.Round(2)),
	}
	lines := make([]erpv1ws.OrderLine, len(o.Lines)) // one allocation for all lines
	for i := range o.Lines {
		l := &o.Lines[i]
		if l.SKU == "" || v1Text(l.SKU, erpv1ws.MaxItemNoLen) != l.SKU {
			return nil, fmt.Errorf("%w: lines[%d].sku does not fit v1's ItemNo (1 to %d characters, one line)",
				ErrUntranslatable, i, erpv1ws.MaxItemNoLen)
		}
		if l.Quantity < 1 || l.Quantity > math.MaxInt32 {
			return nil, fmt.Errorf("%w: lines[%d].quantity is outside v1's range 1..%d", ErrUntranslatable, i, math.MaxInt32)
		}
		net, ok := netPrice(l)
		if !ok {
			return nil, fmt.Errorf("%w: lines[%d]: amount out of range", ErrUntranslatable, i)
		}
		lines[i] = erpv1ws.OrderLine{
			LineNo:   int32(i + 1),
			ItemNo:   l.SKU,
			ItemText: v1Text(l.Description, erpv1ws.MaxItemTextLen),
			Quantity: int32(l.Quantity),
			NetPrice: amount(net),
		}
		v.Line[i] = &lines[i]
	}
	if !o.Shipping.Price.InRange() {
		return nil, fmt.Errorf("%w: shipping.price out of range", ErrUntranslatable)
	}
	base, err := baseFromV1(v)
	if err != nil {
		// Cannot happen: v was built above. Kept as a guard, not a panic.
		return nil, fmt.Errorf("%w: %v", ErrUntranslatable, err)
	}
	d, err := diff(o, base)
	if err != nil {
		return nil, err
	}
	data, err := encodeDelta(d)
	if err != nil {
		return nil, err
	}
	if err := placeData(v, humanRemarks(o, v), data); err != nil {
		return nil, err
	}
	return &erpv1ws.CreateOrder{Order: v}, nil
}

// FromV1 up-translates an order v1 holds (as sent by ToV1 and returned by
// FindOrderByReference with IncludeDetails) back into the canonical order:
// it reads v1's business fields, then applies the ERPGATE1 data found in
// Remarks and OrderText, and checks the result against the integrity tag
// the data carries. For every o that ToV1 accepts,
// reflect.DeepEqual(FromV1(ToV1(o).Order), o) holds, provided o.CreatedAt
// is in UTC without a monotonic clock reading (as the store keeps it).
//
// v comes from outside (the old ERP) and is treated as untrusted: FromV1
// never panics and bounds what it reads. It returns ErrNoGatewayData when
// v carries no ERPGATE1 data and ErrCorrupt (wrapped) when the data is
// malformed, incomplete or does not match.
func FromV1(v *erpv1ws.Order) (*order.Order, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: the order is missing", ErrCorrupt)
	}
	data, err := collectData(v.Remarks, v.OrderText)
	if err != nil {
		return nil, err
	}
	d, err := decodeDelta(data)
	if err != nil {
		return nil, err
	}
	o, err := baseFromV1(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := apply(o, d); err != nil {
		return nil, err
	}
	sum, err := integrityTag(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if sum != d.Hash {
		return nil, fmt.Errorf("%w: the restored order does not match its integrity tag (was the order changed in the ERP?)", ErrCorrupt)
	}
	return o, nil
}

// BookedTotal returns the order total ERP v1 books for o: the sum over lines
// of quantity × net price (discount folded in, rounded to cents) plus the
// shipping charge rounded to cents. It differs from o.Total() by at most a
// few cents per line when unit prices have more than two decimals or a
// discount does not divide evenly; shadow comparison of v1 against v2
// compares a v1 confirmation with this, not with o.Total().
func BookedTotal(o *order.Order) (order.Decimal, error) {
	if o == nil {
		return 0, fmt.Errorf("%w: the order is missing", ErrUntranslatable)
	}
	total := o.Shipping.Price.Round(2)
	for i := range o.Lines {
		l := &o.Lines[i]
		net, ok := netPrice(l)
		if !ok {
			return 0, fmt.Errorf("%w: lines[%d]: amount out of range", ErrUntranslatable, i)
		}
		lt, ok := net.MulIntChecked(l.Quantity)
		if !ok {
			return 0, fmt.Errorf("%w: lines[%d]: amount out of range", ErrUntranslatable, i)
		}
		if total, ok = total.AddChecked(lt); !ok {
			return 0, fmt.Errorf("%w: total out of range", ErrUntranslatable)
		}
	}
	return total, nil
}

// baseFromV1 reads v1's business fields into a canonical order: the part of
// the order v1 itself holds. What v1 has no field for stays zero; the
// ERPGATE1 data supplies it.
func baseFromV1(v *erpv1ws.Order) (*order.Order, error) {
	o := &order.Order{
		ID:         v.Reference,
		ExternalID: v.CustomerOrderNo,
		Customer:   order.Customer{Name: v.CustomerName},
		ShippingAddress: order.Address{
			Name:    v.DeliveryName,
			Line1:   v.DeliveryAddress,
			Country: v.DeliveryCountry,
		},
		Currency: v.Currency,
		Shipping: order.Shipping{Method: v.ShipVia},
	}
	var err error
	if o.Shipping.Price, err = parseAmount(v.ShippingCharge); err != nil {
		return nil, fmt.Errorf("ShippingCharge: %w", err)
	}
	if len(v.Line) > 0 {
		o.Lines = make([]order.Line, len(v.Line))
	}
	for i, l := range v.Line {
		if l == nil {
			return nil, fmt.Errorf("Line[%d] is empty", i+1)
		}
		if int(l.LineNo) != i+1 {
			return nil, fmt.Errorf("Line[%d] has LineNo %d", i+1, l.LineNo)
		}
		price, err := parseAmount(l.NetPrice)
		if err != nil {
			return nil, fmt.Errorf("Line[%d].NetPrice: %w", i+1, err)
		}
		o.Lines[i] = order.Line{
			SKU:         l.ItemNo,
			Description: l.ItemText,
			Quantity:    int64(l.Quantity),
			UnitPrice:   price,
		}
	}
	return o, nil
}

// netPrice returns l's net price per unit: (quantity × unit price −
// discount) / quantity, rounded to cents, halves away from zero. ok is false
// when an amount is out of range.
func netPrice(l *order.Line) (order.Decimal, bool) {
	gross, ok := l.UnitPrice.MulIntChecked(l.Quantity)
	if !ok || !l.Discount.InRange() || l.Quantity < 1 {
		return 0, false
	}
	net := int64(gross - l.Discount) // |net| ≤ 2·MaxDecimal: no overflow
	// Round net/quantity (in ten-thousandths) to a multiple of 100.
	den := l.Quantity * 100 // Quantity ≤ MaxInt32: no overflow
	q, r := net/den, net%den
	if r < 0 {
		r = -r
	}
	if 2*r >= den {
		if net < 0 {
			q--
		} else {
			q++
		}
	}
	return order.Decimal(q * 100), true
}

// amount formats d (already rounded to cents) as a v1 Amount.
func amount(d order.Decimal) *erpv1ws.Amount {
	a := erpv1ws.Amount(d.String())
	return &a
}

// parseAmount reads a v1 Amount. A missing amount is zero, like v1's own
// screens show it.
func parseAmount(a *erpv1ws.Amount) (order.Decimal, error) {
	if a == nil {
		return 0, nil
	}
	return order.ParseDecimal(strings.TrimSpace(string(*a)))
}

// addressLine renders a structured address as v1's one free-text line:
// "line1, line2, postal code city, region".
func addressLine(a *order.Address) string {
	var b strings.Builder
	b.Grow(len(a.Line1) + len(a.Line2) + len(a.PostalCode) + len(a.City) + len(a.Region) + 8)
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	add(a.Line1)
	add(a.Line2)
	switch {
	case a.PostalCode != "" && a.City != "":
		add(a.PostalCode + " " + a.City)
	default:
		add(a.PostalCode)
		add(a.City)
	}
	add(a.Region)
	return b.String()
}

// v1Text returns s as v1 stores it in a one-line text field of at most max
// characters: white space around it is dropped, line breaks and tabs become
// spaces (old order screens show one line), characters XML 1.0 cannot carry
// become U+FFFD (as encoding/xml would do on the wire, so what the ERP
// returns equals what ToV1 computed), and the result is cut to max
// characters. It does not allocate when s needs no change beyond trimming.
func v1Text(s string, max int) string {
	s = strings.TrimSpace(s)
	n := 0
	clean := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 {
				clean = false
				break
			}
			i++
			n++
			if n > max {
				clean = false
				break
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !soap.IsXMLChar(r) || (r == utf8.RuneError && size == 1) {
			clean = false
			break
		}
		i += size
		n++
		if n > max {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), max*utf8.UTFMax))
	n = 0
	for _, r := range s { // invalid UTF-8 decodes as U+FFFD
		if n == max {
			break
		}
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			r = ' '
		case !soap.IsXMLChar(r):
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// checkUTF8 refuses text that is not valid UTF-8: JSON (the canonical
// record and the ERPGATE1 data) cannot carry it unchanged. Orders decoded
// from JSON never contain any.
func checkUTF8(o *order.Order) error {
	bad := func(field string) error {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrUntranslatable, field)
	}
	check := func(field string, ss ...string) error {
		for _, s := range ss {
			if !utf8.ValidString(s) {
				return bad(field)
			}
		}
		return nil
	}
	addr := func(field string, a *order.Address) error {
		return check(field, a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Region, a.Country)
	}
	if err := check("order", o.ID, o.ShopID, o.ExternalID, o.Currency, o.RequestedDeliveryDate, o.Notes,
		o.Shipping.Method, o.Customer.ID, o.Customer.Name, o.Customer.Email, o.Customer.Phone); err != nil {
		return err
	}
	if err := addr("shipping_address", &o.ShippingAddress); err != nil {
		return err
	}
	if o.BillingAddress != nil {
		if err := addr("billing_address", o.BillingAddress); err != nil {
			return err
		}
	}
	for i := range o.Lines {
		if !utf8.ValidString(o.Lines[i].SKU) || !utf8.ValidString(o.Lines[i].Description) {
			return bad(fmt.Sprintf("lines[%d]", i))
		}
	}
	return nil
}

// integrityTag returns the tag the ERPGATE1 data carries: the first 96 bits
// of the SHA-256 of the order's canonical JSON (CreatedAt in UTC, as
// encoding/json's Encoder writes it: HTML-escaped, newline-terminated), in
// base64url. FromV1 recomputes it over the restored order, so any change
// to v1's business fields or the data in the ERP, and any translation bug,
// is detected instead of yielding a different order.
func integrityTag(o *order.Order) (string, error) {
	c := *o
	c.CreatedAt = c.CreatedAt.UTC()
	h := sha256.New()
	// Streamed into the hash: the JSON of a 500-line order is never held.
	// Encode appends a newline, which is part of what is hashed.
	if err := json.NewEncoder(h).Encode(&c); err != nil {
		return "", err
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:12]), nil
}
