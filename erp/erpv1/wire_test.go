package erpv1

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"testing"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/order/ordertest"
	"erpgate/soap/erpv1ws"
)

// gowsdlEnvelope is what gowsdl's client sends for req: encoding/xml's
// marshalling of its envelope type around the generated request.
func gowsdlEnvelope(t testing.TB, req any) []byte {
	t.Helper()
	b, err := xml.Marshal(gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: req}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBytes(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("envelopes differ at byte %d:\n got …%.120q\nwant …%.120q", i, got[max(0, i-40):], want[max(0, i-40):])
	}
}

// TestEnvelopesMatchMarshal holds the hand-written requests to the
// generated types' marshalling, byte for byte: CreateOrder over many random
// orders (optional fields present and absent, every text at its maximum
// length in multi-byte Unicode) and texts with the characters XML escapes
// or replaces, and FindOrderByReference with and without details.
func TestEnvelopesMatchMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 2000
	if testing.Short() {
		n = 200
	}
	tested := 0
	for i := range n {
		req, err := ToV1(ordertest.Random(r, ordertest.Options{Max: i%10 == 0, ASCII: i%7 == 0}))
		if err != nil {
			continue // not expressible in v1: never sent
		}
		tested++
		sameBytes(t, createEnvelope(req), gowsdlEnvelope(t, req))
	}
	if tested < n/2 {
		t.Fatalf("only %d of %d random orders translate to v1", tested, n)
	}
	nasty := "a<b>&c\"d'e\tf\ng\rh\x00i\x1fj\xffk\uFFFDl\U0001F600m\u2028n\xed\xa0\x80o\uFFFE"
	empty := erpv1ws.Amount("")
	text := erpv1ws.Text4000(nasty)
	req, err := ToV1(ordertest.Random(r, ordertest.Options{Max: true, ASCII: true}))
	if err != nil {
		t.Fatal(err)
	}
	o := req.Order
	o.Remarks, o.CustomerName, o.DeliveryAddress, o.Line[0].ItemText = nasty, nasty, nasty, nasty
	o.Line[1].NetPrice, o.Line[1].Quantity, o.Line[1].LineNo = &empty, -3, 0
	o.Line = append(o.Line, nil, &erpv1ws.OrderLine{})
	o.OrderText = append(o.OrderText, nil, &text)
	sameBytes(t, createEnvelope(req), gowsdlEnvelope(t, req))
	for _, req := range []*erpv1ws.CreateOrder{{}, {Order: &erpv1ws.Order{}}, {Order: &erpv1ws.Order{ShippingCharge: &empty}}} {
		sameBytes(t, createEnvelope(req), gowsdlEnvelope(t, req))
	}
	for _, req := range []*erpv1ws.FindOrderByReference{
		{Reference: "ord_01hq3z8m7k2w9x4c5v6b7n8m9p"}, {Reference: nasty, IncludeDetails: true}, {}, {IncludeDetails: true},
	} {
		sameBytes(t, findEnvelope(req), gowsdlEnvelope(t, req))
	}
}

// FuzzCreateEnvelope holds the hand-written escaping to encoding/xml's for
// arbitrary texts.
func FuzzCreateEnvelope(f *testing.F) {
	f.Add("plain", "a<b>&\"'\t\n\r", "\xff\x00\uFFFD")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		amt, txt := erpv1ws.Amount(c), erpv1ws.Text4000(b)
		req := &erpv1ws.CreateOrder{Order: &erpv1ws.Order{
			Reference: a, Remarks: b, CustomerName: c, OrderText: []*erpv1ws.Text4000{&txt},
			Line: []*erpv1ws.OrderLine{{ItemNo: b, ItemText: a, NetPrice: &amt, Quantity: int32(len(a))}},
		}}
		sameBytes(t, createEnvelope(req), gowsdlEnvelope(t, req))
		find := &erpv1ws.FindOrderByReference{Reference: a, IncludeDetails: len(b)%2 == 0}
		sameBytes(t, findEnvelope(find), gowsdlEnvelope(t, find))
	})
}

// BenchmarkCreateEnvelope compares the request's encoding by hand with
// gowsdl's encoding/xml marshalling of the same generated request.
func BenchmarkCreateEnvelope(b *testing.B) {
	for name, o := range benchOrders() {
		req, err := ToV1(o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				createEnvelope(req)
			}
		})
		b.Run(name+"/encoding-xml", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var buf bytes.Buffer
				if err := xml.NewEncoder(&buf).Encode(gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: req}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFindEnvelope compares the lookup request's encoding by hand
// with gowsdl's encoding/xml marshalling (the lookup goes before every
// create).
func BenchmarkFindEnvelope(b *testing.B) {
	req := &erpv1ws.FindOrderByReference{Reference: "ord_01JNQ3W6Z4X7Y8K9M0P1R2S3T4"}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			findEnvelope(req)
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := xml.NewEncoder(&buf).Encode(gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: req}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
