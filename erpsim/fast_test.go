package erpsim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/soap"
	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2ws"
)

// The fast path (fast.go) must read exactly what ReadRequest and Decode
// read, or decline. These tests hold it to that: on every request the
// adapters send (which it must take), on forms around them, and on
// arbitrary bytes (FuzzFastPath).

// marshalEnvelope is what gowsdl's client sends for req — and the
// gateway's adapters, which write the same bytes by hand (their tests
// TestEnvelopesMatchMarshal and TestCreateEnvelopeMatchesMarshal).
func marshalEnvelope(t testing.TB, req any) []byte {
	t.Helper()
	b, err := xml.Marshal(gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: req}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strictTypes makes the request value Decode fills for each fast operation.
var strictTypes = map[string]func() any{
	"CreateOrder":          func() any { return new(erpv1ws.CreateOrder) },
	"FindOrderByReference": func() any { return new(erpv1ws.FindOrderByReference) },
	"CreateSalesOrder":     func() any { return new(erpv2ws.CreateSalesOrder) },
}

// header is one HTTP request header of a test request.
type header struct{ name, value string }

// gowsdlHeaders are the headers gowsdl and the adapters send for op of v.
func gowsdlHeaders(v *version, op string) []header {
	return []header{{"Content-Type", `text/xml; charset="utf-8"`}, {"SOAPAction", v.ns + "/" + op}}
}

func newPost(v *version, env []byte, headers []header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, v.path, bytes.NewReader(env))
	for _, h := range headers {
		r.Header.Add(h.name, h.value)
	}
	return r
}

// readBoth reads env with the fast path and with ReadRequest and Decode
// and fails t unless the fast path declined or read what Decode read. A
// declined request must still yield env to ReadRequest. It reports
// whether the fast path took the request.
func readBoth(t testing.TB, v *version, env []byte, headers []header) bool {
	t.Helper()
	r := newPost(v, env, headers)
	c, ok := v.readFast(r, requestLimits())
	if !ok {
		rest, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(rest, env) {
			t.Fatalf("a declined request lost its body: %.300q, %v", rest, err)
		}
		return false
	}
	req, err := soap.ReadRequest(newPost(v, env, headers), requestLimits())
	if err != nil {
		t.Fatalf("the fast path took %.300q as %s, which ReadRequest refuses: %v", env, c.op, err)
	}
	if req.Operation != (xml.Name{Space: v.ns, Local: c.op}) {
		t.Fatalf("the fast path read %s, ReadRequest %v", c.op, req.Operation)
	}
	want := strictTypes[c.op]()
	if err := req.Decode(want); err != nil {
		t.Fatalf("the fast path took %.300q, which Decode refuses: %v", env, err)
	}
	if !reflect.DeepEqual(c.in, want) {
		t.Fatalf("the fast path read %.300q as\n%s\nDecode as\n%s", env, dump(c.in), dump(want))
	}
	return true
}

// dump shows a request value for a failure message.
func dump(v any) string {
	b, err := xml.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// randText is a text of up to max pieces, among them the characters XML
// escapes, line ends, multi-byte and astral characters and bytes XML does
// not allow (marshalling writes U+FFFD for those).
func randText(r *rand.Rand, max int) string {
	pieces := []string{"a", "Z", "0", "9", " ", "  ", "-", ".", "<", ">", "&", `"`, "'", "\t", "\n", "\r", "\r\n",
		"ü", "€", "Ł", "„", "✓", "\U0001F600", "\u2028", "\u00a0", "\uFFFE", "\x00", "\x1f", "\xff", "]]>", "&amp;", "&#65;"}
	var b strings.Builder
	for range r.IntN(max + 1) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// randNumber is a small, a negative, an extreme or no (0) number.
func randNumber(r *rand.Rand) int64 {
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return -r.Int64N(100)
	case 2:
		return 1 << 31
	}
	return r.Int64N(1000)
}

func maybe[T ~string](r *rand.Rand, s string) *T {
	if r.IntN(4) == 0 {
		return nil
	}
	v := T(s)
	return &v
}

func randV1Order(r *rand.Rand) *erpv1ws.Order {
	o := &erpv1ws.Order{
		Reference: "ord_" + randText(r, 3), CustomerOrderNo: randText(r, 4), CustomerName: randText(r, 8),
		DeliveryName: randText(r, 8), DeliveryAddress: randText(r, 20), DeliveryCountry: randText(r, 2),
		Currency: randText(r, 2), ShipVia: randText(r, 5), ShippingCharge: maybe[erpv1ws.Amount](r, "4.99"),
		Remarks: randText(r, 40),
	}
	for i := range r.IntN(5) {
		if r.IntN(8) == 0 {
			o.Line = append(o.Line, &erpv1ws.OrderLine{}) // an empty line
			continue
		}
		o.Line = append(o.Line, &erpv1ws.OrderLine{
			LineNo: int32(i + 1), ItemNo: "SKU-100" + randText(r, 1), ItemText: randText(r, 6),
			Quantity: int32(randNumber(r)), NetPrice: maybe[erpv1ws.Amount](r, randText(r, 3)+"1.5"),
		})
	}
	for range r.IntN(3) {
		o.OrderText = append(o.OrderText, maybe[erpv1ws.Text4000](r, randText(r, 10)))
	}
	return o
}

func randAddress(r *rand.Rand) *erpv2ws.Address {
	if r.IntN(4) == 0 {
		return nil
	}
	return &erpv2ws.Address{Name: randText(r, 6), Street1: randText(r, 6), Street2: randText(r, 2), City: randText(r, 4),
		PostalCode: randText(r, 2), Region: randText(r, 2), CountryCode: randText(r, 2)}
}

func randSalesOrder(r *rand.Rand) *erpv2ws.SalesOrder {
	so := &erpv2ws.SalesOrder{
		ExternalReference: "ord_" + randText(r, 3), SalesChannel: randText(r, 3), CustomerOrderReference: randText(r, 3),
		OrderedAt: maybe[erpv2ws.Timestamp](r, "2026-03-01T09:30:00Z"),
		ShipTo:    randAddress(r), BillTo: randAddress(r), Currency: randText(r, 2),
		RequestedDeliveryDate: maybe[erpv2ws.CalendarDate](r, randText(r, 2)+"2026-03-14"),
		Notes:                 randText(r, 40),
	}
	if r.IntN(4) != 0 {
		so.Customer = &erpv2ws.Customer{CustomerNumber: randText(r, 2), Name: randText(r, 5), Email: randText(r, 5), Phone: randText(r, 3)}
	}
	if r.IntN(4) != 0 {
		so.Shipping = &erpv2ws.Shipping{Method: randText(r, 3), Price: maybe[erpv2ws.Money](r, "4.99")}
	}
	for i := range r.IntN(5) {
		so.Line = append(so.Line, &erpv2ws.OrderLine{
			LineNumber: int32(i + 1), Sku: "SKU-100" + randText(r, 1), Description: randText(r, 6),
			Quantity: randNumber(r), UnitPrice: maybe[erpv2ws.Money](r, "10.005"), Discount: maybe[erpv2ws.Money](r, randText(r, 1)),
		})
	}
	return so
}

// TestFastReadsAsStrict holds the fast path to ReadRequest and Decode on
// random requests as the adapters (and gowsdl's client) write them — and
// requires it to take every one of them, or the delivery path would fall
// back unnoticed.
func TestFastReadsAsStrict(t *testing.T) {
	sim := New(Config{})
	v1, v2 := sim.versions["v1"], sim.versions["v2"]
	r := rand.New(rand.NewPCG(7, 11))
	n := 1000
	if testing.Short() {
		n = 200
	}
	take := func(v *version, op string, req any) {
		t.Helper()
		env := marshalEnvelope(t, req)
		if !readBoth(t, v, env, gowsdlHeaders(v, op)) {
			t.Fatalf("the fast path declined a request as the adapters write it: %.300q", env)
		}
	}
	for range n {
		take(v1, "CreateOrder", &erpv1ws.CreateOrder{Order: randV1Order(r)})
		take(v2, "CreateSalesOrder", &erpv2ws.CreateSalesOrder{SalesOrder: randSalesOrder(r)})
		take(v1, "FindOrderByReference", &erpv1ws.FindOrderByReference{Reference: randText(r, 5), IncludeDetails: r.IntN(2) == 0})
	}
	// Empty requests, and the largest order the gateway sends (999 lines).
	take(v1, "CreateOrder", &erpv1ws.CreateOrder{})
	take(v1, "CreateOrder", &erpv1ws.CreateOrder{Order: &erpv1ws.Order{}})
	take(v2, "CreateSalesOrder", &erpv2ws.CreateSalesOrder{})
	take(v1, "FindOrderByReference", &erpv1ws.FindOrderByReference{})
	big := randSalesOrder(r)
	for i := range 999 {
		big.Line = append(big.Line, &erpv2ws.OrderLine{LineNumber: int32(i + 1), Sku: "SKU-1001", Description: strings.Repeat("ü", 1000), Quantity: 1, UnitPrice: maybe[erpv2ws.Money](r, "1")})
	}
	take(v2, "CreateSalesOrder", &erpv2ws.CreateSalesOrder{SalesOrder: big})

	// The v1 adapter's golden create request.
	golden, err := os.ReadFile("../erp/erpv1/testdata/create_order.golden.xml")
	if err != nil {
		t.Fatal(err)
	}
	if !readBoth(t, v1, golden, gowsdlHeaders(v1, "CreateOrder")) {
		t.Fatal("the fast path declined the v1 adapter's golden create request")
	}
}

// fastForms are requests around the plain form: each must be declined or
// read as Decode reads it; declined says which must be declined.
var fastForms = []struct {
	name     string
	env      string // %s is replaced by the v2 create's content (inside the operation element)
	headers  []header
	declined bool
}{
	{name: "plain", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`},
	{name: "declaration", env: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>` + "\r\n"},
	{name: "other encoding", env: `<?xml version="1.0" encoding="ISO-8859-1"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "header", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "other prefix", env: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></s:Body></s:Envelope>`, declined: true},
	{name: "prefixed operation", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v2="urn:erpgate:erp:v2"><soap:Body><v2:CreateSalesOrder>%s</v2:CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "soap 1.2", env: `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "soap 1.2 content type", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`,
		headers: []header{{"Content-Type", "application/soap+xml; charset=utf-8"}}, declined: true},
	{name: "latin-1", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`,
		headers: []header{{"Content-Type", "text/xml; charset=iso-8859-1"}}, declined: true},
	{name: "other action", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`,
		headers: []header{{"Content-Type", "text/xml"}, {"SOAPAction", "urn:erpgate:erp:v2/GetSalesOrder"}}, declined: true},
	{name: "two actions", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`,
		headers: []header{{"Content-Type", "text/xml"}, {"SOAPAction", ""}, {"SOAPAction", ""}}, declined: true},
	{name: "quoted action", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`,
		headers: []header{{"Content-Type", "text/xml; charset=utf-8"}, {"SOAPAction", `"urn:erpgate:erp:v2/CreateSalesOrder"`}}},
	{name: "second body element", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder><CreateSalesOrder xmlns="urn:erpgate:erp:v2"></CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "text in body", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>x<CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "trailing element", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v2">%s</CreateSalesOrder></soap:Body></soap:Envelope><x/>`, declined: true},
	{name: "unknown operation", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><DeleteSalesOrder xmlns="urn:erpgate:erp:v2">%s</DeleteSalesOrder></soap:Body></soap:Envelope>`, declined: true},
	{name: "other namespace", env: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrder xmlns="urn:erpgate:erp:v1">%s</CreateSalesOrder></soap:Body></soap:Envelope>`, declined: true},
}

// fastContents are contents of the v2 create around the plain form.
var fastContents = []struct {
	name, content string
	declined      bool
}{
	{name: "order", content: `<SalesOrder><ExternalReference>ord_1</ExternalReference><Customer><Name>Zoë &amp; &#34;Co&#34; &#x1F600;</Name></Customer><Currency>EUR</Currency><Line><LineNumber>1</LineNumber><Sku>SKU-1001</Sku><Quantity>2</Quantity><UnitPrice>10.005</UnitPrice></Line><Line/><Notes>a&#xA;b&#xD;&#x9;&lt;&gt;&apos;&quot;</Notes></SalesOrder>`},
	{name: "empty values", content: `<SalesOrder><ExternalReference/><OrderedAt></OrderedAt><Line><LineNumber></LineNumber><Quantity/><Discount/></Line><Shipping><Price/></Shipping></SalesOrder>`},
	{name: "white space", content: "\n <SalesOrder >\n\t<ExternalReference>ord_1</ExternalReference >\n<Line>\n<Quantity> 7 </Quantity></Line></SalesOrder>\n"},
	{name: "text in structs", content: `x<SalesOrder>y<Line>z<Quantity>1</Quantity>w</Line>&amp;</SalesOrder>v`},
	{name: "blank number", content: `<SalesOrder><Line><Quantity> </Quantity></Line></SalesOrder>`, declined: true},
	{name: "bad number", content: `<SalesOrder><Line><Quantity>1e3</Quantity></Line></SalesOrder>`, declined: true},
	{name: "int32 overflow", content: `<SalesOrder><Line><LineNumber>2147483648</LineNumber></Line></SalesOrder>`, declined: true},
	{name: "twice", content: `<SalesOrder><ExternalReference>a</ExternalReference><ExternalReference>b</ExternalReference></SalesOrder>`, declined: true},
	{name: "struct twice", content: `<SalesOrder><Shipping><Method>a</Method></Shipping><Shipping><Price>1</Price></Shipping></SalesOrder>`, declined: true},
	{name: "unknown element", content: `<SalesOrder><Foo>1</Foo></SalesOrder>`, declined: true},
	{name: "element in value", content: `<SalesOrder><Notes>a<b/>c</Notes></SalesOrder>`, declined: true},
	{name: "prefixed child", content: `<v2:SalesOrder xmlns:v2="urn:erpgate:erp:v2"/>`, declined: true},
	{name: "child in no namespace", content: `<SalesOrder xmlns=""><ExternalReference>a</ExternalReference></SalesOrder>`, declined: true},
	{name: "attribute", content: `<SalesOrder id="1"/>`, declined: true},
	{name: "xml namespace bound", content: `<SalesOrder xmlns:x="http://www.w3.org/XML/1998/namespace"/>`, declined: true},
	{name: "comment", content: `<SalesOrder><!-- c --></SalesOrder>`, declined: true},
	{name: "cdata", content: `<SalesOrder><Notes><![CDATA[a]]></Notes></SalesOrder>`, declined: true},
	{name: "processing instruction", content: `<SalesOrder><?pi x?></SalesOrder>`, declined: true},
	{name: "carriage return", content: "<SalesOrder><Notes>a\r\nb</Notes></SalesOrder>", declined: true},
	{name: "unknown entity", content: `<SalesOrder><Notes>&nbsp;</Notes></SalesOrder>`, declined: true},
	{name: "wrapping reference", content: `<SalesOrder><Notes>&#x100000041;</Notes></SalesOrder>`, declined: true},
	{name: "wrapping decimal reference", content: `<SalesOrder><Notes>&#4294967361;</Notes></SalesOrder>`, declined: true},
	{name: "surrogate reference", content: `<SalesOrder><Notes>&#xD800;</Notes></SalesOrder>`, declined: true},
	{name: "NUL reference", content: `<SalesOrder><Notes>&#0;</Notes></SalesOrder>`, declined: true},
	{name: "NUL", content: "<SalesOrder><Notes>\x00</Notes></SalesOrder>", declined: true},
	{name: "invalid UTF-8", content: "<SalesOrder><Notes>\xff</Notes></SalesOrder>", declined: true},
	{name: "U+FFFE", content: "<SalesOrder><Notes>\uFFFE</Notes></SalesOrder>", declined: true},
	{name: "]]>", content: `<SalesOrder><Notes>]]></Notes></SalesOrder>`, declined: true},
	{name: "unclosed", content: `<SalesOrder><Notes>a</SalesOrder>`, declined: true},
	{name: "text over the token limit", content: `<SalesOrder><Notes>` + strings.Repeat("a", 64<<10+1) + `</Notes></SalesOrder>`, declined: true},
	{name: "text at the token limit", content: `<SalesOrder><Notes>` + strings.Repeat("a", 64<<10) + `</Notes></SalesOrder>`},
	{name: "too many elements", content: `<SalesOrder>` + strings.Repeat(`<Line/>`, 50_000) + `</SalesOrder>`, declined: true},
}

// TestFastFormsAsStrict holds the fast path to ReadRequest and Decode on
// forms around the plain one, and requires it to decline those it must.
func TestFastFormsAsStrict(t *testing.T) {
	v2 := New(Config{}).versions["v2"]
	content := fastContents[0].content
	for _, tc := range fastForms {
		t.Run(tc.name, func(t *testing.T) {
			env := []byte(fmt.Sprintf(tc.env, content))
			headers := tc.headers
			if headers == nil {
				headers = gowsdlHeaders(v2, "CreateSalesOrder")
			}
			if took := readBoth(t, v2, env, headers); took == tc.declined {
				t.Errorf("took %v, want %v", took, !tc.declined)
			}
		})
	}
	for _, tc := range fastContents {
		t.Run(tc.name, func(t *testing.T) {
			env := []byte(fmt.Sprintf(fastForms[0].env, tc.content))
			if took := readBoth(t, v2, env, gowsdlHeaders(v2, "CreateSalesOrder")); took == tc.declined {
				t.Errorf("took %v, want %v", took, !tc.declined)
			}
		})
	}
}

// TestFastDeclinesWithoutLosingTheBody: a body of unknown or wrong length,
// or one whose reading fails, goes to ReadRequest with every byte and the
// same error.
func TestFastDeclinesWithoutLosingTheBody(t *testing.T) {
	v2 := New(Config{}).versions["v2"]
	env := []byte(fmt.Sprintf(fastForms[0].env, fastContents[0].content))
	for _, tc := range []struct {
		name   string
		length int64
		body   io.Reader
		err    error
	}{
		{"unknown length", -1, bytes.NewReader(env), nil},
		{"longer than announced", int64(len(env) - 10), bytes.NewReader(env), nil},
		{"too large", 16<<20 + 1, bytes.NewReader(env), nil},
		{"read error", int64(len(env)) + 10, io.MultiReader(bytes.NewReader(env), errorReader{io.ErrUnexpectedEOF}), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPost(v2, nil, gowsdlHeaders(v2, "CreateSalesOrder"))
			r.Body, r.ContentLength = io.NopCloser(tc.body), tc.length
			if _, ok := v2.readFast(r, requestLimits()); ok {
				t.Fatal("the fast path took it")
			}
			got, err := io.ReadAll(r.Body)
			if !bytes.Equal(got, env) || err != tc.err {
				t.Fatalf("the body reads %d bytes, %v; want %d, %v", len(got), err, len(env), tc.err)
			}
		})
	}
}

// answer is what a client sees of one SOAP call.
type answer struct {
	status int
	ctype  string
	body   string
}

func call(s *Sim, path string, env []byte, headers []header) answer {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(env))
	for _, h := range headers {
		r.Header.Add(h.name, h.value)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return answer{w.Code, w.Header().Get("Content-Type"), w.Body.String()}
}

// twinSims are two simulators on one fixed clock, the second without the
// fast path.
func twinSims() (fast, strict *Sim) {
	t0 := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	cfg := Config{Clock: func() time.Time { return t0 }, Rand: func() float64 { return 0.5 }}
	fast, strict = New(cfg), New(cfg)
	strict.strictOnly = true
	return fast, strict
}

// TestFastAnswersAsStrict sends the same calls — valid and refused orders,
// repeats, lookups, statuses and the forms around the plain one — to a
// simulator with the fast path and to one without, and compares every
// answer byte for byte.
func TestFastAnswersAsStrict(t *testing.T) {
	fast, strict := twinSims()
	v1, v2 := fast.versions["v1"], fast.versions["v2"]
	r := rand.New(rand.NewPCG(3, 4))
	var calls []struct {
		v       *version
		env     []byte
		headers []header
	}
	add := func(v *version, op string, req any) {
		calls = append(calls, struct {
			v       *version
			env     []byte
			headers []header
		}{v, marshalEnvelope(t, req), gowsdlHeaders(v, op)})
	}
	for i := range 300 {
		ref := fmt.Sprintf("ord_%d", i%200) // some repeats
		o := randV1Order(r)
		so := randSalesOrder(r)
		if i%3 != 0 { // mostly valid orders
			o = &erpv1ws.Order{Reference: ref, CustomerName: "Zoë", DeliveryName: "Zoë", DeliveryAddress: "Straße 1", DeliveryCountry: "DE", Currency: "EUR",
				ShippingCharge: maybe[erpv1ws.Amount](r, "4.99"), Line: []*erpv1ws.OrderLine{{LineNo: 1, ItemNo: "SKU-1001", Quantity: 2, NetPrice: maybe[erpv1ws.Amount](r, "10.01")}}}
			so = &erpv2ws.SalesOrder{ExternalReference: ref, Customer: &erpv2ws.Customer{Name: "Zoë", Email: "z@example.com"},
				ShipTo:   &erpv2ws.Address{Name: "Zoë", Street1: "Straße 1", City: "Berlin", PostalCode: "10115", CountryCode: "DE"},
				Currency: "EUR", Shipping: &erpv2ws.Shipping{Method: "DHL", Price: maybe[erpv2ws.Money](r, "4.99")},
				Line: []*erpv2ws.OrderLine{{LineNumber: 1, Sku: "SKU-1002", Quantity: 1, UnitPrice: maybe[erpv2ws.Money](r, "10.005")}}}
		}
		add(v1, "FindOrderByReference", &erpv1ws.FindOrderByReference{Reference: ref, IncludeDetails: i%5 == 0})
		add(v1, "CreateOrder", &erpv1ws.CreateOrder{Order: o})
		add(v2, "CreateSalesOrder", &erpv2ws.CreateSalesOrder{SalesOrder: so})
		add(v1, "GetOrderStatus", &erpv1ws.GetOrderStatus{OrderNumber: fmt.Sprintf("V1-%06d", i%50)})
		add(v2, "GetSalesOrderStatus", &erpv2ws.GetSalesOrderStatus{ExternalReference: ref})
		add(v2, "GetSalesOrder", &erpv2ws.GetSalesOrder{ExternalReference: ref})
	}
	raw := func(env string, headers []header) {
		if headers == nil {
			headers = gowsdlHeaders(v2, "CreateSalesOrder")
		}
		calls = append(calls, struct {
			v       *version
			env     []byte
			headers []header
		}{v2, []byte(env), headers})
	}
	for _, tc := range fastForms {
		raw(fmt.Sprintf(tc.env, strings.ReplaceAll(fastContents[0].content, "ord_1", "ord_"+tc.name)), tc.headers)
	}
	for _, c := range fastContents {
		raw(fmt.Sprintf(fastForms[0].env, c.content), nil)
	}
	for i, c := range calls {
		got, want := call(fast, c.v.path, c.env, c.headers), call(strict, c.v.path, c.env, c.headers)
		if got != want {
			t.Fatalf("call %d %.300q:\n got %d %s %.600s\nwant %d %s %.600s", i, c.env, got.status, got.ctype, got.body, want.status, want.ctype, want.body)
		}
	}
	for _, name := range []string{"v1", "v2"} {
		if got, want := fast.OrderCount(name), strict.OrderCount(name); got != want || got == 0 {
			t.Errorf("%s holds %d orders, without the fast path %d", name, got, want)
		}
	}
}

// FuzzFastPath holds the fast path to ReadRequest and Decode on arbitrary
// envelopes, seeded with the requests the adapters send and the forms
// around them, and compares the answers of simulators with and without it.
func FuzzFastPath(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		f.Add("v1", marshalEnvelope(f, &erpv1ws.CreateOrder{Order: randV1Order(r)}))
		f.Add("v2", marshalEnvelope(f, &erpv2ws.CreateSalesOrder{SalesOrder: randSalesOrder(r)}))
	}
	f.Add("v1", marshalEnvelope(f, &erpv1ws.FindOrderByReference{Reference: "ord_1", IncludeDetails: true}))
	f.Add("v1", marshalEnvelope(f, &erpv1ws.GetOrderStatus{OrderNumber: "V1-000001"}))
	f.Add("v2", marshalEnvelope(f, &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_1"}))
	f.Add("v2", marshalEnvelope(f, &erpv2ws.GetSalesOrder{ExternalReference: "ord_1"}))
	if golden, err := os.ReadFile("../erp/erpv1/testdata/create_order.golden.xml"); err == nil {
		f.Add("v1", golden)
	}
	for _, tc := range fastForms {
		f.Add("v2", []byte(fmt.Sprintf(tc.env, fastContents[0].content)))
	}
	for _, tc := range fastContents {
		if len(tc.content) < 4096 {
			f.Add("v2", []byte(fmt.Sprintf(fastForms[0].env, tc.content)))
		}
	}
	fast, strict := twinSims()
	f.Fuzz(func(t *testing.T, name string, env []byte) {
		v, ok := fast.versions[name]
		if !ok {
			return
		}
		op := "CreateOrder"
		if name == "v2" {
			op = "CreateSalesOrder"
		}
		if sp := bytes.IndexAny(env, " >"); bytes.HasPrefix(env, []byte(fastEnvelopeStart+"<")) && sp > len(fastEnvelopeStart) {
			op = string(env[len(fastEnvelopeStart)+1 : sp])
		}
		headers := gowsdlHeaders(v, op)
		readBoth(t, v, env, headers)
		got, want := call(fast, v.path, env, headers), call(strict, v.path, env, headers)
		if got != want {
			t.Fatalf("%.300q:\n got %d %s %.600s\nwant %d %s %.600s", env, got.status, got.ctype, got.body, want.status, want.ctype, want.body)
		}
	})
}
