package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"erpgate/gateway"
	"erpgate/tracking"
)

// trackView is GET /v1/tracking/{id}.
type trackView struct {
	tracking.Summary
	Events []tracking.Event `json:"events"`
}

// waitTracking polls an order's tracking (as its shop) until done says so.
func waitTracking(t *testing.T, gw, id, what string, done func(trackView) bool) trackView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var v trackView
	for {
		v = trackView{}
		if code := getJSON(t, gw+"/v1/tracking/"+id, "demo-shop-key", &v); code == http.StatusOK && done(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: not %s within 60s; timeline %v", id, what, trail(v.Events, ""))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trail returns the types of the events from source ("" = all).
func trail(evs []tracking.Event, source string) []string {
	var out []string
	for _, e := range evs {
		if source == "" || e.Source == source {
			out = append(out, e.Type)
		}
	}
	return out
}

func eventOf(evs []tracking.Event, typ string) tracking.Event {
	for _, e := range evs {
		if e.Type == typ {
			return e
		}
	}
	return tracking.Event{}
}

// webhookReceiver is a shop back office: it verifies every signature,
// refuses some deliveries (as if it were down), and keeps what it accepted.
type webhookReceiver struct {
	secret string
	fail   func(n int) bool // refuse delivery attempt n (1-based)?

	mu       sync.Mutex
	attempts int
	refused  int
	badSigs  []string
	accepted []tracking.WebhookPayload
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if err := tracking.VerifySignature(rc.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		rc.badSigs = append(rc.badSigs, err.Error())
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if rc.fail(rc.attempts) {
		rc.refused++
		http.Error(w, "back office down", http.StatusServiceUnavailable)
		return
	}
	var p tracking.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || r.Header.Get(tracking.HeaderWebhookID) != p.OrderID+":"+p.ID {
		rc.badSigs = append(rc.badSigs, fmt.Sprintf("payload %s / Webhook-Id %q do not match", body, r.Header.Get(tracking.HeaderWebhookID)))
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	rc.accepted = append(rc.accepted, p)
	w.WriteHeader(http.StatusNoContent)
}

// acceptedFor returns the event ids accepted for an order, in order.
func (rc *webhookReceiver) acceptedFor(orderID string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var ids []string
	for _, p := range rc.accepted {
		if p.OrderID == orderID {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// writeConfig writes a client config file: the demo clients, a second
// shop, and the given webhooks.
func writeConfig(t *testing.T, webhooks []tracking.Subscription) string {
	t.Helper()
	clients := append(gateway.DemoClients(), gateway.Client{ID: "shop-2", Kind: gateway.KindShop, KeySHA256: gateway.HashKey("shop-2-key")})
	b, err := json.Marshal(map[string]any{"clients": clients, "webhooks": webhooks})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "erpgate.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// metricValue returns the value of the first /metrics sample whose line
// starts with prefix (name and labels), or -1.
func metricValue(t *testing.T, gw, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(gw + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestRunTrackingEndToEnd is issue 5 through run(): with the embedded
// simulator on a fast lifecycle, an order in stock and a backordered one
// each get their complete lifecycle in the timeline, in order, from v2's
// pushes; the backorder revises the expected date; a shop back office that
// refuses deliveries for a while still gets every event exactly once, in
// order, with valid signatures; wrong tokens and other shops get 404.
func TestRunTrackingEndToEnd(t *testing.T) {
	rc := &webhookReceiver{secret: "whsec_e2e_0123456789abcdef", fail: func(n int) bool { return n <= 2 || n == 6 }}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	cfg := writeConfig(t, []tracking.Subscription{{ID: "backoffice", ShopID: "demo-shop", URL: hook.URL, Secret: rc.secret}})
	gw, logs, _ := startRun(t, "--config", cfg)
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	putJSON(t, sim+"/sim/lifecycle", `{"step":"150ms","auto_restock":"600ms"}`)

	ids := map[string]string{}
	tokens := map[string]string{}
	for name, body := range map[string]string{
		"in stock":    orderBody("WEB-TRK-1"),
		"backordered": strings.Replace(orderBody("WEB-TRK-2"), `"SKU-1002"`, `"SKU-1011"`, 1), // stand mixer: no stock
	} {
		resp, b := post(t, gw+"/v1/orders", "demo-shop-key", body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s order: %d %v", name, resp.StatusCode, b)
		}
		ids[name] = b["id"].(string)
		tokens[name] = b["tracking"].(map[string]any)["token"].(string)
	}

	final := func(v trackView) bool { return v.Final }
	for name, want := range map[string][]string{
		"in stock":    {"confirmed", "allocated", "picked", "shipped", "delivered"},
		"backordered": {"confirmed", "backordered", "allocated", "picked", "shipped", "delivered"},
	} {
		v := waitTracking(t, gw, ids[name], "delivered", final)
		if got := trail(v.Events, tracking.SourceERP); !slices.Equal(got, want) {
			t.Errorf("%s: ERP events %v, want %v (each once, in order)", name, got, want)
		}
		all := trail(v.Events, "")
		if all[0] != tracking.TypeAccepted || v.Status != tracking.TypeDelivered {
			t.Errorf("%s: timeline %v status %s, want accepted first and delivered last", name, all, v.Status)
		}
		if i := slices.Index(all, tracking.TypeERPReceived); i > slices.Index(all, tracking.TypeConfirmed) {
			t.Errorf("%s: timeline %v has erp_received after the ERP's confirmation", name, all)
		}
		sh := eventOf(v.Events, tracking.TypeShipped)
		if sh.Details["carrier"] == "" || sh.Details["tracking_number"] == "" || !strings.HasPrefix(sh.Details["tracking_url"], "https://") ||
			v.TrackingURL != sh.Details["tracking_url"] {
			t.Errorf("%s: shipped %+v, summary link %q; want carrier, tracking number and link", name, sh.Details, v.TrackingURL)
		}
		if sh.Details["target"] != "v2" || sh.Details["erp_order_number"] == "" {
			t.Errorf("%s: shipped details %v, want target v2 and the ERP order number", name, sh.Details)
		}
	}
	bo := waitTracking(t, gw, ids["backordered"], "delivered", final)
	promised, revised := eventOf(bo.Events, "confirmed").Details["expected_delivery"], eventOf(bo.Events, "backordered").Details["expected_delivery"]
	if promised == "" || revised <= promised || !strings.Contains(eventOf(bo.Events, "backordered").Details["short_items"], "SKU-1011") {
		t.Errorf("backorder: promised %q, revised %q, details %v; want a later date and the short sku",
			promised, revised, eventOf(bo.Events, "backordered").Details)
	}

	// Webhooks: every event of both orders, once each, in timeline order.
	deadline := time.Now().Add(60 * time.Second)
	for name, id := range ids {
		want := make([]string, 0)
		for _, e := range waitTracking(t, gw, id, "delivered", final).Events {
			want = append(want, e.ID)
		}
		for !slices.Equal(rc.acceptedFor(id), want) {
			if time.Now().After(deadline) || len(rc.acceptedFor(id)) > len(want) {
				t.Fatalf("%s: webhooks accepted %v, want %v (each event once, in order)", name, rc.acceptedFor(id), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rc.mu.Lock()
	if len(rc.badSigs) > 0 || rc.refused < 3 {
		t.Errorf("receiver: bad deliveries %v, refused %d; want none bad and the 3 refusals retried", rc.badSigs, rc.refused)
	}
	rc.mu.Unlock()

	// Someone else's order, a wrong token: 404 like an unknown order.
	for _, c := range []struct{ name, path, key string }{
		{"wrong token", "/v1/tracking/" + ids["in stock"] + "?token=" + tokens["backordered"], ""},
		{"other shop", "/v1/tracking/" + ids["in stock"], "shop-2-key"},
		{"page with a wrong token", "/track/" + ids["in stock"] + "?token=x", ""},
		{"stream of another shop", "/v1/tracking/" + ids["backordered"] + "/events", "shop-2-key"},
	} {
		if code := getJSON(t, gw+c.path, c.key, nil); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", c.name, code)
		}
	}

	for _, m := range []struct {
		prefix string
		min    float64
	}{
		{`erpgate_tracking_erp_pushes_total{outcome="recorded"}`, 11},
		{`erpgate_tracking_events_total{source="erp",type="shipped"}`, 2},
		{`erpgate_tracking_webhook_deliveries_total{outcome="retry"}`, 3},
		{`erpgate_tracking_webhook_deliveries_total{outcome="ok"}`, 13},
	} {
		if got := metricValue(t, gw, m.prefix); got < m.min {
			t.Errorf("%s = %v, want at least %v", m.prefix, got, m.min)
		}
	}
}

// TestRunV1PolledAfterBackout: after a back-out v1 is authoritative, and
// since v1 cannot push, the gateway polls it: the order's timeline follows
// v1 to delivered, each status once.
func TestRunV1PolledAfterBackout(t *testing.T) {
	gw, logs, _ := startRun(t)
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	// A step of 1s: the poller (2s interval) must see the first status while it
	// lasts, also on a loaded machine (400ms was missed there).
	putJSON(t, sim+"/sim/lifecycle", `{"step":"1s","auto_restock":"0s"}`)
	resp, b := post(t, gw+"/admin/release/backout", "demo-admin-token", `{"reason":"issue 5 test: v1 takes over"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backout: %d %v", resp.StatusCode, b)
	}
	resp, b = post(t, gw+"/v1/orders", "demo-shop-key", orderBody("WEB-V1-1"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/orders: %d %v", resp.StatusCode, b)
	}
	v := waitTracking(t, gw, b["id"].(string), "delivered", func(v trackView) bool { return v.Final })
	got := trail(v.Events, tracking.SourceERP)
	if len(got) < 2 || got[0] != "confirmed" || got[len(got)-1] != "delivered" || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("ERP events %v, want confirmed … delivered, each status once", got)
	}
	order := []string{"confirmed", "backordered", "allocated", "picked", "shipped", "delivered"}
	for i := 1; i < len(got); i++ {
		if slices.Index(order, got[i]) <= slices.Index(order, got[i-1]) {
			t.Errorf("ERP events %v are not in lifecycle order", got)
		}
	}
	for _, e := range v.Events {
		if e.Source == tracking.SourceERP && (e.Details["target"] != "v1" || !strings.HasPrefix(e.Details["erp_order_number"], "V1-")) {
			t.Errorf("event %s from %v, want v1's (target v1, a V1- number)", e.Type, e.Details)
		}
	}
	if n := metricValue(t, gw, `erpgate_tracking_erp_polls_total{outcome="final",target="v1"}`); n < 1 {
		t.Errorf("polls{final} = %v, want at least 1", n)
	}
}
