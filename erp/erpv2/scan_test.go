package erpv2

import (
	"reflect"
	"strings"
	"testing"

	"erpgate/erp/erptest"
	"erpgate/erp/internal/soapcall"
	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
)

// simCreateAnswers returns the simulator's answers to CreateSalesOrder: a
// new order, the same order again (AlreadyExists), an unknown sku (a fault
// in a 500 answer) and the largest order.
func simCreateAnswers(t testing.TB) [][]byte {
	t.Helper()
	sim := erpsim.New(erpsim.Config{})
	post := func(req *erpv2ws.CreateSalesOrder) []byte {
		return erptest.PostSOAP(sim, "/erp/v2", actionCreate, createEnvelope(req))
	}
	o := erptest.Order()
	first := &erpv2ws.CreateSalesOrder{SalesOrder: toV2(o)}
	bad := erptest.Order()
	bad.Lines[0].SKU = "SKU-9999"
	return [][]byte{
		post(first),
		post(first),
		post(&erpv2ws.CreateSalesOrder{SalesOrder: toV2(bad)}),
		post(&erpv2ws.CreateSalesOrder{SalesOrder: toV2(erptest.LargestOrder(3))}),
	}
}

// sameAsDecode fails t unless the scanner's reading of body, when it
// takes it, is soapcall.Decode's. It reports whether the scanner took it.
func sameAsDecode(t *testing.T, body []byte) bool {
	t.Helper()
	fast := new(erpv2ws.CreateSalesOrderResponse)
	if !scanCreateResponse(body, fast) {
		return false
	}
	slow := new(erpv2ws.CreateSalesOrderResponse)
	if err := soapcall.Decode(body, slow); err != nil {
		t.Fatalf("the scanner took %q, Decode fails: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("answer %q:\nscanner %+v\n Decode %+v", body, fast, slow)
	}
	return true
}

const (
	envStart = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`
	envEnd   = `</soap:Body></soap:Envelope>`
)

// variants are answers around the plain form: what the scanner must read
// as Decode does, or leave to it.
var variants = []string{
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>SO-1</SalesOrderNumber><Status>CONFIRMED</Status><OrderTotal>1.00</OrderTotal><LineCount>3</LineCount><AlreadyExists>true</AlreadyExists></CreateSalesOrderResponse>` + envEnd,
	envStart + `<v2:CreateSalesOrderResponse xmlns:v2="urn:erpgate:erp:v2"><v2:SalesOrderNumber>SO-&lt;1&#x41;&amp;</v2:SalesOrderNumber><v2:Status/><v2:LineCount> 7 </v2:LineCount><v2:AlreadyExists>1</v2:AlreadyExists></v2:CreateSalesOrderResponse>` + envEnd,
	"  \n" + `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">` + "\n  <s:Body>\n" + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"> x <SalesOrderNumber>a</SalesOrderNumber>` + "\n" + `</CreateSalesOrderResponse></s:Body></s:Envelope>` + "\n",
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a</SalesOrderNumber><SalesOrderNumber>b</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><LineCount>99999999999</LineCount></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><LineCount>x</LineCount></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><AlreadyExists>yes</AlreadyExists></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><Unknown>a</Unknown></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v1"><SalesOrderNumber>a</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a<!-- c -->b</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber><![CDATA[a]]></SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a]]>b</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a` + "\x01" + `</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a` + "\xff" + `</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a&#0;</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a&nbsp;</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber x="1">a</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a<b>c</b></SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"></CreateSalesOrderResponse><Other/>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"></CreateSalesOrderResponse>` + envEnd + `trailing`,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"></CreateSalesOrderResponse>` + envEnd + `<x/>`,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"></CreateSalesOrderResponse>`,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a</SalesOrderNumbe></CreateSalesOrderResponse>` + envEnd,
	strings.Replace(envStart, "<soap:Body>", "<soap:Header><h/></soap:Header><soap:Body>", 1) + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"/>` + envEnd,
	envStart + `<soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault>` + envEnd,
	`<?xml version="1.1" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"/>` + envEnd,
	`<soap:Envelope xmlns:soap="urn:other"><soap:Body><CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"/>` + envEnd,
	envStart + `<CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>a` + "\r\n" + `b</SalesOrderNumber></CreateSalesOrderResponse>` + envEnd,
	"",
	"<",
}

// TestScanCreateResponse holds the scanner to Decode on the simulator's
// answers and on forms around them, and checks it takes the simulator's
// plain answers (else the fast path would never run).
func TestScanCreateResponse(t *testing.T) {
	answers := simCreateAnswers(t)
	for i, body := range answers[:2] {
		if !sameAsDecode(t, body) {
			t.Errorf("the scanner declined the simulator's answer %d: %q", i, body)
		}
	}
	if fast := new(erpv2ws.CreateSalesOrderResponse); !scanCreateResponse(answers[1], fast) || !fast.AlreadyExists {
		t.Errorf("repeated create: AlreadyExists not read from %q", answers[1])
	}
	if sameAsDecode(t, answers[2]) {
		t.Errorf("the scanner took a fault: %q", answers[2])
	}
	for _, body := range answers[3:] {
		sameAsDecode(t, body)
	}
	taken := 0
	for _, v := range variants {
		if sameAsDecode(t, []byte(v)) {
			taken++
		}
	}
	if taken < 3 {
		t.Errorf("the scanner took %d of the plain variants, want at least 3", taken)
	}
}

// FuzzScanCreateResponse holds the scanner to Decode on arbitrary answers.
func FuzzScanCreateResponse(f *testing.F) {
	for _, b := range simCreateAnswers(f) {
		f.Add(b)
	}
	for _, v := range variants {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsDecode(t, body)
	})
}

// BenchmarkCreateResponse compares reading the simulator's create answer
// with the scanner and with gowsdl's decoding.
func BenchmarkCreateResponse(b *testing.B) {
	body := simCreateAnswers(b)[0]
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !scanCreateResponse(body, new(erpv2ws.CreateSalesOrderResponse)) {
				b.Fatal("declined")
			}
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := soapcall.Decode(body, new(erpv2ws.CreateSalesOrderResponse)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
