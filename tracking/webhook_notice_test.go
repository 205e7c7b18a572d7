package tracking

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhooksNoticeScheduled: a notice announced to the shops reaches the
// subscriptions of every subscribed shop as a signed notice.scheduled
// webhook with notice_id and no order_id — once — while a subscription
// whose types filter leaves notices out gets nothing, and order events
// still flow beside it.
func TestWebhooksNoticeScheduled(t *testing.T) {
	env := newWHEnv(t)
	var mu sync.Mutex
	got := map[string][]WebhookPayload{} // path → payloads
	ids := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := VerifySignature(secret, r.Header, body, env.clk.Now(), time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		if strings.Contains(string(body), `"order_id"`) && p.NoticeID != "" {
			t.Errorf("a notice payload carries order_id: %s", body)
		}
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], p)
		ids[r.Header.Get(HeaderWebhookID)] = r.URL.Path
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	subs := []Subscription{
		{ID: "a-all", ShopID: "shop-a", URL: srv.URL + "/a", Secret: secret},
		{ID: "b-notices", ShopID: "shop-b", URL: srv.URL + "/b", Secret: secret, Types: []string{TypeNoticeScheduled}},
		{ID: "c-orders", ShopID: "shop-c", URL: srv.URL + "/c", Secret: secret, Types: []string{TypeShipped}},
	}
	w, _ := env.start(t, env.config(subs...))

	shops, err := w.AnnounceNotice(context.Background(), TypeNoticeScheduled, "erp-upgrade",
		"ERP upgrade on Saturday night", map[string]string{"start": "2031-01-04T22:00:00Z", "intake_paused": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(shops, ",") != "shop-a,shop-b" {
		t.Errorf("shops told = %v, want shop-a,shop-b (shop-c's only subscription filters notices out)", shops)
	}
	mustAppend(t, env.store, "ord_a1", Event{Type: TypeShipped, Source: SourceERP, Summary: "shipped"})

	eventually(t, "the notice at a and b, the order event at a", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["/a"]) == 2 && len(got["/b"]) == 1
	})
	time.Sleep(100 * time.Millisecond) // room for a wrong extra delivery to show
	mu.Lock()
	defer mu.Unlock()
	for _, path := range []string{"/a", "/b"} {
		var n *WebhookPayload
		for i, p := range got[path] {
			if p.Type == TypeNoticeScheduled {
				n = &got[path][i]
			}
		}
		if n == nil {
			t.Fatalf("%s: no notice.scheduled among %+v", path, got[path])
		}
		if n.NoticeID != "erp-upgrade" || n.OrderID != "" || n.Summary != "ERP upgrade on Saturday night" ||
			n.Details["start"] != "2031-01-04T22:00:00Z" || n.Details[DetailNoticeID] != "erp-upgrade" {
			t.Errorf("%s: notice payload = %+v", path, *n)
		}
	}
	if len(got["/b"]) != 1 || len(got["/c"]) != 0 {
		t.Errorf("deliveries: b %d (want 1), c %d (want 0)", len(got["/b"]), len(got["/c"]))
	}
	if len(ids) != 3 {
		t.Errorf("Webhook-Ids %v, want 3 distinct", ids)
	}
	if _, err := w.AnnounceNotice(context.Background(), "notice.bogus", "x", "x", nil); err == nil {
		t.Error("an unknown notice type was announced")
	}
	if err := (&Subscription{ID: "n", ShopID: "s", URL: "http://x", Secret: secret, Types: []string{TypeNoticeUpdated}}).validate(false); err != nil {
		t.Errorf("a subscription to notice.updated is refused: %v", err)
	}
}
