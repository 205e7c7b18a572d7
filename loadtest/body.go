package loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// OrderData is one generated order. The REST body is its canonical JSON; a
// SOAP template renders it with text/template (see SOAPTemplate), so these
// field names are what a template may use. Money is a decimal string, as on
// the wire.
type OrderData struct {
	ExternalID            string
	Customer              CustomerData
	ShippingAddress       AddressData
	BillingAddress        AddressData
	Currency              string
	Lines                 []LineData
	ShippingMethod        string
	ShippingPrice         string
	RequestedDeliveryDate string // YYYY-MM-DD
	Notes                 string
}

// CustomerData is the generated customer.
type CustomerData struct{ ID, Name, Email, Phone string }

// AddressData is a generated postal address.
type AddressData struct{ Name, Line1, Line2, City, PostalCode, Region, Country string }

// LineData is one generated order line.
type LineData struct {
	SKU         string
	Description string
	Quantity    int
	UnitPrice   string
	Discount    string
}

var (
	firstNames = []string{"Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas", "Lena", "Max"}
	lastNames  = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"}
	// The e-mail local parts, computed once: the generator runs on the
	// machine being measured and must stay cheap per order.
	firstMail = mailParts(firstNames)
	lastMail  = mailParts(lastNames)
	streets   = []string{"Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Goethestraße"}
	cities    = []struct{ city, region, country, postal string }{
		{"Berlin", "BE", "DE", "10115"}, {"Hamburg", "HH", "DE", "20095"}, {"München", "BY", "DE", "80331"},
		{"Köln", "NW", "DE", "50667"}, {"Wien", "W", "AT", "1010"}, {"Amsterdam", "NH", "NL", "1012 AB"},
	}
	methods = []string{"standard", "express"}
)

// numSKUs is the simulator's demo catalogue: SKU-1001 … SKU-1020.
const numSKUs = 20

// genOrder generates an order with 1…maxLines lines. Small orders are the
// most frequent (the number of lines is drawn from a triangular
// distribution), as in a real shop.
func genOrder(r *rand.Rand, externalID string, maxLines int, today time.Time) OrderData {
	fi, li := r.IntN(len(firstNames)), r.IntN(len(lastNames))
	name := firstNames[fi] + " " + lastNames[li]
	c := cities[r.IntN(len(cities))]
	addr := AddressData{
		Name: name, Line1: streets[r.IntN(len(streets))] + " " + strconv.Itoa(1+r.IntN(200)),
		City: c.city, PostalCode: c.postal, Region: c.region, Country: c.country,
	}
	if r.IntN(4) == 0 {
		addr.Line2 = "Hinterhaus, " + strconv.Itoa(1+r.IntN(5)) + ". OG"
	}
	o := OrderData{
		ExternalID: externalID,
		Customer: CustomerData{
			ID: "C" + strconv.Itoa(1+r.IntN(100000)), Name: name,
			Email: firstMail[fi] + "." + lastMail[li] + "@shop.example",
			Phone: "+49 30 " + strconv.Itoa(1000000+r.IntN(9000000)),
		},
		ShippingAddress:       addr,
		BillingAddress:        addr,
		Currency:              "EUR",
		ShippingMethod:        methods[r.IntN(len(methods))],
		ShippingPrice:         "4.95",
		RequestedDeliveryDate: today.AddDate(0, 0, 7+r.IntN(60)).Format(time.DateOnly),
		Notes:                 "load test " + externalID,
	}
	if o.ShippingMethod == "express" {
		o.ShippingPrice = "9.90"
	}
	if maxLines < 1 {
		maxLines = 1
	}
	// min of two uniform draws: P(n) falls linearly from 1 to maxLines.
	n := 1 + min(r.IntN(maxLines), r.IntN(maxLines))
	o.Lines = make([]LineData, n)
	for i := range o.Lines {
		sku := 1001 + r.IntN(numSKUs)
		qty := 1 + r.IntN(5)
		cents := 199 + r.IntN(20000)
		disc := 0
		if r.IntN(5) == 0 {
			disc = r.IntN(qty*cents/10 + 1) // at most 10 % of the line
		}
		o.Lines[i] = LineData{
			SKU: "SKU-" + strconv.Itoa(sku), Description: "Artikel " + strconv.Itoa(sku),
			Quantity: qty, UnitPrice: formatCents(cents), Discount: formatCents(disc),
		}
	}
	return o
}

// formatCents renders an amount in minor units as a decimal string: no float
// ever touches money.
func formatCents(c int) string {
	s := strconv.Itoa(c / 100)
	f := c % 100
	if f < 10 {
		return s + ".0" + strconv.Itoa(f)
	}
	return s + "." + strconv.Itoa(f)
}

// mailParts returns lower-case ASCII forms of names for e-mail addresses.
func mailParts(names []string) []string {
	r := strings.NewReplacer("ü", "ue", "ö", "oe", "ä", "ae", "ß", "ss")
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(r.Replace(n))
	}
	return out
}

// appendJSON appends the canonical JSON body of o (the shape of POST
// /v1/orders). It is hand-written because the generator must stay cheap: the
// machine it runs on is the one being measured.
func (o *OrderData) appendJSON(b []byte) []byte {
	b = append(b, `{"external_id":`...)
	b = appendJSONString(b, o.ExternalID)
	b = append(b, `,"customer":{"id":`...)
	b = appendJSONString(b, o.Customer.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, o.Customer.Name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, o.Customer.Email)
	b = append(b, `,"phone":`...)
	b = appendJSONString(b, o.Customer.Phone)
	b = append(b, `},"shipping_address":`...)
	b = o.ShippingAddress.appendJSON(b)
	b = append(b, `,"billing_address":`...)
	b = o.BillingAddress.appendJSON(b)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, o.Currency)
	b = append(b, `,"lines":[`...)
	for i, l := range o.Lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku":`...)
		b = appendJSONString(b, l.SKU)
		b = append(b, `,"description":`...)
		b = appendJSONString(b, l.Description)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(l.Quantity), 10)
		b = append(b, `,"unit_price":`...)
		b = appendJSONString(b, l.UnitPrice)
		b = append(b, `,"discount":`...)
		b = appendJSONString(b, l.Discount)
		b = append(b, '}')
	}
	b = append(b, `],"shipping":{"method":`...)
	b = appendJSONString(b, o.ShippingMethod)
	b = append(b, `,"price":`...)
	b = appendJSONString(b, o.ShippingPrice)
	b = append(b, `},"requested_delivery_date":`...)
	b = appendJSONString(b, o.RequestedDeliveryDate)
	b = append(b, `,"notes":`...)
	b = appendJSONString(b, o.Notes)
	return append(b, '}')
}

func (a *AddressData) appendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, a.Name)
	b = append(b, `,"line1":`...)
	b = appendJSONString(b, a.Line1)
	if a.Line2 != "" {
		b = append(b, `,"line2":`...)
		b = appendJSONString(b, a.Line2)
	}
	b = append(b, `,"city":`...)
	b = appendJSONString(b, a.City)
	b = append(b, `,"postal_code":`...)
	b = appendJSONString(b, a.PostalCode)
	b = append(b, `,"region":`...)
	b = appendJSONString(b, a.Region)
	b = append(b, `,"country":`...)
	b = appendJSONString(b, a.Country)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string (RFC 8259 escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// SOAPTemplate describes the SOAP order intake: where it is, how a request
// envelope looks (a text/template rendering an OrderData) and which response
// element carries the gateway's order id. The SOAP order service's WSDL
// decides the exact element names; when it changes, adjust the template
// (or pass one with --soap-template) — nothing else in the tool depends on it.
type SOAPTemplate struct {
	// Path of the endpoint on the target, e.g. "/soap/orders".
	Path string
	// ContentType of the request; "text/xml; charset=utf-8" for SOAP 1.1.
	ContentType string
	// Action is the SOAPAction header value (sent quoted); empty sends none.
	Action string
	// Envelope renders the whole request body from an OrderData. The function
	// "x" XML-escapes a string.
	Envelope *template.Template
	// IDElements are the local names of the response element whose text is
	// the gateway order id (the first one found wins).
	IDElements []string
}

// DefaultSOAPEnvelope is the SubmitOrder request of the shop-facing SOAP
// OrderService (soap/orderws/orderservice.wsdl: SOAP 1.1, document/literal
// wrapped, namespace urn:erpgate:orders:v1, elementFormDefault qualified,
// repeated Line elements directly in Order). Credentials travel in the
// Authorization header, as for REST. If the WSDL changes, change this (or
// pass a file with --soap-template); nothing else depends on it.
const DefaultSOAPEnvelope = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:o="urn:erpgate:orders:v1">
<soap:Body>
<o:SubmitOrder>
<o:Order>
<o:ExternalId>{{x .ExternalID}}</o:ExternalId>
<o:Customer><o:Id>{{x .Customer.ID}}</o:Id><o:Name>{{x .Customer.Name}}</o:Name><o:Email>{{x .Customer.Email}}</o:Email><o:Phone>{{x .Customer.Phone}}</o:Phone></o:Customer>
{{with .ShippingAddress}}<o:ShippingAddress><o:Name>{{x .Name}}</o:Name><o:Line1>{{x .Line1}}</o:Line1>{{if .Line2}}<o:Line2>{{x .Line2}}</o:Line2>{{end}}<o:City>{{x .City}}</o:City><o:PostalCode>{{x .PostalCode}}</o:PostalCode><o:Region>{{x .Region}}</o:Region><o:Country>{{x .Country}}</o:Country></o:ShippingAddress>{{end}}
{{with .BillingAddress}}<o:BillingAddress><o:Name>{{x .Name}}</o:Name><o:Line1>{{x .Line1}}</o:Line1>{{if .Line2}}<o:Line2>{{x .Line2}}</o:Line2>{{end}}<o:City>{{x .City}}</o:City><o:PostalCode>{{x .PostalCode}}</o:PostalCode><o:Region>{{x .Region}}</o:Region><o:Country>{{x .Country}}</o:Country></o:BillingAddress>{{end}}
<o:Currency>{{x .Currency}}</o:Currency>
{{range .Lines}}<o:Line><o:Sku>{{x .SKU}}</o:Sku><o:Description>{{x .Description}}</o:Description><o:Quantity>{{.Quantity}}</o:Quantity><o:UnitPrice>{{x .UnitPrice}}</o:UnitPrice><o:Discount>{{x .Discount}}</o:Discount></o:Line>
{{end}}<o:Shipping><o:Method>{{x .ShippingMethod}}</o:Method><o:Price>{{x .ShippingPrice}}</o:Price></o:Shipping>
<o:RequestedDeliveryDate>{{x .RequestedDeliveryDate}}</o:RequestedDeliveryDate>
<o:Notes>{{x .Notes}}</o:Notes>
</o:Order>
<o:IdempotencyKey>idem-{{x .ExternalID}}</o:IdempotencyKey>
</o:SubmitOrder>
</soap:Body>
</soap:Envelope>
`

// ParseSOAPEnvelope parses an envelope template (see SOAPTemplate.Envelope).
func ParseSOAPEnvelope(text string) (*template.Template, error) {
	t, err := template.New("soap").Option("missingkey=error").Funcs(template.FuncMap{"x": xmlEscape}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("soap template: %w", err)
	}
	// Render a sample now so that a template naming a field that does not
	// exist fails at start-up, not 2,000 times a second.
	var buf bytes.Buffer
	sample := genOrder(rand.New(rand.NewPCG(1, 2)), "sample", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := t.Execute(&buf, &sample); err != nil {
		return nil, fmt.Errorf("soap template: %w", err)
	}
	return t, nil
}

// DefaultSOAPTemplate returns the template of the OrderService's SubmitOrder
// (see DefaultSOAPEnvelope).
func DefaultSOAPTemplate() *SOAPTemplate {
	t, err := ParseSOAPEnvelope(DefaultSOAPEnvelope)
	if err != nil {
		panic(err) // a constant; covered by tests
	}
	return &SOAPTemplate{
		Path:        "/soap/orders",
		ContentType: "text/xml; charset=utf-8",
		Action:      "urn:erpgate:orders:v1/SubmitOrder",
		Envelope:    t,
		IDElements:  []string{"OrderId"},
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// soapResult is what a SOAP order response told us.
type soapResult struct {
	id    string
	fault string // faultcode (or Code/Value text for 1.2) when the body is a fault
}

// parseSOAPResponse finds the first element named in idElements (by local
// name) and returns its text, or reports a fault. It reads at most the bytes
// it is given and never follows entities or DTDs (encoding/xml does not).
func parseSOAPResponse(body []byte, idElements []string) (soapResult, error) {
	if id, ok := scanSOAPID(body, idElements); ok && id != "" {
		return soapResult{id: id}, nil
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	var res soapResult
	inFault := false
	for range 10_000 { // bounded: a response is small
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local == "Fault":
			inFault = true
			res.fault = "fault"
		case inFault && (se.Name.Local == "faultcode" || se.Name.Local == "Value"):
			var s string
			if dec.DecodeElement(&s, &se) == nil && strings.TrimSpace(s) != "" {
				res.fault = strings.TrimSpace(s)
			}
		case !inFault && res.id == "" && contains(idElements, se.Name.Local):
			var s string
			if err := dec.DecodeElement(&s, &se); err == nil {
				res.id = strings.TrimSpace(s)
			}
		}
	}
	if res.fault == "" && res.id == "" {
		return res, fmt.Errorf("no %s element in the SOAP response", strings.Join(idElements, "/"))
	}
	return res, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
