package gateway

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gsoap "github.com/hooklift/gowsdl/soap"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv2cb"
	"erpgate/store"
	"erpgate/tracking"
)

// trackEnv is the gateway with tracking, the ERP callback and the webhook
// admin API over the real store (miniredis, or the real Redis in CI).
type trackEnv struct {
	*restEnv
	reg  *prometheus.Registry
	trk  *tracking.Store
	wh   *tracking.Webhooks
	st   *store.Store
	mu   sync.Mutex
	auth string // the authoritative target; "" = Authority fails
	// paused targets, as the release plan says (the order answers show them).
	paused map[string]bool
}

// trackPlan is the release plan as the order answers see it: e.auth
// authoritative for every order, e.paused paused.
type trackPlan struct{ e *trackEnv }

func (p trackPlan) Authoritative(*order.Order) string {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return p.e.auth
}

func (p trackPlan) Active(target string) bool {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return !p.e.paused[target]
}

func (e *trackEnv) setPaused(target string, paused bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paused[target] = paused
}

func newTrackEnv(t testing.TB) *trackEnv {
	t.Helper()
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	st := store.New(rdb, store.Options{Now: func() time.Time { return restNow }, Partitions: 1})
	if err := st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyring(append(DemoClients(), Client{ID: "shop-2", Kind: KindShop, KeySHA256: HashKey("shop-2-key")}))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	trk, err := tracking.NewStore(tracking.StoreConfig{Client: rdb, Space: st.Space(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := tracking.NewHub(tracking.HubConfig{Client: rdb, Store: trk})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := tracking.NewWebhooks(tracking.WebhooksConfig{Client: rdb, Space: st.Space(),
		ShopOf: func(context.Context, string) (string, error) { return "demo-shop", nil },
		Static: []tracking.Subscription{{ID: "from-config", ShopID: "demo-shop", URL: "https://backoffice.example/hooks", Secret: "config-secret-0123456789", Static: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &trackEnv{reg: reg, trk: trk, wh: wh, st: st, auth: erp.V2, paused: map[string]bool{}}
	s, err := New(Config{
		PublicURL: "https://gw.example", Store: st, Keyring: keys, Now: func() time.Time { return restNow },
		Registerer: reg, Gatherer: reg, Timelines: trk, Live: hub,
		Authority: func(ctx context.Context, id string) (string, error) {
			if _, err := st.LoadOrder(ctx, id); err != nil {
				return "", err
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.auth == "" {
				return "", erpgate.Errorf(erpgate.Unavailable, "release plan unavailable")
			}
			return e.auth, nil
		},
		Events: trk, Webhooks: wh, Plan: trackPlan{e},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e.restEnv = &restEnv{srv: srv, rdb: rdb}
	return e
}

func (e *trackEnv) setAuthority(target string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.auth = target
}

// order posts an order as the demo shop and returns its id and token.
func (e *trackEnv) order(t *testing.T, ext string) (id, token string) {
	t.Helper()
	r := e.postOrder(t, "demo-shop-key", strings.Replace(validOrderJSON, `"WEB-1"`, `"`+ext+`"`, 1))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST /v1/orders = %d %s", r.status, r.raw)
	}
	tr, _ := r.body["tracking"].(map[string]any)
	token, _ = tr["token"].(string)
	return r.body["id"].(string), token
}

// client is the generated callback client, as the ERP uses it.
func (e *trackEnv) client(key string) erpv2cb.SalesOrderStatusCallback {
	opts := []gsoap.Option{}
	if key != "" {
		opts = append(opts, gsoap.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + key}))
	}
	return erpv2cb.NewSalesOrderStatusCallback(gsoap.NewClient(e.srv.URL+"/erp/v2/callback", opts...))
}

func push(eventID, ref, status string, seq int32, mod ...func(*erpv2cb.SalesOrderStatusChanged)) *erpv2cb.SalesOrderStatusChanged {
	st := erpv2cb.OrderStatus(status)
	ts := erpv2cb.Timestamp(restNow.Add(time.Duration(seq) * time.Minute).Format(time.RFC3339))
	m := &erpv2cb.SalesOrderStatusChanged{EventId: eventID, Sequence: seq, SalesOrderNumber: "SO-2V-000042",
		ExternalReference: ref, Status: &st, StatusChangedAt: &ts}
	for _, f := range mod {
		f(m)
	}
	return m
}

func date(d string) *erpv2cb.CalendarDate { c := erpv2cb.CalendarDate(d); return &c }

// trackingOf reads the order's tracking JSON with its token.
func (e *trackEnv) trackingOf(t *testing.T, id, token string) (tracking.Summary, []tracking.Event) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/v1/tracking/"+id+"?token="+token, "", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET tracking = %d %s", r.status, r.raw)
	}
	var out struct {
		tracking.Summary
		Events []tracking.Event `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
		t.Fatal(err)
	}
	return out.Summary, out.Events
}

func types(evs []tracking.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func (e *trackEnv) pushes(outcome string) float64 {
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "erpgate_tracking_erp_pushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// faultOf reads the fault a generated client returned.
func callbackFaultOf(t *testing.T, err error) (int, *soap.Fault, *erpv2cb.CallbackFault) {
	t.Helper()
	var he *gsoap.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error = %v, want an HTTP error with a fault", err)
	}
	f, perr := soap.ParseFault(he.ResponseBody)
	if perr != nil {
		t.Fatalf("not a fault: %v\n%s", perr, he.ResponseBody)
	}
	var env struct {
		Detail erpv2cb.CallbackFault `xml:"Body>Fault>detail>CallbackFault"`
	}
	if err := xml.Unmarshal(he.ResponseBody, &env); err != nil {
		t.Fatal(err)
	}
	return he.StatusCode, f, &env.Detail
}

func TestERPCallbackRecordsEachChangeOnceInOrder(t *testing.T) {
	e := newTrackEnv(t)
	id, token := e.order(t, "WEB-CB-1")
	c := e.client("demo-erp-callback-key")
	ctx := t.Context()
	confirmed := push("SO-2V-000042-1", id, "confirmed", 1, func(m *erpv2cb.SalesOrderStatusChanged) {
		m.ExpectedDeliveryDate = date("2026-03-05")
	})
	for range 3 { // at-least-once: the ERP repeats a change whose answer it lost
		resp, err := c.SalesOrderStatusChangedContext(ctx, confirmed)
		if err != nil {
			t.Fatal(err)
		}
		if resp.EventId != confirmed.EventId || resp.Outcome == nil || *resp.Outcome != erpv2cb.OutcomeRecorded {
			t.Errorf("response = %+v, want recorded for %s", resp, confirmed.EventId)
		}
	}
	for _, m := range []*erpv2cb.SalesOrderStatusChanged{
		push("SO-2V-000042-2", id, "backordered", 2, func(m *erpv2cb.SalesOrderStatusChanged) {
			m.ExpectedDeliveryDate = date("2026-03-12")
			m.ShortItem = []*erpv2cb.ShortItem{{Sku: "SKU-1011", QuantityShort: 2}}
		}),
		push("SO-2V-000042-3", id, "allocated", 3),
		push("SO-2V-000042-4", id, "picked", 4),
		push("SO-2V-000042-5", id, "shipped", 5, func(m *erpv2cb.SalesOrderStatusChanged) {
			m.Carrier, m.TrackingNumber, m.ExpectedDeliveryDate = "DHL", "00340434200000000001", date("2026-03-14")
		}),
		push("SO-2V-000042-5", id, "shipped", 5), // a repeat again
		push("SO-2V-000042-6", id, "delivered", 6),
	} {
		if _, err := c.SalesOrderStatusChangedContext(ctx, m); err != nil {
			t.Fatalf("push %s: %v", m.EventId, err)
		}
	}
	sum, evs := e.trackingOf(t, id, token)
	want := []string{"accepted", "confirmed", "backordered", "allocated", "picked", "shipped", "delivered"}
	if got := types(evs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("timeline = %v, want %v (each change once, in order)", got, want)
	}
	conf, bo, sh := evs[1], evs[2], evs[5]
	if conf.Source != tracking.SourceERP || conf.Details["erp_order_number"] != "SO-2V-000042" || !conf.Time.Equal(restNow.Add(time.Minute)) ||
		!strings.Contains(conf.Summary, "Thursday, 5 March 2026") {
		t.Errorf("confirmed event = %+v, want the ERP's number, its time and the promised date in words", conf)
	}
	if bo.Details["short_items"] != "2 × SKU-1011" || bo.Details["expected_delivery"] != "2026-03-12" || !strings.Contains(bo.Summary, "2 × SKU-1011") {
		t.Errorf("backordered event = %+v, want the short item and the revised date", bo)
	}
	if sh.Details["carrier"] != "DHL" || sh.Details["tracking_number"] != "00340434200000000001" || !strings.HasPrefix(sh.Details["tracking_url"], "https://www.dhl.com/") {
		t.Errorf("shipped event = %+v, want carrier, number and DHL's tracking link", sh)
	}
	if _, ok := sh.Details[tracking.DetailDedup]; ok {
		t.Error("the dedup key leaked into the stored details")
	}
	if sum.Status != "delivered" || !sum.Final || sum.OriginalExpectedDelivery != "2026-03-05" || sum.Carrier != "DHL" {
		t.Errorf("summary = %+v, want delivered, first promised 2026-03-05, DHL", sum)
	}
	if got := e.pushes("recorded"); got != 9 {
		t.Errorf("pushes{recorded} = %v, want 9 (repeats are acknowledged as recorded)", got)
	}
	if problems, err := testutil.GatherAndLint(e.reg, "erpgate_tracking_erp_pushes_total"); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}

func TestERPCallbackBackorderRevisesTheExpectedDate(t *testing.T) {
	e := newTrackEnv(t)
	id, token := e.order(t, "WEB-CB-BO")
	c := e.client("demo-erp-callback-key")
	for _, m := range []*erpv2cb.SalesOrderStatusChanged{
		push("e1", id, "confirmed", 1, func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date("2026-03-05") }),
		push("e2", id, "backordered", 2, func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date("2026-03-12") }),
	} {
		if _, err := c.SalesOrderStatusChangedContext(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	sum, _ := e.trackingOf(t, id, token)
	if sum.Status != "backordered" || sum.ExpectedDelivery != "2026-03-12" || sum.OriginalExpectedDelivery != "2026-03-05" || !sum.Delayed {
		t.Errorf("summary = %+v, want backordered, delayed from 2026-03-05 to 2026-03-12", sum)
	}
}

func TestERPCallbackIgnoredWhileV2IsNotAuthoritative(t *testing.T) {
	e := newTrackEnv(t)
	id, token := e.order(t, "WEB-CB-V1")
	e.setAuthority(erp.V1)
	resp, err := e.client("demo-erp-callback-key").SalesOrderStatusChangedContext(t.Context(), push("e1", id, "confirmed", 1))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Outcome == nil || *resp.Outcome != erpv2cb.OutcomeIgnored {
		t.Errorf("outcome = %v, want ignored", resp.Outcome)
	}
	if _, evs := e.trackingOf(t, id, token); len(evs) != 1 {
		t.Errorf("timeline = %v, want only accepted", types(evs))
	}
	if got := e.pushes("ignored"); got != 1 {
		t.Errorf("pushes{ignored} = %v, want 1", got)
	}
}

func TestERPCallbackRefusals(t *testing.T) {
	e := newTrackEnv(t)
	id, _ := e.order(t, "WEB-CB-R")
	ctx := t.Context()
	for _, c := range []struct {
		name    string
		key     string
		msg     *erpv2cb.SalesOrderStatusChanged
		auth    string
		status  int
		code    string
		errCode erpv2cb.ErrorCode
		outcome string
	}{
		{"no credentials", "", push("e1", id, "confirmed", 1), erp.V2, 401, soap.FaultClient, erpv2cb.ErrorCodeUNAUTHORIZED, "unauthorized"},
		{"wrong key", "not-a-key", push("e1", id, "confirmed", 1), erp.V2, 401, soap.FaultClient, erpv2cb.ErrorCodeUNAUTHORIZED, "unauthorized"},
		{"a shop's key", "demo-shop-key", push("e1", id, "confirmed", 1), erp.V2, 403, soap.FaultClient, erpv2cb.ErrorCodeUNAUTHORIZED, "unauthorized"},
		{"unknown order", "demo-erp-callback-key", push("e1", "ord_unknown", "confirmed", 1), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeNOT_FOUND, "unknown_order"},
		{"unknown status", "demo-erp-callback-key", push("e1", id, "teleported", 1), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeINVALID_REQUEST, "invalid"},
		{"no event id", "demo-erp-callback-key", push("", id, "confirmed", 1), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeINVALID_REQUEST, "invalid"},
		{"bad date", "demo-erp-callback-key", push("e1", id, "confirmed", 1, func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date("5.3.2026") }), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeINVALID_REQUEST, "invalid"},
		{"no sequence", "demo-erp-callback-key", push("e1", id, "confirmed", 0), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeINVALID_REQUEST, "invalid"},
		{"short item without quantity", "demo-erp-callback-key", push("e1", id, "backordered", 1, func(m *erpv2cb.SalesOrderStatusChanged) {
			m.ShortItem = []*erpv2cb.ShortItem{{Sku: "SKU-1011"}}
		}), erp.V2, 500, soap.FaultClient, erpv2cb.ErrorCodeINVALID_REQUEST, "invalid"},
		{"release plan unavailable", "demo-erp-callback-key", push("e1", id, "confirmed", 1), "", 500, soap.FaultServer, erpv2cb.ErrorCodeSERVICE_UNAVAILABLE, "error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.setAuthority(c.auth)
			before := e.pushes(c.outcome)
			_, err := e.client(c.key).SalesOrderStatusChangedContext(ctx, c.msg)
			status, f, d := callbackFaultOf(t, err)
			if status != c.status || f.Code != c.code || d.ErrorCode == nil || *d.ErrorCode != c.errCode {
				t.Errorf("got %d %s %v (%s), want %d %s %s", status, f.Code, d.ErrorCode, f.String, c.status, c.code, c.errCode)
			}
			if got := e.pushes(c.outcome); got != before+1 {
				t.Errorf("pushes{%s} = %v, want %v", c.outcome, got, before+1)
			}
		})
	}
	e.setAuthority(erp.V2)
	if _, evs := e.trackingOf(t, id, mustToken(t, e, id)); len(evs) != 1 {
		t.Errorf("timeline = %v after refused pushes, want only accepted", types(evs))
	}

	// Not a status change message at all.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/erp/v2/callback", strings.NewReader(
		`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x:Other xmlns:x="urn:x"/></soap:Body></soap:Envelope>`))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Authorization", "Bearer demo-erp-callback-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || !strings.Contains(string(body), "INVALID_REQUEST") {
		t.Errorf("unknown operation: %d %s, want a Client fault INVALID_REQUEST", res.StatusCode, body)
	}
}

// mustToken reads an order's token from the store.
func mustToken(t *testing.T, e *trackEnv, id string) string {
	t.Helper()
	rec, err := e.st.Order(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Token
}

func TestERPCallbackWSDL(t *testing.T) {
	e := newTrackEnv(t)
	r := e.do(t, http.MethodGet, "/erp/v2/callback?wsdl", "", "", "")
	if r.status != 200 || !strings.Contains(r.raw, `location="`+e.srv.URL+`/erp/v2/callback"`) || !strings.Contains(r.raw, "SalesOrderStatusChanged") {
		t.Errorf("GET ?wsdl = %d, want the callback WSDL with this address", r.status)
	}
	if r := e.do(t, http.MethodGet, "/erp/v2/callback", "", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET without ?wsdl = %d, want 405", r.status)
	}
}

// TestTrackingRefusesWrongTokensAndOtherShops: a wrong token, another
// shop's key, or nothing at all get 404, exactly like an unknown order.
func TestTrackingRefusesWrongTokensAndOtherShops(t *testing.T) {
	e := newTrackEnv(t)
	id, token := e.order(t, "WEB-CB-T")
	unknown := e.do(t, http.MethodGet, "/v1/tracking/ord_does_not_exist?token="+token, "", "", "")
	for _, c := range []struct {
		name, path, key string
		want            int
	}{
		{"the token", "/v1/tracking/" + id + "?token=" + token, "", 200},
		{"the token as Bearer", "/v1/tracking/" + id, token, 200},
		{"the owning shop", "/v1/tracking/" + id, "demo-shop-key", 200},
		{"a wrong token", "/v1/tracking/" + id + "?token=" + strings.ToUpper(token), "", 404},
		{"another order's token", "/v1/tracking/ord_other?token=" + token, "", 404},
		{"another shop", "/v1/tracking/" + id, "shop-2-key", 404},
		{"the ERP's key", "/v1/tracking/" + id, "demo-erp-callback-key", 404},
		{"nothing", "/v1/tracking/" + id, "", 404},
		{"the page with a wrong token", "/track/" + id + "?token=nope", "", 404},
		{"the stream of another shop", "/v1/tracking/" + id + "/events", "shop-2-key", 404},
	} {
		r := e.do(t, http.MethodGet, c.path, c.key, "", "")
		if r.status != c.want {
			t.Errorf("%s: %d, want %d", c.name, r.status, c.want)
		}
		// The same answer as for an order that does not exist: no hint.
		if c.want == 404 && r.body != nil && (r.body["detail"] != unknown.body["detail"] || r.body["code"] != unknown.body["code"]) {
			t.Errorf("%s: 404 body %s differs from an unknown order's %s", c.name, r.raw, unknown.raw)
		}
	}
}

func TestERPStatusEvent(t *testing.T) {
	for _, c := range []struct {
		st      ERPStatus
		typ     string
		summary string
	}{
		{ERPStatus{Target: "v2", Status: "confirmed", ERPOrderNumber: "SO-1", ExpectedDelivery: "2026-03-05"}, "confirmed", "Your order is confirmed (order number SO-1). Expected delivery: Thursday, 5 March 2026"},
		{ERPStatus{Target: "v1", Status: "backordered", Short: []string{"2 × SKU-1011"}, ExpectedDelivery: "2026-03-12"}, "backordered", "Some items are not in stock yet (2 × SKU-1011); we have ordered them from our supplier. New expected delivery: Thursday, 12 March 2026"},
		{ERPStatus{Target: "v2", Status: "allocated"}, "allocated", "Your items are reserved and being prepared for shipping"},
		{ERPStatus{Target: "v2", Status: "picked"}, "picked", "Your parcel is packed and waiting for the carrier"},
		{ERPStatus{Target: "v2", Status: "shipped", Carrier: "UPS", TrackingNumber: "1Z9"}, "shipped", "Your parcel is on its way with UPS (tracking number 1Z9)"},
		{ERPStatus{Target: "v2", Status: "delivered"}, "delivered", "Your parcel has been delivered"},
		{ERPStatus{Target: "v2", Status: "cancelled", Reason: "out of production"}, "cancelled", "Your order was cancelled: out of production"},
		{ERPStatus{Target: "v2", Status: "rejected"}, "rejected", "We could not fulfil this order"},
	} {
		ev, ok := ERPStatusEvent(c.st)
		if !ok || ev.Type != c.typ || ev.Summary != c.summary || ev.Source != tracking.SourceERP || ev.Details["target"] != c.st.Target {
			t.Errorf("ERPStatusEvent(%+v) = %+v, %v; want type %s, summary %q", c.st, ev, ok, c.typ, c.summary)
		}
	}
	if _, ok := ERPStatusEvent(ERPStatus{Status: "lost"}); ok {
		t.Error("an unknown status word became an event")
	}
}

// FuzzERPCallback: whatever an ERP (or anyone with its key) sends to the
// callback endpoint, the answer is a SOAP envelope — a response or a fault
// — and never a panic or a 5xx without an envelope.
func FuzzERPCallback(f *testing.F) {
	env := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>`
	for _, body := range []string{
		`<SalesOrderStatusChanged xmlns="urn:erpgate:erp:v2:callback"><EventId>e1</EventId><Sequence>1</Sequence><ExternalReference>ord_x</ExternalReference><Status>confirmed</Status><StatusChangedAt>2026-03-02T09:00:00Z</StatusChangedAt></SalesOrderStatusChanged>`,
		`<SalesOrderStatusChanged xmlns="urn:erpgate:erp:v2:callback"><EventId>e2</EventId><Sequence>2</Sequence><ExternalReference>ord_x</ExternalReference><Status>backordered</Status><StatusChangedAt>2026-03-02T09:00:00+01:00</StatusChangedAt><ExpectedDeliveryDate>2026-03-12</ExpectedDeliveryDate><ShortItem><Sku>SKU-1011</Sku><QuantityShort>2</QuantityShort></ShortItem></SalesOrderStatusChanged>`,
		`<SalesOrderStatusChanged xmlns="urn:erpgate:erp:v2:callback"><EventId></EventId><Status>lost</Status></SalesOrderStatusChanged>`,
		`<x:Other xmlns:x="urn:x"/>`,
		``,
	} {
		f.Add(fmt.Sprintf(env, body))
	}
	f.Add(`not xml at all`)
	e := newTrackEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/erp/v2/callback", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("Authorization", "Bearer demo-erp-callback-key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(b), "Envelope") {
			t.Fatalf("answer %d without an envelope: %s", res.StatusCode, b)
		}
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusInternalServerError &&
			res.StatusCode != http.StatusRequestEntityTooLarge && res.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d for %q", res.StatusCode, body)
		}
	})
}

func TestERPStatusEventFitsTheTimelineLimits(t *testing.T) {
	long := strings.Repeat("ü", maxPushReason)
	var short []string
	for i := range maxPushShortItems {
		short = append(short, fmt.Sprintf("%d × %s", i+1, strings.Repeat("S", maxPushText)))
	}
	for _, st := range []ERPStatus{
		{Target: "v2", Status: "cancelled", Reason: long},
		{Target: "v2", Status: "backordered", Short: short, ExpectedDelivery: "2026-03-12"},
	} {
		ev, ok := ERPStatusEvent(st)
		if !ok {
			t.Fatal("no event")
		}
		if n := len([]rune(ev.Summary)); n > tracking.MaxSummaryLen {
			t.Errorf("%s summary has %d characters, want at most %d", st.Status, n, tracking.MaxSummaryLen)
		}
		for k, v := range ev.Details {
			if len(v) > tracking.MaxDetailValue || !utf8.ValidString(v) {
				t.Errorf("%s detail %s has %d bytes (valid UTF-8: %v), want at most %d", st.Status, k, len(v), utf8.ValidString(v), tracking.MaxDetailValue)
			}
		}
	}
	// And the timeline takes them.
	e := newTrackEnv(t)
	id, _ := e.order(t, "WEB-LONG")
	_, err := e.client("demo-erp-callback-key").SalesOrderStatusChangedContext(t.Context(), push("e1", id, "cancelled", 1, func(m *erpv2cb.SalesOrderStatusChanged) {
		m.Reason = long
	}))
	if err != nil {
		t.Errorf("a cancellation with a %d-character reason: %v", maxPushReason, err)
	}
}
