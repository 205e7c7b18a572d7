package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"erpgate/internal/jsonenc"

	"github.com/labstack/echo/v4"
)

// TestWriteAccepted: the 202 body and headers are what c.JSON writes, also
// with characters JSON must escape.
func TestWriteAccepted(t *testing.T) {
	e := echo.New()
	for _, s := range jsonenc.EscapeCases {
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
