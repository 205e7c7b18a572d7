package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetricsListenAndToken: through run(), --metrics-listen serves the
// metrics on their own address behind --metrics-token, and the gateway's
// own address has no /metrics.
func TestMetricsListenAndToken(t *testing.T) {
	gw, logs, stop := startRun(t, "--metrics-listen", "127.0.0.1:0", "--metrics-token", "scrape-secret")
	defer stop()
	metricsURL := logs.wait(t, "metrics listening")
	get := func(url, token string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(metricsURL, ""); got != http.StatusUnauthorized {
		t.Errorf("metrics without the token: %d, want 401", got)
	}
	if got := get(metricsURL, "scrape-secret"); got != http.StatusOK {
		t.Errorf("metrics with the token: %d, want 200", got)
	}
	if got := get(strings.TrimSuffix(gw, "/")+"/metrics", "scrape-secret"); got != http.StatusNotFound {
		t.Errorf("/metrics on the gateway's address: %d, want 404", got)
	}
}

// TestHardeningFlagsChecked: contradictory limits are refused at start.
func TestHardeningFlagsChecked(t *testing.T) {
	for _, args := range [][]string{
		{"gateway", "--max-unauth-body-mib", "64", "--max-body-mib", "32"},
		{"gateway", "--rate-limit", "-1"},
		{"gateway", "--max-connections", "-5"},
	} {
		if _, err := parseFlags(args, func(string) string { return "" }, &strings.Builder{}); err == nil {
			t.Errorf("%v: accepted, want an error", args[1:])
		}
	}
	o, err := parseFlags([]string{"gateway"}, func(k string) string {
		return map[string]string{"ERPGATE_RATE_LIMIT": "250", "ERPGATE_METRICS_TOKEN": "t"}[k]
	}, &strings.Builder{})
	if err != nil || o.hardening.rateLimit != 250 || o.hardening.metricsToken != "t" {
		t.Errorf("env defaults: %+v %v", o, err)
	}
}
