package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"erpgate/cmdb"
	"erpgate/gateway"
)

// Secrets of the test configuration: none may appear in a manifest, the
// CMDB or its export.
const (
	testShopKey       = "shop-key-9b1c6c0f-never-shown"
	testSupplierHMAC  = "supplier-hmac-secret-never-shown"
	testWebhookSecret = "whsec_webhook-secret-never-shown"
	testWebhookToken  = "hook-query-token-never-shown"
	testRedisPassword = "redis-password-never-shown"
	testAdminToken    = "admin-token-never-shown"
)

func writeTestConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := map[string]any{
		"clients": []map[string]any{
			{"id": "webshop", "kind": "shop", "key_sha256": gateway.HashKey(testShopKey)},
			{"id": "ops", "kind": "admin", "key_sha256": gateway.HashKey(testAdminToken)},
			{"id": "acme", "kind": "supplier", "supplier_id": "SUP-1", "key_sha256": gateway.HashKey("acme-key"), "hmac_secret": testSupplierHMAC},
		},
		"webhooks": []map[string]any{
			{"id": "backoffice", "shop_id": "webshop", "url": "https://backoffice.example/hooks?token=" + testWebhookToken, "secret": testWebhookSecret},
		},
	}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "erpgate.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func secretsIn(s string) []string {
	var found []string
	for _, secret := range []string{testShopKey, gateway.HashKey(testShopKey), testAdminToken, gateway.HashKey(testAdminToken),
		gateway.HashKey("acme-key"), testSupplierHMAC, testWebhookSecret, testWebhookToken, testRedisPassword} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

// TestManifestSignVerifyThroughCLI: keygen, manifest and verify through
// run(); a tampered dashboard, a tampered manifest and the wrong key are
// each named as a mismatch and fail the command.
func TestManifestSignVerifyThroughCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTestConfig(t, dir)
	key := filepath.Join(dir, "release.key")
	if out, _, err := runCLI(t, "keygen", "--out", key); err != nil || !strings.Contains(out, "key id") {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "keygen", "--out", key); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode: %v %v, want 0600", st.Mode(), err)
	}
	// The test binary has no commit (CI builds with -buildvcs=false): the
	// manifest says so only when told to.
	m := filepath.Join(dir, "manifest.json")
	if _, _, err := runCLI(t, "manifest", "--signing-key", key, "--out", m, "--config", cfg, "--ops-dir", "../../ops"); err == nil ||
		!strings.Contains(err.Error(), "does not know its commit") {
		t.Fatalf("manifest of an unstamped build: got %v, want a refusal", err)
	}
	if _, _, err := runCLI(t, "manifest", "--out", m); err == nil || !strings.Contains(err.Error(), "--signing-key FILE is required") {
		t.Errorf("manifest without key: got %v", err)
	}
	if _, _, err := runCLI(t, "manifest", "--signing-key", key, "--out", m, "--config", cfg, "--ops-dir", "../../ops", "--allow-unknown-commit"); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(m)
	for _, want := range []string{`"commit": "unknown"`, `"name": "gateway"`, `"ops/grafana/erpgate.json"`, `"ops/prometheus/alerts.yml"`,
		`"soap/orderws/orderservice.wsdl"`, `"soap/erpv1ws/erpv1.wsdl"`, `"soap/erpv2ws/erpv2.wsdl"`, `"clients-and-webhooks"`, `"ed25519"`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("manifest lacks %s:\n%s", want, doc)
		}
	}
	if strings.Contains(string(doc), "alerts_test.yml") {
		t.Error("the alert rules' unit tests are listed as alert rules")
	}
	if s := secretsIn(string(doc)); s != nil {
		t.Errorf("manifest carries secrets %v", s)
	}

	out, _, err := runCLI(t, "verify", m, "--public-key", key+".pub", "--config", cfg, "--ops-dir", "../../ops")
	if err != nil || !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify of what was just made: %v\n%s", err, out)
	}

	// A changed dashboard on disk.
	ops := filepath.Join(dir, "ops")
	for _, sub := range []string{"grafana", "prometheus"} {
		os.MkdirAll(filepath.Join(ops, sub), 0o755)
	}
	dash, _ := os.ReadFile("../../ops/grafana/erpgate.json")
	os.WriteFile(filepath.Join(ops, "grafana", "erpgate.json"), append(dash, ' '), 0o644)
	alerts, _ := os.ReadFile("../../ops/prometheus/alerts.yml")
	os.WriteFile(filepath.Join(ops, "prometheus", "alerts.yml"), alerts, 0o644)
	out, _, err = runCLI(t, "verify", m, "--public-key", key+".pub", "--config", cfg, "--ops-dir", ops)
	if err == nil || !strings.Contains(out, "MISMATCH dashboard ops/grafana/erpgate.json: sha256") || strings.Count(out, "MISMATCH") != 1 {
		t.Errorf("verify with a changed dashboard: %v\n%s", err, out)
	}
	// Another configuration (a client more), and a missing alert file.
	os.Remove(filepath.Join(ops, "prometheus", "alerts.yml"))
	out, _, err = runCLI(t, "verify", m, "--public-key", key+".pub", "--ops-dir", ops)
	if err == nil || !strings.Contains(out, "MISMATCH config clients-and-webhooks") || !strings.Contains(out, "MISMATCH alerts ops/prometheus/alerts.yml: missing") {
		t.Errorf("verify with the demo config and no alert rules: %v\n%s", err, out)
	}

	// A tampered manifest: the digest of the binary edited by hand.
	var mdoc map[string]any
	json.Unmarshal(doc, &mdoc)
	mdoc["version"] = "9.9.9"
	tb, _ := json.Marshal(mdoc)
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, tb, 0o644)
	out, _, err = runCLI(t, "verify", tampered, "--public-key", key+".pub", "--config", cfg, "--ops-dir", "../../ops")
	if err == nil || !strings.Contains(out, "MISMATCH signature") || !strings.Contains(out, "MISMATCH build version: this binary is dev, manifest says 9.9.9") {
		t.Errorf("verify of a tampered manifest: %v\n%s", err, out)
	}
	// Signed by another key than the trusted one.
	other := filepath.Join(dir, "other.key")
	runCLI(t, "keygen", "--out", other)
	out, _, err = runCLI(t, "verify", m, "--public-key", other+".pub", "--config", cfg, "--ops-dir", "../../ops")
	if err == nil || !strings.Contains(out, "MISMATCH signature") || !strings.Contains(out, "not by the trusted key") {
		t.Errorf("verify against another key: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "verify", filepath.Join(dir, "nope.json")); err == nil {
		t.Error("verify of a missing file passed")
	}
	if _, _, err := runCLI(t, "verify", key+".pub"); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("verify of a non-manifest: got %v", err)
	}
}

// TestReleaseLibraryAndCMDBThroughRun: an instance started with its
// manifest registers it; verify --running agrees; the manifest goes into
// the library; the CMDB lists the instance, Redis, ERP v1 and v2, clients,
// webhooks and the release — in its own JSON, as ServiceNow's IRE payload
// and through `cmdb export` — and no secret of the configuration, the
// webhook or the Redis URL appears in any of them.
func TestReleaseLibraryAndCMDBThroughRun(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTestConfig(t, dir)
	key := filepath.Join(dir, "release.key")
	m := filepath.Join(dir, "manifest.json")
	if _, _, err := runCLI(t, "keygen", "--out", key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "manifest", "--signing-key", key, "--out", m, "--config", cfg, "--ops-dir", "../../ops", "--allow-unknown-commit"); err != nil {
		t.Fatal(err)
	}
	mr := miniredis.NewMiniRedis()
	mr.RequireAuth(testRedisPassword)
	if err := mr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mr.Close)
	gw, _, _ := startRun(t, "--config", cfg, "--manifest", m, "--release-public-key", key+".pub", "--instance-id", "gw-test-1",
		"--redis-url", "redis://:"+testRedisPassword+"@"+mr.Addr()+"/0", "--allow-volatile-redis")

	out, _, err := runCLI(t, "verify", m, "--running", "--url", gw, "--token", testAdminToken, "--config", cfg, "--ops-dir", "../../ops")
	if err != nil || !strings.HasPrefix(out, "OK ") {
		t.Fatalf("verify --running: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "publish", m, "--url", gw, "--token", testAdminToken)
	if err != nil || !strings.Contains(out, "stored version dev") {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, "library", "--url", gw, "--token", testAdminToken)
	if err != nil || !strings.Contains(out, "dev ") || !strings.Contains(out, "by ops") {
		t.Errorf("library: %v\n%s", err, out)
	}

	var snap struct {
		Items []struct {
			Class, Name string
			Values      map[string]string
		}
		Relations []any
	}
	raw := getRaw(t, gw+"/admin/cmdb", testAdminToken)
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	classes := map[string]int{}
	for _, it := range snap.Items {
		classes[it.Class]++
		if it.Class == "redis" && it.Name != "Redis redis://"+mr.Addr()+"/0" {
			t.Errorf("redis item: got %q, want the URL without its password", it.Name)
		}
		if it.Class == "gateway_instance" && (it.Values["u_manifest_sha256"] == "" || it.Name != "erpgate gw-test-1") {
			t.Errorf("instance item: got %+v, want gw-test-1 with its manifest digest", it)
		}
	}
	for c, n := range map[string]int{"service": 1, "gateway_instance": 1, "redis": 1, "erp_interface": 2, "client_application": 3, "webhook_endpoint": 1, "release": 1} {
		if classes[c] != n {
			t.Errorf("class %s: %d items, want %d (%s)", c, classes[c], n, raw)
		}
	}
	if s := secretsIn(string(raw)); s != nil {
		t.Errorf("GET /admin/cmdb carries secrets %v", s)
	}
	sn := getRaw(t, gw+"/admin/cmdb?format=servicenow", testAdminToken)
	if s := secretsIn(string(sn)); s != nil {
		t.Errorf("the ServiceNow payload carries secrets %v", s)
	}
	export := filepath.Join(dir, "cmdb.json")
	var stdout, stderr strings.Builder
	env := func(k string) string {
		return map[string]string{"ERPGATE_URL": gw, "ERPGATE_ADMIN_TOKEN": testAdminToken}[k]
	}
	if err := run(t.Context(), []string{"gateway", "cmdb", "export", "--out", export}, env, &stdout, &stderr); err != nil {
		t.Fatalf("cmdb export: %v %s", err, stderr.String())
	}
	file, _ := os.ReadFile(export)
	var ire cmdb.IRE // its JSON shape is checked in the cmdb package
	if err := json.Unmarshal(file, &ire); err != nil || len(ire.Items) != len(snap.Items) || len(ire.Relations) != len(snap.Relations) {
		t.Fatalf("export: %v, %d items %d relations, want %d and %d", err, len(ire.Items), len(ire.Relations), len(snap.Items), len(snap.Relations))
	}
	for _, r := range ire.Relations {
		if r.Type != "Depends on::Used by" || r.Parent < 0 || r.Parent >= len(ire.Items) || r.Child < 0 || r.Child >= len(ire.Items) {
			t.Errorf("relation %+v", r)
		}
	}
	if ire.Items[0].ClassName != "cmdb_ci_service" || ire.Items[0].SourceInfo.SourceNativeKey != "service:erpgate" {
		t.Errorf("first item: %+v", ire.Items[0])
	}
	if s := secretsIn(string(file)); s != nil {
		t.Errorf("the export carries secrets %v", s)
	}
	if err := run(t.Context(), []string{"gateway", "cmdb", "export"}, env, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--out FILE is required") {
		t.Errorf("export without --out: got %v", err)
	}
}

func getRaw(t *testing.T, url, key string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}
