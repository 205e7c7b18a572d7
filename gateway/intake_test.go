package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"erpgate/order"
)

// TestWithIdentity: the record spliced from the fingerprint's JSON is
// exactly json.Marshal of the order.
func TestWithIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pick := func() string { return jsonStrings[rng.IntN(len(jsonStrings))] }
	for i := range 500 {
		var req orderRequest
		if err := unmarshalStrict(genOrderJSON(rng), &req); err != nil {
			continue // a generated fractional quantity
		}
		o, _ := req.toOrder()
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
			o.ID, o.ShopID = newOrderID(restNow), "demo-shop"
			o.CreatedAt = restNow.Add(time.Duration(rng.IntN(1e9))).Truncate(time.Millisecond)
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
