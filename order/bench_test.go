package order_test

import (
	"encoding/json"
	"testing"

	"erpgate/order"
	"erpgate/order/ordertest"
)

// typical is a 5-line order of ordinary size, as the shop sends it.
func typical() *order.Order {
	o := ordertest.ValidAt(now)
	for len(o.Lines) < 5 {
		o.Lines = append(o.Lines, o.Lines[0])
	}
	return o
}

func BenchmarkValidate(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    *order.Order
	}{
		{"lines=5", typical()},
		{"lines=500", ordertest.Random(newRand(1), ordertest.Options{Now: now, Lines: order.MaxLines})},
		{"lines=500-max", ordertest.Random(newRand(1), ordertest.Options{Now: now, Max: true})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if err := bc.o.ValidateAt(now); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.o.ValidateAt(now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeAndValidate(b *testing.B) {
	body, err := json.Marshal(ordertest.Posted(typical()))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var o order.Order
		if err := json.Unmarshal(body, &o); err != nil {
			b.Fatal(err)
		}
		if err := o.ValidateAt(now); err != nil {
			b.Fatal(err)
		}
	}
}
