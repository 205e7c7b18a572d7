package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMetricsToken: with a token, /metrics answers 401 without it or with
// a wrong one, and the metrics with it; NoMetricsRoute leaves it out.
func TestMetricsToken(t *testing.T) {
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{Store: nullStore{}, Keyring: keys, MetricsToken: "scrape-secret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer demo-admin-token", 401}, {"Bearer scrape-secret", 200}} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, rec.Code, tc.want)
		}
	}
	off, err := New(Config{Store: nullStore{}, Keyring: keys, NoMetricsRoute: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("NoMetricsRoute: /metrics answered %d, want 404", rec.Code)
	}
}
