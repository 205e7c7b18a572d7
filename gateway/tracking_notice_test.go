package gateway

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate/internal/partition"
	"erpgate/tracking"
)

// withTracking serves the tracking routes over the env's Redis, with the
// read cache (nothing invalidates it here: the timelines do not change).
func withTracking(t *testing.T, cfg *Config, rdb redis.UniversalClient) {
	trk, err := tracking.NewStore(tracking.StoreConfig{Client: rdb, Space: partition.MustNew(1), Now: cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := NewTrackingCache(1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache.SetLive(true)
	cfg.Timelines, cfg.Live, cfg.TrackingCache = trk, nopLive{}, cache
}

// TestTrackingPageNoticeBanner: a customers' notice shows on the tracking
// page from the lead time before its window until its end — also on a page
// already rendered and cached before the notice existed: the ETag changes
// with the notice (created, revised, in force, over), so no 304 and no
// cached page keeps a stale banner. Shops-only notices do not show.
func TestTrackingPageNoticeBanner(t *testing.T) {
	e := newNoticeEnv(t, withTracking)
	id, tok := e.placeOrder(t, "WEB-N1")
	path := "/track/" + id + "?token=" + tok
	get := func(etag string, hdr ...string) reply {
		t.Helper()
		if etag != "" {
			hdr = append(hdr, "If-None-Match", etag)
		}
		return e.do(t, http.MethodGet, path, "", "", hdr...)
	}
	r := get("")
	e1 := r.header.Get("ETag")
	if r.status != http.StatusOK || e1 == "" || strings.Contains(string(r.body), `id="notice"`) {
		t.Fatalf("page before any notice = %d %q %s", r.status, e1, r.body)
	}
	if r = get(e1); r.status != http.StatusNotModified {
		t.Fatalf("unchanged page = %d, want 304", r.status)
	}
	if n, _ := e.gw.trackCache.Len(); n != 1 {
		t.Fatalf("%d cached views, want the order's", n)
	}

	// Beyond the lead time (48 h): nothing yet; a shops-only notice never.
	start := e.now().Add(50 * time.Hour)
	body := noticeBody(start, start.Add(3*time.Hour), false)
	if r = e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", adminToken, body); r.status != http.StatusCreated {
		t.Fatalf("PUT notice = %d %s", r.status, r.body)
	}
	shops := strings.Replace(noticeBody(e.now().Add(time.Hour), e.now().Add(2*time.Hour), false), `"customers",`, "", 1)
	if r = e.do(t, http.MethodPut, "/admin/notices/shops-only", adminToken, shops); r.status != http.StatusCreated {
		t.Fatalf("PUT shops notice = %d %s", r.status, r.body)
	}
	if r = get(e1); r.status != http.StatusNotModified {
		t.Errorf("page with no banner due = %d, want 304", r.status)
	}

	// Within the lead time: the cached page gains the banner, in the
	// page's language and date style, with a new ETag.
	e.clock.Store(start.Add(-47 * time.Hour).UnixNano())
	r = get(e1)
	e2, page := r.header.Get("ETag"), string(r.body)
	if r.status != http.StatusOK || e2 == e1 ||
		!strings.Contains(page, `<strong>Planned maintenance:</strong> <time datetime="`+start.Format(time.RFC3339)+`" data-local>`) ||
		!strings.Contains(page, `<p class="notice-text" id="notice-text">ERP upgrade on Saturday</p>`) {
		t.Fatalf("page within the lead time = %d ETag %q (was %q)\n%s", r.status, e2, e1, page)
	}
	if r = get(e2); r.status != http.StatusNotModified {
		t.Errorf("unchanged page with banner = %d, want 304", r.status)
	}
	r = get("", "Accept-Language", "de")
	if page = string(r.body); !strings.Contains(page, `<strong>Geplante Wartung:</strong>`) || !strings.Contains(page, ">ERP-Update am Samstag<") ||
		r.header.Get("ETag") == e2 {
		t.Errorf("German page = %s\n%s", r.header.Get("ETag"), page)
	}

	// Revised: the new text, a new ETag.
	if r = e.do(t, http.MethodPut, "/admin/notices/erp-upgrade", adminToken, strings.Replace(body, "on Saturday", "on Sunday", 1)); r.status != http.StatusOK {
		t.Fatalf("PUT revised = %d %s", r.status, r.body)
	}
	r = get(e2)
	e3 := r.header.Get("ETag")
	if r.status != http.StatusOK || e3 == e2 || !strings.Contains(string(r.body), ">ERP upgrade on Sunday<") {
		t.Errorf("revised notice = %d %q\n%s", r.status, e3, r.body)
	}

	// In the window, then over.
	e.clock.Store(start.Add(time.Hour).UnixNano())
	r = get(e3)
	e4 := r.header.Get("ETag")
	if r.status != http.StatusOK || e4 == e3 || !strings.Contains(string(r.body), `<strong>Maintenance now:</strong>`) {
		t.Errorf("page in the window = %d %q\n%s", r.status, e4, r.body)
	}
	e.clock.Store(start.Add(3 * time.Hour).UnixNano())
	r = get(e4)
	if r.status != http.StatusOK || r.header.Get("ETag") != e1 || strings.Contains(string(r.body), `id="notice"`) {
		t.Errorf("page after the window = %d %q (want %q)\n%s", r.status, r.header.Get("ETag"), e1, r.body)
	}
}

var (
	formRE   = regexp.MustCompile(`(?s)<form class="feedback" id="feedback" method="post" action="([^"]+)".*?</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)
	optionRE = regexp.MustCompile(`<option value="([^"]+)">`)
)

// TestTrackingPageFeedbackForm: the page's feedback form, filled in as a
// browser would (its action and hidden fields, one of its topics), posts to
// the gateway, which stores the message — markup and all — as data: the
// admin API answers it JSON-escaped, and neither the answer page nor the
// tracking page ever shows it unescaped. The page's CSP lets the form post.
func TestTrackingPageFeedbackForm(t *testing.T) {
	e := newNoticeEnv(t, withTracking)
	id, tok := e.placeOrder(t, "WEB-N2")
	r := e.do(t, http.MethodGet, "/track/"+id+"?token="+tok+"&lang=de", "", "")
	page := string(r.body)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("CSP %q does not let the form post", csp)
	}
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no feedback form on the page:\n%s", page)
	}
	if m[1] != "/v1/tracking/"+id+"/feedback" {
		t.Errorf("form action %q", m[1])
	}
	var topics []string
	for _, o := range optionRE.FindAllStringSubmatch(m[0], -1) {
		topics = append(topics, o[1])
	}
	if strings.Join(topics, " ") != strings.Join(customerTopics, " ") || len(topics) < 5 {
		t.Errorf("topics %v, want %v", topics, customerTopics)
	}
	for _, l := range []string{`<label for="fb-topic">Thema</label>`, `<label for="fb-message">Ihre Nachricht</label>`, `id="fb-message" name="message"`} {
		if !strings.Contains(m[0], l) {
			t.Errorf("form lacks %s", l)
		}
	}
	fields := []string{"topic", topics[0], "message", `<img src=x onerror=alert(1)> Wo bleibt "es"?`}
	for _, h := range hiddenRE.FindAllStringSubmatch(m[0], -1) {
		fields = append(fields, h[1], html.UnescapeString(h[2]))
	}
	if strings.Join(fields[4:], " ") != "token "+tok+" language de" {
		t.Errorf("hidden fields %v", fields[4:])
	}
	r = e.do(t, http.MethodPost, m[1], "", form(fields...), "Content-Type", formType)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Vielen Dank") || strings.Contains(string(r.body), "<img") {
		t.Errorf("form post = %d %s", r.status, r.body)
	}

	r = e.do(t, http.MethodGet, "/admin/feedback", adminToken, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `\u003cimg src=x onerror=alert(1)\u003e Wo bleibt \"es\"?`) {
		t.Errorf("admin list = %d %s", r.status, r.body)
	}
	var list struct {
		Feedback []struct{ OrderID, Topic, Message string } `json:"feedback"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Feedback) != 1 || list.Feedback[0].Message != fields[3] || list.Feedback[0].Topic != topics[0] {
		t.Errorf("stored feedback = %+v, %v (%s)", list, err, r.body)
	}
	r = e.do(t, http.MethodGet, "/track/"+id+"?token="+tok, "", "")
	if strings.Contains(string(r.body), "Wo bleibt") {
		t.Error("the tracking page shows the feedback")
	}
}
