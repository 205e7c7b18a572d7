package erpv2

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/order/ordertest"
	"erpgate/soap/erpv2ws"
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

// TestCreateEnvelopeMatchesMarshal holds the hand-written request to the
// generated type's marshalling, byte for byte, over many random orders:
// optional fields present and absent, every text at its maximum length in
// multi-byte Unicode, and texts with the characters XML escapes or
// replaces.
func TestCreateEnvelopeMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 2000
	if testing.Short() {
		n = 200
	}
	check := func(req *erpv2ws.CreateSalesOrder) {
		t.Helper()
		got, want := createEnvelope(req), gowsdlEnvelope(t, req)
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("envelopes differ at byte %d:\n got …%.120q\nwant …%.120q", i, got[max(0, i-40):], want[max(0, i-40):])
		}
	}
	for i := range n {
		opts := ordertest.Options{Max: i%10 == 0, ASCII: i%7 == 0}
		check(&erpv2ws.CreateSalesOrder{SalesOrder: toV2(ordertest.Random(r, opts))})
	}
	// What the canonical order never holds but the generated type can:
	// escapes, invalid UTF-8, characters XML lacks, empty pointers, nil
	// parts.
	nasty := "a<b>&c\"d'e\tf\ng\rh\x00i\x1fj\xffk\uFFFDl\U0001F600m\u2028n\xed\xa0\x80o\uFFFE"
	empty := erpv2ws.Money("")
	o := toV2(ordertest.Random(r, ordertest.Options{Max: true}))
	o.Notes, o.Customer.Name, o.ShipTo.City, o.Line[0].Description = nasty, nasty, nasty, nasty
	o.Line[1].UnitPrice, o.Line[1].Quantity, o.Line[1].LineNumber = &empty, -3, 0
	o.Line = append(o.Line, nil, &erpv2ws.OrderLine{})
	check(&erpv2ws.CreateSalesOrder{SalesOrder: o})
	check(&erpv2ws.CreateSalesOrder{SalesOrder: &erpv2ws.SalesOrder{Customer: &erpv2ws.Customer{}, ShipTo: &erpv2ws.Address{}, Shipping: &erpv2ws.Shipping{}}})
	check(&erpv2ws.CreateSalesOrder{SalesOrder: &erpv2ws.SalesOrder{}})
	check(&erpv2ws.CreateSalesOrder{})
}

// FuzzCreateEnvelope holds the hand-written escaping to encoding/xml's for
// arbitrary texts.
func FuzzCreateEnvelope(f *testing.F) {
	f.Add("plain", "a<b>&\"'\t\n\r", "\xff\x00\uFFFD")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		m := erpv2ws.Money(c)
		req := &erpv2ws.CreateSalesOrder{SalesOrder: &erpv2ws.SalesOrder{
			ExternalReference: a, Notes: b, Customer: &erpv2ws.Customer{Name: c},
			Line: []*erpv2ws.OrderLine{{Sku: b, Description: a, UnitPrice: &m, Quantity: int64(len(a))}},
		}}
		if got, want := createEnvelope(req), gowsdlEnvelope(t, req); !bytes.Equal(got, want) {
			t.Fatalf("got %q\nwant %q", got, want)
		}
	})
}

// BenchmarkCreateEnvelope compares the request's encoding by hand with
// gowsdl's encoding/xml marshalling of the same generated request.
func BenchmarkCreateEnvelope(b *testing.B) {
	for name, o := range map[string]*erpv2ws.CreateSalesOrder{
		"typical": {SalesOrder: toV2(ordertest.ValidAt(time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)))},
		"max500":  {SalesOrder: toV2(ordertest.Random(rand.New(rand.NewPCG(13, 14)), ordertest.Options{Now: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC), Max: true}))},
	} {
		b.Run(name+"/hand", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				createEnvelope(o)
			}
		})
		b.Run(name+"/encoding-xml", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var buf bytes.Buffer
				enc := xml.NewEncoder(&buf)
				if err := enc.Encode(gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: o}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
