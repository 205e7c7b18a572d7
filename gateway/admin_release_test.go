package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
)

type releaseEnv struct {
	srv *httptest.Server
	rel *store.Releases
	rdb redis.UniversalClient
}

// newReleaseEnv serves the gateway with the release admin API over the real
// store (the real test Redis when configured, miniredis otherwise).
func newReleaseEnv(t *testing.T) *releaseEnv {
	t.Helper()
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	now := func() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) }
	st := store.New(rdb, store.Options{Now: now, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	rel := st.Releases(store.ReleaseOptions{})
	if err := rel.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyring(DemoClients())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, Keyring: keys, Now: now, Release: rel})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &releaseEnv{srv: srv, rel: rel, rdb: rdb}
}

type adminResp struct {
	status int
	header http.Header
	body   map[string]any
}

const adminToken = "demo-admin-token"

func (e *releaseEnv) do(t *testing.T, method, path, token, body string, hdr ...string) adminResp {
	t.Helper()
	status, header, raw := sendRequest(t, http.DefaultClient, e.srv.URL, method, path, token, body, hdr...)
	r := adminResp{status: status, header: header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	return r
}

// planBody is a whole plan for PUT with the given edits spliced in.
func planBody(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	b, _ := json.Marshal(erp.DefaultReleasePlan())
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"revision", "actor", "changed_at"} {
		delete(m, k)
	}
	m["reason"] = "test change"
	if edit != nil {
		edit(m)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

func fields(body map[string]any) []string {
	var out []string
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m["field"].(string))
		}
	}
	return out
}

func TestReleaseAdminAuth(t *testing.T) {
	e := newReleaseEnv(t)
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"nope", 401}, {"demo-shop-key", 403}, {"demo-supplier-key-1", 403}, {adminToken, 200}} {
		if got := e.do(t, http.MethodGet, "/admin/release", c.token, "").status; got != c.want {
			t.Errorf("GET with %q: got %d, want %d", c.token, got, c.want)
		}
	}
	if r := e.do(t, http.MethodPost, "/admin/release/backout", "demo-shop-key", ""); r.status != 403 {
		t.Errorf("shop backout: got %d, want 403", r.status)
	}
	if p, _ := e.rel.Current(context.Background()); p.Revision != 0 {
		t.Error("a refused back-out changed the plan")
	}
}

func TestReleaseAdminGetDefault(t *testing.T) {
	e := newReleaseEnv(t)
	r := e.do(t, http.MethodGet, "/admin/release", adminToken, "")
	if r.status != 200 || r.body["revision"] != 0.0 || r.body["applied_revision"] != 0.0 || r.body["authoritative"] != "v2" || r.body["stage"] != 2.0 {
		t.Errorf("GET: got %d %v", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if tg, _ := r.body["targets"].(map[string]any); tg["v1"] != "active" || tg["v2"] != "active" {
		t.Errorf("targets: got %v", r.body["targets"])
	}
}

func TestReleaseAdminPut(t *testing.T) {
	e := newReleaseEnv(t)
	body := planBody(t, func(m map[string]any) {
		m["authoritative"] = "v1"
		m["cohorts"] = []any{map[string]any{"name": "pilot", "customers": []string{"C-1"}, "authoritative": "v2"}}
	})
	r := e.do(t, http.MethodPut, "/admin/release", adminToken, body, "Erpgate-Actor", "alice")
	if r.status != 200 {
		t.Fatalf("PUT: got %d %v", r.status, r.body)
	}
	if r.body["revision"] != 1.0 || r.body["applied_revision"] != 1.0 || r.body["actor"] != "demo-admin/alice" || r.body["reason"] != "test change" {
		t.Errorf("PUT answer: got %v", r.body)
	}
	p, _ := e.rel.Current(context.Background())
	if p.Revision != 1 || e.rel.Authoritative(relTestOrder("C-1")) != erp.V2 || e.rel.Authoritative(relTestOrder("C-2")) != erp.V1 {
		t.Errorf("stored plan: %+v", p)
	}

	// A plan read with GET, edited and sent back, is compare-and-set on the
	// revision it was read at.
	got := e.do(t, http.MethodGet, "/admin/release", adminToken, "")
	got.body["reason"] = "edit of revision 1"
	edited, _ := json.Marshal(got.body)
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, string(edited)); r.status != 200 || r.body["revision"] != 2.0 {
		t.Fatalf("PUT of an edited GET: got %d %v", r.status, r.body)
	}
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, string(edited)); r.status != 409 || r.body["code"] != "conflict" {
		t.Errorf("PUT of a stale GET: got %d %v, want 409", r.status, r.body)
	}
	stale := planBody(t, func(m map[string]any) { m["expected_revision"] = 1 })
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, stale); r.status != 409 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("stale expected_revision: got %d %v, want 409 problem+json", r.status, r.body)
	}
	fresh := planBody(t, func(m map[string]any) { m["expected_revision"] = 2 })
	if r := e.do(t, http.MethodPut, "/admin/release", adminToken, fresh); r.status != 200 || r.body["revision"] != 3.0 {
		t.Errorf("current expected_revision: got %d %v", r.status, r.body)
	}
}

func relTestOrder(customer string) *order.Order {
	return &order.Order{ShopID: "s", ExternalID: customer, Customer: order.Customer{ID: customer}}
}

// TestReleaseAdminPutRefusals: each bad PUT gets the right status and field
// paths, and writes nothing.
func TestReleaseAdminPutRefusals(t *testing.T) {
	e := newReleaseEnv(t)
	for _, c := range []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"no reason", planBody(t, func(m map[string]any) { delete(m, "reason") }), 400, []string{"reason"}},
		{"unknown field", planBody(t, func(m map[string]any) { m["colour"] = "red" }), 400, []string{"colour"}},
		{"unknown cohort field", planBody(t, func(m map[string]any) {
			m["cohorts"] = []any{map[string]any{"name": "a", "percent": 5, "authoritative": "v2", "size": 1}}
		}), 400, []string{"size"}},
		{"missing parts", `{"stage":2,"authoritative":"v2","reason":"x"}`, 400, []string{"shadow", "auto_backout", "targets"}},
		{"unknown target", planBody(t, func(m map[string]any) {
			m["targets"] = map[string]string{"v1": "active", "v2": "active", "v9": "paused"}
		}), 400, []string{"targets.v9"}},
		{"percent", planBody(t, func(m map[string]any) {
			m["cohorts"] = []any{map[string]any{"name": "a", "percent": 150, "authoritative": "v2"}}
		}), 400, []string{"cohorts[0].percent"}},
		{"authoritative paused", planBody(t, func(m map[string]any) { m["targets"] = map[string]string{"v1": "active", "v2": "paused"} }), 422, []string{"authoritative"}},
		{"v2 orders in stage 1", planBody(t, func(m map[string]any) { m["stage"] = 1; m["authoritative"] = "v1" }), 422, []string{"targets.v2"}},
		{"not JSON", `{"stage":`, 400, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, http.MethodPut, "/admin/release", adminToken, c.body)
			if r.status != c.status {
				t.Fatalf("got %d %v, want %d", r.status, r.body, c.status)
			}
			if got := fields(r.body); strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Errorf("fields: got %v, want %v", got, c.fields)
			}
			if r.body["detail"] == nil || r.body["detail"] == "" {
				t.Errorf("no detail: %v", r.body)
			}
		})
	}
	if p, _ := e.rel.Current(context.Background()); p.Revision != 0 {
		t.Errorf("refused PUTs changed the plan to revision %d", p.Revision)
	}
}

func TestReleaseAdminBackoutPromoteHistory(t *testing.T) {
	e := newReleaseEnv(t)
	r := e.do(t, http.MethodPost, "/admin/release/backout", adminToken, "")
	plan, _ := r.body["plan"].(map[string]any)
	if r.status != 200 || r.body["changed"] != true || plan["authoritative"] != "v1" || plan["reason"] != "back-out to v1 (no reason given)" {
		t.Fatalf("backout without a body: got %d %v", r.status, r.body)
	}
	if tg, _ := plan["targets"].(map[string]any); tg["v2"] != "paused" || tg["v1"] != "active" {
		t.Errorf("backout targets: got %v", plan["targets"])
	}
	if r := e.do(t, http.MethodPost, "/admin/release/backout", adminToken, `{"reason":"again"}`); r.status != 200 || r.body["changed"] != false {
		t.Errorf("second backout: got %d %v, want unchanged", r.status, r.body)
	}
	if r := e.do(t, http.MethodPost, "/admin/release/backout", adminToken, `{"skip_delivered_by_v1":true}`); r.status != 400 {
		t.Errorf("backout with a promote option: got %d, want 400", r.status)
	}
	if r := e.do(t, http.MethodPost, "/admin/release/backout", adminToken, `{"reasons":"x"}`); r.status != 400 {
		t.Errorf("backout with an unknown field: got %d, want 400", r.status)
	}
	r = e.do(t, http.MethodPost, "/admin/release/promote", adminToken, `{"reason":"v2 fixed","skip_delivered_by_v1":true}`)
	plan, _ = r.body["plan"].(map[string]any)
	skip, _ := r.body["skip"].(map[string]any)
	if r.status != 200 || r.body["changed"] != true || plan["authoritative"] != "v2" || plan["revision"] != 2.0 || skip == nil || skip["skipped"] != 0.0 {
		t.Errorf("promote: got %d %v", r.status, r.body)
	}

	h := e.do(t, http.MethodGet, "/admin/release/history", adminToken, "")
	changes, _ := h.body["changes"].([]any)
	if h.status != 200 || len(changes) != 2 {
		t.Fatalf("history: got %d %v", h.status, h.body)
	}
	first, _ := changes[0].(map[string]any)
	if first["revision"] != 2.0 || first["action"] != "promote" || first["actor"] != "demo-admin" || first["reason"] != "v2 fixed" {
		t.Errorf("newest change: got %v", first)
	}
	if h := e.do(t, http.MethodGet, "/admin/release/history?before=2&limit=5", adminToken, ""); len(h.body["changes"].([]any)) != 1 {
		t.Errorf("history before 2: got %v", h.body)
	}
	for _, q := range []string{"limit=0", "limit=x", "before=-1", "limit=1001"} {
		if r := e.do(t, http.MethodGet, "/admin/release/history?"+q, adminToken, ""); r.status != 400 {
			t.Errorf("history?%s: got %d, want 400", q, r.status)
		}
	}
}

func TestReleaseAdminShadowSample(t *testing.T) {
	e := newReleaseEnv(t)
	if r := e.do(t, http.MethodGet, "/admin/release/shadow", adminToken, ""); r.status != 200 || len(r.body["mismatches"].([]any)) != 0 {
		t.Errorf("empty sample: got %d %v", r.status, r.body)
	}
	for i := range 3 {
		m := erp.ShadowMismatch{OrderID: "ord_" + string(rune('a'+i)), Fields: []string{erp.FieldTotal},
			Answers: map[string]erp.ShadowAnswer{erp.V1: {State: erp.StateCreated}, erp.V2: {State: erp.StateCreated}}}
		if err := e.rel.AddMismatch(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	r := e.do(t, http.MethodGet, "/admin/release/shadow?limit=2", adminToken, "")
	ms, _ := r.body["mismatches"].([]any)
	if r.status != 200 || len(ms) != 2 || ms[0].(map[string]any)["order_id"] != "ord_c" {
		t.Errorf("sample: got %d %v", r.status, r.body)
	}
}
