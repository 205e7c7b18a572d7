package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"erpgate/tracking"
)

// getPage fetches a page with the given request headers.
func getPage(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := send(t, req, hdr...)
	return resp, string(b)
}

// mixerOrder starts a gateway whose simulator leaves orders where they are
// (the test moves them, as ERP v2 would) and places an order of a kettle
// and the stand mixer (no stock: a backorder), delivered to Berlin.
func mixerOrder(t *testing.T, ext string) (gw, id, token, pageURL string) {
	t.Helper()
	gw, logs, _ := startRun(t)
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	putJSON(t, sim+"/sim/lifecycle", `{"step":"0s"}`)
	resp, b := post(t, gw+"/v1/orders", "demo-shop-key", strings.Replace(orderBody(ext), `"SKU-1002"`, `"SKU-1011"`, 1))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/orders: %d %v", resp.StatusCode, b)
	}
	tr := b["tracking"].(map[string]any)
	return gw, b["id"].(string), tr["token"].(string), tr["url"].(string)
}

// TestRunTrackingPageLanguageAndRevalidation: the page through run() in the
// customer's language (Accept-Language, ?lang= remembered in a cookie, the
// demo shop's English otherwise), with the catalog's product names, the
// delivery city and the demo shop's profile; an unchanged page is a 304 for
// its ETag, a changed timeline a new page; the favicon is served.
func TestRunTrackingPageLanguageAndRevalidation(t *testing.T) {
	gw, id, token, pageURL := mixerOrder(t, "WEB-PAGE-1")
	// The delivery to the ERP adds an event: wait for it, so that the
	// timeline holds still while the test compares pages.
	waitTracking(t, gw, id, "passed to the ERP", func(v trackView) bool {
		return slices.Contains(trail(v.Events, ""), tracking.TypeERPReceived)
	})

	// The demo shop's default, English, without a preference.
	r, en := getPage(t, pageURL)
	if r.StatusCode != http.StatusOK || !strings.Contains(en, `<html lang="en">`) {
		t.Fatalf("page: %d, lang attribute missing: %.300s", r.StatusCode, en)
	}
	for _, s := range []string{
		`<span id="shop-name">Demo Kitchen Shop</span>`, `href="mailto:service@demo-shop.example"`, `src="/favicon.svg"`,
		`1 × Stand mixer 5 l`, `<span class="line-desc">Kettle</span>`, `Delivery to Berlin`, `Times are shown in Europe/Berlin.`,
	} {
		if !strings.Contains(en, s) {
			t.Errorf("English page lacks %s", s)
		}
	}
	if got := r.Header.Get("Content-Length"); got == "" || got != strconv.Itoa(len(en)) {
		t.Errorf("Content-Length %q, body %d bytes", got, len(en))
	}
	etag := r.Header.Get("ETag")
	if etag == "" || r.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("ETag %q Cache-Control %q, want a tag and private, no-cache", etag, r.Header.Get("Cache-Control"))
	}

	// German from the browser's preference.
	r, de := getPage(t, pageURL, "Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	if !strings.Contains(de, `<html lang="de">`) || !strings.Contains(de, "Bestellung eingegangen") || !strings.Contains(de, "Lieferung nach Berlin") {
		t.Errorf("Accept-Language de: page is not German: %.400s", de)
	}
	if r.Header.Get("ETag") == etag {
		t.Errorf("German page has the English page's ETag %s", etag)
	}

	// The switch: ?lang=de answers German and remembers it in a cookie.
	r, _ = getPage(t, pageURL+"&lang=de", "Accept-Language", "en")
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "lang" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "de" {
		t.Fatalf("?lang=de set cookies %v, want lang=de", r.Cookies())
	}
	_, again := getPage(t, pageURL, "Accept-Language", "en", "Cookie", "lang=de")
	if !strings.Contains(again, `<html lang="de">`) {
		t.Error("the lang cookie does not choose German over Accept-Language")
	}

	// Revalidation: unchanged → 304 without a body; a new event → 200.
	r, body := getPage(t, pageURL, "If-None-Match", etag)
	if r.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("If-None-Match with the current ETag: %d with %d bytes, want 304 and none", r.StatusCode, len(body))
	}
	pushStatus(t, gw, id, 1, "confirmed", nil)
	r, changed := getPage(t, pageURL, "If-None-Match", etag)
	if r.StatusCode != http.StatusOK || r.Header.Get("ETag") == etag || !strings.Contains(changed, `<span id="status-label">Confirmed</span>`) {
		t.Errorf("after a new event: %d ETag %s, want 200 with a new tag and the new status", r.StatusCode, r.Header.Get("ETag"))
	}

	// The JSON answer revalidates the same way.
	r, _ = getPage(t, gw+"/v1/tracking/"+id+"?token="+token)
	jtag := r.Header.Get("ETag")
	r, _ = getPage(t, gw+"/v1/tracking/"+id+"?token="+token, "If-None-Match", jtag)
	if jtag == "" || r.StatusCode != http.StatusNotModified {
		t.Errorf("JSON If-None-Match %q: %d, want 304", jtag, r.StatusCode)
	}

	// The error page speaks the customer's language too.
	r, nf := getPage(t, gw+"/track/"+id+"?token=wrong", "Accept-Language", "de")
	if r.StatusCode != http.StatusNotFound || !strings.Contains(nf, "Wir konnten diese Bestellung nicht finden") {
		t.Errorf("unknown order in German: %d %s", r.StatusCode, nf)
	}

	for path, ctype := range map[string]string{"/favicon.ico": "image/x-icon", "/favicon.svg": "image/svg+xml"} {
		r, body := getPage(t, gw+path)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ctype || len(body) < 100 {
			t.Errorf("%s: %d %s, %d bytes", path, r.StatusCode, r.Header.Get("Content-Type"), len(body))
		}
		if path == "/favicon.ico" && !strings.HasPrefix(body, "\x00\x00\x01\x00\x01\x00") {
			t.Errorf("favicon.ico is no ICO file: % x", body[:6])
		}
	}
}
