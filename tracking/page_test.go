package tracking

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func pageEvents() []Event {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	return []Event{
		{ID: "1-0", Time: at(0), Type: TypeAccepted, Source: SourceGateway, Summary: "Order received and safely stored"},
		{ID: "2-0", Time: at(1), Type: TypeConfirmed, Source: SourceERP, Summary: "Confirmed as SO-77",
			Details: map[string]string{DetailExpectedDelivery: "2026-03-06"}},
		{ID: "3-0", Time: at(2), Type: TypeBackorder, Source: SourceERP, Summary: "One item is out of stock",
			Details: map[string]string{DetailShortItems: "1 × <script>alert('x')</script>"}},
		{ID: "4-0", Time: at(3), Type: TypePOAcked, Source: SourceSupplier, Summary: "Supplier promised the goods",
			Details: map[string]string{DetailPromisedDate: "2026-03-09"}},
		{ID: "5-0", Time: at(30), Type: TypeShipped, Source: SourceERP, Summary: "Handed to DHL",
			Details: map[string]string{DetailCarrier: "DHL", DetailTrackingNumber: "JD014600"}},
	}
}

func render(t *testing.T, d PageData) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderPage(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRenderPage(t *testing.T) {
	hostileToken := `tok"></script><script>alert(1)</script>`
	got := render(t, PageData{OrderID: "ord_01J", Reference: "SHOP-1042", Shop: PageShop{Name: "Demo Shop"}, Token: hostileToken,
		Events: pageEvents(), PageURL: "https://shop.example/track/ord_01J"})

	mustContain := []string{
		`<html lang="en">`,
		`<title>Order SHOP-1042: Shipped – Demo Shop</title>`,
		`<meta name="description" content="Status of order SHOP-1042: Shipped. Expected delivery: Wednesday, March 11, 2026.">`,
		`<meta property="og:title" content="Order SHOP-1042: Shipped – Demo Shop">`,
		`<meta property="og:url" content="https://shop.example/track/ord_01J">`,
		`<meta name="referrer" content="no-referrer">`, // the token in the URL never leaks to the carrier
		`<header class="site">`, `<main id="main"`, `<footer`,
		`<span id="status-label">Shipped</span>`,
		`<span id="eta">Wednesday, March 11, 2026</span>`,
		`id="eta-delayed">later than first promised`,
		`href="https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1&amp;tracking-id=JD014600"`,
		`rel="noopener noreferrer"`,
		`aria-live="polite"`,
		`<li class="current" aria-current="step">`,
		`Some items are not in stock yet (1 × &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;); we have ordered them from our supplier`,
		`"events_url":"/v1/tracking/ord_01J/events?token=tok%22%3E%3C%2Fscript%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`,
	}
	for _, s := range mustContain {
		if !strings.Contains(got, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	for _, s := range []string{"alert('x')", "<script>alert", "http://", "cdn", "@import", `src="http`} {
		if strings.Contains(got, s) {
			t.Errorf("page contains %q", s)
		}
	}
	// Newest first.
	if i, j := strings.Index(got, `data-id="5-0"`), strings.Index(got, `data-id="1-0"`); i < 0 || j < 0 || i > j {
		t.Errorf("timeline order: shipped at %d, accepted at %d; want newest first", i, j)
	}
	// Exactly two script elements: the JSON config and the one inline script.
	if n := strings.Count(got, "<script"); n != 2 {
		t.Errorf("page has %d <script> tags, want 2", n)
	}

	golden := filepath.Join("testdata", "page.golden.html")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./tracking -run TestRenderPage -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("page differs from %s; inspect and rerun with -update if intended", golden)
	}
}

// TestPageCSPMatchesInlineCode proves PageCSP allows exactly the inline
// script and style the page carries: if either changes without the hash, a
// browser would refuse to run it.
func TestPageCSPMatchesInlineCode(t *testing.T) {
	got := render(t, PageData{OrderID: "ord_1", Events: pageEvents()})
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(got)
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(got)
	if script == nil || style == nil {
		t.Fatal("no inline script or style")
	}
	csp := PageCSP()
	for name, body := range map[string]string{"script": script[1], "style": style[1]} {
		if h := cspHash(body); !strings.Contains(csp, "'"+h+"'") {
			t.Errorf("CSP %q does not allow the inline %s (hash %s)", csp, name, h)
		}
	}
	for _, d := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lacks %s", d)
		}
	}
}

func TestRenderPageStates(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   []string
		absent []string
	}{
		{"no events", nil,
			[]string{`No updates yet.`, `id="fact-eta" hidden`, `id="fact-carrier" hidden`, `status-progress`, `Order <strong>ord_x</strong>`},
			[]string{`aria-current="step"><span class="dot" aria-hidden="true"></span><span class="step-label">Shipped`}},
		{"rejected", []Event{{ID: "1-0", Time: t0, Type: TypeRejected, Source: SourceERP, Summary: "Refused",
			Details: map[string]string{DetailReason: "SKU-9 is not sold"}}},
			[]string{`status-problem`, `SKU-9 is not sold`, `id="steps" aria-label="Progress" hidden`, `Could not be processed`}, nil},
		{"delivered", []Event{{ID: "1-0", Time: t0, Type: TypeDelivered, Source: SourceERP, Summary: "At the door",
			Details: map[string]string{DetailExpectedDelivery: "2026-03-02"}}},
			[]string{`status-done`, `Status of order ord_x: Delivered.`},
			[]string{`Delivered. Expected delivery`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, PageData{OrderID: "ord_x", Events: tt.events})
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("page lacks %s", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(got, s) {
					t.Errorf("page contains %s", s)
				}
			}
		})
	}
}

func TestEventsURL(t *testing.T) {
	if got, want := EventsURL("ord/1", "a+b c&d"), "/v1/tracking/ord%2F1/events?token=a%2Bb+c%26d"; got != want {
		t.Errorf("EventsURL = %q, want %q", got, want)
	}
	if got, want := EventsURL("ord_1", ""), "/v1/tracking/ord_1/events"; got != want {
		t.Errorf("EventsURL without token = %q, want %q", got, want)
	}
}

// TestRenderPageGerman: the page in German with the shop's settings, its
// products and delivery city, dates in the German style stated in the
// shop's zone, and summaries worded from the events' details.
func TestRenderPageGerman(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, PageData{OrderID: "ord_1", Reference: "WEB-7", Token: "tok", Lang: language.German,
		Shop:   PageShop{Name: "Küchenladen", ContactURL: "mailto:hilfe@kuechen.example", LogoURL: "/favicon.svg", Location: berlin},
		Events: pageEvents(), City: "Berlin",
		Items: []PageItem{{SKU: "SKU-1011", Name: "Stand mixer 5 l", Description: "Mixer", Quantity: 1}, {SKU: "SKU-9", Description: "Kettle", Quantity: 2}}})
	for _, s := range []string{
		`<html lang="de">`,
		`<title>Bestellung WEB-7: Versandt – Küchenladen</title>`,
		`<span id="status-label">Versandt</span>`,
		`Aktualisiert <time datetime="2026-03-03T15:30:00Z" data-local>3. März 2026, 16:30 CET</time>`,
		`<span id="eta">Mittwoch, 11. März 2026</span>`,
		`später als zuerst zugesagt`,
		`Ihre Bestellung ist bestätigt. Voraussichtliche Zustellung: Freitag, 6. März 2026`,
		`Unser Lieferant hat die fehlenden Artikel für Montag, 9. März 2026 bestätigt`,
		`Ihr Paket ist unterwegs mit DHL (Sendungsnummer JD014600)`,
		`<span class="line-name">1 × Stand mixer 5 l</span> <span class="line-desc">Mixer</span> <span class="line-sku">Art.-Nr. SKU-1011</span>`,
		`<span class="line-name">2 × Kettle</span> <span class="line-sku">Art.-Nr. SKU-9</span>`,
		`Lieferung nach Berlin`,
		`Zeiten in Europe/Berlin.`,
		`<a id="contact-link" href="mailto:hilfe@kuechen.example">Küchenladen kontaktieren</a>`,
		`<img class="logo" src="/favicon.svg"`,
		`<a lang="en" hreflang="en" href="?lang=en&amp;token=tok">English</a>`,
		`<span lang="de" aria-current="true">Deutsch</span>`,
		`"lang":"de"`, `"products":{"SKU-1011":"Stand mixer 5 l","SKU-9":"Kettle"}`,
	} {
		if !strings.Contains(got, s) {
			t.Errorf("German page lacks %s", s)
		}
	}
	for _, s := range []string{"Expected delivery", "Order received", "March"} {
		if strings.Contains(got, s) {
			t.Errorf("German page contains English %q", s)
		}
	}
}

func TestEventSummary(t *testing.T) {
	names := map[string]string{"SKU-1011": "Stand mixer 5 l"}
	for _, tc := range []struct {
		lang language.Tag
		e    Event
		want string
	}{
		{language.English, Event{Type: TypeBackorder, Summary: "stored", Details: map[string]string{
			DetailShortItems: "1 × SKU-1011, 2 × SKU-1002", DetailExpectedDelivery: "2026-12-10"}},
			"Some items are not in stock yet (1 × Stand mixer 5 l, 2 × SKU-1002); we have ordered them from our supplier. New expected delivery: Thursday, December 10, 2026"},
		{language.German, Event{Type: TypeConfirmed, Details: map[string]string{DetailERPOrderNumber: "SO-1"}},
			"Ihre Bestellung ist bestätigt (Auftragsnummer SO-1)"},
		{language.German, Event{Type: TypeRejected, Details: map[string]string{DetailReason: "SKU-9 gibt es nicht"}},
			"Wir konnten diese Bestellung nicht ausführen: SKU-9 gibt es nicht"},
		// The detail a sentence is about is missing: the stored summary.
		{language.German, Event{Type: TypePOAcked, Summary: "as stored"}, "as stored"},
		// A type the page does not word: the stored summary.
		{language.German, Event{Type: "customs_cleared", Summary: "Cleared"}, "Cleared"},
	} {
		if got := EventSummary(tc.lang, tc.e, names); got != tc.want {
			t.Errorf("%v %s: got %q, want %q", tc.lang, tc.e.Type, got, tc.want)
		}
	}
}

// TestPageCatalogues: every event type has a status label in every page
// language (a new type without one would show an English word on a German
// page), and the page pieces the template blocks need exist.
func TestPageCatalogues(t *testing.T) {
	for _, typ := range Types {
		if !PageTexts().Has("status." + typ) {
			t.Errorf("no text status.%s", typ)
		}
	}
	for _, name := range []string{"banner", "footer"} {
		if pageTmpl.Lookup(name) == nil {
			t.Errorf("page template has no %q block for later additions", name)
		}
	}
	if len(PageTexts().Languages()) < 2 {
		t.Errorf("languages %v, want English and German", PageTexts().Languages())
	}
}

func TestPageETagAndParts(t *testing.T) {
	d := PageData{OrderID: "ord_1", Events: pageEvents()}
	p, err := NewPage(d)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() != p.Len() || !strings.Contains(b.String(), "<style>"+pageCSS+"</style>") || !strings.Contains(b.String(), "<script>"+pageJS+"</script>") {
		t.Errorf("page of %d bytes (Len %d) does not carry the style and script whole", b.Len(), p.Len())
	}
	if p.Size() >= b.Len()-len(pageCSS)-len(pageJS)+1024 {
		t.Errorf("Size %d counts the shared style and script", p.Size())
	}
	en := PageETag(language.English, d.Events, "x")
	if en == PageETag(language.German, d.Events, "x") || en == PageETag(language.English, d.Events[:4], "x") ||
		en == PageETag(language.English, d.Events, "y") || en != PageETag(language.English, d.Events, "x") {
		t.Error("PageETag does not follow the language, the timeline and the caller's part")
	}
}

func TestRenderPageBannerAndFeedback(t *testing.T) {
	start := time.Date(2026, 12, 12, 22, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	d := PageData{OrderID: "ord 1/x", Token: `t"><b>`, Events: pageEvents(), Lang: language.German,
		Shop:     PageShop{Location: berlin},
		Banner:   &PageBanner{Message: `ERP-Update <script>alert(1)</script>`, Start: start, End: start.Add(3 * time.Hour)},
		Feedback: &PageFeedback{Topics: []string{"delivery-date", "tracking-page", "my-own"}}}
	got := render(t, d)
	for _, want := range []string{
		`<aside class="notice" id="notice" role="note" aria-labelledby="notice-heading">`,
		`<strong>Geplante Wartung:</strong> <time datetime="2026-12-12T22:00:00Z" data-local>12. Dezember 2026, 23:00 CET</time> – <time datetime="2026-12-13T01:00:00Z" data-local>13. Dezember 2026, 02:00 CET</time>`,
		`<p class="notice-text" id="notice-text">ERP-Update &lt;script&gt;alert(1)&lt;/script&gt;</p>`,
		`<form class="feedback" id="feedback" method="post" action="/v1/tracking/ord%201%2Fx/feedback" aria-labelledby="feedback-heading">`,
		`<h2 id="feedback-heading">Stimmt etwas nicht? Sagen Sie es uns</h2>`,
		`<input type="hidden" name="token" value="t&#34;&gt;&lt;b&gt;">`,
		`<input type="hidden" name="language" value="de">`,
		`<label for="fb-topic">Thema</label>`, `<select id="fb-topic" name="topic">`,
		`<option value="delivery-date">Liefertermin</option>`, `<option value="tracking-page">Diese Seite</option>`,
		`<option value="my-own">my-own</option>`,
		`<label for="fb-message">Ihre Nachricht</label>`,
		`<textarea id="fb-message" name="message" rows="4" minlength="3" maxlength="2000" required aria-describedby="feedback-hint"></textarea>`,
		`<button type="submit" class="send">Senden</button>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	d.Banner.Active, d.Lang = true, language.English
	if got = render(t, d); !strings.Contains(got, `<strong>Maintenance now:</strong>`) || !strings.Contains(got, `December 12, 2026, 11:00 PM CET`) {
		t.Error("an active notice is not announced as running, in English")
	}
	d.Banner, d.Feedback = nil, nil
	if got = render(t, d); strings.Contains(got, `id="notice"`) || strings.Contains(got, `<form`) {
		t.Error("a page without notice or feedback shows a banner or form")
	}
	if !strings.Contains(PageCSP(), "form-action 'self'") {
		t.Errorf("CSP %q does not let the form post", PageCSP())
	}
}
