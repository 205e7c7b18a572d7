// Package help is erpgate's public help on the web: the user manual (for
// customers following an order, shop integrators and suppliers), the FAQ
// an admin publishes from the feedback topics, robots.txt and the sitemap.
// Pages are server-rendered in English and German, phone-first, with no
// script; the FAQ carries schema.org FAQPage JSON-LD.
//
// Nothing here imports echo: the gateway's handlers negotiate the language
// with Locale and call the Render functions. The FAQ entries (Entry) are business data with their
// own rules; store.FAQ keeps them in Redis.
package help

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"golang.org/x/text/language"

	"erpgate/locale"
)

// Languages are the languages of the help pages, the first the default.
var Languages = []string{"en", "de"}

// Locale negotiates the help pages' language among Languages the one way
// the whole gateway does (locale.Negotiator.Negotiate): ?lang=, the "lang"
// cookie, Accept-Language, English.
var Locale = locale.NewNegotiator(language.English, language.German)

var (
	//go:embed pages/layout.html
	layoutHTML string
	//go:embed pages/manual.en.html
	manualEN string
	//go:embed pages/manual.de.html
	manualDE string
	//go:embed pages/faq.html
	faqHTML string
	//go:embed pages/note.html
	noteHTML string
	//go:embed pages/examples.html
	examplesHTML string
	//go:embed pages/help.css
	pageCSS string

	tmpl = template.Must(template.Must(template.Must(template.Must(template.Must(template.Must(
		template.New("layout").Funcs(template.FuncMap{"paragraphs": paragraphs}).Parse(layoutHTML)).
		New("manual-en").Parse(manualEN)).
		New("manual-de").Parse(manualDE)).
		New("faq").Parse(faqHTML)).New("note").Parse(noteHTML)).New("examples").Parse(examplesHTML))

	// connect-src 'self': nothing on the page fetches (it has no script),
	// but crawlers' audits such as Lighthouse fetch /robots.txt from
	// within the page, which 'none' would block.
	csp = "default-src 'none'; style-src '" + cspHash(pageCSS) + "'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// CSP returns the Content-Security-Policy of the help pages: no script at
// all (JSON-LD is data, not run), the one inline style by hash.
func CSP() string { return csp }

// paragraphs splits plain text at blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// text holds the words of the page frame per language.
type text struct {
	Skip, NavLabel, Manual, FAQ, LangLabel, Other, OtherName, Footer string
	ManualTitle, ManualDesc, FAQTitle, FAQDesc, FAQIntro, FAQEmpty   string
}

var texts = map[string]text{
	"en": {
		Skip: "Skip to content", NavLabel: "Help", Manual: "User manual", FAQ: "FAQ",
		LangLabel: "Language", Other: "de", OtherName: "Deutsch",
		Footer:      "erpgate — the order gateway between the online shop, its customers, suppliers and the ERP.",
		ManualTitle: "User manual — erpgate help",
		ManualDesc:  "How to follow an order, connect a shop to the order gateway, and work with purchase orders as a supplier: short, with examples.",
		FAQTitle:    "Frequently asked questions — erpgate help",
		FAQDesc:     "Answers to what customers, shops and suppliers asked most while testing the new release.",
		FAQIntro:    "What pilot users asked most while testing the new release, most asked first.",
		FAQEmpty:    "No questions have been published yet. The user manual covers the basics.",
	},
	"de": {
		Skip: "Zum Inhalt springen", NavLabel: "Hilfe", Manual: "Benutzerhandbuch", FAQ: "Häufige Fragen",
		LangLabel: "Sprache", Other: "en", OtherName: "English",
		Footer:      "erpgate – das Bestell-Gateway zwischen Onlineshop, Kundinnen und Kunden, Lieferanten und ERP.",
		ManualTitle: "Benutzerhandbuch – erpgate-Hilfe",
		ManualDesc:  "So verfolgen Sie eine Bestellung, binden einen Shop an das Bestell-Gateway an und bearbeiten Bestellungen als Lieferant: kurz und mit Beispielen.",
		FAQTitle:    "Häufige Fragen – erpgate-Hilfe",
		FAQDesc:     "Antworten auf das, was Kundinnen, Kunden, Shops und Lieferanten beim Test des neuen Release am häufigsten gefragt haben.",
		FAQIntro:    "Was Pilotnutzer beim Test des neuen Release am häufigsten gefragt haben – die häufigste Frage zuerst.",
		FAQEmpty:    "Es sind noch keine Fragen veröffentlicht. Das Benutzerhandbuch erklärt die Grundlagen.",
	},
}

// page is what the layout renders.
type page struct {
	Lang, Path, Base string
	T                text
	Title, Desc      string
	Body             string // the template of the main content
	JSONLD           template.JS
	CSS              template.CSS
	FAQ              []faqItem
	Updated          string
	NoIndex          bool
	Note             *noteView
}

type faqItem struct {
	ID, Question string
	Answer       []string
}

func newPage(lang, path, base string) page {
	if _, ok := texts[lang]; !ok {
		lang = Languages[0]
	}
	return page{Lang: lang, Path: path, Base: strings.TrimRight(base, "/"), T: texts[lang], CSS: template.CSS(pageCSS)}
}

// RenderManual writes the user manual in lang; base is the gateway's public
// URL, used in the examples and the canonical links.
func RenderManual(w io.Writer, lang, base string) error {
	p := newPage(lang, "/help", base)
	p.Title, p.Desc, p.Body = p.T.ManualTitle, p.T.ManualDesc, "manual-"+p.Lang
	return render(w, p)
}

// RenderFAQ writes the FAQ page in lang with entries in the order given
// (see Rank), and its FAQPage JSON-LD.
func RenderFAQ(w io.Writer, lang, base string, entries []Entry) error {
	p := newPage(lang, "/help/faq", base)
	p.Title, p.Desc, p.Body = p.T.FAQTitle, p.T.FAQDesc, "faq"
	type answer struct {
		Type string `json:"@type"`
		Text string `json:"text"`
	}
	type question struct {
		Type   string `json:"@type"`
		Name   string `json:"name"`
		Answer answer `json:"acceptedAnswer"`
	}
	var qs []question
	var updated time.Time
	for _, e := range entries {
		q, a := pick(e.Question, p.Lang), pick(e.Answer, p.Lang)
		if q == "" || a == "" {
			continue
		}
		p.FAQ = append(p.FAQ, faqItem{ID: e.ID, Question: q, Answer: paragraphs(a)})
		qs = append(qs, question{Type: "Question", Name: q, Answer: answer{Type: "Answer", Text: a}})
		if e.UpdatedAt.After(updated) {
			updated = e.UpdatedAt
		}
	}
	if !updated.IsZero() {
		p.Updated = updated.UTC().Format(time.DateOnly)
	}
	if len(qs) > 0 {
		// json.Marshal escapes <, > and & so that no text can end the
		// script element.
		b, err := json.Marshal(struct {
			Context string     `json:"@context"`
			Type    string     `json:"@type"`
			Lang    string     `json:"inLanguage"`
			Main    []question `json:"mainEntity"`
		}{"https://schema.org", "FAQPage", p.Lang, qs})
		if err != nil {
			return err
		}
		p.JSONLD = template.JS(b)
	}
	return render(w, p)
}

func pick(m map[string]string, lang string) string {
	if v := strings.TrimSpace(m[lang]); v != "" {
		return v
	}
	return strings.TrimSpace(m[Languages[0]])
}

func render(w io.Writer, p page) error {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("help: render %s: %w", p.Path, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Robots returns robots.txt: the help pages may be crawled; the API, admin
// and SOAP paths not. Tracking pages are not listed: they are private by
// their token and carry noindex themselves (a Disallow would keep crawlers
// from ever seeing that noindex).
func Robots(base string) string {
	return "User-agent: *\nAllow: /help\nDisallow: /v1/\nDisallow: /admin/\nDisallow: /soap/\nDisallow: /erp/\n\n" +
		"Sitemap: " + strings.TrimRight(base, "/") + "/sitemap.xml\n"
}

// Sitemap returns sitemap.xml: the help pages in every language, with
// their language alternates; nothing else.
func Sitemap(base string) string {
	base = strings.TrimRight(base, "/")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">` + "\n")
	for _, path := range []string{"/help", "/help/faq"} {
		for _, l := range Languages {
			fmt.Fprintf(&b, "  <url>\n    <loc>%s</loc>\n", xmlEscape(base+path+"?lang="+l))
			for _, alt := range Languages {
				fmt.Fprintf(&b, "    <xhtml:link rel=\"alternate\" hreflang=\"%s\" href=\"%s\"/>\n", alt, xmlEscape(base+path+"?lang="+alt))
			}
			b.WriteString("  </url>\n")
		}
	}
	b.WriteString("</urlset>\n")
	return b.String()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Note is the small page that answers the tracking page's feedback form.
type Note struct {
	Lang string
	// OK: the feedback was stored; else Reason (and Problems) say why not.
	OK       bool
	Reason   string
	Problems []string
	// BackURL leads back to the tracking page ("" when the order is not
	// known).
	BackURL string
}

var noteTexts = map[string]struct{ OKTitle, OKText, FailTitle, Back string }{
	"en": {"Thank you", "We have your message and will look into it. You can close this page.",
		"Your message was not sent", "Back to your order"},
	"de": {"Vielen Dank", "Wir haben Ihre Nachricht erhalten und kümmern uns darum. Sie können diese Seite schließen.",
		"Ihre Nachricht wurde nicht gesendet", "Zurück zu Ihrer Bestellung"},
}

// RenderNote writes the feedback confirmation or refusal page (noindex).
// Everything it shows is escaped.
func RenderNote(w io.Writer, n Note) error {
	p := newPage(n.Lang, "", "")
	t := noteTexts[p.Lang]
	p.Body, p.NoIndex = "note", true
	p.Note = &noteView{OK: n.OK, Reason: n.Reason, Problems: n.Problems, BackURL: n.BackURL, Back: t.Back}
	if n.OK {
		p.Title, p.Note.Heading, p.Note.Text = t.OKTitle, t.OKTitle, t.OKText
	} else {
		p.Title, p.Note.Heading = t.FailTitle, t.FailTitle
	}
	return render(w, p)
}

type noteView struct {
	OK            bool
	Heading, Text string
	Reason        string
	Problems      []string
	BackURL, Back string
}
