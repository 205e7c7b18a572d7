package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/internal/redistest"
	"erpgate/soap"
	"erpgate/store"
)

// rateEnv serves a gateway whose clients are limited: demo-shop by its own
// limit (2 at once, then one per 100 s), shop-2 by the default (none).
func rateEnv(t *testing.T, limiter RateLimiter, now time.Time) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	clients := DemoClients()
	clients[0].RateLimit = &RateLimit{PerSecond: 0.01, Burst: 2}
	clients = append(clients, Client{ID: "shop-2", Kind: KindShop, KeySHA256: HashKey("shop-2-key")})
	keys, err := NewKeyring(clients)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := New(Config{PublicURL: "https://gw.example", Store: nullStore{}, Keyring: keys, Registerer: reg, Gatherer: reg,
		Now: func() time.Time { return now }, RateLimiter: limiter})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, reg
}

func postWith(t *testing.T, url, key, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestRateLimitREST: a shop over its limit gets 429 rate_limited with
// Retry-After and RateLimit headers; another shop is not affected. The
// limiter is the Redis one, on miniredis (the embedded mode's Redis).
func TestRateLimitREST(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	srv, reg := rateEnv(t, store.NewRateLimiter(rdb), restNow)
	for i := range 2 {
		resp, b := postWith(t, srv.URL+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON)
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d RateLimit-Limit %q: %s", i, resp.StatusCode, resp.Header.Get("RateLimit-Limit"), b)
		}
	}
	resp, b := postWith(t, srv.URL+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON)
	var p problem
	json.Unmarshal(b, &p)
	if resp.StatusCode != http.StatusTooManyRequests || p.Code != erpgate.RateLimited {
		t.Fatalf("third request: %d %s, want 429 rate_limited", resp.StatusCode, b)
	}
	for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("429 without %s", h)
		}
	}
	if got := resp.Header.Get("RateLimit-Remaining"); got != "0" {
		t.Errorf("RateLimit-Remaining = %q, want 0", got)
	}
	// Refused again from this instance's memory, without Redis.
	if resp, _ := postWith(t, srv.URL+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("fourth request: %d, want 429", resp.StatusCode)
	}
	if resp, b := postWith(t, srv.URL+"/v1/orders", "shop-2-key", "application/json", validOrderJSON); resp.StatusCode != http.StatusAccepted {
		t.Errorf("the other shop: %d %s, want 202", resp.StatusCode, b)
	}
	if got := counterValueLabels(t, reg, "erpgate_ratelimit_requests_total", "demo-shop", "limited"); got != 2 {
		t.Errorf("limited counter = %v, want 2", got)
	}
}

// TestRateLimitSOAP: over its limit, a SOAP shop gets a Server fault
// rate_limited with Retry-After.
func TestRateLimitSOAP(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	srv, _ := rateEnv(t, store.NewRateLimiter(rdb), soapNow)
	env := soapEnvelope("", soapOrder{}.xml())
	for i := range 2 {
		if resp, b := postWith(t, srv.URL+soapOrdersPath, "demo-shop-key", "text/xml; charset=utf-8", env); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := postWith(t, srv.URL+soapOrdersPath, "demo-shop-key", "text/xml; charset=utf-8", env)
	f, err := soap.ParseFault(b)
	if err != nil {
		t.Fatalf("third request: %v\n%s", err, b)
	}
	if f.Code != soap.FaultServer || f.Detail.Code != erpgate.RateLimited || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(f.String, "retry after") {
		t.Errorf("third request: fault %s/%s %q Retry-After %q, want a Server fault rate_limited with retry information",
			f.Code, f.Detail.Code, f.String, resp.Header.Get("Retry-After"))
	}
}

// downLimiter fails like a dead Redis.
type downLimiter struct{}

func (downLimiter) Allow(context.Context, string, float64, int) (store.RateDecision, error) {
	return store.RateDecision{}, erpgate.Wrap(erpgate.Unavailable, errors.New("connection refused"), "order store unavailable")
}

// TestRateLimitWithoutRedis: when the limiter's Redis fails, the instance
// limits with a bucket of its own (the same limit) and counts the errors.
func TestRateLimitWithoutRedis(t *testing.T) {
	srv, reg := rateEnv(t, downLimiter{}, restNow)
	for i := range 2 {
		if resp, b := postWith(t, srv.URL+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d: %d %s, want 202", i, resp.StatusCode, b)
		}
	}
	if resp, b := postWith(t, srv.URL+"/v1/orders", "demo-shop-key", "application/json", validOrderJSON); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("third request: %d %s, want 429 from the local bucket", resp.StatusCode, b)
	}
	if got := counterValueLabels(t, reg, "erpgate_ratelimit_errors_total"); got != 3 {
		t.Errorf("errors counter = %v, want 3", got)
	}
}

// counterValueLabels reads the counter series whose label values are all
// of values.
func counterValueLabels(t *testing.T, reg prometheus.Gatherer, name string, values ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]bool{}
			for _, lp := range m.GetLabel() {
				have[lp.GetValue()] = true
			}
			for _, v := range values {
				if !have[v] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
