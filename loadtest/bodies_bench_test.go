package loadtest

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// The generator's own work per REST order, without the network: building
// the body and reading the acknowledgement. "generate" is the way before
// pre-rendering (generate and encode an order, decode the answer with
// encoding/json); "splice" is the way now.
var benchAck = []byte(`{"id":"ord_01JD2Q7X0000000000000000","external_id":"lt20260101T120000-a1b2-123456","status":"accepted","tracking":{"url":"/track/ord_01JD2Q7X0000000000000000?token=abcdefabcdefabcdef","token":"abcdefabcdefabcdef"}}`)

func BenchmarkRESTOrderWork(b *testing.B) {
	today := time.Now().UTC()
	const prefix = "lt20260101T120000-a1b2-"
	b.Run("generate", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for i := range b.N {
			ext := prefix + strconv.Itoa(i)
			o := genOrder(rng, ext, DefaultMaxLines, today)
			body := o.appendJSON(make([]byte, 0, 512+256*len(o.Lines)))
			var a struct {
				ID         string `json:"id"`
				ExternalID string `json:"external_id"`
				Tracking   struct {
					Token string `json:"token"`
				} `json:"tracking"`
			}
			if json.Unmarshal(benchAck, &a) != nil || len(body) == 0 {
				b.Fatal("bad")
			}
		}
	})
	b.Run("splice", func(b *testing.B) {
		bs := restBodies(1, prefix, DefaultMaxLines, today)
		var buf, num []byte
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			num = extSuffix(num[:0], i)
			buf, _ = bs.render(buf[:0], i, string(num))
			a, ok := parseRESTAck(benchAck)
			if !ok || len(buf) == 0 || len(a.id) == 0 {
				b.Fatal("bad")
			}
		}
	})
}

func BenchmarkSOAPOrderBody(b *testing.B) {
	today := time.Now().UTC()
	const prefix = "lt20260101T120000-a1b2-"
	st := DefaultSOAPTemplate()
	b.Run("template", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for i := range b.N {
			o := genOrder(rng, prefix+strconv.Itoa(i), DefaultMaxLines, today)
			var buf []byte
			slow := func(dst []byte, o *OrderData) ([]byte, error) { return renderTemplate(st, dst, o) }
			if _, err := slow(buf, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("splice", func(b *testing.B) {
		bs, err := soapBodies(st, 1, prefix, DefaultMaxLines, today)
		if err != nil {
			b.Fatal(err)
		}
		var buf, num []byte
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			num = extSuffix(num[:0], i)
			buf, _ = bs.render(buf[:0], i, string(num))
		}
	})
}
