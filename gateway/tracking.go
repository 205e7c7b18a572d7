package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/feedback"
	"erpgate/locale"
	"erpgate/tracking"
)

// Timelines is what the gateway reads of the tracking store.
type Timelines interface {
	Timeline(ctx context.Context, orderID string) ([]tracking.Event, error)
	// Count records an event written outside Append (the accept script's
	// first event) in the tracking metrics.
	Count(e tracking.Event)
}

// LiveStreams serves an order's timeline as Server-Sent Events.
type LiveStreams interface {
	ServeSSE(ctx context.Context, w http.ResponseWriter, orderID, lastEventID string, heartbeat time.Duration) error
}

// sseHeartbeat keeps proxies from closing idle event streams.
const sseHeartbeat = 15 * time.Second

// trackingView is what the tracking routes need of an order: who may see
// it, its timeline, and the rendered JSON answer of GET /v1/tracking/{id}.
// Everything in it is either fixed at accept (ids, shop, token) or derived
// from the timeline, so the read cache (TrackingCache) invalidates it
// exactly when an event is appended. It is shared between requests:
// read-only.
type trackingView struct {
	id, externalID, shopID, token string
	events                        []tracking.Event
	body                          []byte
	jsonTag                       string // the body's ETag
	// items and city are what the page shows of the order itself.
	items []tracking.PageItem
	city  string
	// pages holds the rendered page per language (pageLangs' order), each
	// rendered on first use: once per timeline change, language and
	// maintenance banner (a page rendered with another banner is rendered
	// again, so a notice never waits for the order's next event).
	pages []atomic.Pointer[renderedPage]
}

// renderedPage is a page and the banner it was rendered with (bannerKey).
type renderedPage struct {
	page   *tracking.Page
	banner string
}

// pageLangs are the tracking page's languages, in PageTexts' order.
var pageLangs = tracking.PageTexts().Languages()

// TrackingCache caches tracking views by order id; cmd/gateway wires its
// invalidation to the tracking Hub's feed and the store's appends (see
// tracking.ReadCache).
type TrackingCache = tracking.ReadCache[*trackingView]

// NewTrackingCache returns a tracking read cache of at most maxBytes.
func NewTrackingCache(maxBytes int, reg prometheus.Registerer) (*TrackingCache, error) {
	return tracking.NewReadCache(tracking.ReadCacheConfig[*trackingView]{
		MaxBytes: maxBytes, Registerer: reg, Size: (*trackingView).size,
	})
}

// size estimates the bytes v holds (the rendered body dominates; each event
// is counted at its JSON size plus struct overhead).
func (v *trackingView) size() int {
	n := 256 + len(v.id) + len(v.externalID) + len(v.shopID) + len(v.token) + 2*cap(v.body) + len(v.city)
	for _, it := range v.items {
		n += 64 + len(it.SKU) + len(it.Name) + len(it.Description)
	}
	return n + len(v.events)*160 + len(v.pages)*8
}

// trackedOrder resolves the order a tracking request names and checks that
// the caller may see it: the customer with the order's tracking token (query
// ?token= or Bearer), or the owning shop with its API key. Anything else is
// 404, never a hint that the order exists.
func (s *Server) trackedOrder(c echo.Context) (*trackingView, error) {
	notFound := erpgate.Errorf(erpgate.NotFound, "no such order")
	id := c.Param("id")
	if id == "" || len(id) > tracking.MaxOrderIDLen {
		return nil, notFound
	}
	v, err := s.trackingView(c.Request().Context(), id)
	if erpgate.ErrorCode(err) == erpgate.NotFound {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if tok := c.QueryParam("token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(v.token)) == 1 {
			return v, nil
		}
		return nil, notFound
	}
	key := bearer(c)
	if key == "" {
		return nil, notFound
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(v.token)) == 1 {
		return v, nil
	}
	if cl, ok := s.keys.Lookup(key); ok && cl.Kind == KindShop && cl.ID == v.shopID {
		return v, nil
	}
	return nil, notFound
}

// trackingView returns the order's view, from the cache when there is one.
func (s *Server) trackingView(ctx context.Context, id string) (*trackingView, error) {
	if s.trackCache == nil {
		return s.loadTrackingView(ctx, id)
	}
	return s.trackCache.Get(ctx, id, func(ctx context.Context) (*trackingView, error) {
		return s.loadTrackingView(ctx, id)
	})
}

// loadTrackingView reads the order and its timeline from Redis and renders
// the answer.
func (s *Server) loadTrackingView(ctx context.Context, id string) (*trackingView, error) {
	rec, err := s.store.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.timelines.Timeline(ctx, rec.Order.ID)
	if err != nil {
		return nil, err
	}
	if evs == nil {
		evs = []tracking.Event{}
	}
	body, err := json.Marshal(trackingResponse{
		ID: rec.Order.ID, ExternalID: rec.Order.ExternalID, Summary: tracking.Derive(evs), Events: evs,
	})
	if err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	names := s.products.names(ctx)
	items := make([]tracking.PageItem, len(rec.Order.Lines))
	for i, l := range rec.Order.Lines {
		items[i] = tracking.PageItem{SKU: l.SKU, Name: names[l.SKU], Description: l.Description, Quantity: l.Quantity}
	}
	last := "0"
	if n := len(evs); n > 0 {
		last = evs[n-1].ID + "." + strconv.Itoa(n)
	}
	return &trackingView{
		id: rec.Order.ID, externalID: rec.Order.ExternalID, shopID: rec.Order.ShopID, token: rec.Token,
		events: evs, body: append(body, '\n'), jsonTag: `"j-` + last + `"`,
		items: items, city: rec.Order.ShippingAddress.City,
		pages: make([]atomic.Pointer[renderedPage], len(pageLangs)),
	}, nil
}

// customerTopics are the feedback topics the tracking page's form offers:
// the fixed list without the shops' own ("api").
var customerTopics = slices.DeleteFunc(slices.Clone(feedback.Topics), func(t string) bool { return t == "api" })

// pageBanner returns the maintenance banner a tracking page in language i
// of pageLangs shows now, and its key: the notice's id, revision and phase
// ("" for none), part of the page's ETag and of what its cached rendering
// was made with.
func (s *Server) pageBanner(ctx context.Context, i int) (*tracking.PageBanner, string) {
	b, ok := s.NoticeBanner(ctx, s.now(), pageLangs[i].Code)
	if !ok {
		return nil, ""
	}
	phase := "u"
	if b.Active {
		phase = "a"
	}
	return &tracking.PageBanner{Message: b.Message, Start: b.Start, End: b.End, Active: b.Active},
		b.ID + "." + strconv.FormatInt(b.Revision, 10) + phase
}

// page returns the view's page in language i of pageLangs with banner
// (bannerKey its key), rendering it on first use or when the cached one
// was rendered with another banner, and accounting its bytes in the read
// cache.
func (s *Server) page(v *trackingView, i int, shop *ShopProfile, banner *tracking.PageBanner, bannerKey string) (*tracking.Page, error) {
	old := v.pages[i].Load()
	if old != nil && old.banner == bannerKey {
		return old.page, nil
	}
	d := tracking.PageData{
		OrderID: v.id, Reference: v.externalID, Token: v.token, Events: v.events, Items: v.items, City: v.city,
		PageURL: s.trackingURL(v.id, v.token), Lang: pageLangs[i].Tag, Banner: banner,
	}
	if shop != nil {
		d.Shop = tracking.PageShop{Name: shop.Name, ContactURL: shop.ContactURL, LogoURL: shop.LogoURL, Location: shop.Location()}
	}
	if s.feedback != nil {
		d.Feedback = &tracking.PageFeedback{Topics: customerTopics}
	}
	p, err := tracking.NewPage(d)
	if err != nil {
		return nil, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	if v.pages[i].CompareAndSwap(old, &renderedPage{page: p, banner: bannerKey}) && s.trackCache != nil {
		delta := p.Size()
		if old != nil {
			delta -= old.page.Size()
		}
		s.trackCache.Account(v.id, delta)
	}
	// Another request may have stored a page meanwhile, possibly with
	// another banner: answer the one rendered here, which matches the ETag.
	return p, nil
}

type trackingResponse struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	tracking.Summary
	Events []tracking.Event `json:"events"`
}

func (s *Server) handleTracking() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("Cache-Control", "private, no-cache")
		h.Set("ETag", v.jsonTag)
		if etagMatch(c.Request().Header.Get("If-None-Match"), v.jsonTag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.JSONBlob(http.StatusOK, v.body)
	}
}

// etagMatch reports whether an If-None-Match header names tag (or is "*").
// Weak comparison, as RFC 9110 wants for If-None-Match.
func etagMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for header != "" {
		var t string
		t, header, _ = strings.Cut(header, ",")
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

func (s *Server) handleTrackingEvents() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return err
		}
		last := c.Request().Header.Get("Last-Event-ID")
		if last == "" {
			last = c.QueryParam("last_event_id")
		}
		return s.live.ServeSSE(c.Request().Context(), c.Response(), v.id, last, sseHeartbeat)
	}
}

// handleTrackingPage serves the customer's page from the same cached view
// as the JSON answer: rendered once per timeline change and language, with
// an ETag, so a reload of an unchanged order is a 304. The language is the
// customer's (?lang=, remembered in a cookie; Accept-Language), else the
// shop's. A customers' maintenance notice shows as a banner from the lead
// time before its window until its end: its id, revision and phase are part
// of the ETag and of the cached rendering's key, so the banner appears,
// changes and goes without waiting for the order's next event. With
// feedback configured the footer carries the feedback form.
func (s *Server) handleTrackingPage() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := s.trackedOrder(c)
		if err != nil {
			return s.trackingPageError(c, err)
		}
		shop := s.keys.Shop(v.shopID)
		def, shopVersion := "", "0"
		if shop != nil {
			def, shopVersion = shop.Language, shop.version
		}
		tag, from := tracking.PageTexts().Negotiate(c.Request(), def)
		i := slices.IndexFunc(pageLangs, func(l locale.Language) bool { return l.Tag == tag })
		if i < 0 {
			i = 0
		}
		h := c.Response().Header()
		if from == locale.FromQuery {
			http.SetCookie(c.Response(), locale.Cookie(tag))
		}
		banner, bannerKey := s.pageBanner(c.Request().Context(), i)
		etag := tracking.PageETag(pageLangs[i].Tag, v.events, shopVersion+"."+bannerKey)
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Accept-Language, Cookie")
		h.Set("ETag", etag)
		if etagMatch(c.Request().Header.Get("If-None-Match"), etag) {
			return c.NoContent(http.StatusNotModified)
		}
		p, err := s.page(v, i, shop, banner, bannerKey)
		if err != nil {
			return s.trackingPageError(c, err)
		}
		h.Set(echo.HeaderContentType, "text/html; charset=utf-8")
		h.Set(echo.HeaderContentLength, strconv.Itoa(p.Len()))
		h.Set("Content-Security-Policy", tracking.PageCSP())
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		c.Response().WriteHeader(http.StatusOK)
		_, err = p.WriteTo(c.Response())
		return err
	}
}

// trackingPageError answers a browser with a small HTML page in its
// language instead of problem+json.
func (s *Server) trackingPageError(c echo.Context, err error) error {
	texts := tracking.PageTexts()
	tag, _ := texts.Negotiate(c.Request(), "")
	status, msg := http.StatusNotFound, texts.Text(tag, "error.notFound")
	if erpgate.ErrorCode(err) != erpgate.NotFound {
		status, msg = http.StatusServiceUnavailable, texts.Text(tag, "error.unavailable")
	}
	title := html.EscapeString(texts.Text(tag, "error.title"))
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTML(status, `<!doctype html><html lang="`+tag.String()+`"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="/favicon.svg" type="image/svg+xml"><title>`+
		title+`</title></head><body><main><h1>`+title+`</h1><p>`+html.EscapeString(msg)+`</p></main></body></html>`)
}

// productNames keeps the catalog's product names in memory for the
// tracking page (the page shows names, not SKUs): loaded from the catalog
// (SupplierService, itself cached in Redis) at most once per
// productNamesTTL, or per productNamesRetry after a failure; meanwhile the
// names last loaded (or none) serve. A tracking read never waits for more
// than one catalog load, and never fails for want of names.
type productNames struct {
	load func(ctx context.Context) (map[string]string, error) // nil: no catalog
	now  func() time.Time

	mu      sync.Mutex
	byID    map[string]string
	next    time.Time // when to load again
	loading bool
}

const (
	productNamesTTL   = 5 * time.Minute
	productNamesRetry = 30 * time.Second
)

// names returns the product names by SKU (nil when there is no catalog).
func (p *productNames) names(ctx context.Context) map[string]string {
	if p == nil || p.load == nil {
		return nil
	}
	p.mu.Lock()
	if p.loading || p.now().Before(p.next) {
		n := p.byID
		p.mu.Unlock()
		return n
	}
	p.loading = true
	p.mu.Unlock()

	n, err := p.load(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loading = false
	if err != nil {
		p.next = p.now().Add(productNamesRetry)
		return p.byID
	}
	p.byID, p.next = n, p.now().Add(productNamesTTL)
	return n
}
