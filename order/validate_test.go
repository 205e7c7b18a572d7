package order_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"erpgate"
	"erpgate/order"
	"erpgate/order/ordertest"
)

// now is the fixed instant every test validates at.
var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func valid() *order.Order { return ordertest.ValidAt(now) }

// problemFields returns the fields of err's problems, sorted, and its code.
func problemFields(t *testing.T, err error) ([]string, string) {
	t.Helper()
	var e *erpgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *erpgate.Error", err, err)
	}
	var fields []string
	for _, p := range e.Problems {
		if p.Message == "" {
			t.Errorf("problem %q has no message", p.Field)
		}
		fields = append(fields, p.Field)
	}
	slices.Sort(fields)
	return fields, e.Code
}

func TestValidateValid(t *testing.T) {
	o := valid()
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	if err := o.ValidateAt(now); err != nil {
		t.Fatalf("ValidateAt(valid) = %v", err)
	}
}

// TestValidateInvalid: each case breaks a valid order in one way and names
// exactly the fields that must be reported, and the code.
func TestValidateInvalid(t *testing.T) {
	const (
		inv = erpgate.Invalid
		unp = erpgate.Unprocessable
	)
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name   string
		mutate func(o *order.Order)
		code   string
		fields []string
	}{
		{"external_id missing", func(o *order.Order) { o.ExternalID = "" }, inv, []string{"external_id"}},
		{"external_id with space", func(o *order.Order) { o.ExternalID = "WEB 1" }, inv, []string{"external_id"}},
		{"external_id with slash", func(o *order.Order) { o.ExternalID = "WEB/1" }, inv, []string{"external_id"}},
		{"external_id too long", func(o *order.Order) { o.ExternalID = long("a", 65) }, inv, []string{"external_id"}},
		{"customer.id bad char", func(o *order.Order) { o.Customer.ID = "c#1" }, inv, []string{"customer.id"}},
		{"customer.name missing", func(o *order.Order) { o.Customer.Name = "" }, inv, []string{"customer.name"}},
		{"customer.name blank", func(o *order.Order) { o.Customer.Name = " \u00a0\u3000 " }, inv, []string{"customer.name"}},
		{"customer.name too long in runes", func(o *order.Order) { o.Customer.Name = long("é", 201) }, inv, []string{"customer.name"}},
		{"customer.name newline", func(o *order.Order) { o.Customer.Name = "Zoë\nM" }, inv, []string{"customer.name"}},
		{"customer.name tab", func(o *order.Order) { o.Customer.Name = "Zoë\tM" }, inv, []string{"customer.name"}},
		{"customer.name invalid UTF-8", func(o *order.Order) { o.Customer.Name = "Zo\xeb" }, inv, []string{"customer.name"}},
		{"customer.name NUL", func(o *order.Order) { o.Customer.Name = "Zoë\x00" }, inv, []string{"customer.name"}},
		{"customer.name DEL", func(o *order.Order) { o.Customer.Name = "Zoë\x7f" }, inv, []string{"customer.name"}},
		{"customer.name C1 control", func(o *order.Order) { o.Customer.Name = "Zoë\u0085" }, inv, []string{"customer.name"}},
		{"customer.name noncharacter", func(o *order.Order) { o.Customer.Name = "Zoë\uffff" }, inv, []string{"customer.name"}},
		{"customer.email missing", func(o *order.Order) { o.Customer.Email = "" }, inv, []string{"customer.email"}},
		{"customer.email no at", func(o *order.Order) { o.Customer.Email = "zoe.example.com" }, inv, []string{"customer.email"}},
		{"customer.email display name", func(o *order.Order) { o.Customer.Email = "Zoë <zoe@example.com>" }, inv, []string{"customer.email"}},
		{"customer.email dotless domain", func(o *order.Order) { o.Customer.Email = "zoe@localhost" }, inv, []string{"customer.email"}},
		{"customer.email too long", func(o *order.Order) {
			o.Customer.Email = long("a", 60) + "@" + long("b", 63) + "." + long("c", 63) + "." + long("d", 63) + ".com"
		}, inv, []string{"customer.email"}},
		{"customer.phone letters", func(o *order.Order) { o.Customer.Phone = "+49 CALL-ME" }, inv, []string{"customer.phone"}},
		{"customer.phone too long", func(o *order.Order) { o.Customer.Phone = long("1", 33) }, inv, []string{"customer.phone"}},
		{"customer.phone no digits", func(o *order.Order) { o.Customer.Phone = "+()" }, inv, []string{"customer.phone"}},
		{"shipping_address.name missing", func(o *order.Order) { o.ShippingAddress.Name = "" }, inv, []string{"shipping_address.name"}},
		{"shipping_address.line1 missing", func(o *order.Order) { o.ShippingAddress.Line1 = "" }, inv, []string{"shipping_address.line1"}},
		{"shipping_address.line2 too long", func(o *order.Order) { o.ShippingAddress.Line2 = long("x", 201) }, inv, []string{"shipping_address.line2"}},
		{"shipping_address.city missing", func(o *order.Order) { o.ShippingAddress.City = "  " }, inv, []string{"shipping_address.city"}},
		{"shipping_address.postal_code too long", func(o *order.Order) { o.ShippingAddress.PostalCode = long("1", 21) }, inv, []string{"shipping_address.postal_code"}},
		{"shipping_address.region control", func(o *order.Order) { o.ShippingAddress.Region = "Be\x1brlin" }, inv, []string{"shipping_address.region"}},
		{"shipping_address.country lower case", func(o *order.Order) { o.ShippingAddress.Country = "de" }, inv, []string{"shipping_address.country"}},
		{"shipping_address.country reserved UK", func(o *order.Order) { o.ShippingAddress.Country = "UK" }, inv, []string{"shipping_address.country"}},
		{"shipping_address.country alpha-3", func(o *order.Order) { o.ShippingAddress.Country = "DEU" }, inv, []string{"shipping_address.country"}},
		{"shipping_address.country missing", func(o *order.Order) { o.ShippingAddress.Country = "" }, inv, []string{"shipping_address.country"}},
		{"billing_address present but empty", func(o *order.Order) { o.BillingAddress = &order.Address{} }, inv,
			[]string{"billing_address.city", "billing_address.country", "billing_address.line1", "billing_address.name", "billing_address.postal_code"}},
		{"currency missing", func(o *order.Order) { o.Currency = "" }, inv, []string{"currency"}},
		{"currency lower case", func(o *order.Order) { o.Currency = "eur" }, inv, []string{"currency"}},
		{"currency withdrawn", func(o *order.Order) { o.Currency = "DEM" }, inv, []string{"currency"}},
		{"currency without minor unit", func(o *order.Order) { o.Currency = "XAU" }, inv, []string{"currency"}},
		{"lines missing", func(o *order.Order) { o.Lines = nil }, inv, []string{"lines"}},
		{"too many lines", func(o *order.Order) {
			for len(o.Lines) <= order.MaxLines {
				o.Lines = append(o.Lines, o.Lines[0])
			}
		}, inv, []string{"lines"}},
		{"sku missing", func(o *order.Order) { o.Lines[0].SKU = "" }, inv, []string{"lines[0].sku"}},
		{"sku bad char", func(o *order.Order) { o.Lines[1].SKU = "SKU:1" }, inv, []string{"lines[1].sku"}},
		{"sku too long", func(o *order.Order) { o.Lines[2].SKU = long("S", 65) }, inv, []string{"lines[2].sku"}},
		{"description too long", func(o *order.Order) { o.Lines[1].Description = long("😀", 501) }, inv, []string{"lines[1].description"}},
		{"description carriage return", func(o *order.Order) { o.Lines[0].Description = "a\r\nb" }, inv, []string{"lines[0].description"}},
		{"quantity zero", func(o *order.Order) { o.Lines[2].Quantity = 0 }, inv, []string{"lines[2].quantity"}},
		{"quantity negative", func(o *order.Order) { o.Lines[0].Quantity = -1 }, inv, []string{"lines[0].quantity"}},
		{"quantity too large", func(o *order.Order) { o.Lines[0].Quantity = order.MaxQuantity + 1 }, inv, []string{"lines[0].quantity"}},
		{"unit_price negative", func(o *order.Order) { o.Lines[1].UnitPrice = order.MustDecimal("-0.01") }, inv, []string{"lines[1].unit_price"}},
		{"unit_price out of range", func(o *order.Order) { o.Lines[0].UnitPrice = order.MaxDecimal + 1 }, inv, []string{"lines[0].unit_price"}},
		{"discount negative", func(o *order.Order) { o.Lines[0].Discount = order.MustDecimal("-1") }, inv, []string{"lines[0].discount"}},
		{"discount above line amount", func(o *order.Order) { o.Lines[0].Discount = order.MustDecimal("69.91") }, unp, []string{"lines[0].discount"}},
		{"discount finer than currency", func(o *order.Order) { o.Lines[1].Discount = order.MustDecimal("0.475") }, unp, []string{"lines[1].discount"}},
		{"JPY shipping price with decimals", func(o *order.Order) {
			o.Currency = "JPY"
			o.Lines = o.Lines[:1]
			o.Lines[0].Discount = 0
			o.Shipping.Price = order.MustDecimal("500.5")
		}, unp, []string{"shipping.price"}},
		{"JPY discount with decimals", func(o *order.Order) { o.Currency = "JPY"; o.Shipping.Price = order.MustDecimal("500") }, unp, []string{"lines[1].discount", "lines[2].discount"}},
		{"line amount overflows", func(o *order.Order) {
			o.Lines[0].Quantity = order.MaxQuantity
			o.Lines[0].UnitPrice = order.MustDecimal("10000000.01")
		}, unp, []string{"lines[0].quantity"}},
		{"order total overflows", func(o *order.Order) {
			o.Lines[0].UnitPrice, o.Lines[0].Quantity = order.MaxDecimal, 1
			o.Lines[1].UnitPrice, o.Lines[1].Quantity = order.MaxDecimal, 1
		}, unp, []string{"lines"}},
		{"shipping makes total overflow", func(o *order.Order) {
			o.Lines = o.Lines[:1]
			o.Lines[0].UnitPrice, o.Lines[0].Quantity, o.Lines[0].Discount = order.MaxDecimal, 1, 0
		}, unp, []string{"shipping.price"}},
		{"shipping.method missing", func(o *order.Order) { o.Shipping.Method = "" }, inv, []string{"shipping.method"}},
		{"shipping.method too long", func(o *order.Order) { o.Shipping.Method = long("m", 65) }, inv, []string{"shipping.method"}},
		{"shipping.price negative", func(o *order.Order) { o.Shipping.Price = -1 }, inv, []string{"shipping.price"}},
		{"delivery date not a date", func(o *order.Order) { o.RequestedDeliveryDate = "2026-02-30" }, inv, []string{"requested_delivery_date"}},
		{"delivery date short form", func(o *order.Order) { o.RequestedDeliveryDate = "2026-4-1" }, inv, []string{"requested_delivery_date"}},
		{"delivery date with time", func(o *order.Order) { o.RequestedDeliveryDate = "2026-04-01T00:00:00Z" }, inv, []string{"requested_delivery_date"}},
		{"notes too long", func(o *order.Order) { o.Notes = long("n", order.MaxNotesLen+1) }, inv, []string{"notes"}},
		{"notes carriage return", func(o *order.Order) { o.Notes = "line\r" }, inv, []string{"notes"}},
		{"notes vertical tab", func(o *order.Order) { o.Notes = "a\vb" }, inv, []string{"notes"}},
	}
	if len(tests) < 25 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mutate(o)
			err := o.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			fields, code := problemFields(t, err)
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("fields = %q, want %q (error %v)", fields, tt.fields, err)
			}
			if code != tt.code {
				t.Errorf("code = %q, want %q", code, tt.code)
			}
			if err2 := o.ValidateAt(now); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ValidateAt = %v, want the same as Validate: %v", err2, err)
			}
		})
	}
}

// TestValidateEdges: boundary values that must pass.
func TestValidateEdges(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name   string
		mutate func(o *order.Order)
	}{
		{"minimal order", func(o *order.Order) {
			o.ID, o.ShopID, o.CreatedAt = "", "", time.Time{}
			o.Customer.ID, o.Customer.Phone = "", ""
			o.ShippingAddress.Line2, o.ShippingAddress.Region = "", ""
			o.BillingAddress = nil
			o.Lines = []order.Line{{SKU: "A", Quantity: 1}}
			o.Shipping.Price = 0
			o.RequestedDeliveryDate, o.Notes = "", ""
		}},
		{"gateway fields are not checked", func(o *order.Order) { o.ID, o.ShopID = "not an id!", "\x00" }},
		{"limits at maximum in 4-byte runes", func(o *order.Order) {
			o.ExternalID = long("a", order.MaxExternalIDLen)
			o.Customer.Name = long("😀", order.MaxNameLen)
			o.ShippingAddress.PostalCode = long("𝟘", order.MaxPostalCodeLen)
			o.Lines[0].Description = long("😀", order.MaxDescriptionLen)
			o.Shipping.Method = long("m", order.MaxShippingMethodLen)
			o.Notes = long("😀\n\t", order.MaxNotesLen/3) + "xx"
			o.Customer.Phone = long("9", order.MaxPhoneLen)
		}},
		{"max lines", func(o *order.Order) {
			for len(o.Lines) < order.MaxLines {
				o.Lines = append(o.Lines, o.Lines[0])
			}
		}},
		{"quantity bounds", func(o *order.Order) { o.Lines[0].Quantity = order.MaxQuantity; o.Lines[1].Quantity = 1 }},
		{"free line", func(o *order.Order) { o.Lines[0].UnitPrice, o.Lines[0].Discount = 0, 0 }},
		{"discount equals line amount", func(o *order.Order) { o.Lines[0].Discount = order.MustDecimal("69.90") }},
		{"unit price with 4 decimals in JPY", func(o *order.Order) {
			o.Currency = "JPY"
			o.Lines = o.Lines[:1]
			o.Lines[0].UnitPrice, o.Lines[0].Discount = order.MustDecimal("0.0001"), 0
			o.Shipping.Price = order.MustDecimal("500")
		}},
		{"BHD with 3 decimals", func(o *order.Order) {
			o.Currency = "BHD"
			o.Shipping.Price = order.MustDecimal("1.125")
			o.Lines[0].Discount = order.MustDecimal("0.005")
		}},
		{"total exactly MaxDecimal", func(o *order.Order) {
			o.Lines = []order.Line{{SKU: "A", Quantity: 1, UnitPrice: order.MaxDecimal - order.MustDecimal("4.99")}}
		}},
		{"internationalised email", func(o *order.Order) { o.Customer.Email = "zoë.müller@bücher.example" }},
		{"email at 254 bytes", func(o *order.Order) {
			o.Customer.Email = long("a", 64) + "@" + long("b", 63) + "." + long("c", 63) + "." + long("d", 57) + ".com"
		}},
		{"zero-width and line separator are content", func(o *order.Order) { o.Customer.Name = "\u200b\u2028" }},
		{"optional text may be blank", func(o *order.Order) { o.ShippingAddress.Line2 = "   " }},
		{"same sku on two lines", func(o *order.Order) { o.Lines[1].SKU = o.Lines[0].SKU }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.mutate(o)
			if err := o.ValidateAt(now); err != nil {
				t.Fatalf("ValidateAt = %v, want nil", err)
			}
		})
	}
}

func TestValidateDeliveryWindow(t *testing.T) {
	tests := []struct {
		now  time.Time
		date string
		ok   bool
	}{
		{now, "2026-03-10", true},  // today
		{now, "2026-03-09", false}, // yesterday UTC and UTC−12 at 00:00
		{now, "2028-03-10", true},  // exactly two years ahead
		{now, "2028-03-11", false}, // one day more
		{time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC), "2026-03-09", true}, // still the 9th in UTC−12
		{time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), "2026-03-09", false},
		{time.Date(2026, 3, 10, 8, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-03-09", true}, // 07:00Z: UTC−12 is still on the 9th
		{time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), "2026-03-01", true},                   // Feb 29 + 2 years normalises to Mar 1
		{time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), "2026-03-02", false},
	}
	for _, tt := range tests {
		o := ordertest.ValidAt(tt.now)
		o.RequestedDeliveryDate = tt.date
		err := o.ValidateAt(tt.now)
		if (err == nil) != tt.ok {
			t.Errorf("at %v date %s: ValidateAt = %v, want ok=%v", tt.now, tt.date, err, tt.ok)
			continue
		}
		if err != nil {
			fields, code := problemFields(t, err)
			if !slices.Equal(fields, []string{"requested_delivery_date"}) || code != erpgate.Unprocessable {
				t.Errorf("at %v date %s: fields %q code %q, want [requested_delivery_date] unprocessable", tt.now, tt.date, fields, code)
			}
		}
		// Validate never looks at the clock.
		if err := o.Validate(); err != nil {
			t.Errorf("Validate with date %s = %v, want nil", tt.date, err)
		}
	}
}

// TestValidateReportsEverything breaks an order in many places at once, of
// both kinds: every problem is listed and the code is Invalid.
func TestValidateReportsEverything(t *testing.T) {
	o := valid()
	o.ExternalID = ""
	o.Customer.Email = "nope"
	o.ShippingAddress.Country = "XX"
	o.BillingAddress.PostalCode = ""
	o.Lines[0].Discount = order.MustDecimal("1000") // business rule
	o.Lines[1].UnitPrice = order.MustDecimal("-1")  // syntax
	o.Lines[2].Quantity = 0                         // syntax
	o.Shipping.Price = order.MustDecimal("4.999")   // business rule (EUR has 2 decimals)
	o.RequestedDeliveryDate = "2020-01-01"          // business rule at now
	o.Notes = "\x00"
	err := o.ValidateAt(now)
	fields, code := problemFields(t, err)
	want := []string{
		"billing_address.postal_code", "customer.email", "external_id",
		"lines[0].discount", "lines[1].unit_price", "lines[2].quantity",
		"notes", "requested_delivery_date", "shipping.price", "shipping_address.country",
	}
	if !slices.Equal(fields, want) {
		t.Errorf("fields = %q\nwant %q", fields, want)
	}
	if code != erpgate.Invalid {
		t.Errorf("code = %q, want %q", code, erpgate.Invalid)
	}
	if got := erpgate.ErrorMessage(err); !strings.Contains(got, "10 problems") {
		t.Errorf("message %q does not count the 10 problems", got)
	}

	// Only business-rule problems: the code is Unprocessable.
	o = valid()
	o.Lines[0].Discount = order.MustDecimal("1000")
	o.RequestedDeliveryDate = "2020-01-01"
	fields, code = problemFields(t, o.ValidateAt(now))
	if want := []string{"lines[0].discount", "requested_delivery_date"}; !slices.Equal(fields, want) || code != erpgate.Unprocessable {
		t.Errorf("fields %q code %q, want %q %q", fields, code, want, erpgate.Unprocessable)
	}
}

func TestValidateProblemCap(t *testing.T) {
	o := valid()
	o.Lines = nil
	for range order.MaxLines {
		o.Lines = append(o.Lines, order.Line{SKU: "bad sku", Quantity: 1})
	}
	var e *erpgate.Error
	if !errors.As(o.Validate(), &e) {
		t.Fatal("want an *erpgate.Error")
	}
	if len(e.Problems) != order.MaxProblems {
		t.Fatalf("len(Problems) = %d, want %d", len(e.Problems), order.MaxProblems)
	}
	last := e.Problems[len(e.Problems)-1]
	wantMore := strconv.Itoa(order.MaxLines-(order.MaxProblems-1)) + " more problems not listed"
	if last.Field != "" || last.Message != wantMore {
		t.Errorf("last problem = %+v, want {Field:\"\" Message:%q}", last, wantMore)
	}
	if e.Problems[0].Field != "lines[0].sku" || e.Problems[98].Field != "lines[98].sku" {
		t.Errorf("problems are not in line order: %q … %q", e.Problems[0].Field, e.Problems[98].Field)
	}
}

func TestValidateNil(t *testing.T) {
	var o *order.Order
	if code := erpgate.ErrorCode(o.Validate()); code != erpgate.Invalid {
		t.Errorf("nil order: code %q, want %q", code, erpgate.Invalid)
	}
}

// TestValidateDoesNotAllocate keeps Validate cheap on the intake path.
func TestValidateDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are stable but skip in -short")
	}
	for _, o := range []*order.Order{valid(), ordertest.Random(newRand(7), ordertest.Options{Now: now, Max: true})} {
		if err := o.ValidateAt(now); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { _ = o.ValidateAt(now) }); n != 0 {
			t.Errorf("ValidateAt of a %d-line order: %v allocations, want 0", len(o.Lines), n)
		}
	}
}

func TestAddressProblems(t *testing.T) {
	a := order.Address{Name: "x", Line1: "y", City: "z", PostalCode: "1", Country: "ZZ"}
	ps := a.Problems("ship_to")
	if len(ps) != 1 || ps[0].Field != "ship_to.country" {
		t.Errorf("Problems = %+v, want one for ship_to.country", ps)
	}
}
