package tracking

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook headers. Every delivery carries all three:
//
//	Webhook-Id:        <order_id>:<event id>  same on every retry; dedupe on it
//	Webhook-Timestamp: <unix seconds>          when this attempt was signed
//	Webhook-Signature: v1=<hex>                hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// The signed content is the decimal timestamp exactly as sent in
// Webhook-Timestamp, a full stop, and the raw request body bytes. The key is
// the subscription secret's bytes as given (no decoding). Webhook-Signature
// may carry several space-separated "v1=<hex>" values (e.g. while a secret is
// rotated); a receiver accepts the request if any one matches.
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// Errors returned by VerifySignature (wrapped; test with errors.Is).
var (
	ErrSignatureMissing = errors.New("webhook: missing or malformed signature headers")
	ErrSignatureStale   = errors.New("webhook: timestamp outside tolerance")
	ErrSignatureInvalid = errors.New("webhook: signature does not match")
)

// Sign returns the Webhook-Signature value for body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a webhook request as a receiver must: the timestamp
// is within tolerance of now (replay protection) and one of the v1
// signatures is the HMAC of timestamp + "." + body under secret (compared in
// constant time). body must be the raw bytes as received, before any JSON
// decoding. It returns nil for a genuine request, else an error wrapping
// ErrSignatureMissing, ErrSignatureStale or ErrSignatureInvalid.
func VerifySignature(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	tsText := header.Get(HeaderWebhookTimestamp)
	sigs := header.Get(HeaderWebhookSignature)
	if tsText == "" || sigs == "" || header.Get(HeaderWebhookID) == "" {
		return ErrSignatureMissing
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrSignatureMissing, tsText)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrSignatureStale, d.Truncate(time.Second))
	}
	want := mac(secret, tsText, body)
	for _, s := range strings.Fields(sigs) {
		h, ok := strings.CutPrefix(s, "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(h)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureInvalid
}
