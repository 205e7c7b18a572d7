package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"
	"golang.org/x/net/websocket"

	"erpgate/soap/erpv2cb"
)

// The customer's tracking page in a real browser: Debian's headless
// Chromium, driven over the DevTools protocol (websocket).
//
// Run it:  apt-get install -y chromium && go test -run Chromium ./cmd/gateway
// It skips when chromium is not installed, unless ERPGATE_REQUIRE_TOOLS=1
// (CI), where it fails. ERPGATE_SCREENSHOT_DIR, when set, receives the
// screenshots (tracking-phone.png, tracking-phone-de.png) for a human to
// look at; it is created if missing.

// chromium returns the browser binary, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium not installed (apt-get install -y chromium) and ERPGATE_REQUIRE_TOOLS=1")
	}
	t.Skip("chromium not installed (apt-get install -y chromium); set ERPGATE_REQUIRE_TOOLS=1 to make this a failure")
	return ""
}

// devtools is one page of a headless Chromium, driven over the DevTools
// protocol.
type devtools struct {
	ws *websocket.Conn
	id int
}

// startChromium starts a headless Chromium with remote debugging on a free
// loopback port and connects to its page.
func startChromium(t *testing.T, bin string) *devtools {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1", "--window-size=390,844", "about:blank")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// Chromium writes its port to DevToolsActivePort once it listens.
	var port string
	deadline := time.Now().Add(30 * time.Second)
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort")); err == nil {
			if p, _, ok := strings.Cut(string(b), "\n"); ok {
				port = p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium did not open its DevTools port within 30s; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	var ws string
	for ws == "" {
		if code := getJSON(t, "http://127.0.0.1:"+port+"/json/list", "", &targets); code == http.StatusOK {
			for _, tg := range targets {
				if tg.Type == "page" {
					ws = tg.WS
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium shows no page target within 30s: %+v", targets)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, err := websocket.Dial(ws, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("devtools websocket: %v", err)
	}
	conn.MaxPayloadBytes = 64 << 20 // screenshots
	t.Cleanup(func() { conn.Close() })
	return &devtools{ws: conn}
}

// call sends one DevTools command and decodes its result into out.
func (d *devtools) call(method string, params, out any) error {
	d.id++
	id := d.id
	if err := websocket.JSON.Send(d.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	_ = d.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(d.ws, &msg); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if msg.ID != id {
			continue // an event, or an answer to an earlier call
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(msg.Result, out)
	}
}

// eval evaluates a JavaScript expression in the page and returns its value.
func (d *devtools) eval(t *testing.T, expr string) any {
	t.Helper()
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Exception != nil {
		t.Fatalf("evaluate %q: %s", expr, res.Exception.Text)
	}
	return res.Result.Value
}

// waitEval waits until expr evaluates to true in the page.
func (d *devtools) waitEval(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.eval(t, expr) != true {
		if time.Now().After(deadline) {
			t.Fatalf("page: %s did not happen within 30s; body:\n%v", what, d.eval(t, "document.body ? document.body.innerText : ''"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pushStatus calls the gateway's ERP callback as ERP v2 does.
func pushStatus(t *testing.T, gw, orderID string, seq int32, status string, mod func(*erpv2cb.SalesOrderStatusChanged)) {
	t.Helper()
	st := erpv2cb.OrderStatus(status)
	ts := erpv2cb.Timestamp(time.Now().UTC().Format(time.RFC3339Nano))
	m := &erpv2cb.SalesOrderStatusChanged{EventId: "browser-" + orderID + "-" + strconv.Itoa(int(seq)), Sequence: seq,
		SalesOrderNumber: "SO-2V-999001", ExternalReference: orderID, Status: &st, StatusChangedAt: &ts}
	if mod != nil {
		mod(m)
	}
	c := erpv2cb.NewSalesOrderStatusCallback(gsoap.NewClient(gw+"/erp/v2/callback",
		gsoap.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + demoERPCallbackKey})))
	resp, err := c.SalesOrderStatusChangedContext(t.Context(), m)
	if err != nil || resp.Outcome == nil || *resp.Outcome != erpv2cb.OutcomeRecorded {
		t.Fatalf("push %s: %+v, %v", status, resp, err)
	}
}

// TestTrackingPageInChromium opens a customer's tracking page on a phone
// sized headless Chromium, takes a screenshot, and checks that an event the
// server records after the page loaded appears without a reload; that a
// maintenance notice shows as a banner and the feedback form in the
// footer, and that the form posts (no script involved) and is thanked.
func TestTrackingPageInChromium(t *testing.T) {
	bin := chromium(t)
	// The test moves the order itself (as ERP v2 would), so that it knows
	// which event arrives after the page is open.
	gw, id, _, pageURL := mixerOrder(t, "WEB-BROWSER-1")
	date := func(days int) *erpv2cb.CalendarDate {
		d := erpv2cb.CalendarDate(time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly))
		return &d
	}
	pushStatus(t, gw, id, 1, "confirmed", func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date(3) })
	pushStatus(t, gw, id, 2, "backordered", func(m *erpv2cb.SalesOrderStatusChanged) {
		m.ExpectedDeliveryDate = date(10)
		m.ShortItem = []*erpv2cb.ShortItem{{Sku: "SKU-1011", QuantityShort: 1}}
	})
	pushStatus(t, gw, id, 3, "allocated", func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date(4) })
	pushStatus(t, gw, id, 4, "picked", nil)
	// A maintenance notice tomorrow, within the default lead time (48 h).
	start := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
	if st := adminCall(t, http.MethodPut, gw+"/admin/notices/erp-upgrade", `{"start":"`+start.Format(time.RFC3339)+`","end":"`+
		start.Add(2*time.Hour).Format(time.RFC3339)+`","messages":{"en":"Our order system is upgraded; updates may arrive late.",`+
		`"de":"Unser Bestellsystem wird aktualisiert; Updates können sich verzögern."},"audiences":["customers"],"intake_paused":false}`, nil); st != http.StatusCreated {
		t.Fatalf("PUT /admin/notices: %d", st)
	}

	d := startChromium(t, bin)
	if err := d.call("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.call("Page.navigate", map[string]any{"url": pageURL}, nil); err != nil {
		t.Fatal(err)
	}
	d.waitEval(t, "the event stream opened", `document.readyState === "complete" && !!document.getElementById("live-note") &&
		document.getElementById("live-note").textContent === "This page updates automatically."`)
	if got := d.eval(t, `document.title`); !strings.Contains(fmt.Sprint(got), "WEB-BROWSER-1") || !strings.Contains(fmt.Sprint(got), "Packed") {
		t.Errorf("title = %v, want the order reference and its status", got)
	}
	before := fmt.Sprint(d.eval(t, `window.erpgateProbe = "same page"; Array.from(document.querySelectorAll("#timeline li[data-id]")).map(li => li.dataset.id).join(" ")`))

	// Now the parcel ships: the page must show it without a reload.
	pushStatus(t, gw, id, 5, "shipped", func(m *erpv2cb.SalesOrderStatusChanged) {
		m.Carrier, m.TrackingNumber, m.ExpectedDeliveryDate = "DHL", "00340434LIVE0000001", date(5)
	})
	d.waitEval(t, "the shipped event appeared", `document.getElementById("status-label").textContent === "Shipped" &&
		document.getElementById("tracking-number").textContent === "00340434LIVE0000001"`)
	if got := d.eval(t, `window.erpgateProbe`); got != "same page" {
		t.Errorf("window state = %v after the event, want the same page (no reload)", got)
	}
	first := d.eval(t, `(function(){ var li = document.querySelector("#timeline li[data-id]");
		return [li.dataset.id, li.querySelector(".what").textContent, li.querySelector(".summary").textContent].join("|"); })()`)
	parts := strings.SplitN(fmt.Sprint(first), "|", 3)
	if len(parts) != 3 || strings.Contains(before, parts[0]) || parts[1] != "Shipped" || !strings.Contains(parts[2], "DHL") {
		t.Errorf("newest timeline item = %v, want a new Shipped item (ids before: %s)", first, before)
	}
	if got := d.eval(t, `document.getElementById("tracking-link").href`); !strings.HasPrefix(fmt.Sprint(got), "https://www.dhl.com/") {
		t.Errorf("tracking link = %v, want DHL's tracking page", got)
	}
	if got := d.eval(t, `document.getElementById("status").className`); got != "status status-progress" {
		t.Errorf("status class = %v, want status status-progress", got)
	}

	screenshot(t, d, "tracking-phone.png")

	// The notice's banner above the page, its window in the reader's time.
	if got := fmt.Sprint(d.eval(t, `document.getElementById("notice-text").textContent`)); got != "Our order system is upgraded; updates may arrive late." {
		t.Errorf("banner text %q", got)
	}
	if got := fmt.Sprint(d.eval(t, `document.getElementById("notice-heading").textContent`)); !strings.HasPrefix(got, "Planned maintenance: ") {
		t.Errorf("banner heading %q", got)
	}
	// The feedback form in the footer: labelled fields, the topics.
	if got := fmt.Sprint(d.eval(t, `(function(){ var f = document.getElementById("feedback");
		return [f.method, new URL(f.action).pathname, f.elements.topic.labels[0].textContent, f.elements.message.labels[0].textContent,
			f.elements.topic.options.length, f.elements.token.value !== ""].join("|"); })()`)); got != "post|/v1/tracking/"+id+"/feedback|Topic|Your message|6|true" {
		t.Errorf("feedback form %q", got)
	}
	d.eval(t, `document.getElementById("feedback").scrollIntoView(); true`)
	screenshot(t, d, "tracking-phone-feedback.png")

	// Times are in the reader's zone (the browser's, here New York), with
	// the zone shown; products by name, with the delivery city.
	if err := d.call("Emulation.setTimezoneOverride", map[string]any{"timezoneId": "America/New_York"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.call("Page.reload", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	d.waitEval(t, "the reloaded page in New York time", `document.readyState === "complete" && !!document.getElementById("tz-note") &&
		document.getElementById("tz-note").textContent === "Times are shown in America/New_York."`)
	enTime := fmt.Sprint(d.eval(t, `document.querySelector("#timeline time").textContent`))
	if !regexp.MustCompile(`^(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M E[SD]T$`).MatchString(enTime) {
		t.Errorf("English time %q, want e.g. \"December 10, 2026, 7:24 AM EST\"", enTime)
	}
	if got := fmt.Sprint(d.eval(t, `document.getElementById("lines").textContent`)); !strings.Contains(got, "1 × Stand mixer 5 l") {
		t.Errorf("order lines %q, want the product name \"1 × Stand mixer 5 l\"", got)
	}
	if got := fmt.Sprint(d.eval(t, `document.getElementById("ship-to").textContent`)); got != "Delivery to Berlin" {
		t.Errorf("delivery city %q", got)
	}

	// The language switch: German page, German dates, German summaries with
	// the product's name instead of its SKU.
	if err := d.call("Page.navigate", map[string]any{"url": pageURL + "&lang=de"}, nil); err != nil {
		t.Fatal(err)
	}
	d.waitEval(t, "the German page", `document.readyState === "complete" && document.documentElement.lang === "de" &&
		!!document.getElementById("live-note") &&
		document.getElementById("live-note").textContent === "Diese Seite aktualisiert sich automatisch."`)
	if got := d.eval(t, `document.getElementById("status-label").textContent`); got != "Versandt" {
		t.Errorf("German status %v, want Versandt", got)
	}
	deTime := fmt.Sprint(d.eval(t, `document.querySelector("#timeline time").textContent`))
	if !regexp.MustCompile(`^\d{1,2}\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember) \d{4}, \d{2}:\d{2} \S+$`).MatchString(deTime) {
		t.Errorf("German time %q, want e.g. \"10. Dezember 2026, 07:24 GMT-5\"", deTime)
	}
	deDate := fmt.Sprint(d.eval(t, `document.getElementById("eta").textContent`))
	if !regexp.MustCompile(`^(Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), \d{1,2}\. \S+ \d{4}$`).MatchString(deDate) {
		t.Errorf("German delivery date %q, want e.g. \"Donnerstag, 10. Dezember 2026\"", deDate)
	}
	summaries := fmt.Sprint(d.eval(t, `Array.from(document.querySelectorAll("#timeline .summary")).map(p => p.textContent).join(" | ")`))
	if !strings.Contains(summaries, "Einige Artikel sind noch nicht vorrätig (1 × Stand mixer 5 l)") || strings.Contains(summaries, "SKU-1011") {
		t.Errorf("German summaries %q, want the backorder with the product's name", summaries)
	}
	screenshot(t, d, "tracking-phone-de.png")

	// Back/forward cache: pagehide closes the stream, pageshow resumes it
	// after the last event shown; an event recorded meanwhile arrives once.
	d.eval(t, `window.dispatchEvent(new PageTransitionEvent("pagehide", {persisted: true})); true`)
	if got := d.eval(t, `window.erpgateStream()`); got != float64(-1) {
		t.Errorf("stream state after pagehide = %v, want -1 (closed)", got)
	}
	pushStatus(t, gw, id, 6, "delivered", func(m *erpv2cb.SalesOrderStatusChanged) { m.ExpectedDeliveryDate = date(0) })
	d.eval(t, `window.dispatchEvent(new PageTransitionEvent("pageshow", {persisted: true})); true`)
	d.waitEval(t, "the delivered state after pageshow", `document.getElementById("status").className === "status status-done" &&
		document.getElementById("eta-label").textContent === "Zugestellt"`)
	if got := d.eval(t, `(function(){ var ids = Array.from(document.querySelectorAll("#timeline li[data-id]")).map(li => li.dataset.id);
		return ids.length === new Set(ids).size; })()`); got != true {
		t.Error("the resumed stream repeated an event")
	}

	// The feedback form posts as a plain form (the CSP's form-action
	// allows it) and is answered with a thank-you page in German.
	d.eval(t, `(function(){ var f = document.getElementById("feedback");
		f.elements.topic.value = "delivery-date"; f.elements.message.value = "<b>Wann</b> kommt die Lieferung?"; f.submit(); return true; })()`)
	d.waitEval(t, "the thank-you page", `document.readyState === "complete" && document.documentElement.lang === "de" &&
		!!document.querySelector("h1") && document.querySelector("h1").textContent === "Vielen Dank"`)
	var list struct {
		Feedback []struct{ Topic, Message string } `json:"feedback"`
	}
	if st := adminCall(t, http.MethodGet, gw+"/admin/feedback", "", &list); st != http.StatusOK || len(list.Feedback) != 1 ||
		list.Feedback[0].Message != "<b>Wann</b> kommt die Lieferung?" || list.Feedback[0].Topic != "delivery-date" {
		t.Errorf("stored feedback: %d %+v", st, list)
	}
}

// screenshot saves the page as a PNG (390x844 at 2x) in
// ERPGATE_SCREENSHOT_DIR (created if missing) or the test's temporary
// directory, after checking that it shows a rendered page.
func screenshot(t *testing.T, d *devtools, name string) {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	if err := d.call("Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
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
	if b := img.Bounds(); b.Dx() != 780 || b.Dy() != 1688 {
		t.Errorf("screenshot is %dx%d, want 780x1688 (390x844 at 2x)", b.Dx(), b.Dy())
	}
	if err := notBlank(img); err != nil {
		t.Error(err)
	}
	out := t.TempDir()
	if dir := os.Getenv("ERPGATE_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out = dir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(out, name)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(raw))
}

// notBlank reports an error when the image has hardly any colours: a page
// that did not render (all white) rather than a status card and a timeline.
func notBlank(img image.Image) error {
	colors := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			colors[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
		}
	}
	if len(colors) < 16 {
		return errors.New("screenshot has " + strconv.Itoa(len(colors)) + " colours: the page did not render")
	}
	return nil
}
