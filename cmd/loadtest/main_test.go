package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"erpgate/loadtest"
	"erpgate/loadtest/loadtesttest"
)

// fakeStack starts a fake gateway that delivers to a fake ERP simulator.
func fakeStack(t *testing.T, gw *loadtesttest.Gateway) (target, sim string) {
	t.Helper()
	if gw.ERP == nil {
		gw.ERP = loadtesttest.NewERP()
	}
	g := httptest.NewServer(gw)
	t.Cleanup(g.Close)
	s := httptest.NewServer(gw.ERP)
	t.Cleanup(s.Close)
	return g.URL, s.URL
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runJSON(t *testing.T, getenv func(string) string, args ...string) (*loadtest.Result, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"loadtest", "--max-inflight", "64"}, args...)
	err := run(context.Background(), args, getenv, &stdout, &stderr)
	var res loadtest.Result
	if stdout.Len() > 0 {
		if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", jerr, stdout.String())
		}
	}
	return &res, stderr.String(), err
}

// End to end through run(): a low rate for about a second against a fake
// gateway and simulator, verified, with a JSON result and an HTML report.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	target, sim := fakeStack(t, &loadtesttest.Gateway{ShopKey: "shop-from-env"})
	report := filepath.Join(t.TempDir(), "report.html")
	res, stderr, err := runJSON(t, env(map[string]string{"ERPGATE_SHOP_KEY": "shop-from-env"}),
		"--target", target, "--rate", "40", "--duration", "1s", "--mix", "rest=4,soap=2,repeat=1,track=1,supplier=1",
		"--verify", sim, "--verify-timeout", "5s", "--json", "--report", report)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if res.Planned != 40 || res.OK != 40 || res.ErrorCount() != 0 {
		t.Errorf("planned %d ok %d errors %v, want 40 ok and no errors", res.Planned, res.OK, res.Errors)
	}
	v := res.Verification
	if v == nil {
		t.Fatal("no verification in the JSON result")
	}
	if v.Failed || v.Acked != res.AckedOrders || v.Acked == 0 || v.Lost != 0 || v.Duplicated != 0 {
		t.Errorf("verification %+v, want a pass over all %d acknowledged orders", v, res.AckedOrders)
	}
	if !strings.Contains(stderr, "verification against the ERP simulator (v2): PASS") {
		t.Errorf("the human table (stderr with --json) lacks the verdict:\n%s", stderr)
	}
	page, err := os.ReadFile(report)
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("report %s: %v, want an HTML page with charts", report, err)
	}
}

// CI's proof that verification catches a planted loss and a planted
// duplicate: the run exits non-zero and says what happened.
func TestRunVerificationCatchesPlantedFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		gw   *loadtesttest.Gateway
		want func(*loadtest.Verification) bool
	}{
		{"loss", &loadtesttest.Gateway{Lose: func(n int) bool { return n == 3 }},
			func(v *loadtest.Verification) bool { return v.Lost == 1 && v.Duplicated == 0 }},
		{"duplicate", &loadtesttest.Gateway{DeliverTwice: func(n int) bool { return n == 2 }},
			func(v *loadtest.Verification) bool { return v.Lost == 0 && v.Duplicated == 1 }},
		{"loss in v1", &loadtesttest.Gateway{Versions: []string{"v2"}},
			func(v *loadtest.Verification) bool {
				return v.ByVersion["v1"].Lost == v.Acked && v.ByVersion["v2"].Lost == 0
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, sim := fakeStack(t, tt.gw)
			args := []string{"--target", target, "--rate", "20", "--duration", "500ms", "--mix", "rest=1",
				"--verify", sim, "--verify-timeout", "300ms", "--json", "--quiet"}
			if tt.name == "loss in v1" {
				args = append(args, "--verify-versions", "v1,v2")
			}
			res, stderr, err := runJSON(t, env(nil), args...)
			if !errors.Is(err, loadtest.ErrVerification) {
				t.Fatalf("run error = %v, want a verification failure\n%s", err, stderr)
			}
			v := res.Verification
			if v == nil || !v.Failed || !tt.want(v) {
				t.Fatalf("verification %+v: not the planted fault", v)
			}
		})
	}
}

func TestRunRefusesBadCommandLines(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{"--target", "http://10.1.2.3:8080"},
		{"--verify", "http://sim.example.com"},
		{"--rate", "0"},
		{"--steps", "100"},
		{"--mix", "rest=1,nope=2"},
		{"--max-inflight", "-1"},
		{"extra-arg"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"loadtest"}, args...), env(nil), &stdout, &stderr)
		if err == nil {
			t.Errorf("run %v: want an error", args)
			continue
		}
		// --max-inflight is checked by the package, not the flag parser.
		if args[0] != "--max-inflight" && !errors.Is(err, errUsage) {
			t.Errorf("run %v: err = %v, want a usage error (exit 2)", args, err)
		}
	}
}

func TestRunHelpExplainsLoopback(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	_ = run(context.Background(), []string{"loadtest", "-h"}, env(nil), &stdout, &stderr)
	if !strings.Contains(stderr.String(), "--allow-remote") || !strings.Contains(stderr.String(), "denial-of-service") {
		t.Errorf("help does not explain the loopback rule:\n%s", stderr.String())
	}
}

// A backlog still draining when the wait ends is neither a pass nor a loss:
// the run exits with ErrNotSettled, and the report says NOT SETTLED with the
// queued count, never "FAIL: lost".
func TestRunNotSettledIsNotLost(t *testing.T) {
	t.Parallel()
	target, sim := fakeStack(t, &loadtesttest.Gateway{Queue: func(n int) bool { return n%2 == 0 }})
	report := filepath.Join(t.TempDir(), "load.html")
	res, stderr, err := runJSON(t, env(nil), "--target", target, "--rate", "20", "--duration", "500ms", "--mix", "rest=1",
		"--verify", sim, "--verify-timeout", "300ms", "--json", "--quiet", "--report", report)
	if !errors.Is(err, loadtest.ErrNotSettled) || errors.Is(err, loadtest.ErrVerification) {
		t.Fatalf("run error = %v, want not settled (and no verification failure)\n%s", err, stderr)
	}
	v := res.Verification
	if v == nil || v.Failed || v.Settled || v.Lost != 0 || v.Queued != v.Acked/2 || v.Queued == 0 {
		t.Fatalf("verification %+v, want half the orders queued, none lost", v)
	}
	page, _ := os.ReadFile(report)
	if !bytes.Contains(page, []byte("NOT SETTLED")) || bytes.Contains(page, []byte("FAIL")) {
		t.Errorf("report does not say NOT SETTLED (or says FAIL)")
	}
}
