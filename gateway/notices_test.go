package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/feedback"
	"erpgate/internal/redistest"
	"erpgate/notice"
	"erpgate/store"
)

// noticeEnv serves the gateway with notices, feedback and the FAQ over the
// real store (the real test Redis when configured, miniredis otherwise), on
// a clock the test moves.
type noticeEnv struct {
	gw    *Server
	srv   *httptest.Server
	clock atomic.Int64 // unix nanoseconds
	reg   *prometheus.Registry
	mu    sync.Mutex
	told  []string // "kind:id" announced to shops
}

// noticeOpt adds to the gateway's configuration (rdb is the env's Redis).
type noticeOpt func(t *testing.T, cfg *Config, rdb redis.UniversalClient)

func newNoticeEnv(t *testing.T, opts ...noticeOpt) *noticeEnv {
	t.Helper()
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	e := &noticeEnv{reg: prometheus.NewRegistry()}
	e.clock.Store(soapNow.UnixNano())
	now := func() time.Time { return time.Unix(0, e.clock.Load()).UTC() }
	st := store.New(rdb, store.Options{Now: now, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	board := notice.NewBoard(notice.BoardConfig{Source: st.Notices(), Now: now})
	svc := notice.NewService(st.Notices(), board, func(_ context.Context, kind string, n notice.Notice) error {
		e.mu.Lock()
		e.told = append(e.told, kind+":"+n.ID)
		e.mu.Unlock()
		return nil
	})
	pilot := 100
	view := erp.NewPlanView(erp.ReleasePlan{Revision: 4, Stage: erp.Stage2, Authoritative: erp.V1,
		Targets: map[string]string{erp.V1: erp.TargetActive, erp.V2: erp.TargetActive},
		Cohorts: []erp.Cohort{{Name: "pilot", Percent: &pilot, Authoritative: erp.V2}}})
	fb := feedback.NewService(st.Feedback(), func() feedback.Plan { return view }, now)
	clients := append(DemoClients(), Client{ID: "other-shop", Kind: KindShop, KeySHA256: HashKey("other-shop-key")})
	keys, err := NewKeyring(clients)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Keyring: keys, Now: now, PublicURL: "https://gw.example", Registerer: e.reg, Gatherer: e.reg,
		Notices: svc, Feedback: fb, FAQ: st.FAQ()}
	for _, o := range opts {
		o(t, &cfg, rdb)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw, e.srv = s, httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *noticeEnv) now() time.Time { return time.Unix(0, e.clock.Load()).UTC() }

func (e *noticeEnv) announced() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.told, " ")
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

// problemFields returns the fields of a problem+json answer's errors.
func (r reply) problemFields(t *testing.T) string {
	t.Helper()
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem: %s", r.body)
	}
	var fs []string
	for _, e := range p.Errors {
		fs = append(fs, e.Field)
	}
	return p.Code + ":" + strings.Join(fs, ",")
}

// do sends a request; hdr is pairs of header name and value.
func (e *noticeEnv) do(t *testing.T, method, path, token, body string, hdr ...string) reply {
	t.Helper()
	status, header, b := sendRequest(t, e.srv.Client(), e.srv.URL, method, path, token, body, hdr...)
	return reply{status: status, header: header, body: b}
}

func noticeBody(start, end time.Time, paused bool) string {
	return `{"start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `",` +
		`"messages":{"en":"ERP upgrade on Saturday","de":"ERP-Update am Samstag"},` +
		`"audiences":["customers","shops"],"intake_paused":` + strconv.FormatBool(paused) + `}`
}

// restOrder is a valid POST /v1/orders body on the soapNow clock.
func restOrder(ext string) string {
	return `{"external_id":"` + ext + `","customer":{"id":"C-42","name":"Ann","email":"ann@example.com"},` +
		`"shipping_address":{"name":"Ann","line1":"Hauptstraße 1","city":"Berlin","postal_code":"10115","country":"DE"},` +
		`"currency":"EUR","lines":[{"sku":"SKU-1001","quantity":2,"unit_price":"24.90"}],"shipping":{"method":"standard","price":"4.95"}}`
}

// TestNoticeLifecycle walks a notice through its life: refused when
// malformed, scheduled (webhook), listed publicly before its window without
// a header, then — in the window — named by Erpgate-Notice on every answer
// while intake answers 503 with Retry-After (REST) and a Server fault
// (SOAP); switched to intake open (webhook updated) orders are accepted
// with the header; deleted (webhook cancelled) the header is gone.
func TestNoticeLifecycle(t *testing.T) {
	e := newNoticeEnv(t)
	start, end := e.now().Add(2*time.Hour), e.now().Add(3*time.Hour)

	r := e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", "", noticeBody(start, end, true))
	if r.status != http.StatusUnauthorized {
		t.Errorf("PUT without a token = %d", r.status)
	}
	r = e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", adminToken,
		`{"start":"tomorrow","end":"`+start.Format(time.RFC3339)+`","messages":{"en":"x"},"audiences":["everyone"]}`)
	if got := r.problemFields(t); r.status != http.StatusBadRequest || got != "invalid:start,intake_paused,messages.de,audiences[0]" {
		t.Errorf("bad notice = %d %s", r.status, got)
	}
	if r = e.do(t, http.MethodPut, "/admin/notices/bad%20id", adminToken, noticeBody(start, end, true)); r.status != http.StatusBadRequest {
		t.Errorf("bad id = %d", r.status)
	}
	r = e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", adminToken, noticeBody(start, end, true))
	if r.status != http.StatusCreated || r.json(t)["revision"] != 1.0 || r.json(t)["actor"] != "demo-admin" {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodGet, "/v1/notices?audience=customers&lang=de", "", "")
	ns := r.json(t)["notices"].([]any)
	if r.status != 200 || len(ns) != 1 || ns[0].(map[string]any)["message"] != "ERP-Update am Samstag" || ns[0].(map[string]any)["active"] != false {
		t.Errorf("public list = %d %s", r.status, r.body)
	}
	if r.header.Get(HeaderNotice) != "" {
		t.Errorf("Erpgate-Notice before the window: %q", r.header.Get(HeaderNotice))
	}
	if r = e.do(t, http.MethodGet, "/v1/notices?audience=robots", "", ""); r.problemFields(t) != "invalid:audience" {
		t.Errorf("bad audience = %s", r.body)
	}
	if r = e.do(t, http.MethodGet, "/v1/notices?audience=suppliers", "", ""); len(r.json(t)["notices"].([]any)) != 0 {
		t.Errorf("suppliers see a notice not meant for them: %s", r.body)
	}

	// The tracking page's banner: from the lead time (48 h by default) on.
	if b, ok := e.gw.NoticeBanner(context.Background(), e.now(), "de"); !ok || b.ID != "erp-upgrade" || b.Active ||
		b.Message != "ERP-Update am Samstag" || !b.IntakePaused {
		t.Errorf("banner = %+v, %v", b, ok)
	}
	if _, ok := e.gw.NoticeBanner(context.Background(), start.Add(-49*time.Hour), "en"); ok {
		t.Error("a banner 49 hours before the window, beyond the lead time")
	}

	// In the window, intake paused.
	e.clock.Store(start.Add(15 * time.Minute).UnixNano())
	r = e.do(t, http.MethodPost, "/v1/orders", "demo-shop-key", restOrder("WEB-P1"))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2700" || r.header.Get(HeaderNotice) != "erp-upgrade" ||
		!strings.Contains(string(r.body), "paused for maintenance (notice erp-upgrade)") {
		t.Errorf("paused intake = %d Retry-After %q notice %q %s", r.status, r.header.Get("Retry-After"), r.header.Get(HeaderNotice), r.body)
	}
	if got := metricValue(t, e.reg, "erpgate_notices_intake_paused"); got != 1 {
		t.Errorf("erpgate_notices_intake_paused = %v, want 1", got)
	}
	sr := e.do(t, http.MethodPost, soapOrdersPath, "demo-shop-key", soapEnvelope("", soapOrder{ext: "SOAP-P1"}.xml()),
		"Content-Type", "text/xml; charset=utf-8")
	f := soapReply{status: sr.status, header: sr.header, body: sr.body}.fault(t, http.StatusInternalServerError, "Server")
	if f.Detail.Code != erpgate.Unavailable || !strings.Contains(f.String, "until "+end.Format(time.RFC3339)) || sr.header.Get("Retry-After") != "2700" {
		t.Errorf("SOAP fault = %+v, Retry-After %q (want the pause's end, 2700)", f, sr.header.Get("Retry-After"))
	}
	if r = e.do(t, http.MethodGet, "/healthz", "", ""); r.header.Get(HeaderNotice) != "erp-upgrade" {
		t.Errorf("Erpgate-Notice on /healthz in the window = %q", r.header.Get(HeaderNotice))
	}

	// Intake reopened: orders wait in the outbox; the notice says so.
	r = e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", adminToken, noticeBody(start, end, false))
	if r.status != http.StatusOK || r.json(t)["revision"] != 2.0 {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, "/v1/orders", "demo-shop-key", restOrder("WEB-P2"))
	if r.status != http.StatusAccepted || r.header.Get(HeaderNotice) != "erp-upgrade" {
		t.Errorf("open intake in the window = %d notice %q %s", r.status, r.header.Get(HeaderNotice), r.body)
	}
	r = e.do(t, http.MethodGet, "/v1/notices", "", "")
	if n := r.json(t)["notices"].([]any)[0].(map[string]any); n["active"] != true || !strings.Contains(n["intake_note"].(string), "accepted") {
		t.Errorf("active notice = %v", n)
	}
	if got := metricValue(t, e.reg, "erpgate_notices_active"); got != 1 {
		t.Errorf("erpgate_notices_active = %v, want 1", got)
	}
	if r = e.do(t, http.MethodGet, "/admin/notices", adminToken, ""); len(r.json(t)["notices"].([]any)) != 1 {
		t.Errorf("admin list = %s", r.body)
	}
	if r = e.do(t, http.MethodDelete, "/admin/notices/erp-upgrade", adminToken, ""); r.status != http.StatusNoContent {
		t.Errorf("DELETE = %d", r.status)
	}
	if r = e.do(t, http.MethodDelete, "/admin/notices/erp-upgrade", adminToken, ""); r.status != http.StatusNotFound {
		t.Errorf("second DELETE = %d", r.status)
	}
	if r = e.do(t, http.MethodGet, "/healthz", "", ""); r.header.Get(HeaderNotice) != "" {
		t.Errorf("Erpgate-Notice after delete = %q", r.header.Get(HeaderNotice))
	}
	if got := e.announced(); got != "notice.scheduled:erp-upgrade notice.updated:erp-upgrade notice.cancelled:erp-upgrade" {
		t.Errorf("announced %q", got)
	}
}

// metricValue returns the value of the one series of a gauge or counter
// family in g (with labels, the sum of all its series).
func metricValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		v := 0.0
		for _, m := range mf.Metric {
			v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return v
	}
	t.Fatalf("no metric %s", name)
	return 0
}
