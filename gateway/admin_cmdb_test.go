package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"erpgate"
	"erpgate/cmdb"
)

func newCMDBServer(t *testing.T, snap CMDBFunc) *releaseEnv {
	t.Helper()
	keys, err := NewKeyring(DemoClients())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: nullStore{}, Keyring: keys, CMDB: snap})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &releaseEnv{srv: srv}
}

func TestAdminCMDB(t *testing.T) {
	snap := func(ctx context.Context) (cmdb.Snapshot, error) {
		return cmdb.Collect(ctx, cmdb.Sources{
			Clients: func(context.Context) ([]cmdb.Client, error) { return []cmdb.Client{{ID: "webshop", Kind: "shop"}}, nil },
			Now:     func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		})
	}
	e := newCMDBServer(t, snap)
	r := e.do(t, http.MethodGet, "/admin/cmdb", adminToken, "")
	if items, _ := r.body["items"].([]any); r.status != 200 || len(items) != 2 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("json: got %d %v", r.status, r.body)
	}
	r = e.do(t, http.MethodGet, "/admin/cmdb?format=servicenow&source=ops-feed", adminToken, "")
	items, _ := r.body["items"].([]any)
	rels, _ := r.body["relations"].([]any)
	if r.status != 200 || len(items) != 2 || len(rels) != 1 {
		t.Fatalf("servicenow: got %d %v", r.status, r.body)
	}
	first, _ := items[0].(map[string]any)
	if first["className"] != "cmdb_ci_service" || first["sys_object_source_info"].(map[string]any)["source_name"] != "ops-feed" {
		t.Errorf("first item: got %v", first)
	}
	if rel, _ := rels[0].(map[string]any); rel["parent"] != 1.0 || rel["child"] != 0.0 || rel["type"] != "Depends on::Used by" {
		t.Errorf("relation: got %v", rels[0])
	}
	for _, c := range []struct {
		q      string
		fields []string
	}{
		{"format=xml", []string{"format"}},
		{"format=servicenow&source=%3Cscript%3E", []string{"source"}},
		{"source=x", []string{"source"}},
	} {
		if r := e.do(t, http.MethodGet, "/admin/cmdb?"+c.q, adminToken, ""); r.status != 400 || !slices.Equal(fields(r.body), c.fields) {
			t.Errorf("?%s: got %d %v, want 400 %v", c.q, r.status, r.body, c.fields)
		}
	}
	if r := e.do(t, http.MethodGet, "/admin/cmdb", "demo-shop-key", ""); r.status != 403 {
		t.Errorf("shop key: got %d, want 403", r.status)
	}
	down := newCMDBServer(t, func(context.Context) (cmdb.Snapshot, error) {
		return cmdb.Snapshot{}, erpgate.Wrap(erpgate.Unavailable, errors.New("x"), "cmdb unavailable")
	})
	if r := down.do(t, http.MethodGet, "/admin/cmdb", adminToken, ""); r.status != 503 || r.body["code"] != "unavailable" {
		t.Errorf("failing snapshot: got %d %v", r.status, r.body)
	}
}
