package help

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"erpgate"
	"erpgate/feedback"
	"erpgate/locale"
)

// TestLocale: the help pages negotiate like every page (locale): the
// switch, then the remembered cookie, then Accept-Language, then English;
// Locale's languages are Languages.
func TestLocale(t *testing.T) {
	for _, tc := range []struct{ query, cookie, header, want string }{
		{"", "", "", "en"},
		{"", "", "de-DE,de;q=0.9,en;q=0.8", "de"},
		{"", "", "de-AT", "de"},
		{"", "", "fr-FR,fr;q=0.9,de;q=0.5", "de"},
		{"", "", "fr-FR", "en"},
		{"en", "", "de", "en"},
		{"DE", "", "", "de"},
		{"xx", "", "de", "de"},
		{"", "de", "en", "de"},
		{"en", "de", "", "en"},
		{"", "", "garbage;;;", "en"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/help?"+url.Values{"lang": {tc.query}}.Encode(), nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: locale.CookieName, Value: tc.cookie})
		}
		if tc.header != "" {
			r.Header.Set("Accept-Language", tc.header)
		}
		if got, _ := Locale.Negotiate(r, ""); got.String() != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
	for _, l := range Languages {
		if got, ok := Locale.Supported(l); !ok || got.String() != l {
			t.Errorf("Locale does not speak %s", l)
		}
	}
}

func entry(id, topic, q string) Entry {
	return Entry{ID: id, Topic: topic, Question: map[string]string{"en": q, "de": q + " (de)"},
		Answer: map[string]string{"en": "First.\n\nSecond </script><b>x</b>", "de": "Erstens."}}
}

// TestRenderFAQ: the FAQ page escapes what admins wrote, splits
// paragraphs, and carries FAQPage JSON-LD that parses and cannot be broken
// out of.
func TestRenderFAQ(t *testing.T) {
	var b strings.Builder
	es := []Entry{entry("when", "delivery-date", "When <i>arrives</i> it?"), entry("sig", "api", "Signature?")}
	es[0].UpdatedAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := RenderFAQ(&b, "en", "https://gw.example", es); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<html lang="en">`, `When &lt;i&gt;arrives&lt;/i&gt; it?`, `<p>First.</p>`,
		`<p>Second &lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</p>`, `<li id="when">`,
		`<link rel="canonical" href="https://gw.example/help/faq?lang=en">`,
		`<link rel="alternate" hreflang="de" href="https://gw.example/help/faq?lang=de">`,
		`<a href="/help/faq?lang=de" hreflang="de" lang="de">Deutsch</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<i>") || strings.Contains(page, "<b>x") {
		t.Error("admin text rendered unescaped")
	}
	m := regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("%d JSON-LD blocks, want 1 (a </script> in an answer must not end it)", len(m))
	}
	var ld struct {
		Context string `json:"@context"`
		Type    string `json:"@type"`
		Main    []struct {
			Type, Name string
			Answer     struct{ Text string } `json:"acceptedAnswer"`
		} `json:"mainEntity"`
	}
	if err := json.Unmarshal([]byte(m[0][1]), &ld); err != nil {
		t.Fatalf("JSON-LD: %v\n%s", err, m[0][1])
	}
	if ld.Type != "FAQPage" || ld.Context != "https://schema.org" || len(ld.Main) != 2 || ld.Main[0].Name != "When <i>arrives</i> it?" ||
		!strings.Contains(ld.Main[0].Answer.Text, "</script>") {
		t.Errorf("JSON-LD = %+v", ld)
	}

	b.Reset()
	if err := RenderFAQ(&b, "de", "https://gw.example", nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "noch keine Fragen") || strings.Contains(b.String(), "ld+json") {
		t.Error("empty German FAQ: no notice, or JSON-LD without questions")
	}
}

func TestRenderManualAndCSP(t *testing.T) {
	for _, lang := range Languages {
		var b strings.Builder
		if err := RenderManual(&b, lang, "http://127.0.0.1:8080"); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		for _, want := range []string{`<html lang="` + lang + `">`, `curl -si -X POST http://127.0.0.1:8080/v1/orders`,
			`id="customers"`, `id="shops"`, `id="suppliers"`, `id="notices"`, `<link rel="icon" href="/favicon.ico">`, `<meta name="description"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s manual lacks %s", lang, want)
			}
		}
		if strings.Contains(page, "<script") {
			t.Errorf("%s manual has a script", lang)
		}
		// The inline style is the one the CSP allows by hash.
		style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
		if style == nil || !strings.Contains(CSP(), cspHash(style[1])) {
			t.Errorf("%s: the page's style is not the one the CSP allows", lang)
		}
	}
}

func TestRobotsAndSitemap(t *testing.T) {
	r := Robots("https://gw.example/")
	if !strings.Contains(r, "Allow: /help\n") || !strings.Contains(r, "Sitemap: https://gw.example/sitemap.xml") ||
		strings.Contains(r, "/track") {
		t.Errorf("robots.txt:\n%s", r)
	}
	var sm struct {
		URLs []struct {
			Loc  string `xml:"loc"`
			Alts []struct {
				Lang string `xml:"hreflang,attr"`
			} `xml:"link"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal([]byte(Sitemap("https://gw.example")), &sm); err != nil {
		t.Fatal(err)
	}
	var locs []string
	for _, u := range sm.URLs {
		locs = append(locs, u.Loc)
		if len(u.Alts) != 2 {
			t.Errorf("%s: %d alternates, want 2", u.Loc, len(u.Alts))
		}
	}
	if got := strings.Join(locs, " "); got != "https://gw.example/help?lang=en https://gw.example/help?lang=de https://gw.example/help/faq?lang=en https://gw.example/help/faq?lang=de" {
		t.Errorf("sitemap locs = %s", got)
	}
}

func TestEntryValidateAndRank(t *testing.T) {
	e := entry("when", "Delivery date", "When?")
	if err := e.Validate(); err != nil || e.Topic != "delivery-date" {
		t.Fatalf("valid entry: %v (topic %q)", err, e.Topic)
	}
	bad := Entry{ID: "Bad ID", Question: map[string]string{"en": "q", "fr": "q"}, Answer: map[string]string{"en": "a", "de": "a\x00"}}
	err := bad.Validate()
	var fs []string
	for _, p := range erpgate.ErrorProblems(err) {
		fs = append(fs, p.Field)
	}
	if erpgate.ErrorCode(err) != erpgate.Invalid || strings.Join(fs, ",") != "answer.de,id,question,question.de,topic" {
		t.Errorf("Validate = %v %v", err, fs)
	}
	es := []Entry{entry("a", "api", "A"), entry("b", "delivery-date", "B"), entry("c", "invoice", "C")}
	got := Rank(es, []feedback.TopicCount{{Topic: "delivery-date", Count: 9}, {Topic: "invoice", Count: 3}})
	if got[0].ID != "b" || got[1].ID != "c" || got[2].ID != "a" {
		t.Errorf("Rank = %s %s %s, want b c a (most asked first)", got[0].ID, got[1].ID, got[2].ID)
	}
}
