package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestVersion: --version and erpgate_build_info carry the stamped version
// and commit; unstamped, they say so (never an empty commit).
func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gateway", "--version"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	b := buildInfo()
	if b.Commit == "" || b.Version == "" {
		t.Errorf("unstamped build info: %+v, want dev/unknown or VCS values, never empty", b)
	}
	if got := out.String(); !strings.HasPrefix(got, "erpgate gateway "+b.Version+" commit "+b.Commit) {
		t.Errorf("--version: got %q", got)
	}

	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "1.4.0", "0123456789abcdef"
	if b := buildInfo(); b.Version != "1.4.0" || b.Commit != "0123456789abcdef" || b.Modified {
		t.Errorf("stamped: got %+v", b)
	}
	reg := prometheus.NewRegistry()
	registerBuildInfo(reg)
	want := `
# HELP erpgate_build_info Build information (version, commit; "dev"/"unknown" for an unstamped build); always 1.
# TYPE erpgate_build_info gauge
erpgate_build_info{commit="0123456789abcdef",goversion="` + b.GoVersion + `",version="1.4.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpgate_build_info"); err != nil {
		t.Error(err)
	}
}
