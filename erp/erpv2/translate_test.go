package erpv2

import (
	"encoding/xml"
	"math/rand/v2"
	"testing"
	"time"

	"erpgate/erp/erptest"
	"erpgate/order"
	"erpgate/order/ordertest"
	"erpgate/soap/erpv2ws"
)

// wireRoundTrip sends o through toV2, the XML encoding the generated client
// uses, and fromV2: everything between the canonical order and the ERP.
func wireRoundTrip(t testing.TB, o *order.Order) *order.Order {
	t.Helper()
	b, err := xml.Marshal(&erpv2ws.CreateSalesOrder{SalesOrder: toV2(o)})
	if err != nil {
		t.Fatal(err)
	}
	var in erpv2ws.CreateSalesOrder
	if err := xml.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	got, err := fromV2(in.SalesOrder)
	if err != nil {
		t.Fatalf("fromV2: %v", err)
	}
	return got
}

// TestTranslationIsLossless is the property fromV2(toV2(o)) == o, through
// XML, over generated valid orders: every optional field present or absent,
// Unicode text, up to the largest order.
func TestTranslationIsLossless(t *testing.T) {
	n := 2000
	if raceEnabled || testing.Short() {
		n = 100
	}
	now := time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)
	r := rand.New(rand.NewPCG(42, 7))
	for i := range n {
		opts := ordertest.Options{Now: now}
		if i%100 == 0 {
			opts.Max = true
		}
		o := ordertest.Random(r, opts)
		if diff := erptest.Diff(wireRoundTrip(t, o), o); diff != "" {
			t.Fatalf("order %d: %s", i, diff)
		}
	}
	if diff := erptest.Diff(wireRoundTrip(t, ordertest.ValidAt(now)), ordertest.ValidAt(now)); diff != "" {
		t.Errorf("ordertest.Valid: %s", diff)
	}
}

func TestToV2(t *testing.T) {
	o := ordertest.ValidAt(time.Date(2025, 3, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600)))
	o.Lines[1].Discount = 0
	so := toV2(o)
	if so.ExternalReference != o.ID || so.SalesChannel != o.ShopID || so.CustomerOrderReference != o.ExternalID {
		t.Errorf("identity = %q/%q/%q, want %q/%q/%q", so.ExternalReference, so.SalesChannel, so.CustomerOrderReference, o.ID, o.ShopID, o.ExternalID)
	}
	if got, want := string(*so.OrderedAt), "2025-03-01T08:30:00Z"; got != want {
		t.Errorf("OrderedAt = %s, want %s (UTC)", got, want)
	}
	for i, l := range so.Line {
		if int(l.LineNumber) != i+1 {
			t.Errorf("line %d numbered %d", i, l.LineNumber)
		}
	}
	if got, want := string(*so.Line[1].UnitPrice), "18.49"; got != want {
		t.Errorf("UnitPrice = %s, want %s", got, want)
	}
	if so.Line[1].Discount != nil {
		t.Errorf("zero discount sent as %q, want left out", *so.Line[1].Discount)
	}
	if got, want := string(*so.Line[2].UnitPrice), "0.0125"; got != want {
		t.Errorf("four-decimal price = %s, want %s", got, want)
	}
	if so.ShipTo.Street1 != o.ShippingAddress.Line1 || so.BillTo.CountryCode != o.BillingAddress.Country {
		t.Errorf("addresses = %+v / %+v", so.ShipTo, so.BillTo)
	}
	o.BillingAddress, o.RequestedDeliveryDate, o.CreatedAt = nil, "", time.Time{}
	so = toV2(o)
	if so.BillTo != nil || so.RequestedDeliveryDate != nil || so.OrderedAt != nil {
		t.Errorf("absent optional fields sent: %+v %+v %+v", so.BillTo, so.RequestedDeliveryDate, so.OrderedAt)
	}
}

func TestFromV2RejectsWhatItCannotReadExactly(t *testing.T) {
	m := func(s string) *erpv2ws.Money { v := erpv2ws.Money(s); return &v }
	for name, edit := range map[string]func(*erpv2ws.SalesOrder){
		"float price":      func(so *erpv2ws.SalesOrder) { so.Line[0].UnitPrice = m("1.5e2") },
		"five decimals":    func(so *erpv2ws.SalesOrder) { so.Line[0].Discount = m("0.00001") },
		"missing price":    func(so *erpv2ws.SalesOrder) { so.Shipping.Price = nil },
		"misnumbered line": func(so *erpv2ws.SalesOrder) { so.Line[1].LineNumber = 5 },
		"bad timestamp":    func(so *erpv2ws.SalesOrder) { ts := erpv2ws.Timestamp("yesterday"); so.OrderedAt = &ts },
	} {
		so := toV2(ordertest.Valid())
		edit(so)
		if _, err := fromV2(so); err == nil {
			t.Errorf("%s: fromV2 = nil error, want one", name)
		}
	}
	// Other lexical forms of xsd:decimal are read exactly.
	for in, want := range map[string]string{" 12.50 ": "12.50", "+3": "3.00", ".5": "0.50", "7.": "7.00", "-0.0001": "-0.0001"} {
		d, err := decimal(m(in))
		if err != nil || d.String() != want {
			t.Errorf("decimal(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
}

func TestCanonicalField(t *testing.T) {
	for in, want := range map[string]string{
		"Line[3].UnitPrice":         "lines[2].unit_price",
		"Line[1].LineNumber":        "lines[0]",
		"Line[12]":                  "lines[11]",
		"ShipTo.CountryCode":        "shipping_address.country",
		"BillTo.Street2":            "billing_address.line2",
		"Customer.Email":            "customer.email",
		"Shipping.Price":            "shipping.price",
		"Notes":                     "notes",
		"Line[0].Sku":               "",
		"Line[x].Sku":               "",
		"Line[2].Secret":            "",
		"ShipTo.Planet":             "",
		"DROP TABLE orders":         "",
		"<script>alert(1)</script>": "",
	} {
		got, ok := canonicalField(in)
		if got != want || ok != (want != "") {
			t.Errorf("canonicalField(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// BenchmarkToV2 measures the translation of a typical order (3 lines, all
// fields) and of the largest valid one (500 lines) to v2 wire types.
func BenchmarkToV2(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    *order.Order
	}{
		{"3lines", ordertest.Valid()},
		{"500lines", ordertest.Random(rand.New(rand.NewPCG(1, 2)), ordertest.Options{Max: true})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = toV2(bc.o)
			}
		})
	}
}

// BenchmarkToV2XML adds the XML encoding the generated client does, for
// the cost of the whole request body.
func BenchmarkToV2XML(b *testing.B) {
	o := ordertest.Valid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := xml.Marshal(&erpv2ws.CreateSalesOrder{SalesOrder: toV2(o)}); err != nil {
			b.Fatal(err)
		}
	}
}
