package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"erpgate/manifest"
)

// TestReleaseAdminApprovalGate: a promotion that lacks approvals is a 409
// approval_required naming what is missing; approvals recorded through the
// API (who = the admin client and Erpgate-Actor) let it pass and appear in
// the history; bad approvals get specific problems.
func TestReleaseAdminApprovalGate(t *testing.T) {
	e := newReleaseEnv(t)
	stage1 := planBody(t, func(m map[string]any) {
		m["stage"] = 1
		m["targets"] = map[string]any{"v1": "active", "v2": "paused"}
		m["authoritative"] = "v1"
		m["acceptance"] = map[string]any{"stage2": 2, "widening": 1, "roles": []string{"business"}}
	})
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, stage1); r.status != 200 {
		t.Fatalf("stage 1 plan: got %d %v", r.status, r.body)
	}
	r := e.do(t, http.MethodPost, "/admin/release/promote", adminToken, `{"reason":"go"}`)
	if r.status != 409 || r.body["code"] != "approval_required" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("promote without approvals: got %d %v", r.status, r.body)
	}
	if got, want := fields(r.body), []string{"approvals.stage2", "approvals.widening", "approvals.roles.business"}; !slices.Equal(got, want) {
		t.Errorf("missing: got %v, want %v", got, want)
	}

	for _, c := range []struct {
		body   string
		status int
		fields []string
	}{
		{`{}`, 400, []string{"role", "comment"}},
		{`{"role":"Business Owner","comment":"ok"}`, 400, []string{"role"}},
		{`{"role":"ops","comment":"` + strings.Repeat("x", 501) + `"}`, 400, []string{"comment"}},
		{`{"role":"ops","comment":"ok","revision":0}`, 409, []string{"revision"}},
		{`{"role":"ops","comment":"ok","extra":1}`, 400, nil},
	} {
		r := e.do(t, http.MethodPost, "/admin/release/approvals", adminToken, c.body)
		if r.status != c.status || (c.fields != nil && !slices.Equal(fields(r.body), c.fields)) {
			t.Errorf("approve %s: got %d %v, want %d %v", c.body, r.status, fields(r.body), c.status, c.fields)
		}
	}
	if r := e.do(t, http.MethodPost, "/admin/release/approvals", "demo-shop-key", `{"role":"ops","comment":"ok"}`); r.status != 403 {
		t.Errorf("approval with a shop key: got %d, want 403", r.status)
	}

	r = e.do(t, http.MethodPost, "/admin/release/approvals", adminToken, `{"role":"business","comment":"pilot shops happy","revision":1}`, "Erpgate-Actor", "carol")
	if r.status != 201 || r.body["actor"] != "demo-admin/carol" || r.body["revision"] != 1.0 || r.body["role"] != "business" {
		t.Fatalf("approve: got %d %v", r.status, r.body)
	}
	if r := e.do(t, http.MethodPost, "/admin/release/approvals", adminToken, `{"role":"ops","comment":"again"}`, "Erpgate-Actor", "carol"); r.status != 409 {
		t.Errorf("second approval by carol: got %d, want 409", r.status)
	}
	l := e.do(t, http.MethodGet, "/admin/release/approvals", adminToken, "")
	if as, _ := l.body["approvals"].([]any); l.status != 200 || len(as) != 1 || l.body["current"] != true {
		t.Errorf("list: got %d %v", l.status, l.body)
	}
	if got := fields(map[string]any{"errors": l.body["promote_missing"]}); !slices.Equal(got, []string{"approvals.stage2"}) {
		t.Errorf("promote_missing: got %v, want approvals.stage2", got)
	}
	if r := e.do(t, http.MethodPost, "/admin/release/approvals", adminToken, `{"role":"ops","comment":"ran the checks"}`, "Erpgate-Actor", "dave"); r.status != 201 {
		t.Fatalf("second approver: got %d %v", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, "/admin/release/promote", adminToken, `{"reason":"approved"}`)
	if r.status != 200 || r.body["changed"] != true {
		t.Fatalf("approved promote: got %d %v", r.status, r.body)
	}
	h := e.do(t, http.MethodGet, "/admin/release/history", adminToken, "")
	changes, _ := h.body["changes"].([]any)
	if len(changes) != 4 {
		t.Fatalf("history: got %v", h.body)
	}
	promote, _ := changes[0].(map[string]any)
	approve, _ := changes[1].(map[string]any)
	if as, _ := promote["approvals"].([]any); promote["action"] != "promote" || len(as) != 2 {
		t.Errorf("promote entry: got %v", promote)
	}
	if approve["action"] != "approve" || approve["actor"] != "demo-admin/dave" || approve["approval"] == nil {
		t.Errorf("approve entry: got %v", approve)
	}
	if r := e.do(t, http.MethodGet, "/admin/release/approvals?revision=x", adminToken, ""); r.status != 400 || !slices.Equal(fields(r.body), []string{"revision"}) {
		t.Errorf("?revision=x: got %d %v", r.status, r.body)
	}
}

// TestReleaseAdminPutKeepsOmittedGates: a PUT without acceptance (a client
// that does not know it) keeps the gates in force instead of dropping them.
func TestReleaseAdminPutKeepsOmittedGates(t *testing.T) {
	e := newReleaseEnv(t)
	gated := planBody(t, func(m map[string]any) {
		m["acceptance"] = map[string]any{"widening": 3}
		m["live"] = "1.0.0"
	})
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, gated); r.status != 200 {
		t.Fatalf("gated plan: got %d %v", r.status, r.body)
	}
	old := planBody(t, func(m map[string]any) { delete(m, "acceptance"); m["shadow"] = false })
	r := e.do(t, http.MethodPut, "/admin/release", adminToken, old)
	acc, _ := r.body["acceptance"].(map[string]any)
	if r.status != 200 || acc["widening"] != 3.0 || r.body["live"] != "1.0.0" {
		t.Errorf("PUT without acceptance: got %d %v", r.status, r.body)
	}
	bad := planBody(t, func(m map[string]any) { m["acceptance"] = map[string]any{"stage2": 99}; m["live"] = "no spaces" })
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, bad); r.status != 400 || !slices.Equal(fields(r.body), []string{"acceptance.stage2", "live"}) {
		t.Errorf("bad acceptance: got %d %v", r.status, r.body)
	}
}

func signedTestManifest(t *testing.T, version string, priv ed25519.PrivateKey) manifest.Manifest {
	t.Helper()
	m := manifest.Manifest{Schema: manifest.Schema, Version: version, Commit: "0123abcd", GoVersion: "go1.26",
		CreatedAt: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC),
		Artifacts: []manifest.Artifact{{Kind: manifest.KindBinary, Name: "gateway", SHA256: manifest.Sum([]byte(version))}}}
	if err := m.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReleaseAdminManifestLibrary: signed manifests go into the library;
// a tampered or unsigned one is refused naming the signature; the library
// says which version is live and which is the back-out target; a
// promotion to a version under require_manifest needs its manifest.
func TestReleaseAdminManifestLibrary(t *testing.T) {
	e := newReleaseEnv(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	put := func(m manifest.Manifest) adminResp {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return e.do(t, http.MethodPut, "/admin/release/manifests", adminToken, string(b))
	}
	if r := put(signedTestManifest(t, "1.3.0", priv)); r.status != 201 || r.body["created"] != true {
		t.Fatalf("put 1.3.0: got %d %v", r.status, r.body)
	}
	if r := put(signedTestManifest(t, "1.3.0", priv)); r.status != 200 || r.body["created"] != false {
		t.Errorf("same again: got %d %v", r.status, r.body)
	}
	tampered := signedTestManifest(t, "1.4.0", priv)
	tampered.Commit = "deadbeef"
	if r := put(tampered); r.status != 422 || !slices.Equal(fields(r.body), []string{"signature"}) {
		t.Errorf("tampered: got %d %v", r.status, r.body)
	}
	unsigned := signedTestManifest(t, "1.4.0", priv)
	unsigned.Signature = nil
	if r := put(unsigned); r.status != 422 {
		t.Errorf("unsigned: got %d %v", r.status, r.body)
	}
	if r := e.do(t, http.MethodPut, "/admin/release/manifests", adminToken, `{"schema":"x"}`); r.status != 400 || r.body["code"] != "invalid" {
		t.Errorf("malformed: got %d %v", r.status, r.body)
	}

	gate := planBody(t, func(m map[string]any) {
		m["live"] = "1.3.0"
		m["acceptance"] = map[string]any{"require_manifest": true}
	})
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, gate); r.status != 200 {
		t.Fatalf("plan with 1.3.0 live: got %d %v", r.status, r.body)
	}
	r := e.do(t, http.MethodPost, "/admin/release/promote", adminToken, `{"reason":"1.4.0","version":"1.4.0"}`)
	if r.status != 409 || r.body["code"] != "manifest_required" || !slices.Equal(fields(r.body), []string{"live"}) {
		t.Fatalf("promote to 1.4.0 without manifest: got %d %v", r.status, r.body)
	}
	if r := put(signedTestManifest(t, "1.4.0", priv)); r.status != 201 {
		t.Fatalf("put 1.4.0: got %d %v", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, "/admin/release/promote", adminToken, `{"reason":"1.4.0","version":"1.4.0"}`)
	if plan, _ := r.body["plan"].(map[string]any); r.status != 200 || plan["live"] != "1.4.0" || plan["backout_target"] != "1.3.0" {
		t.Fatalf("promote to 1.4.0: got %d %v", r.status, r.body)
	}
	lib := e.do(t, http.MethodGet, "/admin/release/manifests", adminToken, "")
	rs, _ := lib.body["releases"].([]any)
	if lib.status != 200 || len(rs) != 2 || lib.body["live"] != "1.4.0" || lib.body["backout_target"] != "1.3.0" {
		t.Fatalf("library: got %d %v", lib.status, lib.body)
	}
	for _, x := range rs {
		m := x.(map[string]any)
		if (m["version"] == "1.4.0") != (m["live"] == true) || (m["version"] == "1.3.0") != (m["backout_target"] == true) {
			t.Errorf("library entry: got %v", m)
		}
	}
	if r := e.do(t, http.MethodGet, "/admin/release/manifests/1.4.0", adminToken, ""); r.status != 200 || r.body["digest"] == nil {
		t.Errorf("get 1.4.0: got %d %v", r.status, r.body)
	}
	if r := e.do(t, http.MethodGet, "/admin/release/manifests/9.9", adminToken, ""); r.status != 404 {
		t.Errorf("get 9.9: got %d", r.status)
	}
	if r := e.do(t, http.MethodGet, "/admin/release/manifests/a%20b", adminToken, ""); r.status != 400 {
		t.Errorf("get a bad version: got %d", r.status)
	}
	if r := e.do(t, http.MethodPost, "/admin/release/backout", adminToken, `{"version":"1.3.0"}`); r.status != 400 {
		t.Errorf("backout with version: got %d", r.status)
	}
}

// TestReleaseAdminManifestTrustedKey: with a ManifestKey configured, a
// manifest whose signature holds under another key is refused.
func TestReleaseAdminManifestTrustedKey(t *testing.T) {
	e := newReleaseEnv(t)
	trusted, tpriv, _ := ed25519.GenerateKey(rand.Reader)
	_, opriv, _ := ed25519.GenerateKey(rand.Reader)
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{Store: nullStore{}, Keyring: keys, Release: e.rel, ManifestKey: trusted})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = s
	for _, c := range []struct {
		priv ed25519.PrivateKey
		want int
	}{{opriv, 422}, {tpriv, 201}} {
		b, _ := signedTestManifest(t, "2.0.0", c.priv).Marshal()
		if r := e.do(t, http.MethodPut, "/admin/release/manifests", adminToken, string(b)); r.status != c.want {
			t.Errorf("got %d %v, want %d", r.status, r.body, c.want)
		}
	}
}
