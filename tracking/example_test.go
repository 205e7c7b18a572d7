package tracking_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"erpgate/tracking"
)

// A shop's back office verifies each webhook before trusting it, and uses
// Webhook-Id to drop repeats.
func ExampleVerifySignature() {
	const secret = "whsec_0123456789abcdef"
	receiver := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := tracking.VerifySignature(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// … decode body as tracking.WebhookPayload, skip a Webhook-Id seen before, store …
		w.WriteHeader(http.StatusNoContent)
	}

	// What erpgate sends:
	body := []byte(`{"id":"1767225600000-0","order_id":"ord_01J","type":"shipped","time":"2026-01-01T00:00:00Z","source":"erp","summary":"Handed to DHL"}`)
	now := time.Now()
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Webhook-Id", "ord_01J:1767225600000-0")
	header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	header.Set("Webhook-Signature", tracking.Sign(secret, now, body)) // "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
	req := httptest.NewRequest(http.MethodPost, "/hooks/erpgate", strings.NewReader(string(body)))
	req.Header = header.Clone()
	rec := httptest.NewRecorder()
	receiver(rec, req)
	fmt.Println(rec.Code)

	// A tampered body is refused.
	req = httptest.NewRequest(http.MethodPost, "/hooks/erpgate", strings.NewReader(strings.Replace(string(body), "DHL", "UPS", 1)))
	req.Header = header.Clone()
	rec = httptest.NewRecorder()
	receiver(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// 204
	// 401
}
