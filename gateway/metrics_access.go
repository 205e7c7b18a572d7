package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the Prometheus metrics of g. With a token, only
// requests with "Authorization: Bearer <token>" are served; others get
// 401 (problem+json unauthorized). The metrics show business volumes, so
// production either sets a token or serves them on a separate, private
// address (cmd/gateway: --metrics-token, --metrics-listen).
func MetricsHandler(g prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		var got [sha256.Size]byte
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			got = sha256.Sum256([]byte(strings.TrimSpace(a[7:])))
		}
		// Hashes of equal length, compared in constant time: neither the
		// token's length nor a prefix leaks.
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="erpgate-metrics"`)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"/problems/unauthorized","title":"Unauthorized","status":401,` +
				`"detail":"send Authorization: Bearer <metrics token>","instance":"/metrics","code":"unauthorized"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}
