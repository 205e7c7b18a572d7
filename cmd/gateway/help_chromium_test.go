package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpPagesInChromium opens the user manual and the FAQ in English and
// German at phone and desktop size in headless Chromium, checks what a
// reader depends on — the language, the heading, the language switch, no
// sideways scrolling on a phone, the FAQ's JSON-LD as the browser sees it —
// and takes a screenshot of each (help-<page>-<lang>-<size>.png in
// ERPGATE_SCREENSHOT_DIR, when set, for a human to look at).
func TestHelpPagesInChromium(t *testing.T) {
	bin := chromium(t)
	gw, _, _ := startRun(t)
	faq := `{"topic":"delivery-date","question":{"en":"When does my order arrive?","de":"Wann kommt meine Bestellung an?"},` +
		`"answer":{"en":"The tracking page shows the expected delivery date as soon as the warehouse confirms your order.\n\nIf a supplier delays an item, the date moves and the page says why.",` +
		`"de":"Die Tracking-Seite zeigt das erwartete Lieferdatum, sobald das Lager Ihre Bestellung bestätigt.\n\nVerzögert ein Lieferant einen Artikel, verschiebt sich das Datum und die Seite sagt, warum."}}`
	req, _ := http.NewRequest(http.MethodPut, gw+"/admin/faq/when-does-my-order-arrive", strings.NewReader(faq))
	req.Header.Set("Authorization", "Bearer demo-admin-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /admin/faq: %d", resp.StatusCode)
	}

	out := t.TempDir()
	if dir := os.Getenv("ERPGATE_SCREENSHOT_DIR"); dir != "" {
		out = dir
	}
	d := startChromium(t, bin)
	sizes := []struct {
		name          string
		width, height int
		scale         float64
		mobile        bool
	}{{"phone", 390, 844, 2, true}, {"desktop", 1280, 900, 1, false}}
	pages := []struct{ name, path, h1en, h1de string }{
		{"manual", "/help", "User manual", "Benutzerhandbuch"},
		{"faq", "/help/faq", "FAQ", "Häufige Fragen"},
	}
	for _, sz := range sizes {
		if err := d.call("Emulation.setDeviceMetricsOverride", map[string]any{
			"width": sz.width, "height": sz.height, "deviceScaleFactor": sz.scale, "mobile": sz.mobile}, nil); err != nil {
			t.Fatal(err)
		}
		for _, pg := range pages {
			for _, lang := range []string{"en", "de"} {
				if err := d.call("Page.navigate", map[string]any{"url": gw + pg.path + "?lang=" + lang}, nil); err != nil {
					t.Fatal(err)
				}
				d.waitEval(t, "the page loaded", `document.readyState === "complete" && document.documentElement.lang === "`+lang+`"`)
				h1 := pg.h1en
				other := "Deutsch"
				if lang == "de" {
					h1, other = pg.h1de, "English"
				}
				if got := d.eval(t, `document.querySelector("h1").textContent`); got != h1 {
					t.Errorf("%s %s %s: h1 = %v, want %s", pg.name, lang, sz.name, got, h1)
				}
				if got := d.eval(t, `document.querySelector("nav.lang a").textContent`); got != other {
					t.Errorf("%s %s: language switch = %v, want %s", pg.name, lang, got, other)
				}
				if sz.mobile {
					if got := d.eval(t, `document.documentElement.scrollWidth <= window.innerWidth`); got != true {
						t.Errorf("%s %s: the page scrolls sideways on a phone (%v > %v)", pg.name, lang,
							d.eval(t, `document.documentElement.scrollWidth`), d.eval(t, `window.innerWidth`))
					}
				}
				if pg.name == "faq" {
					got := d.eval(t, `(function(){ var s = document.querySelector('script[type="application/ld+json"]');
						var j = JSON.parse(s.textContent); return j["@type"] + "|" + j.mainEntity.length + "|" + j.mainEntity[0].name; })()`)
					want := "FAQPage|1|When does my order arrive?"
					if lang == "de" {
						want = "FAQPage|1|Wann kommt meine Bestellung an?"
					}
					if got != want {
						t.Errorf("faq %s: JSON-LD = %v, want %s", lang, got, want)
					}
				}
				var shot struct {
					Data string `json:"data"`
				}
				if err := d.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": false}, &shot); err != nil {
					t.Fatal(err)
				}
				raw, err := base64.StdEncoding.DecodeString(shot.Data)
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("screenshot is not a PNG: %v", err)
				}
				if b := img.Bounds(); b.Dx() != int(float64(sz.width)*sz.scale) || b.Dy() != int(float64(sz.height)*sz.scale) {
					t.Errorf("%s %s %s: screenshot %dx%d", pg.name, lang, sz.name, b.Dx(), b.Dy())
				}
				if err := notBlank(img); err != nil {
					t.Errorf("%s %s %s: %v", pg.name, lang, sz.name, err)
				}
				path := filepath.Join(out, fmt.Sprintf("help-%s-%s-%s.png", pg.name, lang, sz.name))
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("screenshot: %s", path)
			}
		}
	}
}
