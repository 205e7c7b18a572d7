package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"erpgate/tracking"
)

func TestWebhookAdminAPI(t *testing.T) {
	e := newTrackEnv(t)
	const admin = "demo-admin-token"

	// Create: the answer is the one place the secret shows.
	r := e.do(t, http.MethodPost, "/admin/webhooks", admin, "application/json",
		`{"shop_id":"demo-shop","url":"https://backoffice.example/erpgate","types":["shipped","delivered"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s, want 201", r.status, r.raw)
	}
	var created tracking.Subscription
	if err := json.Unmarshal([]byte(r.raw), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.ID, "whs_") || !strings.HasPrefix(created.Secret, "whsec_") || created.Static ||
		r.header.Get("Location") != "/admin/webhooks/"+created.ID || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("created = %+v (Location %q), want a generated id and secret, its Location, no-store", created, r.header.Get("Location"))
	}
	// With a chosen id and secret; the same id again is a conflict.
	r = e.do(t, http.MethodPost, "/admin/webhooks", admin, "application/json",
		`{"id":"erp-sync","shop_id":"demo-shop","url":"https://erp-sync.example/in","secret":"a-secret-of-24-bytes-ok"}`)
	if r.status != http.StatusCreated || r.body["secret"] != "a-secret-of-24-bytes-ok" {
		t.Errorf("POST with id = %d %s", r.status, r.raw)
	}
	if r := e.do(t, http.MethodPost, "/admin/webhooks", admin, "application/json",
		`{"id":"erp-sync","shop_id":"demo-shop","url":"https://other.example/"}`); r.status != http.StatusConflict {
		t.Errorf("POST with a taken id = %d, want 409", r.status)
	}

	// List: config file and API subscriptions, no secrets.
	r = e.do(t, http.MethodGet, "/admin/webhooks", admin, "", "")
	if r.status != http.StatusOK || strings.Contains(r.raw, "secret") {
		t.Fatalf("GET = %d %s, want 200 without any secret", r.status, r.raw)
	}
	var list struct {
		Webhooks []tracking.Subscription `json:"webhooks"`
		Backlog  int64                   `json:"backlog"`
	}
	if err := json.Unmarshal([]byte(r.raw), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list.Webhooks {
		ids = append(ids, s.ID)
	}
	if want := []string{"erp-sync", "from-config", created.ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", ids, want)
	}

	// Delete: API subscriptions only.
	if r := e.do(t, http.MethodDelete, "/admin/webhooks/"+created.ID, admin, "", ""); r.status != http.StatusNoContent {
		t.Errorf("DELETE = %d %s, want 204", r.status, r.raw)
	}
	if r := e.do(t, http.MethodDelete, "/admin/webhooks/"+created.ID, admin, "", ""); r.status != http.StatusNotFound {
		t.Errorf("DELETE again = %d, want 404", r.status)
	}
	if r := e.do(t, http.MethodDelete, "/admin/webhooks/from-config", admin, "", ""); r.status != http.StatusForbidden {
		t.Errorf("DELETE of the config file's subscription = %d %s, want 403", r.status, r.raw)
	}

	r = e.do(t, http.MethodGet, "/admin/webhooks/dead-letters?limit=5", admin, "", "")
	if r.status != http.StatusOK || !strings.Contains(r.raw, `"dead_letters":[]`) {
		t.Errorf("dead letters = %d %s, want an empty list", r.status, r.raw)
	}
	r = e.do(t, http.MethodGet, "/admin/webhooks/dead-letters/actions", admin, "", "")
	if r.status != http.StatusOK || !strings.Contains(r.raw, `"actions":[]`) {
		t.Errorf("dead-letter actions = %d %s, want an empty list", r.status, r.raw)
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/admin/webhooks/dead-letters/1-0", ""},
		{http.MethodPost, "/admin/webhooks/dead-letters/1-0/replay", `{"reason":"receiver fixed"}`},
		{http.MethodDelete, "/admin/webhooks/dead-letters/1-0?reason=gone", ""},
	} {
		ct := ""
		if c.body != "" {
			ct = "application/json"
		}
		if r := e.do(t, c.method, c.path, admin, ct, c.body); r.status != http.StatusNotFound || r.body["code"] != "not_found" {
			t.Errorf("%s %s = %d %s, want 404 not_found", c.method, c.path, r.status, r.raw)
		}
	}
	if r := e.do(t, http.MethodPost, "/admin/webhooks/dead-letters/1-0/replay", admin, "application/json", `{"target":"v1"}`); r.status != http.StatusBadRequest {
		t.Errorf("webhook replay with a target = %d %s, want 400", r.status, r.raw)
	}
}

func TestWebhookAdminRefusals(t *testing.T) {
	e := newTrackEnv(t)
	for _, c := range []struct {
		name, method, path, key, body string
		want                          int
	}{
		{"no token", http.MethodGet, "/admin/webhooks", "", "", 401},
		{"a shop's key", http.MethodGet, "/admin/webhooks", "demo-shop-key", "", 403},
		{"a shop creating", http.MethodPost, "/admin/webhooks", "demo-shop-key", `{"shop_id":"demo-shop","url":"https://x.example/"}`, 403},
		{"no url", http.MethodPost, "/admin/webhooks", "demo-admin-token", `{"shop_id":"demo-shop"}`, 400},
		{"not http", http.MethodPost, "/admin/webhooks", "demo-admin-token", `{"shop_id":"demo-shop","url":"ftp://x.example/"}`, 400},
		{"short secret", http.MethodPost, "/admin/webhooks", "demo-admin-token", `{"shop_id":"demo-shop","url":"https://x.example/","secret":"short"}`, 400},
		{"static is not settable", http.MethodPost, "/admin/webhooks", "demo-admin-token", `{"shop_id":"demo-shop","url":"https://x.example/","static":true}`, 400},
		{"bad limit", http.MethodGet, "/admin/webhooks/dead-letters?limit=0", "demo-admin-token", "", 400},
	} {
		ct := ""
		if c.body != "" {
			ct = "application/json"
		}
		if r := e.do(t, c.method, c.path, c.key, ct, c.body); r.status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.want)
		}
	}
}
