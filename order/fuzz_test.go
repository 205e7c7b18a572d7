package order_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"erpgate"
	"erpgate/order"
	"erpgate/order/ordertest"
)

// FuzzValidate decodes fuzz bytes as a JSON order, the way intake does, and
// validates it. It must never panic; a rejection is always an *erpgate.Error
// with problems; an accepted order has an in-range, non-negative total and
// survives a JSON round trip unchanged.
//
// Seeds: the committed corpus in testdata/fuzz/FuzzValidate and the orders
// added below.
func FuzzValidate(f *testing.F) {
	add := func(o *order.Order) {
		b, err := json.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add(ordertest.ValidAt(now))
	add(ordertest.Posted(ordertest.ValidAt(now)))
	add(ordertest.Random(newRand(1), ordertest.Options{Now: now, Lines: 3}))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"lines":[{"quantity":9223372036854775807,"unit_price":"1000000000000"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var o order.Order
		if json.Unmarshal(body, &o) != nil {
			return
		}
		for _, err := range []error{o.Validate(), o.ValidateAt(now)} {
			if err == nil {
				continue
			}
			var e *erpgate.Error
			if !errors.As(err, &e) || len(e.Problems) == 0 || len(e.Problems) > order.MaxProblems {
				t.Fatalf("error %v: want an *erpgate.Error with 1..%d problems", err, order.MaxProblems)
			}
			if e.Code != erpgate.Invalid && e.Code != erpgate.Unprocessable {
				t.Fatalf("code %q, want invalid or unprocessable", e.Code)
			}
		}
		if o.Validate() != nil {
			return
		}
		if total := o.Total(); total < 0 || total > order.MaxDecimal {
			t.Fatalf("valid order with total %v", total)
		}
		b1, err := json.Marshal(&o)
		if err != nil {
			t.Fatalf("Marshal of a valid order: %v", err)
		}
		var o2 order.Order
		if err := json.Unmarshal(b1, &o2); err != nil {
			t.Fatalf("Unmarshal of a marshalled valid order: %v", err)
		}
		b2, _ := json.Marshal(&o2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("JSON round trip changed the order:\n%s\n%s", b1, b2)
		}
		if err := o2.Validate(); err != nil {
			t.Fatalf("round-tripped order invalid: %v", err)
		}
	})
}
