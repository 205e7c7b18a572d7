package erpv1

import (
	"reflect"
	"strings"
	"testing"

	"erpgate/erp/erptest"
	"erpgate/erp/internal/soapcall"
	"erpgate/erpsim"
	"erpgate/order"
	"erpgate/soap/erpv1ws"
)

// simAnswers returns the simulator's answers to the calls of deliveries:
// a lookup finding nothing, a create, a lookup finding the order (with and
// without details), a second create of the same reference and the lookup
// then finding two, an unknown sku (a fault in a 500 answer) and the
// largest order.
func simAnswers(t testing.TB) [][]byte {
	t.Helper()
	sim := erpsim.New(erpsim.Config{})
	post := func(action string, env []byte) []byte { return erptest.PostSOAP(sim, "/erp/v1", action, env) }
	create := func(o *order.Order) []byte {
		req, err := ToV1(o)
		if err != nil {
			t.Fatal(err)
		}
		return post(actionCreate, createEnvelope(req))
	}
	o := erptest.Order()
	find := func(details bool) []byte {
		return post(actionFind, findEnvelope(&erpv1ws.FindOrderByReference{Reference: o.ID, IncludeDetails: details}))
	}
	bad := erptest.Order()
	bad.Lines[0].SKU = "SKU-9999"
	return [][]byte{
		find(false),
		create(o),
		find(false),
		create(o),
		find(false),
		find(true),
		create(bad),
		create(erptest.LargestOrder(3)),
	}
}

// sameAsDecode fails t unless the scanners' readings of body, when they
// take it, are soapcall.Decode's. It reports whether either took it.
func sameAsDecode(t *testing.T, body []byte) bool {
	t.Helper()
	took := false
	if fast := new(erpv1ws.CreateOrderResponse); scanCreateResponse(body, fast) {
		took = true
		slow := new(erpv1ws.CreateOrderResponse)
		if err := soapcall.Decode(body, slow); err != nil {
			t.Fatalf("the create scanner took %q, Decode fails: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("answer %q:\nscanner %+v\n Decode %+v", body, fast, slow)
		}
	}
	if fast := new(erpv1ws.FindOrderByReferenceResponse); scanFindResponse(body, fast) {
		took = true
		slow := new(erpv1ws.FindOrderByReferenceResponse)
		if err := soapcall.Decode(body, slow); err != nil {
			t.Fatalf("the lookup scanner took %q, Decode fails: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("answer %q:\nscanner %+v\n Decode %+v", body, fast, slow)
		}
	}
	return took
}

const (
	envStart = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`
	envEnd   = `</soap:Body></soap:Envelope>`
)

var variants = []string{
	envStart + `<FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1"/>` + envEnd,
	envStart + `<FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1"><Match/><Match><OrderNumber>1</OrderNumber><EnteredAt>x</EnteredAt><Status> SHIPPED </Status><LineCount>-2</LineCount></Match></FindOrderByReferenceResponse>` + envEnd,
	envStart + `<FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1"><Match><OrderNumber>1</OrderNumber><OrderNumber>2</OrderNumber></Match></FindOrderByReferenceResponse>` + envEnd,
	envStart + `<FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1"><Match><Order><Reference>r</Reference></Order></Match></FindOrderByReferenceResponse>` + envEnd,
	envStart + `<FindOrderByReferenceResponse xmlns="urn:erpgate:erp:v1"><Other/></FindOrderByReferenceResponse>` + envEnd,
	envStart + `<v1:CreateOrderResponse xmlns:v1="urn:erpgate:erp:v1"><v1:OrderNumber>A&amp;B</v1:OrderNumber><v1:OrderTotal></v1:OrderTotal></v1:CreateOrderResponse>` + envEnd,
	envStart + `<CreateOrderResponse xmlns="urn:erpgate:erp:v1"><LineCount>2147483648</LineCount></CreateOrderResponse>` + envEnd,
	envStart + `<CreateOrderResponse xmlns="urn:erpgate:erp:v1"><OrderNumber>a<!--x--></OrderNumber></CreateOrderResponse>` + envEnd,
	envStart + `<CreateOrderResponse xmlns="urn:erpgate:erp:v2"><OrderNumber>a</OrderNumber></CreateOrderResponse>` + envEnd,
	envStart + `<soap:Fault><faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault>` + envEnd,
	strings.Replace(envStart, "<soap:Body>", "<soap:Header/><soap:Body>", 1) + `<CreateOrderResponse xmlns="urn:erpgate:erp:v1"/>` + envEnd,
	envStart + `<CreateOrderResponse xmlns="urn:erpgate:erp:v1"/>`,
	"",
}

// TestScanResponses holds the scanners to Decode on the simulator's
// answers and on forms around them, and checks they take the simulator's
// plain answers (else the fast path would never run).
func TestScanResponses(t *testing.T) {
	answers := simAnswers(t)
	for i, body := range answers {
		took := sameAsDecode(t, body)
		switch i {
		case 5, 6: // details; a fault
			if took {
				t.Errorf("answer %d taken by a scanner: %q", i, body)
			}
		default:
			if !took {
				t.Errorf("no scanner took the simulator's answer %d: %q", i, body)
			}
		}
	}
	if res := new(erpv1ws.FindOrderByReferenceResponse); !scanFindResponse(answers[4], res) || len(res.Match) != 2 {
		t.Errorf("lookup after two creates: %d matches read from %q, want 2", len(res.Match), answers[4])
	}
	for _, v := range variants {
		sameAsDecode(t, []byte(v))
	}
}

// FuzzScanResponses holds the scanners to Decode on arbitrary answers.
func FuzzScanResponses(f *testing.F) {
	for _, b := range simAnswers(f) {
		f.Add(b)
	}
	for _, v := range variants {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsDecode(t, body)
	})
}

// BenchmarkResponses compares reading the simulator's lookup (no match)
// and create answers with the scanners and with gowsdl's decoding.
func BenchmarkResponses(b *testing.B) {
	answers := simAnswers(b)
	find, create := answers[0], answers[1]
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !scanFindResponse(find, new(erpv1ws.FindOrderByReferenceResponse)) || !scanCreateResponse(create, new(erpv1ws.CreateOrderResponse)) {
				b.Fatal("declined")
			}
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if soapcall.Decode(find, new(erpv1ws.FindOrderByReferenceResponse)) != nil || soapcall.Decode(create, new(erpv1ws.CreateOrderResponse)) != nil {
				b.Fatal("decode")
			}
		}
	})
}
