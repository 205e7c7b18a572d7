package locale_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/text/language"

	"erpgate/locale"
)

var files = fstest.MapFS{
	"l/en.json": {Data: []byte(`{"language":"en","name":"English","messages":{
		"hello":"Hello %s","count":"%[2]d of %[1]s",
		"locale.months":"January February March April May June July August September October November December",
		"locale.weekdays":"Sunday Monday Tuesday Wednesday Thursday Friday Saturday",
		"locale.date":"%[2]s %[1]d, %[3]s","locale.dayDate":"%[4]s, %[2]s %[1]d, %[3]s","locale.time":"3:04 PM"}}`)},
	"l/de.json": {Data: []byte(`{"language":"de","name":"Deutsch","messages":{
		"hello":"Hallo %s","count":"%[1]s: %[2]d",
		"locale.months":"Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
		"locale.weekdays":"Sonntag Montag Dienstag Mittwoch Donnerstag Freitag Samstag",
		"locale.date":"%[1]d. %[2]s %[3]s","locale.dayDate":"%[4]s, %[1]d. %[2]s %[3]s","locale.time":"15:04"}}`)},
}

func bundle(t *testing.T) *locale.Bundle {
	t.Helper()
	b, err := locale.Load(files, "l", "en")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNegotiate(t *testing.T) {
	b := bundle(t)
	de, en := language.German, language.English
	for _, tc := range []struct {
		name, query, cookie, header, def string
		want                             language.Tag
		from                             locale.Source
	}{
		{name: "nothing", want: en, from: locale.FromFallback},
		{name: "shop default", def: "de", want: de, from: locale.FromDefault},
		{name: "unsupported shop default", def: "fr", want: en, from: locale.FromFallback},
		{name: "header beats shop default", header: "en-US,en;q=0.9", def: "de", want: en, from: locale.FromHeader},
		{name: "header region", header: "de-AT", want: de, from: locale.FromHeader},
		{name: "header q weights", header: "fr-FR, de;q=0.7, en;q=0.5", want: de, from: locale.FromHeader},
		{name: "header unsupported only", header: "fr, it;q=0.5", def: "de", want: de, from: locale.FromDefault},
		{name: "header garbage", header: ";;;=", want: en, from: locale.FromFallback},
		{name: "cookie beats header", cookie: "de", header: "en", want: de, from: locale.FromCookie},
		{name: "query beats cookie", query: "en", cookie: "de", header: "de", want: en, from: locale.FromQuery},
		{name: "unsupported query", query: "xx-!!", header: "de", want: de, from: locale.FromHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/p?lang="+tc.query, nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: locale.CookieName, Value: tc.cookie})
			}
			if tc.header != "" {
				r.Header.Set("Accept-Language", tc.header)
			}
			got, from := b.Negotiate(r, tc.def)
			if got != tc.want || from != tc.from {
				t.Errorf("Negotiate = %v from %s, want %v from %s", got, from, tc.want, tc.from)
			}
		})
	}
}

func TestTextAndLanguages(t *testing.T) {
	b := bundle(t)
	if got, want := b.Text(language.German, "hello", "Welt"), "Hallo Welt"; got != want {
		t.Errorf("de hello = %q, want %q", got, want)
	}
	if got, want := b.Text(language.German, "count", "Artikel", 3), "Artikel: 3"; got != want {
		t.Errorf("de count = %q, want %q", got, want)
	}
	if got, want := b.Text(language.English, "count", "items", 3), "3 of items"; got != want {
		t.Errorf("en count = %q, want %q", got, want)
	}
	if got, want := b.Text(language.French, "hello", "monde"), "Hello monde"; got != want {
		t.Errorf("unsupported language = %q, want the fallback %q", got, want)
	}
	if got, want := b.Raw(language.German, "count"), "%[1]s: %[2]d"; got != want {
		t.Errorf("de raw count = %q, want %q", got, want)
	}
	if !b.Has("hello") || b.Has("nope") {
		t.Errorf("Has(hello) = %v, Has(nope) = %v; want true, false", b.Has("hello"), b.Has("nope"))
	}
	var names []string
	for _, l := range b.Languages() {
		names = append(names, l.Code+"="+l.Name)
	}
	if got, want := strings.Join(names, " "), "en=English de=Deutsch"; got != want {
		t.Errorf("Languages = %s, want %s (fallback first)", got, want)
	}
}

func TestDates(t *testing.T) {
	b := bundle(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 10, 11, 24, 0, 0, time.UTC)
	for _, tc := range []struct {
		tag  language.Tag
		got  string
		want string
	}{
		{language.English, b.Date(language.English, at, false), "December 10, 2026"},
		{language.English, b.Date(language.English, at, true), "Thursday, December 10, 2026"},
		{language.German, b.Date(language.German, at, true), "Donnerstag, 10. Dezember 2026"},
		{language.English, b.DateTime(language.English, at, berlin), "December 10, 2026, 12:24 PM CET"},
		{language.German, b.DateTime(language.German, at, berlin), "10. Dezember 2026, 12:24 CET"},
		{language.German, b.DateTime(language.German, at, time.UTC), "10. Dezember 2026, 11:24 UTC"},
	} {
		if tc.got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.tag, tc.got, tc.want)
		}
	}
}

func TestLoadRejectsIncompleteCatalogues(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"missing key": {
			"l/en.json": {Data: []byte(`{"language":"en","name":"English","messages":{"a":"A","b":"B"}}`)},
			"l/de.json": {Data: []byte(`{"language":"de","name":"Deutsch","messages":{"a":"A"}}`)},
		},
		"extra key": {
			"l/en.json": {Data: []byte(`{"language":"en","name":"English","messages":{"a":"A"}}`)},
			"l/de.json": {Data: []byte(`{"language":"de","name":"Deutsch","messages":{"a":"A","z":"Z"}}`)},
		},
		"no fallback": {
			"l/de.json": {Data: []byte(`{"language":"de","name":"Deutsch","messages":{"a":"A"}}`)},
		},
		"bad tag": {
			"l/en.json": {Data: []byte(`{"language":"en","name":"English","messages":{"a":"A"}}`)},
			"l/xx.json": {Data: []byte(`{"language":"!!","name":"X","messages":{"a":"A"}}`)},
		},
		"duplicate language": {
			"l/en.json":  {Data: []byte(`{"language":"en","name":"English","messages":{"a":"A"}}`)},
			"l/en2.json": {Data: []byte(`{"language":"en","name":"English","messages":{"a":"A"}}`)},
		},
	} {
		if _, err := locale.Load(fsys, "l", "en"); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
}

func TestThirdLanguageIsAFile(t *testing.T) {
	fsys := fstest.MapFS{}
	for k, v := range files {
		fsys[k] = v
	}
	fsys["l/fr.json"] = &fstest.MapFile{Data: []byte(strings.NewReplacer(`"de"`, `"fr"`, "Deutsch", "Français", "Hallo", "Bonjour").
		Replace(string(files["l/de.json"].Data)))}
	b, err := locale.Load(fsys, "l", "en")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept-Language", "fr-CH, en;q=0.5")
	tag, _ := b.Negotiate(r, "")
	if got, want := b.Text(tag, "hello", "monde"), "Bonjour monde"; got != want {
		t.Errorf("fr = %q, want %q", got, want)
	}
}

func TestCookie(t *testing.T) {
	c := locale.Cookie(language.German)
	if c.Name != locale.CookieName || c.Value != "de" || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("Cookie = %+v", c)
	}
}

// TestNewNegotiator: a negotiator without catalogues (the help pages')
// negotiates exactly like a bundle: ?lang=, cookie, Accept-Language,
// default, fallback.
func TestNewNegotiator(t *testing.T) {
	n := locale.NewNegotiator(language.English, language.German)
	for _, tc := range []struct {
		url, cookie, header, def, want string
		from                           locale.Source
	}{
		{"/", "", "", "", "en", locale.FromFallback},
		{"/", "", "", "de", "de", locale.FromDefault},
		{"/", "", "fr-FR,fr;q=0.9,de;q=0.5", "", "de", locale.FromHeader},
		{"/", "de", "en", "", "de", locale.FromCookie},
		{"/?lang=DE-at", "en", "en", "", "de", locale.FromQuery},
		{"/?lang=xx", "", "", "", "en", locale.FromFallback},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: locale.CookieName, Value: tc.cookie})
		}
		if tc.header != "" {
			r.Header.Set("Accept-Language", tc.header)
		}
		if got, from := n.Negotiate(r, tc.def); got.String() != tc.want || from != tc.from {
			t.Errorf("%+v: %v from %s", tc, got, from)
		}
	}
	if n.Fallback() != language.English {
		t.Errorf("fallback %v", n.Fallback())
	}
}
