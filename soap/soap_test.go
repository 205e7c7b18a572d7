package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"erpgate"
)

// Wire types shaped like gowsdl v0.5.0 output (XMLName with the target
// namespace, unqualified field tags, pointers for optional elements).
type testGetOrder struct {
	XMLName xml.Name `xml:"urn:erpgate:test GetOrder"`
	OrderID string   `xml:"OrderId,omitempty"`
}

type testSubmitOrder struct {
	XMLName xml.Name   `xml:"urn:erpgate:test SubmitOrder"`
	Order   *testOrder `xml:"Order,omitempty"`
}

type testOrder struct {
	ExternalID string      `xml:"ExternalId,omitempty"`
	Currency   string      `xml:"Currency,omitempty"`
	Notes      string      `xml:"Notes,omitempty"`
	Lines      []*testLine `xml:"Line,omitempty"`
}

type testLine struct {
	Sku       string `xml:"Sku,omitempty"`
	Quantity  int32  `xml:"Quantity,omitempty"`
	UnitPrice string `xml:"UnitPrice,omitempty"`
}

type testSubmitOrderResponse struct {
	XMLName xml.Name `xml:"urn:erpgate:test SubmitOrderResponse"`
	OrderID string   `xml:"OrderId,omitempty"`
	Status  string   `xml:"Status,omitempty"`
	Replay  bool     `xml:"Replayed,omitempty"`
}

const (
	ct11 = "text/xml; charset=utf-8"
	ct12 = "application/soap+xml; charset=utf-8"
)

func env11(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + NS11 + `"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// bare11 is env11 without the XML declaration (for tiny token limits).
func bare11(body string) string {
	return `<soap:Envelope xmlns:soap="` + NS11 + `"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func env12(body string) string {
	return `<env:Envelope xmlns:env="` + NS12 + `"><env:Body>` + body + `</env:Body></env:Envelope>`
}

const getOrder = `<t:GetOrder xmlns:t="urn:erpgate:test"><t:OrderId>ord_1</t:OrderId></t:GetOrder>`

// post builds a SOAP POST; header pairs are set after the content type.
func post(ct, body string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/soap", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// mustFault asserts err is a *Fault with the given code, detail code and
// HTTP status, whose text contains reason.
func mustFault(t *testing.T, err error, code, detail string, status int, reason string) *Fault {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("err = %v (%T), want *Fault", err, err)
	}
	if f.Code != code {
		t.Errorf("fault code = %q, want %q (%s)", f.Code, code, f.String)
	}
	if f.Detail.Code != detail {
		t.Errorf("detail code = %q, want %q (%s)", f.Detail.Code, detail, f.String)
	}
	if f.HTTPStatus != status {
		t.Errorf("HTTP status = %d, want %d (%s)", f.HTTPStatus, status, f.String)
	}
	if !strings.Contains(f.String, reason) {
		t.Errorf("fault string = %q, want it to contain %q", f.String, reason)
	}
	return f
}

func TestReadRequestAccepts(t *testing.T) {
	tests := []struct {
		name    string
		r       *http.Request
		version Version
		action  string
		op      xml.Name
		body    string
	}{
		{
			name:    "SOAP 1.1 prefixed, quoted SOAPAction with #",
			r:       post(ct11, env11(getOrder), "SOAPAction", `"urn:erpgate:test#GetOrder"`),
			version: V11, action: "urn:erpgate:test#GetOrder",
			op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name: "SOAP 1.1 gowsdl style: default namespace, unquoted action with /",
			r: post(`text/xml; charset="utf-8"`, `<soap:Envelope xmlns:soap="`+NS11+`"><soap:Body><GetOrder xmlns="urn:erpgate:test"><OrderId>ord_1</OrderId></GetOrder></soap:Body></soap:Envelope>`,
				"SOAPAction", "urn:erpgate:test/GetOrder"),
			version: V11, action: "urn:erpgate:test/GetOrder",
			op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: `<GetOrder xmlns="urn:erpgate:test"><OrderId>ord_1</OrderId></GetOrder>`,
		},
		{
			name:    "SOAP 1.1 empty SOAPAction means no intent",
			r:       post("text/xml", env11(getOrder), "SOAPAction", `""`),
			version: V11, op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name:    "SOAP 1.1 without SOAPAction header",
			r:       post("TEXT/XML", env11(getOrder)),
			version: V11, op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name: "SOAP 1.1 zeep style: single-quoted declaration, lower-case encoding, whitespace",
			r: post(ct11, "<?xml version='1.0' encoding='utf-8'?>\n<soap-env:Envelope xmlns:soap-env=\""+NS11+"\">\n  <soap-env:Body>\n    "+getOrder+"\n  </soap-env:Body>\n</soap-env:Envelope>\n",
				"SOAPAction", `"GetOrder"`),
			version: V11, action: "GetOrder", op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name:    "SOAP 1.1 with UTF-8 byte order mark",
			r:       post(ct11, "\xEF\xBB\xBF"+env11(getOrder)),
			version: V11, op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name:    "SOAP 1.2 with action parameter",
			r:       post(`application/soap+xml; charset=utf-8; action="urn:erpgate:test:GetOrder"`, env12(getOrder)),
			version: V12, action: "urn:erpgate:test:GetOrder",
			op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name:    "SOAP 1.2 ignores a SOAPAction header",
			r:       post(ct12, env12(getOrder), "SOAPAction", "SubmitOrder"),
			version: V12, op: xml.Name{Space: "urn:erpgate:test", Local: "GetOrder"}, body: getOrder,
		},
		{
			name:    "self-closing body element with comments around it",
			r:       post(ct11, env11(`<!-- c --><t:Ping xmlns:t="urn:erpgate:test"/><!-- d -->`)),
			version: V11, op: xml.Name{Space: "urn:erpgate:test", Local: "Ping"}, body: `<t:Ping xmlns:t="urn:erpgate:test"/>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(tt.r, DefaultLimits())
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			if req.Version != tt.version {
				t.Errorf("version = %d, want %d", req.Version, tt.version)
			}
			if req.Action != tt.action {
				t.Errorf("action = %q, want %q", req.Action, tt.action)
			}
			if req.Operation != tt.op {
				t.Errorf("operation = %v, want %v", req.Operation, tt.op)
			}
			if string(req.Body) != tt.body {
				t.Errorf("body = %q, want %q", req.Body, tt.body)
			}
		})
	}
}

func TestReadRequestRefuses(t *testing.T) {
	small := Limits{MaxBytes: 2048, MaxDepth: 6, MaxElements: 10, MaxAttributes: 3, MaxTokenBytes: 64}
	long := strings.Repeat("x", 65)
	deep := strings.Repeat("<a>", 5) + strings.Repeat("</a>", 5)
	get := httptest.NewRequest(http.MethodGet, "/soap", nil)
	get.Header.Set("Content-Type", ct11)
	tests := []struct {
		name   string
		r      *http.Request
		lim    Limits
		code   string
		detail string
		status int
		reason string
	}{
		{"GET", get, Limits{}, FaultClient, erpgate.Invalid, 405, "POST"},
		{"application/xml", post("application/xml", env11(getOrder)), Limits{}, FaultClient, erpgate.UnsupportedMedia, 415, "content type"},
		{"MTOM multipart", post(`multipart/related; type="application/xop+xml"`, env11(getOrder)), Limits{}, FaultClient, erpgate.UnsupportedMedia, 415, "content type"},
		{"unparsable content type", post("text/xml; charset", env11(getOrder)), Limits{}, FaultClient, erpgate.UnsupportedMedia, 415, "content type"},
		{"latin-1 charset", post("text/xml; charset=ISO-8859-1", env11(getOrder)), Limits{}, FaultClient, erpgate.UnsupportedMedia, 415, "charset"},
		{"two SOAPAction headers", post(ct11, env11(getOrder), "SOAPAction", "GetOrder", "SOAPAction", "SubmitOrder"), Limits{}, FaultClient, erpgate.Invalid, 500, "more than one SOAPAction"},
		{"SOAPAction names another operation", post(ct11, env11(getOrder), "SOAPAction", `"urn:erpgate:test#SubmitOrder"`), Limits{}, FaultClient, erpgate.Invalid, 500, "does not match"},
		{"SOAPAction with a suffix", post(ct11, env11(getOrder), "SOAPAction", `"urn:erpgate:test#GetOrderX"`), Limits{}, FaultClient, erpgate.Invalid, 500, "does not match"},
		{"SOAPAction differs in case", post(ct11, env11(getOrder), "SOAPAction", `getorder`), Limits{}, FaultClient, erpgate.Invalid, 500, "does not match"},
		{"1.2 action names another operation", post(ct12+`; action="SubmitOrder"`, env12(getOrder)), Limits{}, FaultClient, erpgate.Invalid, 500, "does not match"},
		{"Content-Length over the limit", post(ct11, env11(getOrder)+strings.Repeat(" ", 2048)), small, FaultClient, erpgate.TooLarge, 413, "larger than 2048"},
		{"depth", post(ct11, bare11(`<t:Op xmlns:t="urn:t">`+deep+`</t:Op>`)), small, FaultClient, erpgate.TooLarge, 500, "nested deeper than 6"},
		{"elements", post(ct11, bare11(`<t:Op xmlns:t="urn:t">`+strings.Repeat("<e/>", 8)+`</t:Op>`)), small, FaultClient, erpgate.TooLarge, 500, "more than 10 elements"},
		{"attributes", post(ct11, bare11(`<t:Op xmlns:t="urn:t" a="" b="" c=""/>`)), small, FaultClient, erpgate.TooLarge, 500, "more than 3 attributes"},
		{"attribute value", post(ct11, bare11(`<t:Op xmlns:t="urn:t" a="`+long+`"/>`)), small, FaultClient, erpgate.TooLarge, 500, "attribute is longer than 64"},
		{"attribute name", post(ct11, bare11(`<t:Op xmlns:t="urn:t" `+long+`=""/>`)), small, FaultClient, erpgate.TooLarge, 500, "attribute is longer than 64"},
		{"text", post(ct11, bare11(`<t:Op xmlns:t="urn:t">`+long+`</t:Op>`)), small, FaultClient, erpgate.TooLarge, 500, "text node is longer than 64"},
		{"comment", post(ct11, bare11(`<t:Op xmlns:t="urn:t"><!--`+long+`--></t:Op>`)), small, FaultClient, erpgate.TooLarge, 500, "comment is longer than 64"},
		{"processing instruction", post(ct11, `<?pi `+long+`?>`+bare11(`<t:Op xmlns:t="urn:t"/>`)), small, FaultClient, erpgate.TooLarge, 500, "processing instruction is longer"},
		{"element name", post(ct11, bare11(`<t:Op xmlns:t="urn:t"><`+long+`/></t:Op>`)), small, FaultClient, erpgate.TooLarge, 500, "element name is longer"},
		{"DOCTYPE", post(ct11, `<!DOCTYPE x>`+env11(getOrder)), Limits{}, FaultClient, erpgate.Invalid, 500, "DOCTYPE"},
		{"DOCTYPE inside the body", post(ct11, env11(`<t:Op xmlns:t="urn:t"><!DOCTYPE x></t:Op>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "DOCTYPE"},
		{"ENTITY declaration alone", post(ct11, `<!ENTITY x "y">`+env11(getOrder)), Limits{}, FaultClient, erpgate.Invalid, 500, "DOCTYPE"},
		{"two Headers", post(ct11, `<s:Envelope xmlns:s="`+NS11+`"><s:Header/><s:Header/><s:Body>`+getOrder+`</s:Body></s:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "unexpected element Header"},
		{"foreign element before Body", post(ct11, `<s:Envelope xmlns:s="`+NS11+`"><x/><s:Body>`+getOrder+`</s:Body></s:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "unexpected element x"},
		{"Body in another namespace", post(ct11, `<s:Envelope xmlns:s="`+NS11+`"><Body>`+getOrder+`</Body></s:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "unexpected element Body"},
		{"text in Header", post(ct11, `<s:Envelope xmlns:s="`+NS11+`"><s:Header>hi</s:Header><s:Body>`+getOrder+`</s:Body></s:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "text is not allowed directly in Header"},
		{"text in Envelope", post(ct11, `<s:Envelope xmlns:s="`+NS11+`">hi<s:Body>`+getOrder+`</s:Body></s:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "text is not allowed directly in Envelope"},
		{"unbound envelope prefix", post(ct11, `<soap:Envelope><soap:Body>`+getOrder+`</soap:Body></soap:Envelope>`), Limits{}, FaultClient, erpgate.Invalid, 500, "undeclared namespace prefix soap"},
		{"unbound prefix deep in the body", post(ct11, env11(`<t:Op xmlns:t="urn:t"><t:a><q:b/></t:a></t:Op>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "undeclared namespace prefix q"},
		{"prefix bound on a sibling only", post(ct11, env11(`<t:Op xmlns:t="urn:t"><a xmlns:q="urn:q"/><q:b/></t:Op>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "undeclared namespace prefix q"},
		{"empty prefix binding", post(ct11, env11(`<t:Op xmlns:t=""/>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "invalid namespace declaration"},
		{"element with prefix xmlns", post(ct11, env11(`<xmlns:Op/>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "reserved"},
		{"duplicate attribute through two prefixes", post(ct11, env11(`<t:Op xmlns:t="urn:t" xmlns:a="urn:a" xmlns:b="urn:a" a:x="1" b:x="2"/>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "duplicate attribute x"},
		{"end tag with another prefix for the same namespace", post(ct11, env11(`<a:Op xmlns:a="urn:t" xmlns:b="urn:t"></b:Op>`)), Limits{}, FaultClient, erpgate.Invalid, 500, "closed by"},
		{"1.2 envelope as text/xml", post(ct11, env12(getOrder)), Limits{}, FaultVersionMismatch, erpgate.Invalid, 500, NS11},
		{"1.1 envelope as application/soap+xml", post(ct12, env11(getOrder)), Limits{}, FaultVersionMismatch, erpgate.Invalid, 500, NS12},
		{"only a declaration", post(ct11, `<?xml version="1.0"?>`), Limits{}, FaultClient, erpgate.Invalid, 500, "truncated"},
		{"whitespace only", post(ct11, " \n\t "), Limits{}, FaultClient, erpgate.Invalid, 500, "empty"},
		{"no body at all", httptest.NewRequest(http.MethodPost, "/", http.NoBody), Limits{}, FaultClient, erpgate.UnsupportedMedia, 415, "content type"},
		{"encoding us-ascii", post(ct11, `<?xml version="1.0" encoding="us-ascii"?>`+env11(getOrder)[39:]), Limits{}, FaultClient, erpgate.UnsupportedMedia, 500, "UTF-8, not us-ascii"},
		{"NUL byte up front", post(ct11, "<\x00s"), Limits{}, FaultClient, erpgate.UnsupportedMedia, 500, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(tt.r, tt.lim)
			if req != nil {
				t.Errorf("request = %+v, want nil", req)
			}
			mustFault(t, err, tt.code, tt.detail, tt.status, tt.reason)
		})
	}
}

// countingReader counts what ReadRequest pulls from the body.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestReadRequestSizeLimit(t *testing.T) {
	lim := Limits{MaxBytes: 1000}
	big := env11(`<t:Op xmlns:t="urn:t">` + strings.Repeat("x", 5000) + `</t:Op>`)

	t.Run("Content-Length is refused before reading", func(t *testing.T) {
		body := &countingReader{r: strings.NewReader(big)}
		r := post(ct11, "")
		r.Body, r.ContentLength = io.NopCloser(body), int64(len(big))
		_, err := ReadRequest(r, lim)
		mustFault(t, err, FaultClient, erpgate.TooLarge, 413, "larger than 1000")
		if body.n != 0 {
			t.Errorf("read %d bytes, want 0", body.n)
		}
	})
	t.Run("chunked stops one byte past the limit", func(t *testing.T) {
		body := &countingReader{r: strings.NewReader(big)}
		r := post(ct11, "")
		r.Body, r.ContentLength = io.NopCloser(body), -1
		_, err := ReadRequest(r, lim)
		mustFault(t, err, FaultClient, erpgate.TooLarge, 413, "larger than 1000")
		if body.n > 1001 {
			t.Errorf("read %d bytes, want at most 1001", body.n)
		}
	})
	t.Run("a lying short Content-Length still stops at the limit", func(t *testing.T) {
		body := &countingReader{r: strings.NewReader(big)}
		r := post(ct11, "")
		r.Body, r.ContentLength = io.NopCloser(body), 10
		_, err := ReadRequest(r, lim)
		mustFault(t, err, FaultClient, erpgate.TooLarge, 413, "larger than 1000")
		if body.n > 1001 {
			t.Errorf("read %d bytes, want at most 1001", body.n)
		}
	})
	t.Run("exactly at the limit is fine", func(t *testing.T) {
		doc := env11(`<t:Op xmlns:t="urn:t"/>`)
		doc += strings.Repeat(" ", 1000-len(doc))
		r := post(ct11, "")
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(doc)), -1
		if _, err := ReadRequest(r, lim); err != nil {
			t.Fatalf("ReadRequest at exactly MaxBytes: %v", err)
		}
	})
	t.Run("http.MaxBytesReader in front", func(t *testing.T) {
		r := post(ct11, big)
		r.ContentLength = -1
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 100)
		_, err := ReadRequest(r, DefaultLimits())
		mustFault(t, err, FaultClient, erpgate.TooLarge, 413, "larger than")
	})
	t.Run("read error", func(t *testing.T) {
		r := post(ct11, "")
		r.Body, r.ContentLength = io.NopCloser(io.MultiReader(strings.NewReader("<soap:"), errReader{})), -1
		_, err := ReadRequest(r, DefaultLimits())
		mustFault(t, err, FaultClient, erpgate.Invalid, 400, "could not read")
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestActionOperation(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"GetOrder", "GetOrder"},
		{"urn:erpgate:orders#GetOrder", "GetOrder"},
		{"http://erpgate.example/orders/GetOrder", "GetOrder"},
		{"urn:erpgate:erp:v2/CreateSalesOrder", "CreateSalesOrder"},
		{"urn:erpgate:orders:GetOrder", "GetOrder"},
		{"http://x/GetOrder/", ""},
	} {
		if got := actionOperation(tt.in); got != tt.want {
			t.Errorf("actionOperation(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	submit := `<SubmitOrder xmlns="urn:erpgate:test"><Order><ExternalId>A-1</ExternalId><Currency>EUR</Currency>` +
		`<Notes>fish &amp; chips &lt;3 Grüße</Notes>` +
		`<Line><Sku>SKU-1001</Sku><Quantity>2</Quantity><UnitPrice>19.99</UnitPrice></Line>` +
		`<Line><Sku>SKU-1002</Sku><Quantity>1</Quantity><UnitPrice>5.00</UnitPrice></Line></Order></SubmitOrder>`
	want := testOrder{ExternalID: "A-1", Currency: "EUR", Notes: "fish & chips <3 Grüße", Lines: []*testLine{
		{Sku: "SKU-1001", Quantity: 2, UnitPrice: "19.99"}, {Sku: "SKU-1002", Quantity: 1, UnitPrice: "5.00"}}}

	prefixedOnEnvelope := `<soapenv:Envelope xmlns:soapenv="` + NS11 + `" xmlns:ord="urn:erpgate:test"><soapenv:Header/><soapenv:Body>` +
		`<ord:SubmitOrder><ord:Order><ord:ExternalId>A-1</ord:ExternalId><ord:Currency>EUR</ord:Currency>` +
		`<ord:Notes>fish &amp; chips &lt;3 Grüße</ord:Notes>` +
		`<ord:Line><ord:Sku>SKU-1001</ord:Sku><ord:Quantity>2</ord:Quantity><ord:UnitPrice>19.99</ord:UnitPrice></ord:Line>` +
		`<ord:Line><ord:Sku>SKU-1002</ord:Sku><ord:Quantity>1</ord:Quantity><ord:UnitPrice>5.00</ord:UnitPrice></ord:Line></ord:Order></ord:SubmitOrder>` +
		`</soapenv:Body></soapenv:Envelope>`
	defaultOnBody := `<s:Envelope xmlns:s="` + NS11 + `"><s:Body xmlns="urn:erpgate:test">` +
		strings.Replace(submit, ` xmlns="urn:erpgate:test"`, "", 1) + `</s:Body></s:Envelope>`

	for name, doc := range map[string]string{
		"namespace on the element":             env11(submit),
		"prefix declared on Envelope (SoapUI)": prefixedOnEnvelope,
		"default namespace on Body":            defaultOnBody,
	} {
		t.Run(name, func(t *testing.T) {
			req, err := ReadRequest(post(ct11, doc, "SOAPAction", `"urn:erpgate:test#SubmitOrder"`), DefaultLimits())
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			var got testSubmitOrder
			if err := req.Decode(&got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Order == nil {
				t.Fatal("Order = nil")
			}
			if got.Order.ExternalID != want.ExternalID || got.Order.Currency != want.Currency || got.Order.Notes != want.Notes || len(got.Order.Lines) != 2 ||
				*got.Order.Lines[0] != *want.Lines[0] || *got.Order.Lines[1] != *want.Lines[1] {
				t.Errorf("decoded %+v, want %+v", got.Order, want)
			}
		})
	}

	t.Run("wrong element", func(t *testing.T) {
		req, err := ReadRequest(post(ct11, env11(getOrder)), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		var got testSubmitOrder
		mustFault(t, req.Decode(&got), FaultClient, erpgate.Invalid, 500, "GetOrder element does not match the schema")
	})
	t.Run("wrong namespace", func(t *testing.T) {
		req, err := ReadRequest(post(ct11, env11(`<GetOrder xmlns="urn:other"/>`)), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		var got testGetOrder
		mustFault(t, req.Decode(&got), FaultClient, erpgate.Invalid, 500, "does not match the schema")
	})
	t.Run("bad number", func(t *testing.T) {
		req, err := ReadRequest(post(ct11, env11(`<SubmitOrder xmlns="urn:erpgate:test"><Order><Line><Quantity>two</Quantity></Line></Order></SubmitOrder>`)), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		var got testSubmitOrder
		mustFault(t, req.Decode(&got), FaultClient, erpgate.Invalid, 500, "does not match the schema")
	})
	t.Run("not a pointer is a Server fault", func(t *testing.T) {
		req := &Request{Body: []byte(getOrder)}
		mustFault(t, req.Decode(testGetOrder{}), FaultServer, erpgate.Internal, 500, "internal")
	})
	t.Run("empty request", func(t *testing.T) {
		mustFault(t, (&Request{}).Decode(&testGetOrder{}), FaultClient, erpgate.Invalid, 500, "empty")
	})
	t.Run("hand-built request without scope", func(t *testing.T) {
		var got testGetOrder
		if err := (&Request{Body: []byte(getOrder)}).Decode(&got); err != nil || got.OrderID != "ord_1" {
			t.Errorf("Decode = %v, %+v; want nil, OrderId ord_1", err, got)
		}
	})
}

const wsseHeader = `<soap:Header><wsse:Security soap:mustUnderstand="1" xmlns:wsse="` + NSWSSE + `">` +
	`<wsse:UsernameToken><wsse:Username> shop-1 </wsse:Username>` +
	`<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">s3cr&amp;t</wsse:Password>` +
	`</wsse:UsernameToken></wsse:Security></soap:Header>`

func withHeader(header, body string) string {
	return `<soap:Envelope xmlns:soap="` + NS11 + `">` + header + `<soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func TestUsernameToken(t *testing.T) {
	tests := []struct {
		name       string
		doc        string
		user, pass string
		ok         bool
		// UsernameTokens
		tokens int
		digest bool
	}{
		{"PasswordText", withHeader(wsseHeader, getOrder), "shop-1", "s3cr&t", true, 1, false},
		{"no Type attribute", withHeader(strings.Replace(wsseHeader, ` Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"`, "", 1), getOrder), "shop-1", "s3cr&t", true, 1, false},
		{"PasswordDigest is not verified", withHeader(strings.Replace(wsseHeader, "#PasswordText", "#PasswordDigest", 1), getOrder), "", "", false, 1, true},
		{"two tokens are ambiguous", withHeader(strings.Replace(wsseHeader, "</wsse:Security>",
			"<wsse:UsernameToken><wsse:Username>shop-2</wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken></wsse:Security>", 1), getOrder), "", "", false, 2, false},
		{"two Security headers are ambiguous", withHeader(strings.Replace(wsseHeader, "</soap:Header>",
			`<wsse:Security xmlns:wsse="`+NSWSSE+`"><wsse:UsernameToken><wsse:Username>shop-2</wsse:Username></wsse:UsernameToken></wsse:Security></soap:Header>`, 1), getOrder), "", "", false, 2, false},
		{"token in another namespace", withHeader(strings.ReplaceAll(wsseHeader, NSWSSE, "urn:not-wsse"), getOrder), "", "", false, 0, false},
		{"empty username", withHeader(strings.Replace(wsseHeader, " shop-1 ", "", 1), getOrder), "", "", false, 1, false},
		{"a UsernameToken in the body does not count", env11(`<t:Op xmlns:t="urn:t"><wsse:Security xmlns:wsse="` + NSWSSE + `"><wsse:UsernameToken><wsse:Username>x</wsse:Username></wsse:UsernameToken></wsse:Security></t:Op>`), "", "", false, 0, false},
		{"no header", env11(getOrder), "", "", false, 0, false},
		{"timestamp only", withHeader(`<soap:Header><wsse:Security xmlns:wsse="`+NSWSSE+`"><wsu:Timestamp xmlns:wsu="urn:wsu"/></wsse:Security></soap:Header>`, getOrder), "", "", false, 0, false},
		{"token outside Security", withHeader(`<soap:Header><wsse:UsernameToken xmlns:wsse="`+NSWSSE+`"/></soap:Header>`, getOrder), "", "", false, 0, false},
		{"prefix declared on the Envelope", `<soap:Envelope xmlns:soap="` + NS11 + `" xmlns:wsse="` + NSWSSE + `"><soap:Header><wsse:Security><wsse:UsernameToken>` +
			`<wsse:Password Type="x#PasswordDigest">p</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>` + getOrder + `</soap:Body></soap:Envelope>`, "", "", false, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(post(ct11, tt.doc), DefaultLimits())
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			user, pass, ok := req.UsernameToken()
			if user != tt.user || pass != tt.pass || ok != tt.ok {
				t.Errorf("UsernameToken() = %q, %q, %v; want %q, %q, %v", user, pass, ok, tt.user, tt.pass, tt.ok)
			}
			if tokens, digest := req.UsernameTokens(); tokens != tt.tokens || digest != tt.digest {
				t.Errorf("UsernameTokens() = %d, %v; want %d, %v", tokens, digest, tt.tokens, tt.digest)
			}
		})
	}
}

func TestHeaderAndMustUnderstand(t *testing.T) {
	other := xml.Name{Space: "urn:x", Local: "Trace"}
	tests := []struct {
		name       string
		header     string
		must       []xml.Name
		understood []xml.Name
		fault      bool
	}{
		{"Security understood", wsseHeader, []xml.Name{WSSESecurity}, []xml.Name{WSSESecurity}, false},
		{"Security not understood", wsseHeader, []xml.Name{WSSESecurity}, nil, true},
		{"mustUnderstand=0", `<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="0"/></soap:Header>`, nil, nil, false},
		{"unqualified mustUnderstand is not the SOAP attribute", `<soap:Header><x:Trace xmlns:x="urn:x" mustUnderstand="1"/></soap:Header>`, nil, nil, false},
		{"addressed to another actor", `<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="1" soap:actor="urn:someone-else"/></soap:Header>`, nil, nil, false},
		{"addressed to next", `<soap:Header><x:Trace xmlns:x="urn:x" soap:mustUnderstand="1" soap:actor="http://schemas.xmlsoap.org/soap/actor/next"/></soap:Header>`,
			[]xml.Name{other}, []xml.Name{WSSESecurity}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(post(ct11, withHeader(tt.header, getOrder)), DefaultLimits())
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			if string(req.Header) != tt.header {
				t.Errorf("Header = %q, want %q", req.Header, tt.header)
			}
			if len(req.MustUnderstand) != len(tt.must) || len(tt.must) > 0 && req.MustUnderstand[0] != tt.must[0] {
				t.Errorf("MustUnderstand = %v, want %v", req.MustUnderstand, tt.must)
			}
			err = req.CheckMustUnderstand(tt.understood...)
			if !tt.fault {
				if err != nil {
					t.Errorf("CheckMustUnderstand = %v, want nil", err)
				}
				return
			}
			f := mustFault(t, err, FaultMustUnderstand, "", 500, "not understood")
			if hasDetail(f) {
				t.Errorf("MustUnderstand fault has a detail %+v; SOAP forbids body detail for header faults", f.Detail)
			}
		})
	}
	t.Run("SOAP 1.2 role none is ignored, ultimateReceiver is us", func(t *testing.T) {
		doc := `<e:Envelope xmlns:e="` + NS12 + `"><e:Header>` +
			`<x:A xmlns:x="urn:x" e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/none"/>` +
			`<x:B xmlns:x="urn:x" e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"/>` +
			`</e:Header><e:Body>` + getOrder + `</e:Body></e:Envelope>`
		req, err := ReadRequest(post(ct12, doc), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if want := []xml.Name{{Space: "urn:x", Local: "B"}}; len(req.MustUnderstand) != 1 || req.MustUnderstand[0] != want[0] {
			t.Errorf("MustUnderstand = %v, want %v", req.MustUnderstand, want)
		}
	})
	t.Run("no header", func(t *testing.T) {
		req, err := ReadRequest(post(ct11, env11(getOrder)), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if req.Header != nil || req.MustUnderstand != nil {
			t.Errorf("Header = %q, MustUnderstand = %v; want nil, nil", req.Header, req.MustUnderstand)
		}
	})
}

func TestFaultFromError(t *testing.T) {
	problems := []erpgate.Problem{{Field: "lines[0].sku", Message: "required"}}
	own := &Fault{Code: FaultClient, String: "x", HTTPStatus: 413}
	tests := []struct {
		name   string
		err    error
		code   string
		detail string
		text   string
	}{
		{"invalid", &erpgate.Error{Code: erpgate.Invalid, Message: "bad order", Problems: problems}, FaultClient, erpgate.Invalid, "bad order"},
		{"unprocessable", erpgate.Errorf(erpgate.Unprocessable, "rule"), FaultClient, erpgate.Unprocessable, "rule"},
		{"not found", erpgate.Errorf(erpgate.NotFound, "no such order"), FaultClient, erpgate.NotFound, "no such order"},
		{"unauthorized", erpgate.Errorf(erpgate.Unauthorized, "bad key"), FaultClient, erpgate.Unauthorized, "bad key"},
		{"unavailable", erpgate.Errorf(erpgate.Unavailable, "try later"), FaultServer, erpgate.Unavailable, "try later"},
		{"internal hides the cause", erpgate.Wrap(erpgate.Internal, errors.New("redis: secret host down"), "internal error"), FaultServer, erpgate.Internal, "internal error"},
		{"plain error hides the cause", errors.New("redis: secret host down"), FaultServer, erpgate.Internal, "internal error"},
		{"nil", nil, FaultServer, erpgate.Internal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FaultFromError(tt.err)
			if f.Code != tt.code || f.Detail.Code != tt.detail || f.String != tt.text || f.HTTPStatus != 500 {
				t.Errorf("FaultFromError = %+v, want code %s, detail %s, text %q, status 500", f, tt.code, tt.detail, tt.text)
			}
			if strings.Contains(f.String+f.Detail.Message, "secret") {
				t.Errorf("fault %+v leaks the cause", f)
			}
		})
	}
	if got := FaultFromError(&erpgate.Error{Code: erpgate.Invalid, Problems: problems}); len(got.Detail.Problems) != 1 || got.Detail.Problems[0] != problems[0] {
		t.Errorf("problems = %v, want %v", got.Detail.Problems, problems)
	}
	if got := FaultFromError(errors.Join(errors.New("ctx"), own)); got != own {
		t.Errorf("FaultFromError(wrapped fault) = %p, want the fault itself %p", got, own)
	}
}

func TestVersionOf(t *testing.T) {
	for ct, want := range map[string]Version{
		ct11: V11, ct12: V12, "application/soap+xml;action=x": V12, "application/json": V11, "": V11,
	} {
		r := post(ct, "")
		if got := VersionOf(r); got != want {
			t.Errorf("VersionOf(%q) = %d, want %d", ct, got, want)
		}
	}
}

func TestBodyIsASliceOfTheInput(t *testing.T) {
	// Decode relies on Body being exactly the element: parse it again on its own.
	doc := env11("\n  <!--x-->\n  " + getOrder + "\n  <!--y-->\n")
	req, err := ReadRequest(post(ct11, doc), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(req.Body, []byte("<t:GetOrder")) || !bytes.HasSuffix(req.Body, []byte("</t:GetOrder>")) {
		t.Errorf("Body = %q, want exactly the GetOrder element", req.Body)
	}
}
