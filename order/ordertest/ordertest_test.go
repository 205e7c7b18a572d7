package ordertest_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/order/ordertest"
)

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 42)) }

func TestValid(t *testing.T) {
	o := ordertest.ValidAt(now)
	if err := o.ValidateAt(now); err != nil {
		t.Fatalf("ValidAt(now).ValidateAt(now) = %v", err)
	}
	if err := ordertest.Valid().ValidateAt(time.Now()); err != nil {
		t.Fatalf("Valid().ValidateAt(time.Now()) = %v", err)
	}
	// Every optional field is set.
	if o.ID == "" || o.ShopID == "" || o.CreatedAt.IsZero() || o.Customer.ID == "" || o.Customer.Phone == "" ||
		o.ShippingAddress.Line2 == "" || o.ShippingAddress.Region == "" || o.BillingAddress == nil ||
		o.BillingAddress.Line2 == "" || o.BillingAddress.Region == "" || o.RequestedDeliveryDate == "" || o.Notes == "" {
		t.Errorf("Valid leaves an optional field empty: %+v", o)
	}
	for i, l := range o.Lines {
		if l.Description == "" || l.Discount == 0 {
			t.Errorf("line %d lacks description or discount", i)
		}
	}
	if utf8.RuneCountInString(o.Customer.Name) == len(o.Customer.Name) {
		t.Error("customer name is plain ASCII, want Unicode")
	}
	// Fresh copies.
	a, b := ordertest.ValidAt(now), ordertest.ValidAt(now)
	a.Lines[0].SKU, a.BillingAddress.City = "changed", "changed"
	if b.Lines[0].SKU == "changed" || b.BillingAddress.City == "changed" {
		t.Error("ValidAt returns shared data")
	}
	p := ordertest.Posted(ordertest.ValidAt(now))
	if p.ID != "" || p.ShopID != "" || !p.CreatedAt.IsZero() {
		t.Errorf("Posted kept gateway fields: %q %q %v", p.ID, p.ShopID, p.CreatedAt)
	}
}

// TestRandomValid: every generated order passes ValidateAt, across many
// seeds and every option; and the generator covers the space (optional
// fields both present and absent, Unicode and ASCII, edge values).
func TestRandomValid(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 300
	}
	var seen struct {
		billing, noBilling, date, noDate, notes, noNotes, phone, noPhone int
		nonASCII, multiByteEmail, maxLines, discount, zeroPrice, maxQty  int
		currencies                                                       map[string]bool
		earliest, latest                                                 int
	}
	seen.currencies = map[string]bool{}
	for i := range n {
		opts := ordertest.Options{Now: now.Add(time.Duration(i) * 37 * time.Minute)}
		switch i % 10 {
		case 7:
			opts.ASCII = true
		case 8:
			opts.Posted = true
		case 9:
			opts.Lines = 1 + i%60
		}
		o := ordertest.Random(rng(uint64(i)), opts)
		if err := o.ValidateAt(opts.Now); err != nil {
			b, _ := json.Marshal(o)
			t.Fatalf("seed %d: ValidateAt = %v\n%s", i, err, b)
		}
		if opts.Posted != (o.ID == "") || opts.Posted != o.CreatedAt.IsZero() {
			t.Fatalf("seed %d: Posted=%v but ID=%q CreatedAt=%v", i, opts.Posted, o.ID, o.CreatedAt)
		}
		if opts.Lines != 0 && len(o.Lines) != opts.Lines {
			t.Fatalf("seed %d: %d lines, want %d", i, len(o.Lines), opts.Lines)
		}
		if opts.ASCII {
			for _, s := range []string{o.Customer.Name, o.ShippingAddress.Line1, o.Notes, o.Customer.Email} {
				for j := 0; j < len(s); j++ {
					if s[j] >= utf8.RuneSelf {
						t.Fatalf("seed %d: ASCII option but %q", i, s)
					}
				}
			}
		}
		count := func(c bool, yes, no *int) {
			if c {
				*yes++
			} else {
				*no++
			}
		}
		count(o.BillingAddress != nil, &seen.billing, &seen.noBilling)
		count(o.RequestedDeliveryDate != "", &seen.date, &seen.noDate)
		count(o.Notes != "", &seen.notes, &seen.noNotes)
		count(o.Customer.Phone != "", &seen.phone, &seen.noPhone)
		if utf8.RuneCountInString(o.Customer.Name) != len(o.Customer.Name) {
			seen.nonASCII++
		}
		if utf8.RuneCountInString(o.Customer.Email) != len(o.Customer.Email) {
			seen.multiByteEmail++
		}
		if len(o.Lines) == order.MaxLines {
			seen.maxLines++
		}
		for _, l := range o.Lines {
			if l.Discount != 0 {
				seen.discount++
			}
			if l.UnitPrice == 0 {
				seen.zeroPrice++
			}
			if l.Quantity == order.MaxQuantity {
				seen.maxQty++
			}
		}
		seen.currencies[o.Currency] = true
		if d, ok := order.ParseDate(o.RequestedDeliveryDate); ok {
			if d.Equal(order.EarliestDeliveryDate(opts.Now)) {
				seen.earliest++
			}
			if d.Equal(order.LatestDeliveryDate(opts.Now)) {
				seen.latest++
			}
		}
	}
	for name, v := range map[string]int{
		"billing": seen.billing, "no billing": seen.noBilling, "date": seen.date, "no date": seen.noDate,
		"notes": seen.notes, "no notes": seen.noNotes, "phone": seen.phone, "no phone": seen.noPhone,
		"non-ASCII name": seen.nonASCII, "international email": seen.multiByteEmail, "500 lines": seen.maxLines,
		"discount": seen.discount, "zero price": seen.zeroPrice, "max quantity": seen.maxQty,
		"earliest date": seen.earliest, "latest date": seen.latest,
	} {
		if v == 0 {
			t.Errorf("%d orders never had %s", n, name)
		}
	}
	if len(seen.currencies) < 100 {
		t.Errorf("only %d currencies used", len(seen.currencies))
	}
}

// TestRandomMax: the largest order is valid and really at every limit.
func TestRandomMax(t *testing.T) {
	for seed := range uint64(5) {
		o := ordertest.Random(rng(seed), ordertest.Options{Now: now, Max: true})
		if err := o.ValidateAt(now); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		runes := utf8.RuneCountInString
		checks := []struct {
			name      string
			got, want int
		}{
			{"lines", len(o.Lines), order.MaxLines},
			{"external_id", len(o.ExternalID), order.MaxExternalIDLen},
			{"customer.id", len(o.Customer.ID), order.MaxCustomerIDLen},
			{"customer.name", runes(o.Customer.Name), order.MaxNameLen},
			{"customer.email bytes", len(o.Customer.Email), order.MaxEmailLen},
			{"customer.phone", len(o.Customer.Phone), order.MaxPhoneLen},
			{"shipping_address.line2", runes(o.ShippingAddress.Line2), order.MaxNameLen},
			{"shipping_address.postal_code", runes(o.ShippingAddress.PostalCode), order.MaxPostalCodeLen},
			{"billing_address.region", runes(o.BillingAddress.Region), order.MaxNameLen},
			{"lines[499].sku", len(o.Lines[499].SKU), order.MaxSKULen},
			{"lines[499].description", runes(o.Lines[499].Description), order.MaxDescriptionLen},
			{"shipping.method", runes(o.Shipping.Method), order.MaxShippingMethodLen},
			{"notes", runes(o.Notes), order.MaxNotesLen},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("seed %d: %s = %d, want %d", seed, c.name, c.got, c.want)
			}
		}
		if o.RequestedDeliveryDate == "" || o.Lines[0].Discount == 0 && o.Lines[0].UnitPrice != 0 {
			t.Errorf("seed %d: optional field missing", seed)
		}
	}
}

func TestRandomDeterministic(t *testing.T) {
	opts := ordertest.Options{Now: now}
	for seed := range uint64(20) {
		a, b := ordertest.Random(rng(seed), opts), ordertest.Random(rng(seed), opts)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two orders from the same seed differ", seed)
		}
	}
}
