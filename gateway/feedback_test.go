package gateway

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"erpgate/feedback"
)

// placeOrder accepts an order for the demo shop and returns its id and
// tracking token.
func (e *noticeEnv) placeOrder(t *testing.T, ext string) (string, string) {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/orders", "demo-shop-key", restOrder(ext))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST /v1/orders = %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["id"].(string), m["tracking"].(map[string]any)["token"].(string)
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

// TestCustomerFeedbackForm: the tracking page's plain HTML form post is
// answered with a page — thanks (German by Accept-Language, a link back to
// the order), or the reason it was refused (bad token: 404 without a hint;
// too long: 413 naming the field; an unknown field: 400) — and the
// feedback is tied to the order's cohort and the plan revision; markup in
// it is kept as data and never reaches a page unescaped.
func TestCustomerFeedbackForm(t *testing.T) {
	e := newNoticeEnv(t)
	id, tok := e.placeOrder(t, "WEB-F1")
	path := "/v1/tracking/" + id + "/feedback"

	r := e.do(t, http.MethodPost, path, "", form("token", tok, "topic", "delivery-date", "message", `<script>alert("x")</script> Wann?`),
		"Content-Type", formType, "Accept-Language", "de-DE,de;q=0.9")
	page := string(r.body)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, `<html lang="de">`) || !strings.Contains(page, "Vielen Dank") ||
		!strings.Contains(page, `href="https://gw.example/track/`+id+`?token=`+tok+`"`) ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("thanks page = %d %s\n%s", r.status, r.header, page)
	}
	if strings.Contains(page, "<script>") {
		t.Error("the confirmation echoes markup")
	}

	r = e.do(t, http.MethodPost, path, "", form("token", "wrong", "message", "hello"), "Content-Type", formType)
	if r.status != http.StatusNotFound || !strings.Contains(string(r.body), "no such order") || strings.Contains(string(r.body), "/track/") {
		t.Errorf("bad token = %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, path, "", form("token", tok, "message", strings.Repeat("x", feedback.MaxMessageLen+1)), "Content-Type", formType)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.body), "message: at most 2000 characters") {
		t.Errorf("long message = %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, path, "", form("token", tok, "message", "hi there", "email", "x@example.com"), "Content-Type", formType)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "email: unknown form field") {
		t.Errorf("unknown field = %d %s", r.status, r.body)
	}

	// JSON, with the token as Bearer: the same rules, JSON answers.
	r = e.do(t, http.MethodPost, path, tok, `{"topic":"Wrong colour","message":"It came in blue."}`)
	if r.status != http.StatusCreated || r.json(t)["topic"] != "wrong-colour" {
		t.Errorf("JSON feedback = %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodPost, path, tok, `{"topic":"x","message":""}`)
	if got := r.problemFields(t); got != "invalid:topic,message" {
		t.Errorf("bad JSON feedback = %s", got)
	}
	// Three stored so far; the per-order limit is 5 an hour.
	for i := 0; i < feedback.PerOrder-2; i++ {
		if r = e.do(t, http.MethodPost, path, tok, `{"message":"again"}`); r.status != http.StatusCreated {
			t.Fatalf("feedback %d = %d %s", i, r.status, r.body)
		}
	}
	r = e.do(t, http.MethodPost, path, tok, `{"message":"too many"}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.problemFields(t) != "rate_limited:" {
		t.Errorf("over the limit = %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}

	r = e.do(t, http.MethodGet, "/admin/feedback?topic=delivery-date", adminToken, "")
	items := r.json(t)["feedback"].([]any)
	if len(items) != 1 {
		t.Fatalf("admin list = %s", r.body)
	}
	f := items[0].(map[string]any)
	if f["message"] != `<script>alert("x")</script> Wann?` || f["cohort"] != "pilot" || f["revision"] != 4.0 ||
		f["channel"] != "customer" || f["order_id"] != id || f["language"] != "de" {
		t.Errorf("stored feedback = %v", f)
	}
	if !strings.Contains(string(r.body), `\u003cscript\u003e`) {
		t.Error("the admin API does not escape markup in JSON")
	}
	if got := metricValue(t, e.reg, "erpgate_feedback_received_total"); got != float64(feedback.PerOrder) {
		t.Errorf("erpgate_feedback_received_total = %v, want %d", got, feedback.PerOrder)
	}
}

// TestShopFeedbackAndTopics: a shop gives feedback about its own order (by
// id or external id) or in general, never about another shop's order; the
// admin counts by topic and revision, most asked first, and pages.
func TestShopFeedbackAndTopics(t *testing.T) {
	e := newNoticeEnv(t)
	id, _ := e.placeOrder(t, "WEB-S1")
	for _, body := range []string{
		`{"order_id":"` + id + `","topic":"api","message":"Where are the webhook docs?"}`,
		`{"external_id":"WEB-S1","topic":"api","message":"And the SOAP faults?"}`,
		`{"topic":"invoice","message":"Invoices are late."}`,
	} {
		if r := e.do(t, http.MethodPost, "/v1/feedback", "demo-shop-key", body); r.status != http.StatusCreated {
			t.Fatalf("%s = %d %s", body, r.status, r.body)
		}
	}
	if r := e.do(t, http.MethodPost, "/v1/feedback", "other-shop-key", `{"order_id":"`+id+`","message":"not mine"}`); r.status != http.StatusNotFound {
		t.Errorf("another shop's order = %d %s", r.status, r.body)
	}
	for body, want := range map[string]string{
		`{"order_id":"a","external_id":"b","message":"both"}`: "invalid:order_id",
		`{"message":"x","extra":1}`:                           "invalid:extra",
		`{"message":"hello","token":"abc"}`:                   "invalid:token",
	} {
		if got := e.do(t, http.MethodPost, "/v1/feedback", "demo-shop-key", body).problemFields(t); got != want {
			t.Errorf("%s = %s, want %s", body, got, want)
		}
	}
	if r := e.do(t, http.MethodPost, "/v1/feedback", "", `{"message":"anonymous"}`); r.status != http.StatusUnauthorized {
		t.Errorf("without a key = %d", r.status)
	}
	r := e.do(t, http.MethodGet, "/admin/feedback/topics", adminToken, "")
	ts := r.json(t)["topics"].([]any)
	if len(ts) != 2 || ts[0].(map[string]any)["topic"] != "api" || ts[0].(map[string]any)["count"] != 2.0 {
		t.Errorf("topics = %s", r.body)
	}
	if r = e.do(t, http.MethodGet, "/admin/feedback/topics?revision=3", adminToken, ""); len(r.json(t)["topics"].([]any)) != 0 {
		t.Errorf("topics of another revision = %s", r.body)
	}
	r = e.do(t, http.MethodGet, "/admin/feedback?limit=2", adminToken, "")
	next := r.json(t)["next_before"].(string)
	if len(r.json(t)["feedback"].([]any)) != 2 || next == "" {
		t.Fatalf("page 1 = %s", r.body)
	}
	r = e.do(t, http.MethodGet, "/admin/feedback?limit=2&before="+next, adminToken, "")
	if len(r.json(t)["feedback"].([]any)) != 1 {
		t.Errorf("page 2 = %s", r.body)
	}
	for q, want := range map[string]string{"limit=0": "invalid:limit", "limit=x": "invalid:limit", "revision=-1": "invalid:revision",
		"topic=%3Cx%3E": "invalid:topic", "before=zzz": "invalid:before"} {
		if got := e.do(t, http.MethodGet, "/admin/feedback?"+q, adminToken, "").problemFields(t); got != want {
			t.Errorf("?%s = %s, want %s", q, got, want)
		}
	}
	if r = e.do(t, http.MethodGet, "/admin/feedback", "demo-shop-key", ""); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
		t.Errorf("a shop reads the feedback: %d", r.status)
	}
}

// TestHelpPagesAndFAQ: the manual in the negotiated language with its
// headers (CSP, Vary, gzip), a bad ?lang= refused, the FAQ built from
// published entries most asked first, the FAQ admin's checks, robots.txt
// and the sitemap.
func TestHelpPagesAndFAQ(t *testing.T) {
	e := newNoticeEnv(t)
	r := e.do(t, http.MethodGet, "/help", "", "", "Accept-Language", "de-CH, en;q=0.5", "Accept-Encoding", "gzip")
	if r.status != 200 || !strings.Contains(string(r.body), `<html lang="de">`) || r.header.Get("Content-Encoding") != "gzip" ||
		!strings.Contains(r.header.Get("Vary"), "Accept-Language") || r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("/help (de) = %d %v", r.status, r.header)
	}
	if r = e.do(t, http.MethodGet, "/help?lang=en", "", "", "Accept-Language", "de"); !strings.Contains(string(r.body), `<html lang="en">`) ||
		r.header.Get("Content-Encoding") != "" {
		t.Errorf("/help?lang=en: the switch does not win, or gzip without asking")
	}
	if r = e.do(t, http.MethodGet, "/help?lang=fr", "", ""); r.problemFields(t) != "invalid:lang" {
		t.Errorf("?lang=fr = %d %s", r.status, r.body)
	}

	for body, want := range map[string]string{
		`{"topic":"api","question":{"en":"Q"},"answer":{"en":"A","de":"A"}}`:                       "invalid:question.de",
		`{"question":{"en":"Q","de":"F"},"answer":{"en":"A","de":"A"}}`:                            "invalid:topic",
		`{"id":"other","topic":"api","question":{"en":"Q","de":"F"},"answer":{"en":"A","de":"A"}}`: "invalid:id",
	} {
		if got := e.do(t, http.MethodPut, "/admin/faq/webhooks", adminToken, body).problemFields(t); got != want {
			t.Errorf("%s = %s, want %s", body, got, want)
		}
	}
	put := func(id, topic, q string) int {
		return e.do(t, http.MethodPut, "/admin/faq/"+id, adminToken, `{"topic":"`+topic+`","question":{"en":"`+q+`","de":"`+q+` (de)"},"answer":{"en":"Answer.","de":"Antwort."}}`).status
	}
	if s := put("webhooks", "api", "How do webhooks work?"); s != http.StatusCreated {
		t.Errorf("PUT = %d", s)
	}
	if s := put("webhooks", "api", "How do webhooks work?"); s != http.StatusOK {
		t.Errorf("PUT again = %d", s)
	}
	put("late", "delivery-date", "Why is my order late?")
	for range 2 {
		e.do(t, http.MethodPost, "/v1/feedback", "demo-shop-key", `{"topic":"delivery-date","message":"late again"}`)
	}
	r = e.do(t, http.MethodGet, "/help/faq", "", "")
	page := string(r.body)
	late, hooks := strings.Index(page, "Why is my order late?"), strings.Index(page, "How do webhooks work?")
	if r.status != 200 || late < 0 || hooks < 0 || late > hooks || !strings.Contains(page, `"@type":"FAQPage"`) {
		t.Errorf("FAQ page = %d, late at %d, webhooks at %d (most asked first)\n%s", r.status, late, hooks, page)
	}
	if r = e.do(t, http.MethodDelete, "/admin/faq/webhooks", adminToken, ""); r.status != http.StatusNoContent {
		t.Errorf("DELETE = %d", r.status)
	}
	if r = e.do(t, http.MethodDelete, "/admin/faq/webhooks", adminToken, ""); r.status != http.StatusNotFound {
		t.Errorf("DELETE again = %d", r.status)
	}
	if r = e.do(t, http.MethodGet, "/admin/faq", adminToken, ""); len(r.json(t)["entries"].([]any)) != 1 {
		t.Errorf("admin FAQ = %s", r.body)
	}
	if r = e.do(t, http.MethodGet, "/robots.txt", "", ""); !strings.Contains(string(r.body), "Sitemap: https://gw.example/sitemap.xml") {
		t.Errorf("robots.txt = %s", r.body)
	}
	r = e.do(t, http.MethodGet, "/sitemap.xml", "", "")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/xml") || !strings.Contains(string(r.body), "<loc>https://gw.example/help/faq?lang=de</loc>") ||
		strings.Contains(string(r.body), "/track") {
		t.Errorf("sitemap = %s", r.body)
	}
}

// TestHelpLanguageLikeTrackingPage: the help pages and the tracking page
// negotiate the language one way (locale): the switch on a help page is
// remembered in the same cookie (and that answer is not for shared
// caches), and the cookie then wins over Accept-Language on the help
// pages and in the feedback form's answer.
func TestHelpLanguageLikeTrackingPage(t *testing.T) {
	e := newNoticeEnv(t)
	r := e.do(t, http.MethodGet, "/help?lang=de", "", "", "Accept-Language", "en")
	cookie := r.header.Get("Set-Cookie")
	if !strings.Contains(string(r.body), `<html lang="de">`) || !strings.HasPrefix(cookie, "lang=de;") ||
		!strings.HasPrefix(r.header.Get("Cache-Control"), "private") || !strings.Contains(r.header.Get("Vary"), "Cookie") {
		t.Fatalf("/help?lang=de: %s %s", r.header, r.body[:min(len(r.body), 200)])
	}
	r = e.do(t, http.MethodGet, "/help/faq", "", "", "Accept-Language", "en", "Cookie", "lang=de")
	if !strings.Contains(string(r.body), `<html lang="de">`) || r.header.Get("Set-Cookie") != "" || !strings.HasPrefix(r.header.Get("Cache-Control"), "public") {
		t.Errorf("/help/faq with the cookie: %s", r.header)
	}
	id, tok := e.placeOrder(t, "WEB-L1")
	r = e.do(t, http.MethodPost, "/v1/tracking/"+id+"/feedback", "", form("token", tok, "message", "Where is it?"),
		"Content-Type", formType, "Accept-Language", "en", "Cookie", "lang=de")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Vielen Dank") {
		t.Errorf("feedback answer with the cookie = %d %s", r.status, r.body)
	}
}
