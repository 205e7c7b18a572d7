package intake

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"erpgate/internal/jsonenc"
	"erpgate/internal/ulid"
	"erpgate/order"
	"erpgate/order/ordertest"
	"erpgate/tracking"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestWithIdentity: the record spliced from the fingerprint's JSON is
// exactly json.Marshal of the order.
func TestWithIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pick := func() string { return jsonenc.EscapeCases[rng.IntN(len(jsonenc.EscapeCases))] }
	for i := range 500 {
		o := ordertest.Random(rng, ordertest.Options{Now: now, Posted: true})
		if o.ExternalID == "" && i%2 == 0 {
			o.ExternalID = pick() // "external_id" is always encoded, even empty
		}
		o.ID, o.ShopID, o.CreatedAt = "", "", time.Time{}
		content, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			o.ID, o.ShopID = ulid.New("ord_", now), "demo-shop"
			o.CreatedAt = now.Add(time.Duration(rng.IntN(1e9))).Truncate(time.Millisecond)
		case 1:
			o.ID, o.ShopID, o.CreatedAt = pick(), pick(), time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
		case 2:
			o.ShopID = "shop-only"
		case 3: // nothing assigned
		}
		want, _ := json.Marshal(o)
		got, err := withIdentity(content, o)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("withIdentity = %s, %v\nwant %s", got, err, want)
		}
		var back order.Order
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("record does not decode: %v", err)
		}
	}
}

// TestEncodersMatchShapes fails when order.Order or tracking.Event change:
// the direct encoders are then switched off (Submit falls back to
// json.Marshal) until they are updated to the new fields, together with
// orderShape / eventShape.
func TestEncodersMatchShapes(t *testing.T) {
	if !fastOrderJSON {
		t.Errorf("order.Order changed: update appendOrderJSON and orderShape to\n%s", typeShape(reflect.TypeFor[order.Order]()))
	}
	if !fastEventJSON {
		t.Errorf("tracking.Event changed: update encodeEvent and eventShape to\n%s", typeShape(reflect.TypeFor[tracking.Event]()))
	}
}

func TestAppendOrderJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pick := func() string { return jsonenc.EscapeCases[rng.IntN(len(jsonenc.EscapeCases))] }
	check := func(o *order.Order) {
		t.Helper()
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendOrderJSON([]byte("x"), o)
		if err != nil || string(got) != "x"+string(want) {
			t.Fatalf("appendOrderJSON = %s, %v\nwant %s", got, err, want)
		}
	}
	check(&order.Order{})
	check(&order.Order{Lines: []order.Line{}})
	for range 1000 {
		o := ordertest.Random(rng, ordertest.Options{Now: now, Posted: true})
		if rng.IntN(3) == 0 {
			o.ID, o.ShopID, o.Customer.ID = pick(), pick(), pick()
			o.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, rng.IntN(1e9), time.FixedZone("X", rng.IntN(7200)))
		}
		for i := range o.Lines {
			if rng.IntN(4) == 0 {
				o.Lines[i].Discount = -o.Lines[i].UnitPrice
			}
		}
		check(o)
	}
	// A time encoding/json cannot write is an error, as from json.Marshal.
	if _, err := appendOrderJSON(nil, &order.Order{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("appendOrderJSON of year 10000: no error, want one")
	}
}

func TestEncodeEvent(t *testing.T) {
	when := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	events := []tracking.Event{
		{},
		{Time: when, Type: tracking.TypeAccepted, Source: tracking.SourceGateway, Summary: "Order received and safely stored",
			Details: map[string]string{"external_id": "WEB-1"}},
		{ID: "1-1", Time: when.In(time.FixedZone("Y", -3600)), Type: "t<", Source: "s&", Summary: "a\u2028b",
			Details: map[string]string{"b": "2", "a": "1", "<k>": "\x00", "": ""}},
		{Time: when, Details: map[string]string{}},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Type: "far future"},
	}
	for _, s := range jsonenc.EscapeCases {
		events = append(events, tracking.Event{Time: when, Type: s, Source: s, Summary: s, Details: map[string]string{s: s}})
	}
	for _, e := range events {
		if got, want := encodeEvent(e), e.Encode(); string(got) != string(want) {
			t.Errorf("encodeEvent(%+v) = %s, want %s", e, got, want)
		}
	}
}

func BenchmarkEncodeOrder(b *testing.B) {
	o := ordertest.Posted(ordertest.ValidAt(now))
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeOrder(o)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(o)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	e := tracking.Event{Time: now, Type: tracking.TypeAccepted, Source: tracking.SourceGateway,
		Summary: "Order received and safely stored", Details: map[string]string{"external_id": "WEB-1001"}}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeEvent(e)
		}
	})
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.Encode()
		}
	})
}

func BenchmarkWithIdentity(b *testing.B) {
	o := ordertest.Posted(ordertest.ValidAt(now))
	content, err := encodeOrder(o)
	if err != nil {
		b.Fatal(err)
	}
	o.ID, o.ShopID, o.CreatedAt = ulid.New("ord_", now), "demo-shop", now
	b.Run("splice", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			withIdentity(content, o)
		}
	})
	b.Run("encodeOrder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeOrder(o)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(o)
		}
	})
}
