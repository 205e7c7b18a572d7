package tracking

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"

	"erpgate/locale"
)

var (
	//go:embed page/track.html
	pageHTML string
	//go:embed page/track.css
	pageCSS string
	//go:embed page/track.js
	pageJS string
	//go:embed page/locales/*.json
	pageLocales embed.FS

	pageTexts = locale.MustLoad(pageLocales, "page/locales", "en")
	pageTmpl  = template.Must(template.New("track").Parse(pageHTML))
	pageCSP   = "default-src 'none'; " +
		"script-src '" + cspHash(pageJS) + "'; " +
		"style-src '" + cspHash(pageCSS) + "'; " +
		"connect-src 'self'; img-src 'self' https: data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	// pageVersion changes whenever anything that shapes a page changes in a
	// new build (template, style, script, texts): it is part of every page's
	// ETag (PageETag), so a browser's cached copy of an older build is not
	// answered with 304.
	pageVersion = func() string {
		h := sha256.New()
		for _, s := range []string{pageHTML, pageCSS, pageJS} {
			h.Write([]byte(s))
		}
		names, _ := pageLocales.ReadDir("page/locales")
		for _, n := range names {
			b, _ := pageLocales.ReadFile("page/locales/" + n.Name())
			h.Write(b)
		}
		return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:6])
	}()
)

// The template is executed with these markers where the style and the
// script go; RenderPage splits its output at them, so the cached part of a
// page is only what differs between orders (a few KB), and every page
// shares the one copy of the style and script.
const (
	cssMarker = "/*erpgate:css*/"
	jsMarker  = "/*erpgate:js*/"
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// PageCSP returns the Content-Security-Policy header value for the page
// RenderPage writes. Its inline script and style are allowed by hash, so
// nothing else can run; connect-src 'self' lets the script open the event
// stream on the same origin; img-src allows the shop's logo (same origin
// or https); form-action 'self' lets the feedback form post to the gateway.
func PageCSP() string { return pageCSP }

// PageTexts returns the page's message catalogues (the languages it is
// served in: locale.Bundle.Negotiate picks one per request).
func PageTexts() *locale.Bundle { return pageTexts }

// PageShop is what the page says about the shop that sold the order.
type PageShop struct {
	// Name is shown in the header, title and footer; default the page's
	// "Order tracking" in the page's language.
	Name string
	// ContactURL is the footer's contact link (https, http, mailto or tel);
	// empty for none.
	ContactURL string
	// LogoURL is the header's logo: a path on the gateway ("/favicon.svg")
	// or an https URL; empty for none.
	LogoURL string
	// Location is the shop's time zone: the page states times in it until
	// the browser's script restates them in the reader's own zone. Nil
	// means UTC.
	Location *time.Location
}

// PageItem is one line of the order as the page shows it.
type PageItem struct {
	SKU string
	// Name is the product's name from the catalog; Description the order
	// line's own text. The page shows the name, else the description, else
	// the SKU, and the description under a different name.
	Name, Description string
	Quantity          int64
}

// label returns what the customer calls the item.
func (it PageItem) label() string {
	switch {
	case it.Name != "":
		return it.Name
	case it.Description != "":
		return it.Description
	}
	return it.SKU
}

// PageBanner is a maintenance notice the page shows above the order, from
// the notice's lead time before its window until its end.
type PageBanner struct {
	// Message is the notice's text in the page's language (plain text).
	Message string
	// Start and End are the window; the page states them in its date style
	// and the shop's time zone.
	Start, End time.Time
	// Active is true during the window, false while it is still ahead.
	Active bool
}

// PageFeedback is the page's "Something wrong? Tell us" form.
type PageFeedback struct {
	// Topics are the topic select's values, in order; each is labelled by
	// the catalogue key "feedback.topic.<topic>" (its own name if there is
	// none).
	Topics []string
}

// FeedbackURL returns the path the page's feedback form posts to.
func FeedbackURL(orderID string) string {
	return "/v1/tracking/" + url.PathEscape(orderID) + "/feedback"
}

// PageData is what the tracking page shows.
type PageData struct {
	// OrderID is the gateway's order id. Required.
	OrderID string
	// Reference is the order number the customer knows (the shop's
	// external id); default OrderID.
	Reference string
	// Shop names the shop, its contact and logo, and its time zone.
	Shop PageShop
	// Token is the order's tracking token; it goes into the event stream URL
	// and the language switch's links.
	Token string
	// Events is the timeline, oldest first (as Timeline returns it); the page
	// shows it newest first, as parcel trackers do, and derives the status.
	Events []Event
	// Items are the order's lines; City is where it is delivered.
	Items []PageItem
	City  string
	// EventsURL is where the page's script opens its EventSource; default
	// "/v1/tracking/{OrderID}/events?token={Token}", properly escaped.
	EventsURL string
	// PageURL, when set, is the absolute URL announced as og:url.
	PageURL string
	// Lang is the page language, one of PageTexts' (others get its
	// fallback, English).
	Lang language.Tag
	// Banner, when set, is shown above the order.
	Banner *PageBanner
	// Feedback, when set, adds the feedback form to the footer; it posts
	// to FeedbackURL with the token in a hidden field.
	Feedback *PageFeedback
}

// EventsURL returns the path of an order's event stream with its token as
// query parameter, escaped for use as a URL.
func EventsURL(orderID, token string) string {
	u := "/v1/tracking/" + url.PathEscape(orderID) + "/events"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

type timeView struct{ ISO, Text string }

type stepView struct {
	Label         string
	Done, Current bool
	Class         string
}

type itemView struct {
	ID, Label, Summary, Source string
	Time                       *timeView
	Supplier                   bool
}

type lineView struct {
	Text, SKU, Description string
}

type bannerView struct {
	Heading, Message string
	Start, End       timeView
}

type feedbackView struct {
	Action, Token, Lang string
	Topics              []topicView
}

type topicView struct{ Value, Label string }

type langView struct {
	Code, Name, URL string
	Current         bool
}

// pageConfig is handed to the page script as JSON.
type pageConfig struct {
	Lang             string                 `json:"lang"`
	EventsURL        string                 `json:"events_url"`
	Types            []string               `json:"types"`
	StatusTypes      []string               `json:"status_types"`
	SupplierTypes    []string               `json:"supplier_types"`
	ProblemTypes     []string               `json:"problem_types"`
	Labels           map[string]string      `json:"labels"`
	Steps            map[string]int         `json:"steps"`
	Sources          map[string]string      `json:"sources"`
	Summaries        map[string][][2]string `json:"summaries"`
	DateDetails      []string               `json:"date_details"`
	Products         map[string]string      `json:"products"`
	Texts            map[string]string      `json:"texts"`
	ExpectedDelivery string                 `json:"expected_delivery"`
	OriginalDelivery string                 `json:"original_delivery"`
	HandlingDays     int                    `json:"handling_days"`
}

type pageView struct {
	Lang, Title, Description, Reference, OrderID, PageURL string
	Shop                                                  PageShop
	ShopName                                              string
	StatusLabel, Reason                                   string
	Summary                                               Summary
	StatusTime                                            *timeView
	Delivery                                              string
	Step                                                  int
	StepClass                                             string
	Steps                                                 []stepView
	Items                                                 []itemView
	Lines                                                 []lineView
	City                                                  string
	Languages                                             []langView
	Banner                                                *bannerView
	Feedback                                              *feedbackView
	Zone                                                  string
	Config                                                pageConfig
	T                                                     func(key string, args ...any) string
	CSS                                                   template.CSS
	JS                                                    template.JS
}

var stepKeys = []string{"step.ordered", "step.confirmed", "step.shipped", "step.delivered"}

// summaryParts says how the page words an event of a known type in the
// reader's language, from its details rather than the stored (English)
// summary: a list of (detail, text key) pairs, where a part with a detail
// is written only when the event has that detail, with its value in the
// text's %s. Dates (dateDetails) are written in the reader's date style,
// the short items with the product names. The page's script words live
// events from the same table (pageConfig.Summaries).
var summaryParts = map[string][][2]string{
	TypeAccepted:    {{"", "summary.accepted"}},
	TypeERPReceived: {{"", "summary.erp_received"}},
	TypeConfirmed:   {{"", "summary.confirmed"}, {DetailERPOrderNumber, "summary.orderNumber"}, {DetailExpectedDelivery, "summary.expected"}},
	TypeBackorder:   {{"", "summary.backordered"}, {DetailShortItems, "summary.shortItems"}, {"", "summary.backorderedSupplier"}, {DetailExpectedDelivery, "summary.newExpected"}},
	TypeAllocated:   {{"", "summary.allocated"}},
	TypePicked:      {{"", "summary.picked"}},
	TypeShipped:     {{"", "summary.shipped"}, {DetailCarrier, "summary.carrier"}, {DetailTrackingNumber, "summary.trackingNumber"}, {DetailExpectedDelivery, "summary.expected"}},
	TypeDelivered:   {{"", "summary.delivered"}},
	TypeCancelled:   {{"", "summary.cancelled"}, {DetailReason, "summary.reason"}},
	TypeRejected:    {{"", "summary.rejected"}, {DetailReason, "summary.reason"}},
	TypeFailed:      {{"", "summary.failed"}},
	TypePOAcked:     {{DetailPromisedDate, "summary.po_acknowledged"}},
	TypePOShipped:   {{DetailExpectedArrival, "summary.po_shipped"}},
}

// DetailShortItems lists what a backordered order waits for, as
// "<quantity> × <sku>" joined by ", " (e.g. "1 × SKU-1011, 2 × SKU-1002").
const DetailShortItems = "short_items"

var dateDetails = []string{DetailExpectedDelivery, DetailPromisedDate, DetailExpectedArrival}

// EventSummary returns the summary of e in language tag, worded from its
// type and details (summaryParts) with dates in the language's style and
// SKUs replaced by product names (names; nil for none). An event of a type
// the page does not word, or one whose defining detail is missing, keeps
// its stored summary.
func EventSummary(tag language.Tag, e Event, names map[string]string) string {
	parts, ok := summaryParts[e.Type]
	if !ok {
		return e.Summary
	}
	var b strings.Builder
	for _, p := range parts {
		detail, key := p[0], p[1]
		if detail == "" {
			b.WriteString(pageTexts.Text(tag, key))
			continue
		}
		v := e.Details[detail]
		if v == "" {
			if b.Len() == 0 {
				return e.Summary // the detail the sentence is about is missing
			}
			continue
		}
		switch {
		case slices.Contains(dateDetails, detail):
			if t, err := time.Parse(time.DateOnly, v); err == nil {
				v = pageTexts.Date(tag, t, true)
			}
		case detail == DetailShortItems:
			v = productList(tag, v, names)
		}
		b.WriteString(pageTexts.Text(tag, key, v))
	}
	return b.String()
}

// productList rewrites "1 × SKU-1011, 2 × SKU-1002" with product names.
func productList(tag language.Tag, list string, names map[string]string) string {
	items := strings.Split(list, ", ")
	for i, it := range items {
		q, sku, ok := strings.Cut(it, " × ")
		n, err := strconv.ParseInt(q, 10, 64)
		if !ok || err != nil {
			continue
		}
		if name := names[sku]; name != "" {
			items[i] = pageTexts.Text(tag, "page.quantity", n, name)
		}
	}
	return strings.Join(items, ", ")
}

// statusLabel is the customer-facing name of a status in tag.
func statusLabel(tag language.Tag, typ string) string {
	if typ == "" {
		return pageTexts.Text(tag, "status.none")
	}
	if pageTexts.Has("status." + typ) {
		return pageTexts.Text(tag, "status."+typ)
	}
	return Label(typ)
}

// Page is a rendered tracking page: what differs between orders, around the
// style and script every page shares.
type Page struct {
	head, mid, tail []byte
}

// Len returns the page's size in bytes (its Content-Length).
func (p *Page) Len() int { return len(p.head) + len(pageCSS) + len(p.mid) + len(pageJS) + len(p.tail) }

// Size returns the bytes the page holds of its own (not the shared style
// and script), for cache accounting.
func (p *Page) Size() int { return cap(p.head) + cap(p.mid) + cap(p.tail) + 64 }

// WriteTo writes the whole page to w in one Write: the parts are copied
// into one pooled buffer first, because each Write of an HTTP response
// larger than its buffer is a system call of its own, and five of them
// cost the page several times the CPU of the JSON answer.
func (p *Page) WriteTo(w io.Writer) (int64, error) {
	bp := pageBufs.Get().(*[]byte)
	b := append((*bp)[:0], p.head...)
	b = append(b, pageCSS...)
	b = append(b, p.mid...)
	b = append(b, pageJS...)
	b = append(b, p.tail...)
	n, err := w.Write(b)
	if cap(b) <= 64<<10 { // one huge page does not pin its buffer
		*bp = b
		pageBufs.Put(bp)
	}
	return int64(n), err
}

var pageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// PageETag returns the entity tag of an order's page in a language, made of
// what decides its bytes: the build's page version, the language, the
// token's presence and the timeline's newest event and length. extra names
// anything else the caller varies the page on (the shop's settings). It is
// a strong validator: equal tags mean equal bytes.
func PageETag(lang language.Tag, events []Event, extra string) string {
	last := "0"
	if n := len(events); n > 0 {
		last = events[n-1].ID + "." + strconv.Itoa(n)
	}
	return `"p` + pageVersion + "-" + lang.String() + "-" + last + "-" + extra + `"`
}

// RenderPage writes the customer's tracking page: a complete HTML document,
// readable without JavaScript, whose small inline script (allowed by
// PageCSP) follows the event stream and inserts new events without reload.
// Every value is escaped by html/template for its context. Serve it with
// Content-Type "text/html; charset=utf-8" and the PageCSP header; it
// carries a token, so never let a shared cache keep it.
func RenderPage(w io.Writer, data PageData) error {
	p, err := NewPage(data)
	if err != nil {
		return err
	}
	_, err = p.WriteTo(w)
	return err
}

// NewPage renders the page of data once, for serving many times.
func NewPage(data PageData) (*Page, error) {
	tag, _ := pageTexts.Supported(data.Lang.String())
	if data.Lang == (language.Tag{}) {
		tag = pageTexts.Fallback()
	}
	T := func(key string, args ...any) string { return pageTexts.Text(tag, key, args...) }
	loc := data.Shop.Location
	if loc == nil {
		loc = time.UTC
	}
	viewTime := func(t time.Time) *timeView {
		if t.IsZero() {
			return nil
		}
		return &timeView{ISO: t.UTC().Format(time.RFC3339), Text: pageTexts.DateTime(tag, t, loc)}
	}
	v := pageView{
		Lang: tag.String(), Reference: data.Reference, OrderID: data.OrderID, Shop: data.Shop, ShopName: data.Shop.Name,
		PageURL: safeURL(data.PageURL), City: data.City, T: T, Zone: loc.String(),
		CSS: template.CSS(cssMarker), JS: template.JS(jsMarker),
	}
	v.Shop.ContactURL = safeContact(data.Shop.ContactURL)
	v.Shop.LogoURL = safeLogo(data.Shop.LogoURL)
	if v.ShopName == "" {
		v.ShopName = T("page.defaultShop")
	}
	if v.Reference == "" {
		v.Reference = data.OrderID
	}
	names := make(map[string]string, len(data.Items))
	for _, it := range data.Items {
		if it.Name != "" {
			names[it.SKU] = it.Name
		} else if it.Description != "" {
			names[it.SKU] = it.Description
		}
		lv := lineView{Text: T("page.quantity", it.Quantity, it.label()), SKU: it.SKU}
		if it.Description != "" && it.Description != it.label() {
			lv.Description = it.Description
		}
		v.Lines = append(v.Lines, lv)
	}
	for _, l := range pageTexts.Languages() {
		q := url.Values{locale.QueryParam: {l.Code}}
		if data.Token != "" {
			q.Set("token", data.Token)
		}
		v.Languages = append(v.Languages, langView{Code: l.Code, Name: l.Name, URL: "?" + q.Encode(), Current: l.Tag == tag})
	}
	if b := data.Banner; b != nil {
		heading := T("banner.upcoming")
		if b.Active {
			heading = T("banner.active")
		}
		v.Banner = &bannerView{Heading: heading, Message: b.Message, Start: *viewTime(b.Start), End: *viewTime(b.End)}
	}
	if f := data.Feedback; f != nil {
		fv := &feedbackView{Action: FeedbackURL(data.OrderID), Token: data.Token, Lang: tag.String()}
		for _, t := range f.Topics {
			label := t
			if pageTexts.Has("feedback.topic." + t) {
				label = T("feedback.topic." + t)
			}
			fv.Topics = append(fv.Topics, topicView{Value: t, Label: label})
		}
		v.Feedback = fv
	}

	s := Derive(data.Events)
	v.Summary = s
	v.StatusLabel = statusLabel(tag, s.Status)
	v.Reason = s.Reason
	v.StatusTime = viewTime(s.StatusTime)
	if t, err := time.Parse(time.DateOnly, s.ExpectedDelivery); err == nil {
		v.Delivery = pageTexts.Date(tag, t, true)
	} else {
		v.Delivery = s.ExpectedDelivery
	}
	v.Step = Step(s.Status)
	switch {
	case s.Status == TypeDelivered:
		v.StepClass = "done"
	case v.Step < 0 || s.Status == TypeFailed:
		v.StepClass = "problem"
	default:
		v.StepClass = "progress"
	}
	for i, k := range stepKeys {
		sv := stepView{Label: T(k), Done: i < v.Step || (i == v.Step && s.Status == TypeDelivered), Current: i == v.Step}
		switch {
		case sv.Done:
			sv.Class = "done"
		case sv.Current:
			sv.Class = "current"
		}
		v.Steps = append(v.Steps, sv)
	}
	sources := map[string]string{
		SourceGateway: T("source.gateway"), SourceERP: T("source.erp"), SourceSupplier: T("source.supplier"),
	}
	for _, e := range slices.Backward(data.Events) {
		v.Items = append(v.Items, itemView{
			ID: e.ID, Label: statusLabel(tag, e.Type), Summary: EventSummary(tag, e, names), Source: sources[e.Source],
			Time: viewTime(e.Time), Supplier: isSupplierType(e.Type),
		})
	}
	v.Title = T("page.title", v.Reference, v.StatusLabel, v.ShopName)
	v.Description = T("page.description", v.Reference, v.StatusLabel)
	if v.Delivery != "" && !s.Final {
		v.Description += " " + T("page.descriptionDelivery", v.Delivery)
	}

	cfg := pageConfig{
		Lang: tag.String(), EventsURL: data.EventsURL, Types: Types, Labels: make(map[string]string), Sources: sources,
		Steps: make(map[string]int), Summaries: make(map[string][][2]string), DateDetails: dateDetails, Products: names,
		ExpectedDelivery: s.ExpectedDelivery, OriginalDelivery: s.OriginalExpectedDelivery,
		HandlingDays: HandlingDays,
		ProblemTypes: []string{TypeCancelled, TypeRejected, TypeFailed},
		Texts:        make(map[string]string),
	}
	if cfg.EventsURL == "" {
		cfg.EventsURL = EventsURL(data.OrderID, data.Token)
	}
	for _, k := range []string{"page.updated", "page.expectedDelivery", "page.deliveredOn", "page.later",
		"page.liveOn", "page.liveOff", "page.reconnecting", "page.timesIn", "page.quantity"} {
		cfg.Texts[strings.TrimPrefix(k, "page.")] = pageTexts.Raw(tag, k)
	}
	for _, t := range Types {
		cfg.Labels[t] = statusLabel(tag, t)
		if StatusBearing(t) {
			cfg.StatusTypes = append(cfg.StatusTypes, t)
			cfg.Steps[t] = Step(t)
		}
		if isSupplierType(t) {
			cfg.SupplierTypes = append(cfg.SupplierTypes, t)
		}
		for _, p := range summaryParts[t] {
			cfg.Summaries[t] = append(cfg.Summaries[t], [2]string{p[0], pageTexts.Raw(tag, p[1])})
		}
	}
	v.Config = cfg

	var b bytes.Buffer
	b.Grow(8 << 10)
	if err := pageTmpl.Execute(&b, v); err != nil {
		return nil, err
	}
	out := b.Bytes()
	head, rest, ok1 := bytes.Cut(out, []byte(cssMarker))
	mid, tail, ok2 := bytes.Cut(rest, []byte(jsMarker))
	if !ok1 || !ok2 {
		panic("tracking: page template lost its style or script marker")
	}
	// Copies, so the page holds only its own bytes, not the buffer's spare
	// capacity.
	return &Page{head: bytes.Clone(head), mid: bytes.Clone(mid), tail: bytes.Clone(tail)}, nil
}

// safeContact returns u if it is an http(s), mailto or tel URL, else "".
func safeContact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	switch p.Scheme {
	case "https", "http":
		if p.Host != "" {
			return u
		}
	case "mailto", "tel":
		if p.Opaque != "" {
			return u
		}
	}
	return ""
}

// safeLogo returns u if it is a path on this origin or an https URL (what
// PageCSP's img-src allows), else "".
func safeLogo(u string) string {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return u
	}
	if p, err := url.Parse(u); err == nil && p.Scheme == "https" && p.Host != "" {
		return u
	}
	return ""
}
