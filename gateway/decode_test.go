package gateway

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// checkFastDecode decodes body with both paths; whenever the fast path
// takes a body, encoding/json must take it too and give the same request.
func checkFastDecode(t testing.TB, body []byte) (fastOK bool) {
	t.Helper()
	var fast orderRequest
	fastOK = decodeOrderFast(body, &fast)
	var slow orderRequest
	slowErr := unmarshalStrict(body, &slow)
	if !fastOK {
		return false
	}
	if slowErr != nil {
		t.Fatalf("fast path took a body encoding/json refuses (%v):\n%s", slowErr, body)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path decoded differently:\n got %#v\nwant %#v\nbody %s", fast, slow, body)
	}
	fo, fp := fast.toOrder()
	so, sp := slow.toOrder()
	if !reflect.DeepEqual(fo, so) || !reflect.DeepEqual(fp, sp) {
		t.Fatalf("orders differ:\n got %#v %v\nwant %#v %v", fo, fp, so, sp)
	}
	return true
}

func TestDecodeOrderFast(t *testing.T) {
	set := func(old, new string) string {
		if !strings.Contains(validOrderJSON, old) {
			t.Fatalf("test bug: %q not in the valid order", old)
		}
		return strings.Replace(validOrderJSON, old, new, 1)
	}
	tests := []struct {
		name     string
		body     string
		wantFast bool // false: left to encoding/json
	}{
		{"the plain form", validOrderJSON, true},
		{"compact, no billing address", `{"external_id":"A","customer":{"name":"N","email":"e@x.de"},"shipping_address":{"name":"N","line1":"L","city":"C","postal_code":"1","country":"DE"},"currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":"1.00"}],"shipping":{"method":"m","price":"0"}}`, true},
		{"whitespace everywhere", " \t\r\n" + strings.ReplaceAll(strings.ReplaceAll(validOrderJSON, ":", " :\n "), ",", "\t,\r\n") + "\n ", true},
		{"empty object", `{}`, true},
		{"empty lines", set(`"lines":[{"sku":"SKU-1001","description":"Kettle","quantity":2,"unit_price":"19.99","discount":"1.00"}]`, `"lines":[]`), true},
		{"negative and zero quantity", set(`"quantity":2`, `"quantity":-0`), true},
		{"bad amount text", set(`"19.99"`, `"19,99"`), true},
		{"amount null string", set(`"19.99"`, `"null"`), true},
		{"large quantity", set(`"quantity":2`, `"quantity":9223372036854775807`), true},

		{"escape in a string", set(`"ring twice"`, `"ring \"twice\""`), false},
		{"unicode escape", set(`"Kettle"`, `"Kettle \u00e9"`), false},
		{"escaped amount", set(`"19.99"`, `"19\u002e99"`), false},
		{"invalid utf-8", set(`"ring twice"`, "\"ring \xff twice\""), false},
		{"control character", set(`"ring twice"`, "\"ring\ttwice\""), false},
		{"null billing address", set(`"billing_address":{"name":"Firma GmbH","line1":"Allee 5","city":"Hamburg","postal_code":"20095","country":"DE"}`, `"billing_address":null`), false},
		{"null amount", set(`"discount":"1.00"`, `"discount":null`), false},
		{"null string", set(`"notes":"ring twice"`, `"notes":null`), false},
		{"number amount", set(`"19.99"`, `19.99`), false},
		{"float quantity", set(`"quantity":2`, `"quantity":2.0`), false},
		{"exponent quantity", set(`"quantity":2`, `"quantity":2e0`), false},
		{"leading zero quantity", set(`"quantity":2`, `"quantity":02`), false},
		{"overflowing quantity", set(`"quantity":2`, `"quantity":9223372036854775808`), false},
		{"string quantity", set(`"quantity":2`, `"quantity":"2"`), false},
		{"case-folded key", set(`"currency"`, `"Currency"`), false},
		{"duplicate key", set(`"notes":"ring twice"`, `"notes":"a","notes":"b"`), false},
		{"duplicate nested key", set(`"city":"Berlin"`, `"city":"Berlin","city":"Bonn"`), false},
		{"unknown field", set(`"notes":`, `"colour":"red","notes":`), false},
		{"gateway-assigned id", set(`"notes":`, `"id":"ord_x","notes":`), false},
		{"trailing data", validOrderJSON + "{}", false},
		{"trailing comma", set(`"discount":"1.00"}]`, `"discount":"1.00"},]`), false},
		{"truncated", validOrderJSON[:100], false},
		{"array", `[]`, false},
		{"empty", ``, false},
		{"byte order mark", "\uFEFF" + validOrderJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFastDecode(t, []byte(tt.body)); got != tt.wantFast {
				t.Errorf("fast path taken = %v, want %v", got, tt.wantFast)
			}
		})
	}
}

// TestDecodeOrderFastGenerated decodes many generated orders, in plain and
// in unusual forms, both ways.
func TestDecodeOrderFastGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fast := 0
	const n = 2000
	for range n {
		body := genOrderJSON(rng)
		if checkFastDecode(t, body) {
			fast++
		}
	}
	if fast < n/4 {
		t.Errorf("fast path took %d of %d generated orders, want most of the plain ones", fast, n)
	}
}

// genOrderJSON writes an order with random content, key order and spacing;
// every other one also has the odd escape, null, number amount or
// case-folded key.
func genOrderJSON(rng *rand.Rand) []byte {
	plain := rng.IntN(2) == 0
	odd := func(n int) bool { return !plain && rng.IntN(n) == 0 }
	str := func() string {
		alphabet := []string{"a", "Z", "9", " ", "-", "ß", "ë", "日本", "😀", "<", ">", "&", "'", "/", "\u2028"}
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		out, _ := json.Marshal(s) // escapes <, >, &, U+2028 as encoding/json does
		if odd(3) {
			return string(out)
		}
		return `"` + s + `"` // the raw form, no escapes
	}
	amount := func() string {
		switch {
		case odd(10):
			return "null"
		case odd(10):
			return strconv.Itoa(rng.IntN(100))
		case rng.IntN(10) == 0:
			return `"x1"`
		}
		return fmt.Sprintf(`"%d.%02d"`, rng.IntN(1000), rng.IntN(100))
	}
	sp := func() string { return []string{"", "", " ", "\n  ", "\t"}[rng.IntN(5)] }
	key := func(k string) string {
		if odd(40) {
			return `"` + strings.ToUpper(k[:1]) + k[1:] + `"`
		}
		return `"` + k + `"`
	}
	obj := func(fields ...string) string {
		rng.Shuffle(len(fields)/2, func(i, j int) {
			fields[2*i], fields[2*j] = fields[2*j], fields[2*i]
			fields[2*i+1], fields[2*j+1] = fields[2*j+1], fields[2*i+1]
		})
		var b strings.Builder
		b.WriteString("{" + sp())
		first := true
		for i := 0; i < len(fields); i += 2 {
			if rng.IntN(8) == 0 {
				continue // an optional or missing field
			}
			if !first {
				b.WriteString("," + sp())
			}
			first = false
			b.WriteString(key(fields[i]) + sp() + ":" + sp() + fields[i+1] + sp())
		}
		b.WriteString("}")
		return b.String()
	}
	addr := func() string {
		return obj("name", str(), "line1", str(), "line2", str(), "city", str(),
			"postal_code", str(), "region", str(), "country", str())
	}
	var lines []string
	for range rng.IntN(4) {
		q := strconv.Itoa(rng.IntN(20) - 2)
		if odd(20) {
			q = "1.5"
		}
		lines = append(lines, obj("sku", str(), "description", str(), "quantity", q,
			"unit_price", amount(), "discount", amount()))
	}
	billing := addr()
	if odd(5) {
		billing = "null"
	}
	return []byte(sp() + obj(
		"external_id", str(),
		"customer", obj("id", str(), "name", str(), "email", str(), "phone", str()),
		"shipping_address", addr(),
		"billing_address", billing,
		"currency", str(),
		"lines", "["+strings.Join(lines, ","+sp())+"]",
		"shipping", obj("method", str(), "price", amount()),
		"requested_delivery_date", str(),
		"notes", str(),
	) + sp())
}

// FuzzDecodeOrderFast: whatever the fast path takes, encoding/json takes
// identically.
func FuzzDecodeOrderFast(f *testing.F) {
	f.Add([]byte(validOrderJSON))
	f.Add([]byte(`{"lines":[{"quantity":-12,"unit_price":"1"}],"shipping":{"price":"2"}}`))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(genOrderJSON(rng))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastDecode(t, body)
	})
}

func BenchmarkDecodeOrder(b *testing.B) {
	body := []byte(validOrderJSON)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req orderRequest
			if !decodeOrderFast(body, &req) {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req orderRequest
			if err := unmarshalStrict(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
