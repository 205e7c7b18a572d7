package erpv1

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"erpgate/order/ordertest"
	"erpgate/soap/erpv1ws"
)

// FuzzFromV1 feeds FromV1 what the old ERP could send back: arbitrary
// Remarks, order texts and amounts around a real order. It must never
// panic, and whatever it accepts must be an order that translates and
// restores again.
func FuzzFromV1(f *testing.F) {
	small, err := ToV1(ordertest.ValidAt(fixedNow))
	if err != nil {
		f.Fatal(err)
	}
	big, err := ToV1(ordertest.Random(rand.New(rand.NewPCG(9, 10)), ordertest.Options{Now: fixedNow, Max: true, Lines: 12}))
	if err != nil {
		f.Fatal(err)
	}
	if len(big.Order.OrderText) < 2 {
		f.Fatalf("seed order has %d order texts, want at least 2", len(big.Order.OrderText))
	}
	f.Add(small.Order.Remarks, "", "", "32.45")
	f.Add(big.Order.Remarks, string(*big.Order.OrderText[0]), string(*big.Order.OrderText[1]), "1")
	f.Add(`ERPGATE1 1/1 {"h":"x"}`, "", "", "0.00")
	f.Add("ERPGATE1 1/2 {\"h\":", `ERPGATE1 2/2 "x","l":[{"i":99}]}`, "ERPGATE1 2/2 x", "-1")
	f.Add(`ERPGATE1 1/1 {"h":"x","at":"0000-01-01T00:00:00Z","l":[{"i":0,"u":"1e9"}]}`, "ERPGATE1 9999/9999 x", "", "99999999999999999")
	f.Fuzz(func(t *testing.T, remarks, text1, text2, price string) {
		v := *small.Order
		v.Remarks = remarks
		t1, t2 := erpv1ws.Text4000(text1), erpv1ws.Text4000(text2)
		v.OrderText = []*erpv1ws.Text4000{&t1, nil, &t2}
		line := *v.Line[0]
		p := erpv1ws.Amount(price)
		line.NetPrice = &p
		v.Line = append([]*erpv1ws.OrderLine{&line}, v.Line[1:]...)
		o, err := FromV1(&v)
		if err != nil {
			return
		}
		req, err := ToV1(o)
		if err != nil {
			return // accepted data may describe an order v1 cannot take again
		}
		again, err := FromV1(req.Order)
		if err != nil {
			t.Fatalf("FromV1 accepted %q but its own translation does not restore: %v", remarks, err)
		}
		if !reflect.DeepEqual(again, o) {
			t.Fatalf("FromV1 accepted %q; the order does not round-trip", remarks)
		}
	})
}
