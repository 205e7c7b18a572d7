package erpv1

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/order/ordertest"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
)

// fixedNow is the clock of every generated order, so failures reproduce.
var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// viaXML sends c through encoding/xml as the SOAP client and the ERP would:
// marshal, unmarshal into a fresh value.
func viaXML(t testing.TB, c *erpv1ws.CreateOrder) *erpv1ws.Order {
	t.Helper()
	b, err := xml.Marshal(c)
	if err != nil {
		t.Fatalf("xml.Marshal: %v", err)
	}
	var out erpv1ws.CreateOrder
	if err := xml.Unmarshal(b, &out); err != nil {
		t.Fatalf("xml.Unmarshal: %v", err)
	}
	return out.Order
}

// roundTrip checks FromV1(ToV1(o)) == o, directly and through XML, and that
// the v1 request keeps v1's schema limits.
func roundTrip(t *testing.T, o *order.Order) {
	t.Helper()
	want := o.Clone()
	req, err := ToV1(o)
	if err != nil {
		t.Fatalf("ToV1: %v", err)
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("ToV1 changed its input")
	}
	checkSchema(t, req.Order)
	got, err := FromV1(req.Order)
	if err != nil {
		t.Fatalf("FromV1: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromV1(ToV1(o)) != o\n got: %s\nwant: %s", jsonOf(got), jsonOf(want))
	}
	got, err = FromV1(viaXML(t, req))
	if err != nil {
		t.Fatalf("FromV1 after XML: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromV1(XML(ToV1(o))) != o\n got: %s\nwant: %s", jsonOf(got), jsonOf(want))
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkSchema asserts the maxLength, maxOccurs and fractionDigits facets of
// erpv1.wsdl.
func checkSchema(t *testing.T, v *erpv1ws.Order) {
	t.Helper()
	text := func(field, s string, max int) {
		t.Helper()
		if n := utf8.RuneCountInString(s); n > max {
			t.Errorf("%s has %d characters, v1 allows %d", field, n, max)
		}
		for _, r := range s {
			if !soap.IsXMLChar(r) {
				t.Errorf("%s contains %U, not an XML character", field, r)
			}
		}
	}
	amt := func(field string, a *erpv1ws.Amount) {
		t.Helper()
		if a == nil {
			t.Errorf("%s is missing", field)
			return
		}
		d, err := order.ParseDecimal(string(*a))
		if err != nil || d.FracDigits() > 2 {
			t.Errorf("%s = %q is not an Amount with at most 2 decimals", field, *a)
		}
	}
	if v.Reference == "" {
		t.Errorf("Reference is empty")
	}
	text("Reference", v.Reference, erpv1ws.MaxReferenceLen)
	text("CustomerOrderNo", v.CustomerOrderNo, erpv1ws.MaxCustomerOrderNoLen)
	text("CustomerName", v.CustomerName, erpv1ws.MaxCustomerNameLen)
	text("DeliveryName", v.DeliveryName, erpv1ws.MaxDeliveryNameLen)
	text("DeliveryAddress", v.DeliveryAddress, erpv1ws.MaxDeliveryAddressLen)
	text("DeliveryCountry", v.DeliveryCountry, erpv1ws.MaxCountryLen)
	text("Currency", v.Currency, erpv1ws.MaxCurrencyLen)
	text("ShipVia", v.ShipVia, erpv1ws.MaxShipViaLen)
	text("Remarks", v.Remarks, erpv1ws.MaxRemarksLen)
	amt("ShippingCharge", v.ShippingCharge)
	if len(v.OrderText) > erpv1ws.MaxOrderTexts {
		t.Errorf("%d order texts, v1 allows %d", len(v.OrderText), erpv1ws.MaxOrderTexts)
	}
	for _, ot := range v.OrderText {
		text("OrderText", string(*ot), erpv1ws.MaxOrderTextLen)
	}
	for i, l := range v.Line {
		if int(l.LineNo) != i+1 {
			t.Errorf("Line[%d].LineNo = %d", i+1, l.LineNo)
		}
		text("ItemNo", l.ItemNo, erpv1ws.MaxItemNoLen)
		text("ItemText", l.ItemText, erpv1ws.MaxItemTextLen)
		if strings.ContainsAny(l.ItemText, "\n\t") {
			t.Errorf("Line[%d].ItemText %q is not one line", i+1, l.ItemText)
		}
		amt("NetPrice", l.NetPrice)
	}
}

func TestRoundTripValid(t *testing.T) {
	roundTrip(t, ordertest.ValidAt(fixedNow))
}

// TestRoundTripRandom is the property: every valid order survives, drawn
// from the space ordertest.Random covers (every optional field present or
// absent, Unicode from many scripts, lengths from minimum to maximum). Line
// counts stay small here to keep the test fast under -race; the largest
// orders are TestRoundTripMaximal's. ERPGATE_PROPERTY_N raises the count.
func TestRoundTripRandom(t *testing.T) {
	n := 2000
	if testing.Short() || raceEnabled {
		n = 300
	}
	if s := os.Getenv("ERPGATE_PROPERTY_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			n = v
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		o := ordertest.Random(r, ordertest.Options{Now: fixedNow, Lines: 1 + r.IntN(8)})
		if err := o.Validate(); err != nil {
			t.Fatalf("generator gave an invalid order (#%d): %v", i, err)
		}
		roundTrip(t, o)
		if t.Failed() {
			t.Fatalf("order #%d failed", i)
		}
	}
}

// TestRoundTripMaximal covers the largest valid orders: 500 lines, every
// optional field present, every string at its maximum length, in Unicode
// and in ASCII, and with and without the gateway's identity.
func TestRoundTripMaximal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, opts := range []ordertest.Options{
		{Now: fixedNow, Max: true},
		{Now: fixedNow, Max: true, ASCII: true},
		{Now: fixedNow, Max: true, Lines: 1},
		{Now: fixedNow, Lines: order.MaxLines},
		{Now: fixedNow, Lines: 60},
	} {
		reps := 2
		if testing.Short() || raceEnabled {
			reps = 1
		}
		for range reps {
			o := ordertest.Random(r, opts)
			if err := o.Validate(); err != nil {
				t.Fatalf("generator gave an invalid order: %v", err)
			}
			roundTrip(t, o)
		}
	}
}

// TestRoundTripMinimal: every optional field absent.
func TestRoundTripMinimal(t *testing.T) {
	o := &order.Order{
		ID:              "ord_00000000000000000000000000",
		ExternalID:      "A",
		Customer:        order.Customer{Name: "x", Email: "a@b.cd"},
		ShippingAddress: order.Address{Name: "n", Line1: "l", City: "c", PostalCode: "1", Country: "DE"},
		Currency:        "EUR",
		Lines:           []order.Line{{SKU: "S", Quantity: 1}},
		Shipping:        order.Shipping{Method: "m"},
	}
	roundTrip(t, o)
	req, err := ToV1(o)
	if err != nil {
		t.Fatal(err)
	}
	// Only the address structure and the tag need carrying.
	if len(req.Order.OrderText) != 0 {
		t.Errorf("OrderText = %d texts, want none", len(req.Order.OrderText))
	}
}

// TestRoundTripHostileText: text outside what Validate accepts (control
// characters, CR, noncharacters, leading and trailing white space) still
// round-trips, because v1's fields are made XML-safe and the exact values
// travel as JSON.
func TestRoundTripHostileText(t *testing.T) {
	alphabet := []rune{'a', ' ', '\n', '\r', '\t', 0x01, 0x1f, 0x7f, 0x85, 0xa0, 0x2028, 0x2029, 0xfffe, 0xffff, 0xfffd,
		0xd7ff, 0xe000, 0x10ffff, 0x1f600, '<', '&', '"', '\'', '\\', '/', '{', '}', 'E', 'R', 'P', 'G', 'A', 'T', '1'}
	r := rand.New(rand.NewPCG(5, 6))
	text := func(max int) string {
		n := r.IntN(max + 1)
		var b strings.Builder
		if r.IntN(4) == 0 {
			b.WriteString("ERPGATE1 1/1 {}\n")
		}
		for range n {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	n := 500
	if testing.Short() || raceEnabled {
		n = 60
	}
	for range n {
		o := ordertest.Random(r, ordertest.Options{Now: fixedNow, Lines: 1 + r.IntN(4)})
		o.ShopID = text(80)
		o.ExternalID = text(80)
		o.Customer = order.Customer{ID: text(10), Name: text(300), Email: text(30), Phone: text(10)}
		o.ShippingAddress = order.Address{Name: text(60), Line1: text(300), Line2: text(20), City: text(20),
			PostalCode: text(5), Region: text(5), Country: text(3)}
		if r.IntN(2) == 0 {
			o.BillingAddress = &order.Address{Name: text(9), Line1: text(9), City: text(9), Country: text(2)}
		}
		o.Currency = text(4)
		o.Shipping.Method = text(40)
		o.Notes = text(3000)
		o.RequestedDeliveryDate = text(12)
		for i := range o.Lines {
			o.Lines[i].Description = text(60)
		}
		roundTrip(t, o)
		if t.Failed() {
			return
		}
	}
}

// TestDownTranslation pins what v1's own fields show for ordertest.Valid:
// the folded, rounded net prices, the one-line address, the cut texts, and
// the human-readable remarks.
func TestDownTranslation(t *testing.T) {
	o := ordertest.ValidAt(fixedNow)
	req, err := ToV1(o)
	if err != nil {
		t.Fatal(err)
	}
	v := req.Order
	for _, c := range []struct{ field, got, want string }{
		{"Reference", v.Reference, o.ID},
		{"CustomerOrderNo", v.CustomerOrderNo, "WEB-2024-000123"},
		{"CustomerName", v.CustomerName, "Zoë Łukasiewicz-Müller"},
		{"DeliveryAddress", v.DeliveryAddress, "Straße des 17. Juni 135, Hinterhaus, 3. OG, 10623 Berlin, Berlin"},
		{"DeliveryCountry", v.DeliveryCountry, "DE"},
		{"ShipVia", v.ShipVia, "DHL Paket"},
		{"ShippingCharge", string(*v.ShippingCharge), "4.99"},
		// 2 × 34.95 − 5.00 = 64.90 → 32.45 per unit.
		{"Line[1].NetPrice", string(*v.Line[0].NetPrice), "32.45"},
		// 3 × 18.49 − 0.47 = 55.00 → 18.333… → 18.33.
		{"Line[2].NetPrice", string(*v.Line[1].NetPrice), "18.33"},
		// 0.0125 − 0.01 = 0.0025 → 0.00.
		{"Line[3].NetPrice", string(*v.Line[2].NetPrice), "0.00"},
		// Multi-line description: one line, cut to 40 characters.
		{"Line[2].ItemText", v.Line[1].ItemText, "Kaffeebohnen 1 kg — Röstung: dunkel Lief"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	for _, want := range []string{
		"Requested delivery date: " + o.RequestedDeliveryDate + "\n",
		"Notes: Bitte beim Nachbarn abgeben. Tür-Code: 4711 ✓\n",
		"Contact: zoe.mueller+orders@example.com, phone +49 (30) 1234-567, customer no. CUST-42\n",
		"Invoice to: Łukasiewicz & Søn ApS, Nørrebrogade 12, c/o Åse Ødegård, 2200 København N, Hovedstaden, DK\n",
		"Line 1: 2 × 34.95 less discount 5.00\n",
		"Line 3: 1 × 0.0125 less discount 0.01\n",
		separator + "\nERPGATE1 1/1 {",
	} {
		if !strings.Contains(v.Remarks, want) {
			t.Errorf("Remarks lack %q:\n%s", want, v.Remarks)
		}
	}
	if len(v.OrderText) != 0 {
		t.Errorf("OrderText has %d texts; a typical order must fit Remarks", len(v.OrderText))
	}
	total, err := BookedTotal(o)
	if err != nil {
		t.Fatal(err)
	}
	// 2×32.45 + 3×18.33 + 1×0.00 + 4.99 = 64.90 + 54.99 + 4.99.
	if want := order.MustDecimal("124.88"); total != want {
		t.Errorf("BookedTotal = %s, want %s", total, want)
	}
}

// TestNetPrice covers the rounding of folded discounts.
func TestNetPrice(t *testing.T) {
	for _, c := range []struct {
		qty             int64
		unit, disc, net string
	}{
		{1, "10", "0", "10.00"},
		{3, "10", "1", "9.67"},     // 29 / 3 = 9.666…
		{3, "10", "0.5", "9.83"},   // 29.5 / 3 = 9.8333…
		{2, "0.005", "0", "0.01"},  // half away from zero
		{2, "0.0049", "0", "0.00"}, // just below the half
		{4, "2.5", "10", "0.00"},   // fully discounted
		{7, "1.2345", "0", "1.23"}, // 4 decimals cut
		{1, "1000000000000", "0", "1000000000000.00"},
		{100000, "0.0001", "0", "0.00"},
		{100000, "10000000", "0.01", "10000000.00"}, // 999999999999.99 / 100000 = 9999999.9999999 → 10000000.00
	} {
		l := order.Line{Quantity: c.qty, UnitPrice: order.MustDecimal(c.unit), Discount: order.MustDecimal(c.disc)}
		got, ok := netPrice(&l)
		if !ok || got != order.MustDecimal(c.net) {
			t.Errorf("netPrice(%d × %s − %s) = %s, %v; want %s", c.qty, c.unit, c.disc, got, ok, c.net)
		}
	}
}

func TestToV1Refuses(t *testing.T) {
	for name, mutate := range map[string]func(o *order.Order){
		"no lines":          func(o *order.Order) { o.Lines = nil },
		"long id":           func(o *order.Order) { o.ID = strings.Repeat("x", erpv1ws.MaxReferenceLen+1) },
		"id with newline":   func(o *order.Order) { o.ID = "ord_1\n" },
		"empty sku":         func(o *order.Order) { o.Lines[0].SKU = "" },
		"long sku":          func(o *order.Order) { o.Lines[1].SKU = strings.Repeat("S", erpv1ws.MaxItemNoLen+1) },
		"zero quantity":     func(o *order.Order) { o.Lines[0].Quantity = 0 },
		"huge quantity":     func(o *order.Order) { o.Lines[0].Quantity = 1 << 31 },
		"bad UTF-8":         func(o *order.Order) { o.Notes = "\xff" },
		"price overflow":    func(o *order.Order) { o.Lines[0].UnitPrice = order.MaxDecimal + 1 },
		"shipping overflow": func(o *order.Order) { o.Shipping.Price = order.MaxDecimal * 2 },
	} {
		t.Run(name, func(t *testing.T) {
			o := ordertest.ValidAt(fixedNow)
			mutate(o)
			if _, err := ToV1(o); !errors.Is(err, ErrUntranslatable) {
				t.Errorf("ToV1 error = %v, want ErrUntranslatable", err)
			}
		})
	}
	if _, err := ToV1(nil); !errors.Is(err, ErrUntranslatable) {
		t.Errorf("ToV1(nil) error = %v, want ErrUntranslatable", err)
	}
}

// TestFromV1Detects: FromV1 reports v1 orders that do not restore, and
// tolerates what the old ERP's users may legitimately add.
func TestFromV1Detects(t *testing.T) {
	// lines 0: ordertest.Valid, whose data fits Remarks and whose name,
	// prices and shop order number v1 holds exactly (so editing them in v1
	// must be noticed); else a maximal order, whose data needs OrderTexts.
	fresh := func(t *testing.T, lines int) *erpv1ws.Order {
		t.Helper()
		o := ordertest.ValidAt(fixedNow)
		if lines > 0 {
			o = ordertest.Random(rand.New(rand.NewPCG(7, 8)), ordertest.Options{Now: fixedNow, Max: true, Lines: lines})
		}
		req, err := ToV1(o)
		if err != nil {
			t.Fatal(err)
		}
		return req.Order
	}
	text := func(s string) *erpv1ws.Text4000 { x := erpv1ws.Text4000(s); return &x }
	for _, c := range []struct {
		name   string
		lines  int
		mutate func(v *erpv1ws.Order)
		want   error // nil: restores fine
	}{
		{"foreign order text added", 0, func(v *erpv1ws.Order) { v.OrderText = append(v.OrderText, text("called customer, OK")) }, nil},
		{"remark line added on top", 0, func(v *erpv1ws.Order) { v.Remarks = "URGENT\n" + v.Remarks }, nil},
		{"text sent twice", 50, func(v *erpv1ws.Order) { v.OrderText = append(v.OrderText, v.OrderText[0]) }, nil},
		{"texts reordered", 50, func(v *erpv1ws.Order) {
			v.OrderText[0], v.OrderText[len(v.OrderText)-1] = v.OrderText[len(v.OrderText)-1], v.OrderText[0]
		}, nil},
		{"remarks replaced", 0, func(v *erpv1ws.Order) { v.Remarks = "see phone call" }, ErrNoGatewayData},
		{"remarks emptied", 0, func(v *erpv1ws.Order) { v.Remarks = "" }, ErrNoGatewayData},
		{"name edited in the ERP", 0, func(v *erpv1ws.Order) { v.CustomerName = "Somebody Else" }, ErrCorrupt},
		{"quantity edited", 0, func(v *erpv1ws.Order) { v.Line[0].Quantity++ }, ErrCorrupt},
		{"country edited", 0, func(v *erpv1ws.Order) { v.DeliveryCountry = "AT" }, ErrCorrupt},
		{"line removed", 0, func(v *erpv1ws.Order) { v.Line = v.Line[:1] }, ErrCorrupt},
		{"line nil", 0, func(v *erpv1ws.Order) { v.Line[1] = nil }, ErrCorrupt},
		{"bad amount", 0, func(v *erpv1ws.Order) { p := erpv1ws.Amount("1e3"); v.ShippingCharge = &p }, ErrCorrupt},
		{"piece missing", 50, func(v *erpv1ws.Order) { v.OrderText = v.OrderText[1:] }, ErrCorrupt},
		{"piece changed", 50, func(v *erpv1ws.Order) { v.OrderText[0] = text(string(*v.OrderText[0]) + "x") }, ErrCorrupt},
		{"conflicting duplicate piece", 50, func(v *erpv1ws.Order) {
			v.OrderText = append(v.OrderText, text(string(*v.OrderText[0])+"x"))
		}, ErrCorrupt},
		{"data edited", 0, func(v *erpv1ws.Order) { v.Remarks = strings.Replace(v.Remarks, `"h":"`, `"h":"A`, 1) }, ErrCorrupt},
		{"unknown key", 0, func(v *erpv1ws.Order) { v.Remarks = strings.Replace(v.Remarks, `{"h":`, `{"zz":1,"h":`, 1) }, ErrCorrupt},
		{"bad header", 0, func(v *erpv1ws.Order) { v.Remarks = strings.Replace(v.Remarks, "ERPGATE1 1/1", "ERPGATE1 01/1", 1) }, ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := fresh(t, c.lines)
			c.mutate(v)
			_, err := FromV1(v)
			switch {
			case c.want == nil && err != nil:
				t.Errorf("FromV1 error = %v, want none", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("FromV1 error = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := FromV1(nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("FromV1(nil) error = %v, want ErrCorrupt", err)
	}
}

// TestDeltaCoversOrder fails when order.Order gains a field: the ERPGATE1
// encoding must then learn to carry it (and a new round-trip case must set
// it), or FromV1 would silently drop it.
func TestDeltaCoversOrder(t *testing.T) {
	var fields []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for f := range typ.Fields() {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
				walk(prefix+f.Name+".", ft)
				continue
			}
			fields = append(fields, prefix+f.Name)
		}
	}
	walk("", reflect.TypeFor[order.Order]())
	want := "ID ShopID ExternalID Customer.ID Customer.Name Customer.Email Customer.Phone " +
		"ShippingAddress.Name ShippingAddress.Line1 ShippingAddress.Line2 ShippingAddress.City ShippingAddress.PostalCode ShippingAddress.Region ShippingAddress.Country " +
		"BillingAddress.Name BillingAddress.Line1 BillingAddress.Line2 BillingAddress.City BillingAddress.PostalCode BillingAddress.Region BillingAddress.Country " +
		"Currency Lines.SKU Lines.Description Lines.Quantity Lines.UnitPrice Lines.Discount Shipping.Method Shipping.Price " +
		"RequestedDeliveryDate Notes CreatedAt"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("order.Order fields changed; teach the ERPGATE1 delta the new ones.\n got: %s\nwant: %s", got, want)
	}
}
