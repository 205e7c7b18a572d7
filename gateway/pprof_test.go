package gateway

import (
	"net/http"
	"strings"
	"testing"
)

func TestPprofNeedsTheAdminToken(t *testing.T) {
	e := newRESTEnv(t)
	tests := []struct {
		name, path, key string
		want            int
		wantBody        string // substring of a successful answer
	}{
		{"no credentials", "/debug/pprof/", "", http.StatusUnauthorized, ""},
		{"unknown key", "/debug/pprof/heap", "nope", http.StatusUnauthorized, ""},
		{"shop key", "/debug/pprof/heap", "demo-shop-key", http.StatusForbidden, ""},
		{"shop key, cpu profile", "/debug/pprof/profile?seconds=1", "demo-shop-key", http.StatusForbidden, ""},
		{"admin index", "/debug/pprof/", "demo-admin-token", http.StatusOK, "goroutine"},
		{"admin named profile", "/debug/pprof/goroutine?debug=1", "demo-admin-token", http.StatusOK, "goroutine profile:"},
		{"admin cmdline", "/debug/pprof/cmdline", "demo-admin-token", http.StatusOK, ""},
		{"admin unknown profile", "/debug/pprof/nosuch", "demo-admin-token", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, tt.path, tt.key, "", "")
			if r.status != tt.want {
				t.Fatalf("GET %s: got %d, want %d (%s)", tt.path, r.status, tt.want, r.raw)
			}
			if !strings.Contains(r.raw, tt.wantBody) {
				t.Errorf("GET %s: body %.200q does not contain %q", tt.path, r.raw, tt.wantBody)
			}
		})
	}
}
