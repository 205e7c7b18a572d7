package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// jsonStrings are strings encoding/json escapes in every way it knows.
var jsonStrings = []string{
	"", "plain", `quo"te`, `back\slash`, "<script>&</script>", "tab\tnew\nline\rret",
	"\b\f\x00\x01\x1f\x7f", "Zoë Müller 日本 😀", "\u2028\u2029", "bad \xff utf-8 \xc3", "é\xe2\x82",
	"https://gw.example/track/ord_1?token=a&b=c",
}

func TestAppendJSONString(t *testing.T) {
	check := func(s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	}
	for _, s := range jsonStrings {
		check(s)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		check(string(b))
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestWriteAccepted: the 202 body and headers are what c.JSON writes, also
// with characters JSON must escape.
func TestWriteAccepted(t *testing.T) {
	e := echo.New()
	for _, s := range jsonStrings {
		r := acceptedResponse{ID: "ord_" + s, ExternalID: s, Status: "accepted",
			Tracking: trackingLink{URL: "https://gw.example/track/x?token=" + s, Token: s}}
		for _, query := range []string{"", "?pretty", "?a=b"} {
			fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1/orders"+query, nil)
			if err := writeAccepted(e.NewContext(req, fast), r); err != nil {
				t.Fatal(err)
			}
			if err := e.NewContext(req, slow).JSON(http.StatusAccepted, r); err != nil {
				t.Fatal(err)
			}
			if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() ||
				strings.Join(fast.Header()["Content-Type"], ";") != strings.Join(slow.Header()["Content-Type"], ";") {
				t.Errorf("query %q, %q: got %d %v %q, want %d %v %q", query, s,
					fast.Code, fast.Header(), fast.Body, slow.Code, slow.Header(), slow.Body)
			}
		}
	}
}

func BenchmarkWriteAccepted(b *testing.B) {
	e := echo.New()
	r := acceptedResponse{ID: "ord_01KBZ7G5V3M2Q8W9X4Y6Z7A8B9", ExternalID: "WEB-100234", Status: "accepted",
		Tracking: trackingLink{URL: "https://gw.example/track/ord_01KBZ7G5V3M2Q8W9X4Y6Z7A8B9?token=Zx8s7dHq2lK9mNb4Vc1XyQ", Token: "Zx8s7dHq2lK9mNb4Vc1XyQ"}}
	req := httptest.NewRequest(http.MethodPost, "/v1/orders", nil)
	w := httptest.NewRecorder()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Body.Reset()
			c := e.NewContext(req, w)
			writeAccepted(c, r)
		}
	})
	b.Run("c.JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.Body.Reset()
			c := e.NewContext(req, w)
			c.JSON(http.StatusAccepted, r)
		}
	})
}
