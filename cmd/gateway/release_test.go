package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseCLIUsageErrors: mistakes on the command line fail before any
// request, with a message saying what is wrong.
func TestReleaseCLIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "a command is required"},
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"set"}, "release set: got 0 arguments, want 1"},
		{[]string{"status", "extra"}, "release status: got 1 arguments, want 0"},
		{[]string{"backout", "--skip-delivered-by-v1"}, "belongs to promote"},
		{[]string{"status", "--url", "ftp://x"}, "not an http(s) URL"},
		{[]string{"status", "--nope"}, "flag provided but not defined"},
		{[]string{"status", "--url", "http://127.0.0.1:1"}, "GET http://127.0.0.1:1/admin/release"},
	} {
		_, _, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("release %v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if _, _, err := runCLI(t, "-h"); err != nil {
		t.Errorf("release -h: %v", err)
	}
}

// TestReleaseCLI drives every command against a running gateway.
func TestReleaseCLI(t *testing.T) {
	gw, _, _ := startRun(t)
	dir := t.TempDir()

	out, _, err := runCLI(t, "status", "--url", gw)
	if err != nil || !strings.Contains(out, "revision       0") || !strings.Contains(out, "built-in default") ||
		!strings.Contains(out, "v1 active, v2 active") || !strings.Contains(out, "authoritative  v2") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// An invalid plan: the server's problem detail and field paths, non-zero exit.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"stage":1,"targets":{"v1":"active","v2":"active"},"authoritative":"v2","cohorts":[],
	 "shadow":true,"auto_backout":{"enabled":false,"window":100,"min_sample":20,"failure_ratio":0.5,"mismatches":5}}`), 0o600)
	_, _, err = runCLI(t, "set", bad, "--url", gw, "--reason", "try stage 1")
	if err == nil || !strings.Contains(err.Error(), "422 unprocessable") || !strings.Contains(err.Error(), "targets.v2: must be paused in stage 1") ||
		!strings.Contains(err.Error(), "authoritative: v2 cannot be authoritative in stage 1") {
		t.Errorf("set of a contradictory plan: got %v", err)
	}
	if _, _, err := runCLI(t, "set", bad, "--url", gw); err == nil || !strings.Contains(err.Error(), "reason: required") {
		t.Errorf("set without a reason: got %v", err)
	}

	// The JSON of status can be edited and set again; its revision makes
	// the set compare-and-set.
	out, _, err = runCLI(t, "status", "--url", gw, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	doc["shadow"] = false
	edited := filepath.Join(dir, "edited.json")
	b, _ := json.Marshal(doc)
	os.WriteFile(edited, b, 0o600)
	out, _, err = runCLI(t, "set", edited, "--url", gw, "--reason", "shadow off for a while", "--actor", "bob")
	if err != nil || !strings.Contains(out, "release plan set: revision 1") || !strings.Contains(out, "shadow         off") ||
		!strings.Contains(out, "by demo-admin/bob: shadow off for a while") {
		t.Errorf("set: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "set", edited, "--url", gw, "--reason", "again"); err == nil || !strings.Contains(err.Error(), "409 conflict") {
		t.Errorf("set of a stale plan: got %v, want 409", err)
	}

	out, _, err = runCLI(t, "backout", "--url", gw, "--reason", "v2 slow")
	if err != nil || !strings.Contains(out, "backout done: revision 2") || !strings.Contains(out, "v1 active, v2 paused") {
		t.Errorf("backout: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "backout", "--url", gw)
	if err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("second backout: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "promote", "--skip-delivered-by-v1", "--url", gw, "--reason", "v2 fixed")
	if err != nil || !strings.Contains(out, "v2 skips 0 message(s)") || !strings.Contains(out, "promote done: revision 3") {
		t.Errorf("promote: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "history", "--url", gw, "--limit", "2")
	if err != nil || strings.Count(out, "rev ") != 2 || !strings.Contains(out, "rev 3") || !strings.Contains(out, "promote") {
		t.Errorf("history: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "shadow", "--url", gw)
	if err != nil || !strings.Contains(out, "no shadow mismatches kept") {
		t.Errorf("shadow: %v\n%s", err, out)
	}

	// The token comes from the flag or the environment; a wrong one fails.
	var stdout, stderr bytes.Buffer
	env := func(k string) string {
		return map[string]string{"ERPGATE_URL": gw, "ERPGATE_ADMIN_TOKEN": "wrong"}[k]
	}
	err = run(context.Background(), []string{"gateway", "release", "status"}, env, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "401 unauthorized") {
		t.Errorf("wrong token from the environment: got %v", err)
	}
	if strings.Contains(stderr.String(), "demo admin token") {
		t.Error("warned about the demo token although a token was given")
	}
}

// TestReleaseCLIApprovals: a gated promotion through the CLI fails naming
// what is missing; `release approve` records approvals (who from the
// token and --actor); then the promotion passes and the history shows them.
func TestReleaseCLIApprovals(t *testing.T) {
	gw, _, _ := startRun(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "stage1.json")
	os.WriteFile(plan, []byte(`{"stage":1,"targets":{"v1":"active","v2":"paused"},"authoritative":"v1","cohorts":[],
	 "shadow":true,"auto_backout":{"enabled":false,"window":100,"min_sample":20,"failure_ratio":0.5,"mismatches":5},
	 "acceptance":{"stage2":1,"roles":["business"]}}`), 0o600)
	if _, _, err := runCLI(t, "set", plan, "--url", gw, "--reason", "stage 1, gated"); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "promote", "--url", gw, "--reason", "go")
	if err == nil || !strings.Contains(err.Error(), "409 approval_required") || !strings.Contains(err.Error(), "approvals.stage2: 0 of 1") ||
		!strings.Contains(err.Error(), "approvals.roles.business") {
		t.Fatalf("gated promote: got %v", err)
	}
	if _, _, err := runCLI(t, "approve", "--url", gw, "--role", "business"); err == nil || !strings.Contains(err.Error(), "comment: required") {
		t.Errorf("approve without comment: got %v", err)
	}
	if _, _, err := runCLI(t, "approve", "--url", gw, "--role", "business", "--comment", "x", "--revision", "0"); err == nil || !strings.Contains(err.Error(), "409 conflict") {
		t.Errorf("approve of a stale revision: got %v", err)
	}
	out, _, err := runCLI(t, "approve", "--url", gw, "--role", "business", "--comment", "pilot shops happy", "--actor", "carol", "--revision", "1")
	if err != nil || !strings.Contains(out, "approved revision 1 as business by demo-admin/carol") || !strings.Contains(out, "passes its gates") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "promote", "--url", gw, "--reason", "approved", "--version", "1.4.0")
	if err != nil || !strings.Contains(out, "release        1.4.0 live, back-out target (none)") || !strings.Contains(out, "gates          stage 2 needs 1") {
		t.Fatalf("approved promote: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "history", "--url", gw, "--limit", "3")
	if err != nil || !strings.Contains(out, "approve  by demo-admin/carol as business: pilot shops happy") || !strings.Contains(out, "approved by demo-admin/carol (business)") {
		t.Errorf("history: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "status", "--version", "1.0", "--url", gw); err == nil || !strings.Contains(err.Error(), "--version belongs to promote") {
		t.Errorf("--version on status: got %v", err)
	}
}
