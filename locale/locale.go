// Package locale chooses a reader's language and looks up texts in message
// catalogues, so that a page can be served in the customer's language and a
// new language is a catalogue file, not code.
//
// A Bundle is loaded from a directory of JSON catalogues, one file per
// language (see Load for the format). Negotiate picks one of the bundle's
// languages for a request, in this order:
//
//  1. the query parameter ?lang= (a language switch on the page),
//  2. the cookie "lang" (the switch remembered; see Cookie),
//  3. the Accept-Language header (the browser's preference),
//  4. the caller's default (e.g. the shop's language),
//  5. the bundle's fallback language.
//
// Texts are golang.org/x/text/message printers over the catalogue, so
// messages take fmt verbs (with explicit argument indexes where languages
// order words differently: "%[2]s %[1]d").
package locale

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// QueryParam and CookieName are where Negotiate looks for an explicit choice.
const (
	QueryParam = "lang"
	CookieName = "lang"
)

// Negotiator picks one of a fixed set of languages for a request (see
// Negotiate): the one negotiation every page of the gateway uses. A Bundle
// is one over its catalogues' languages; pages whose texts live elsewhere
// (the help pages) make their own with NewNegotiator.
type Negotiator struct {
	fallback language.Tag
	tags     []language.Tag // fallback first
	matcher  language.Matcher
}

// NewNegotiator returns a negotiator over fallback and others, in that
// order.
func NewNegotiator(fallback language.Tag, others ...language.Tag) *Negotiator {
	tags := append([]language.Tag{fallback}, others...)
	return &Negotiator{fallback: fallback, tags: tags, matcher: language.NewMatcher(tags)}
}

// Bundle is a set of message catalogues, one per language, and the
// negotiation among their languages. It is safe for concurrent use once
// loaded.
type Bundle struct {
	Negotiator
	names    map[language.Tag]string
	cat      *catalog.Builder
	printers map[language.Tag]*message.Printer
	keys     map[language.Tag]map[string]string // the raw texts
}

// file is one catalogue file.
type file struct {
	// Language is a BCP 47 tag, e.g. "de".
	Language string `json:"language"`
	// Name is the language's own name ("Deutsch"), shown in a language switch.
	Name string `json:"name"`
	// Messages maps a message key to its text (a fmt format).
	Messages map[string]string `json:"messages"`
}

// Load reads every *.json file in dir of fsys as a catalogue:
//
//	{"language": "de", "name": "Deutsch", "messages": {"status.heading": "Aktueller Status", ...}}
//
// fallback names the language whose catalogue is complete by definition:
// every other catalogue must have exactly its keys (so a missing
// translation is a load error, not an English word on a German page).
func Load(fsys fs.FS, dir, fallback string) (*Bundle, error) {
	fb, err := language.Parse(fallback)
	if err != nil {
		return nil, fmt.Errorf("locale: fallback %q: %w", fallback, err)
	}
	names, err := fs.Glob(fsys, path.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	b := &Bundle{
		Negotiator: Negotiator{fallback: fb}, names: make(map[language.Tag]string),
		cat:      catalog.NewBuilder(catalog.Fallback(fb)),
		printers: make(map[language.Tag]*message.Printer),
		keys:     make(map[language.Tag]map[string]string),
	}
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var f file
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		tag, err := language.Parse(f.Language)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: language %q: %w", name, f.Language, err)
		}
		if _, dup := b.keys[tag]; dup {
			return nil, fmt.Errorf("locale: %s: second catalogue for %s", name, tag)
		}
		if f.Name == "" {
			return nil, fmt.Errorf("locale: %s: no name", name)
		}
		b.keys[tag] = make(map[string]string, len(f.Messages))
		for k, v := range f.Messages {
			if err := b.cat.SetString(tag, k, v); err != nil {
				return nil, fmt.Errorf("locale: %s: %s: %w", name, k, err)
			}
			b.keys[tag][k] = v
		}
		b.names[tag] = f.Name
		b.tags = append(b.tags, tag)
	}
	want, ok := b.keys[fb]
	if !ok {
		return nil, fmt.Errorf("locale: no catalogue for the fallback language %s in %s", fb, dir)
	}
	var problems []string
	for tag, have := range b.keys {
		for k := range want {
			if _, ok := have[k]; !ok {
				problems = append(problems, tag.String()+" lacks "+k)
			}
		}
		for k := range have {
			if _, ok := want[k]; !ok {
				problems = append(problems, tag.String()+" has "+k+", which "+fb.String()+" lacks")
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New("locale: catalogues differ: " + strings.Join(problems, "; "))
	}
	slices.SortFunc(b.tags, func(x, y language.Tag) int {
		switch {
		case x == fb:
			return -1
		case y == fb:
			return 1
		}
		return strings.Compare(x.String(), y.String())
	})
	b.matcher = language.NewMatcher(b.tags)
	for _, t := range b.tags {
		b.printers[t] = message.NewPrinter(t, message.Catalog(b.cat))
	}
	return b, nil
}

// MustLoad is Load for catalogues embedded in the binary, where an error is
// a programming error.
func MustLoad(fsys fs.FS, dir, fallback string) *Bundle {
	b, err := Load(fsys, dir, fallback)
	if err != nil {
		panic(err)
	}
	return b
}

// Language is one of a bundle's languages.
type Language struct {
	Tag  language.Tag
	Code string // the tag as a string: "de"
	Name string // its own name: "Deutsch"
}

// Languages returns the bundle's languages, the fallback first, then by tag.
func (b *Bundle) Languages() []Language {
	out := make([]Language, len(b.tags))
	for i, t := range b.tags {
		out[i] = Language{Tag: t, Code: t.String(), Name: b.names[t]}
	}
	return out
}

// Fallback returns the language chosen when nothing else fits (a Bundle's:
// the one whose catalogue defines the keys).
func (b *Negotiator) Fallback() language.Tag { return b.fallback }

// Supported returns the negotiator's language for s (a tag like "de" or
// "de-AT"; matched to the closest of its languages with at least high
// confidence) and true, or the fallback and false.
func (b *Negotiator) Supported(s string) (language.Tag, bool) {
	if s == "" || len(s) > 35 {
		return b.fallback, false
	}
	t, err := language.Parse(s)
	if err != nil {
		return b.fallback, false
	}
	_, i, conf := b.matcher.Match(t)
	if conf < language.High {
		return b.fallback, false
	}
	return b.tags[i], true
}

// Source says where a negotiated language came from.
type Source string

// Sources of a negotiated language, in the order Negotiate tries them.
const (
	FromQuery    Source = "query"
	FromCookie   Source = "cookie"
	FromHeader   Source = "header"
	FromDefault  Source = "default"
	FromFallback Source = "fallback"
)

// Negotiate picks the reader's language for r: ?lang=, the "lang" cookie,
// Accept-Language, then def (the caller's default, e.g. the shop's
// language; "" for none), then the fallback. Values it does not
// support are skipped, never an error.
func (b *Negotiator) Negotiate(r *http.Request, def string) (language.Tag, Source) {
	if t, ok := b.Supported(r.URL.Query().Get(QueryParam)); ok {
		return t, FromQuery
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if t, ok := b.Supported(c.Value); ok {
			return t, FromCookie
		}
	}
	if t, ok := b.FromAcceptLanguage(r.Header.Get("Accept-Language")); ok {
		return t, FromHeader
	}
	if t, ok := b.Supported(def); ok {
		return t, FromDefault
	}
	return b.fallback, FromFallback
}

// FromAcceptLanguage returns the language that best fits an
// Accept-Language header value, honouring its q weights, and true; or the
// fallback and false when none of the listed languages is supported.
func (b *Negotiator) FromAcceptLanguage(header string) (language.Tag, bool) {
	if header == "" || len(header) > 512 {
		return b.fallback, false
	}
	prefs, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(prefs) == 0 {
		return b.fallback, false
	}
	_, i, conf := b.matcher.Match(prefs...)
	if conf < language.High {
		return b.fallback, false
	}
	return b.tags[i], true
}

// Cookie returns the cookie that remembers an explicit choice (Negotiate
// reported FromQuery) for a year, on every path.
func Cookie(t language.Tag) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: t.String(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Printer returns the printer of t (one of the bundle's languages; others
// get the fallback's).
func (b *Bundle) Printer(t language.Tag) *message.Printer {
	if p, ok := b.printers[t]; ok {
		return p
	}
	return b.printers[b.fallback]
}

// Text returns the text of key in t, formatted with args (fmt verbs). An
// unknown key is returned as is, so a missing text shows, not vanishes.
func (b *Bundle) Text(t language.Tag, key string, args ...any) string {
	return b.Printer(t).Sprintf(key, args...)
}

// Has reports whether the catalogues define key.
func (b *Bundle) Has(key string) bool {
	_, ok := b.keys[b.fallback][key]
	return ok
}

// Raw returns the text of key in t unformatted (its fmt verbs as written),
// for a script that fills them in itself; an unknown key is returned as is.
func (b *Bundle) Raw(t language.Tag, key string) string {
	m, ok := b.keys[t]
	if !ok {
		m = b.keys[b.fallback]
	}
	if v, ok := m[key]; ok {
		return v
	}
	return key
}

// Catalogue keys that let a bundle format dates in its languages (Date,
// DateTime). A catalogue that defines one must define all (Load checks that
// every catalogue has the fallback's keys).
//
//	locale.months    "January February …" (twelve names, space separated)
//	locale.weekdays  "Sunday Monday …" (seven names, Sunday first)
//	locale.date      a fmt format of day (%[1]d), month name (%[2]s), year (%[3]s, a string: printers group digits), weekday (%[4]s)
//	locale.dayDate   the same with the weekday, for a civil date such as a delivery day
//	locale.time      a Go time layout for the clock time, e.g. "3:04 PM" or "15:04"
const (
	keyMonths   = "locale.months"
	keyWeekdays = "locale.weekdays"
	keyDate     = "locale.date"
	keyDayDate  = "locale.dayDate"
	keyTime     = "locale.time"
)

// Date formats the calendar day of t (in t's location) in language tag:
// "December 10, 2026" or "10. Dezember 2026"; with weekday true the
// catalogue's dayDate style ("Thursday, December 10, 2026").
func (b *Bundle) Date(tag language.Tag, t time.Time, weekday bool) string {
	months := strings.Fields(b.Text(tag, keyMonths))
	days := strings.Fields(b.Text(tag, keyWeekdays))
	if len(months) != 12 || len(days) != 7 {
		return t.Format(time.DateOnly)
	}
	key := keyDate
	if weekday {
		key = keyDayDate
	}
	return b.Text(tag, key, t.Day(), months[t.Month()-1], strconv.Itoa(t.Year()), days[t.Weekday()])
}

// DateTime formats t in loc as the date, the clock time and the zone's
// abbreviation: "December 10, 2026, 12:24 PM CET".
func (b *Bundle) DateTime(tag language.Tag, t time.Time, loc *time.Location) string {
	if loc != nil {
		t = t.In(loc)
	}
	layout := b.Text(tag, keyTime)
	if layout == keyTime {
		layout = "15:04"
	}
	return b.Date(tag, t, false) + ", " + t.Format(layout) + " " + t.Format("MST")
}
