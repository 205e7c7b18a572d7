package erpv1

import (
	"math/rand/v2"
	"testing"

	"erpgate/order"
	"erpgate/order/ordertest"
)

// benchOrders are the orders the translation benchmarks run on: a typical
// order (ordertest.Valid: 3 lines, every optional field) and the largest
// valid one (500 lines, every text at its maximum length in Unicode).
func benchOrders() map[string]*order.Order {
	return map[string]*order.Order{
		"typical": ordertest.ValidAt(fixedNow),
		"max500":  ordertest.Random(rand.New(rand.NewPCG(13, 14)), ordertest.Options{Now: fixedNow, Max: true}),
	}
}

func BenchmarkToV1(b *testing.B) {
	for name, o := range benchOrders() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ToV1(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromV1(b *testing.B) {
	for name, o := range benchOrders() {
		req, err := ToV1(o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FromV1(req.Order); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
