// Package gateway is erpgate's HTTP surface: the echo server, every route
// (listed in routes.go), authentication, limits, request ids, metrics, the
// REST handlers, the SOAP endpoints' dispatch, and the one mapping from
// erpgate error codes to HTTP statuses (problem+json, RFC 9457).
//
// echo never leaks out of this package: New returns an http.Handler.
package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate/intake"
	"erpgate/notice"
	"erpgate/store"
	"erpgate/supplier"
)

// Config holds the gateway's dependencies and settings.
type Config struct {
	// PublicURL is the base URL customers reach the gateway at, used in
	// tracking links (e.g. "https://shop-gateway.example.com").
	PublicURL string
	Logger    *slog.Logger
	// Registerer receives the gateway's metrics; Gatherer serves /metrics.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Store      OrderStore
	Keyring    *Keyring
	// Ready reports whether the gateway can do its work (store reachable,
	// workers running); /readyz answers 503 while it returns an error.
	Ready func(ctx context.Context) error
	// Timelines and Live serve customer tracking; both are required for the
	// tracking routes to exist.
	Timelines Timelines
	Live      LiveStreams
	// TrackingCache, if set, keeps tracking answers in memory until the
	// order's timeline changes (NewTrackingCache; its owner wires the
	// invalidation). Nil reads Redis for every tracking request.
	TrackingCache *TrackingCache
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Release serves the release plan admin API (admin_release.go); the
	// routes exist only when it is set.
	Release ReleaseAdmin
	// CMDB, if set, serves GET /admin/cmdb (admin_cmdb.go).
	CMDB CMDB
	// ManifestKey, if set, is the only ed25519 key the release library
	// accepts manifests signed by; nil accepts any manifest whose signature
	// holds under the key it names (admin_release_gates.go).
	ManifestKey ed25519.PublicKey
	// Plan, when set, lets the order answers say which ERP target is
	// authoritative for an order and which targets are paused.
	Plan OrderPlan

	// Supplier services and catalog (supplier.go, soap_supplier.go,
	// catalog.go): the ERP's supply chain, the supplier document store and
	// cache, signature policy. The routes exist only when Supplier.ERP and
	// Supplier.Store are set.
	Supplier SupplierConfig

	// ERP callbacks and webhook admin (erp_callback.go, admin_webhooks.go).
	// Authority (whose answers customers see, per order) and Events (the
	// timelines to append to) enable POST /erp/v2/callback, where ERP v2
	// pushes status changes; Webhooks enables /admin/webhooks.
	Authority Authority
	Events    TimelineAppender
	Webhooks  WebhookAdmin

	// Maintenance notices, pilot feedback and the help pages (notices.go,
	// feedback.go, help.go). Notices enables the notice routes, the
	// Erpgate-Notice header and the intake pause; Feedback the feedback
	// routes; the help pages are always served, the FAQ admin and page
	// only with FAQ.
	Notices  *notice.Service
	Feedback FeedbackService
	FAQ      FAQStore
	// Outbox enables /admin/outbox and its dead-letter actions
	// (admin_outbox.go).
	Outbox OutboxAdmin
	// Limits are the admission limits (admission.go); zero fields take
	// DefaultLimits.
	Limits Limits
	// RateLimiter, if set, enforces per-client rate limits
	// (ratelimit.go): a client's own from Keyring, else DefaultRateLimit.
	RateLimiter      RateLimiter
	DefaultRateLimit RateLimit

	// MetricsToken, if set, is the bearer token /metrics requires
	// (MetricsHandler). NoMetricsRoute leaves /metrics out of this handler
	// (cmd/gateway serves it on a separate address).
	MetricsToken   string
	NoMetricsRoute bool
}

// OrderStore is what the gateway needs of the durable store.
type OrderStore interface {
	Accept(ctx context.Context, in store.Intake) (store.Accepted, error)
	Order(ctx context.Context, id string) (*store.Record, error)
	OrderByExternalID(ctx context.Context, shopID, externalID string) (*store.Record, error)
	NewOrderID(shopID, externalID string, gen func() string) string // intake.Store
}

// Server is the gateway's HTTP handler.
type Server struct {
	e          *echo.Echo
	log        *slog.Logger
	publicURL  string
	store      OrderStore
	keys       *Keyring
	intake     *intake.Service
	ready      func(ctx context.Context) error
	gatherer   prometheus.Gatherer
	metrics    *metrics
	now        func() time.Time
	timelines  Timelines
	live       LiveStreams
	trackCache *TrackingCache
	products   *productNames // the tracking page's product names (tracking.go)
	release    ReleaseAdmin
	// manifestKey: see Config.ManifestKey.
	manifestKey ed25519.PublicKey
	cmdb        CMDB              // admin_cmdb.go; nil when not configured
	supplier    *supplier.Service // supplier.go; nil when not configured
	supplierCfg SupplierConfig    // supplier_auth.go: signature policy and replay records
	plan        OrderPlan

	// ERP callbacks and webhook admin (erp_callback.go, admin_webhooks.go).
	authority Authority
	events    TimelineAppender
	webhooks  WebhookAdmin
	pushes    *prometheus.CounterVec // erpgate_tracking_erp_pushes_total

	// Notices, feedback, help (notices.go, feedback.go, help.go).
	notices       *notice.Service
	feedback      FeedbackService
	feedbackTotal *prometheus.CounterVec // erpgate_feedback_received_total
	faq           FAQStore
	outbox        OutboxAdmin // admin_outbox.go
	admission     *admission  // admission.go
	rates         *rateLimits // ratelimit.go; nil without a RateLimiter
	metricsOn     bool
	metricsTk     string
}

// New returns the gateway handler with every route registered.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keyring == nil {
		return nil, errors.New("gateway: Store and Keyring are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	e.HTTPErrorHandler = errorHandler(cfg.Logger, publicURL)
	s := &Server{
		e: e, log: cfg.Logger, publicURL: publicURL,
		store: cfg.Store, keys: cfg.Keyring,
		ready: cfg.Ready, gatherer: cfg.Gatherer, metrics: m, now: cfg.Now,
		timelines: cfg.Timelines, live: cfg.Live, trackCache: cfg.TrackingCache,
		release: cfg.Release, manifestKey: cfg.ManifestKey, cmdb: cfg.CMDB, plan: cfg.Plan, outbox: cfg.Outbox,
	}
	in := intake.Config{Store: cfg.Store, Now: cfg.Now}
	if cfg.Timelines != nil {
		in.Accepted = cfg.Timelines.Count
	}
	if cfg.Notices != nil {
		in.Gate = cfg.Notices.Board().CheckIntake // notices.go: the intake pause
	}
	s.intake = intake.New(in)
	if s.admission, err = newAdmission(cfg.Limits, cfg.Registerer); err != nil {
		return nil, err
	}
	s.metricsOn, s.metricsTk = !cfg.NoMetricsRoute, cfg.MetricsToken
	if cfg.RateLimiter != nil {
		if s.rates, err = newRateLimits(cfg.RateLimiter, cfg.DefaultRateLimit, cfg.Keyring, cfg.Now, cfg.Registerer); err != nil {
			return nil, err
		}
	}
	if err := s.initSupplier(cfg.Supplier, cfg.Registerer); err != nil { // supplier.go
		return nil, err
	}
	s.products = &productNames{now: cfg.Now}
	if s.supplier != nil {
		s.products.load = s.supplier.ProductNames
	}
	if err := s.initERPCallbacks(cfg); err != nil { // erp_callback.go
		return nil, err
	}
	if err := s.initNotices(cfg.Notices, cfg.Registerer); err != nil { // notices.go
		return nil, err
	}
	if err := s.initFeedback(cfg.Feedback, cfg.Registerer); err != nil { // feedback.go
		return nil, err
	}
	s.faq = cfg.FAQ
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Intake returns the shared order intake service (REST and SOAP use it).
func (s *Server) Intake() *intake.Service { return s.intake }
