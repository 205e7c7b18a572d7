package tracking

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

var (
	//go:embed page/track.html
	pageHTML string
	//go:embed page/track.css
	pageCSS string
	//go:embed page/track.js
	pageJS string

	pageTmpl = template.Must(template.New("track").Parse(pageHTML))
	pageCSP  = "default-src 'none'; " +
		"script-src '" + cspHash(pageJS) + "'; " +
		"style-src '" + cspHash(pageCSS) + "'; " +
		"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// PageCSP returns the Content-Security-Policy header value for the page
// RenderPage writes. Its inline script and style are allowed by hash, so
// nothing else can run; connect-src 'self' lets the script open the event
// stream on the same origin.
func PageCSP() string { return pageCSP }

// PageData is what the tracking page shows.
type PageData struct {
	// OrderID is the gateway's order id. Required.
	OrderID string
	// Reference is the order number the customer knows (the shop's
	// external id); default OrderID.
	Reference string
	// ShopName names the shop in the header and title; default "Order tracking".
	ShopName string
	// Token is the order's tracking token; it goes into the event stream URL.
	Token string
	// Events is the timeline, oldest first (as Timeline returns it); the page
	// shows it newest first, as parcel trackers do, and derives the status.
	Events []Event
	// EventsURL is where the page's script opens its EventSource; default
	// "/v1/tracking/{OrderID}/events?token={Token}", properly escaped.
	EventsURL string
	// PageURL, when set, is the absolute URL announced as og:url.
	PageURL string
	// Lang is the page language (the texts are English); default "en".
	Lang string
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

func viewTime(t time.Time) *timeView {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &timeView{ISO: t.Format(time.RFC3339), Text: t.Format("2 Jan 2006, 15:04 UTC")}
}

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

// pageConfig is handed to the page script as JSON.
type pageConfig struct {
	EventsURL        string            `json:"events_url"`
	Types            []string          `json:"types"`
	StatusTypes      []string          `json:"status_types"`
	SupplierTypes    []string          `json:"supplier_types"`
	ProblemTypes     []string          `json:"problem_types"`
	Labels           map[string]string `json:"labels"`
	Steps            map[string]int    `json:"steps"`
	Sources          map[string]string `json:"sources"`
	ExpectedDelivery string            `json:"expected_delivery"`
	OriginalDelivery string            `json:"original_delivery"`
	HandlingDays     int               `json:"handling_days"`
}

type pageView struct {
	Lang, Title, Description, ShopName, Reference, OrderID, PageURL string
	Summary                                                         Summary
	StatusTime                                                      *timeView
	Delivery                                                        string
	Step                                                            int
	StepClass                                                       string
	Steps                                                           []stepView
	Items                                                           []itemView
	Config                                                          pageConfig
	CSS                                                             template.CSS
	JS                                                              template.JS
}

var sourceLabels = map[string]string{
	SourceGateway:  "Online shop",
	SourceERP:      "Warehouse",
	SourceSupplier: "Supplier",
}

var stepLabels = []string{"Ordered", "Confirmed", "Shipped", "Delivered"}

// RenderPage writes the customer's tracking page: a complete HTML document,
// readable without JavaScript, whose small inline script (allowed by
// PageCSP) follows the event stream and inserts new events without reload.
// Every value is escaped by html/template for its context. Serve it with
// Content-Type "text/html; charset=utf-8", the PageCSP header and
// Cache-Control "no-store" (it shows live state and carries a token).
func RenderPage(w io.Writer, data PageData) error {
	v := pageView{
		Lang: data.Lang, ShopName: data.ShopName, Reference: data.Reference, OrderID: data.OrderID,
		PageURL: safeURL(data.PageURL), CSS: template.CSS(pageCSS), JS: template.JS(pageJS),
	}
	if v.Lang == "" {
		v.Lang = "en"
	}
	if v.ShopName == "" {
		v.ShopName = "Order tracking"
	}
	if v.Reference == "" {
		v.Reference = data.OrderID
	}
	s := Derive(data.Events)
	v.Summary = s
	v.StatusTime = viewTime(s.StatusTime)
	v.Delivery = formatDate(s.ExpectedDelivery)
	v.Step = Step(s.Status)
	switch {
	case s.Status == TypeDone:
		v.StepClass = "done"
	case v.Step < 0 || s.Status == TypeFailed:
		v.StepClass = "problem"
	default:
		v.StepClass = "progress"
	}
	for i, l := range stepLabels {
		sv := stepView{Label: l, Done: i < v.Step || (i == v.Step && s.Status == TypeDone), Current: i == v.Step}
		switch {
		case sv.Done:
			sv.Class = "done"
		case sv.Current:
			sv.Class = "current"
		}
		v.Steps = append(v.Steps, sv)
	}
	for _, e := range slices.Backward(data.Events) {
		v.Items = append(v.Items, itemView{
			ID: e.ID, Label: Label(e.Type), Summary: e.Summary, Source: sourceLabels[e.Source],
			Time: viewTime(e.Time), Supplier: isSupplierType(e.Type),
		})
	}
	v.Title = "Order " + v.Reference + ": " + s.StatusLabel + " – " + v.ShopName
	var desc strings.Builder
	desc.WriteString("Status of order " + v.Reference + ": " + s.StatusLabel + ".")
	if v.Delivery != "" && !s.Final {
		desc.WriteString(" Expected delivery: " + v.Delivery + ".")
	}
	v.Description = desc.String()

	cfg := pageConfig{
		EventsURL: data.EventsURL, Types: Types, Labels: labels, Sources: sourceLabels,
		Steps:            make(map[string]int),
		ExpectedDelivery: s.ExpectedDelivery, OriginalDelivery: s.OriginalExpectedDelivery,
		HandlingDays: HandlingDays,
		ProblemTypes: []string{TypeCancelled, TypeRejected, TypeFailed},
	}
	if cfg.EventsURL == "" {
		cfg.EventsURL = EventsURL(data.OrderID, data.Token)
	}
	for _, t := range Types {
		if StatusBearing(t) {
			cfg.StatusTypes = append(cfg.StatusTypes, t)
			cfg.Steps[t] = Step(t)
		}
		if isSupplierType(t) {
			cfg.SupplierTypes = append(cfg.SupplierTypes, t)
		}
	}
	v.Config = cfg
	return pageTmpl.Execute(w, v)
}

// formatDate turns "YYYY-MM-DD" into "Monday 12 January 2026"; other
// strings are returned unchanged.
func formatDate(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format("Monday 2 January 2006")
}
