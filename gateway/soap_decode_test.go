package gateway

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"erpgate/soap"
	"erpgate/soap/orderws"
)

// readSOAP reads an envelope as the OrderService does (nil when refused).
func readSOAP(t testing.TB, envelope []byte) *soap.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, soapOrdersPath, bytes.NewReader(envelope))
	r.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req, err := soap.ReadRequest(r, soap.DefaultLimits())
	if err != nil {
		return nil
	}
	return req
}

// checkSubmitOrderFast holds decodeSubmitOrderFast to Request.DecodeStrict, the
// generated-type path: whenever the fast path takes a request, Request.DecodeStrict
// must accept it too and produce the same SubmitOrder. It reports whether
// the fast path took it.
func checkSubmitOrderFast(t *testing.T, envelope []byte) bool {
	t.Helper()
	req := readSOAP(t, envelope)
	if req == nil {
		return false
	}
	var fast orderws.SubmitOrder
	if !decodeSubmitOrderFast(req, &fast) {
		return false
	}
	var strict orderws.SubmitOrder
	if err := req.DecodeStrict(&strict); err != nil {
		t.Fatalf("fast path took a request Request.DecodeStrict refuses (%v):\n%s", err, envelope)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("fast path and Request.DecodeStrict differ for\n%s\nfast   %s\nstrict %s", envelope, dumpSubmit(fast), dumpSubmit(strict))
	}
	return true
}

func dumpSubmit(in orderws.SubmitOrder) string {
	b, _ := json.Marshal(in)
	return in.XMLName.Space + " " + in.XMLName.Local + " " + string(b)
}

// The forms real clients send take the fast path (otherwise it would be
// dead code that the equivalence check passes trivially).
func TestSubmitOrderFastTakesToolkitForms(t *testing.T) {
	plain := soapOrder{}.xml()
	for name, env := range map[string]string{
		"prefix on Envelope (SoapUI, .NET)": soapEnvelope("", plain),
		"default namespace on the operation (gowsdl)": soapEnvelope("", strings.NewReplacer(
			"<o:SubmitOrder>", `<SubmitOrder xmlns="urn:erpgate:orders:v1">`, "<o:", "<", "</o:", "</").Replace(plain)),
		"prefix on the operation (zeep)": soapEnvelope("", strings.NewReplacer(
			"<o:SubmitOrder>", `<ns0:SubmitOrder xmlns:ns0="urn:erpgate:orders:v1">`, "<o:", "<ns0:", "</o:", "</ns0:").Replace(plain)),
		"entities, empty elements, whitespace, key": soapEnvelope(soapUsernameToken("demo-shop", "demo-shop-key", "", true), strings.Replace(
			soapOrder{orderExtra: "\n  ", lineExtra: ""}.xml(), "Leave at the door", "Tom &amp; Jerry &lt;3", 1)) +
			"",
		"values escaped by encoding/xml (gowsdl, the load tool), line breaks between elements": soapEnvelope("", strings.NewReplacer(
			"Leave at the door", xmlEscaped("O'Brien says \"ring twice\"\n& <wait>"), "><", ">\n<").Replace(plain)),
		"SOAP 1.2 with IdempotencyKey": strings.Replace(soapEnvelope("", strings.Replace(plain, "</o:Order>",
			"</o:Order><o:IdempotencyKey>K-1</o:IdempotencyKey>", 1)), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1),
	} {
		env := []byte(env)
		if strings.Contains(name, "SOAP 1.2") {
			r := httptest.NewRequest(http.MethodPost, soapOrdersPath, bytes.NewReader(env))
			r.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
			req, err := soap.ReadRequest(r, soap.DefaultLimits())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var fast, strict orderws.SubmitOrder
			if !decodeSubmitOrderFast(req, &fast) {
				t.Errorf("%s: fast path declined", name)
			}
			if err := req.DecodeStrict(&strict); err != nil || !reflect.DeepEqual(fast, strict) {
				t.Errorf("%s: fast %+v, strict %+v (%v)", name, fast, strict, err)
			}
			if fast.IdempotencyKey != "K-1" {
				t.Errorf("%s: key %q", name, fast.IdempotencyKey)
			}
			continue
		}
		if !checkSubmitOrderFast(t, env) {
			t.Errorf("%s: fast path declined", name)
		}
	}
	// And what it reads is the order.
	var in orderws.SubmitOrder
	if !decodeSubmitOrderFast(readSOAP(t, []byte(soapEnvelope("", plain))), &in) {
		t.Fatal("declined")
	}
	o, err := orderFromWire(in.Order, soapNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := soapWantOrder(); !reflect.DeepEqual(*o, want) {
		t.Fatalf("got %+v\nwant %+v", *o, want)
	}
}

func xmlEscaped(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Whatever Request.DecodeStrict would report, and the forms outside the Scanner's
// subset, are left to Request.DecodeStrict.
func TestSubmitOrderFastDeclines(t *testing.T) {
	for name, o := range map[string]soapOrder{
		"unknown element":           {lineExtra: "<o:Discont>1</o:Discont>"},
		"element twice":             {orderExtra: "<o:Currency>USD</o:Currency>"},
		"foreign namespace":         {orderExtra: `<x:Notes xmlns:x="urn:x">n</x:Notes>`},
		"element in a value":        {ext: "<o:b>x</o:b>"},
		"bad quantity":              {lineExtra: "<o:Quantity>two</o:Quantity>"},
		"comment":                   {orderExtra: "<!-- hi -->"},
		"CDATA":                     {ext: "<![CDATA[X-1]]>"},
		"attribute":                 {lineExtra: `<o:UnitPrice currency="EUR">1</o:UnitPrice>`},
		"xsi:nil":                   {orderExtra: `<o:RequestedDeliveryDate xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>`},
		"quantity out of int64":     {lineExtra: "<o:Quantity>99999999999999999999</o:Quantity>"},
		"unknown order child":       {orderExtra: "<o:Coupon>X</o:Coupon>"},
		"line quantity given twice": {lineExtra: "<o:Quantity>3</o:Quantity>"},
	} {
		env := []byte(soapEnvelope("", o.xml()))
		req := readSOAP(t, env)
		if req == nil {
			t.Fatalf("%s: envelope refused", name)
		}
		var in orderws.SubmitOrder
		if decodeSubmitOrderFast(req, &in) {
			t.Errorf("%s: fast path took it", name)
		}
	}
}

// FuzzSubmitOrderFast: on every request the fast path takes, it decodes
// exactly what Request.DecodeStrict (the generated types) decodes.
func FuzzSubmitOrderFast(f *testing.F) {
	f.Add([]byte(soapEnvelope("", soapOrder{}.xml())))
	f.Add([]byte(soapEnvelope("", strings.Replace(soapOrder{}.xml(), "Leave at the door", "a &amp; b &lt; c", 1))))
	f.Add([]byte(soapEnvelope("", soapOrder{lineExtra: "<o:Discount/>", orderExtra: "<o:IdempotencyKey>k</o:IdempotencyKey>"}.xml())))
	f.Add([]byte(soapEnvelope("", `<o:SubmitOrder><o:IdempotencyKey>k</o:IdempotencyKey><o:Order><o:Line><o:Quantity>+7</o:Quantity></o:Line><o:Line/></o:Order></o:SubmitOrder>`)))
	f.Add([]byte(soapEnvelope("", `<SubmitOrder xmlns="urn:erpgate:orders:v1"><Order> x <Customer/><Shipping><Price> 1.0 </Price></Shipping></Order></SubmitOrder>`)))
	// The hostile corpus of the soap package.
	dir := filepath.Join("..", "soap", "testdata", "hostile")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".xml") {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, envelope []byte) {
		checkSubmitOrderFast(t, envelope)
	})
}

// BenchmarkDecodeSubmitOrder compares the fast path with the generated-type
// path it stands beside, on a plain SubmitOrder envelope (already read).
func BenchmarkDecodeSubmitOrder(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, soapOrdersPath, strings.NewReader(soapEnvelope("", soapOrder{}.xml())))
	r.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req, err := soap.ReadRequest(r, soap.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var in orderws.SubmitOrder
			if !decodeSubmitOrderFast(req, &in) {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("DecodeStrict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var in orderws.SubmitOrder
			if err := req.DecodeStrict(&in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
