// Package gateway is erpgate's HTTP surface: the echo server, every route
// (listed in routes.go), authentication, limits, request ids, metrics, the
// REST handlers, the SOAP endpoints' dispatch, and the one mapping from
// erpgate error codes to HTTP statuses (problem+json, RFC 9457).
//
// echo never leaks out of this package: New returns an http.Handler.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
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
}

// Server is the gateway's HTTP handler.
type Server struct {
	e          *echo.Echo
	log        *slog.Logger
	publicURL  string
	store      OrderStore
	keys       *Keyring
	intake     *Intake
	ready      func(ctx context.Context) error
	gatherer   prometheus.Gatherer
	metrics    *metrics
	now        func() time.Time
	timelines  Timelines
	live       LiveStreams
	trackCache *TrackingCache
	products   *productNames // the tracking page's product names (tracking.go)
	release    ReleaseAdmin
	supplier   *SupplierService // supplier.go; nil when not configured

	// ERP callbacks and webhook admin (erp_callback.go, admin_webhooks.go).
	authority Authority
	events    TimelineAppender
	webhooks  WebhookAdmin
	pushes    *prometheus.CounterVec // erpgate_tracking_erp_pushes_total
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
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	s := &Server{
		e: e, log: cfg.Logger, publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		store: cfg.Store, keys: cfg.Keyring, intake: NewIntake(cfg.Store, cfg.Now),
		ready: cfg.Ready, gatherer: cfg.Gatherer, metrics: m, now: cfg.Now,
		timelines: cfg.Timelines, live: cfg.Live, trackCache: cfg.TrackingCache,
		release: cfg.Release,
	}
	if cfg.Timelines != nil {
		s.intake.accepted = cfg.Timelines.Count
	}
	if err := s.initSupplier(cfg.Supplier, cfg.Registerer); err != nil { // supplier.go
		return nil, err
	}
	s.products = &productNames{now: cfg.Now}
	if s.supplier != nil {
		s.products.load = s.supplier.productNames
	}
	if err := s.initERPCallbacks(cfg); err != nil { // erp_callback.go
		return nil, err
	}
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Intake returns the shared order intake service (REST and SOAP use it).
func (s *Server) Intake() *Intake { return s.intake }
