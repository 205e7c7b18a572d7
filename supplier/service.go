// Package supplier holds the supplier use cases, shared by the REST API
// and the SOAP SupplierService so the two cannot drift: reads of purchase
// orders and the catalog through the cache from the ERP, the business
// checks of a supplier document against the purchase order as it will be
// when every document accepted before it has been applied, the durable
// accept, and what follows an accept (cache invalidation, customer
// tracking events, metrics). Nothing here knows HTTP or SOAP.
package supplier

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate/erp"
	"erpgate/store"
	"erpgate/supply"
	"erpgate/tracking"
)

// Config configures the supplier services and the catalog.
type Config struct {
	// ERP is the ERP's supply chain (v2): purchase orders and the catalog
	// are read from it.
	ERP erp.SupplyChain
	// Store keeps supplier documents, the read cache and the signature
	// replay records (*store.Store).
	Store Store
	// Active, optional (nil: always), reports whether the ERP may be asked
	// at all. While it reports false, reads are answered from the last copy
	// the cache holds without a call. Without it, reads ask the ERP and fall
	// back to the last copy when it does not answer. Writes never depend on
	// it: they are accepted into the outbox and wait for their target.
	Active func() bool
	// Timelines, optional, receives the supplier's acknowledgement and
	// shipping notice as events on the timelines of the customer orders
	// waiting on the purchase order.
	Timelines Timelines
	// CacheTTL is how long a read from the ERP is served from the cache
	// (0: DefaultCacheTTL). Writes invalidate at once.
	CacheTTL time.Duration
}

// Defaults of Config.
const (
	DefaultCacheTTL = 30 * time.Second
	// lastKnownTTL keeps the last copy of a purchase order, list or
	// catalog page for answering while the ERP is away.
	lastKnownTTL = 7 * 24 * time.Hour
	// erpReadTimeout bounds an ERP read made for a request.
	erpReadTimeout = 5 * time.Second
)

// Store is what the supplier services need of the store (*store.Store).
type Store interface {
	AcceptSupplierDocument(ctx context.Context, in store.DocumentIntake) (store.AcceptedDocument, error)
	SupplierDocumentByNumber(ctx context.Context, supplier, kind, docID string) (*supply.Document, error)
	SupplierDocuments(ctx context.Context, supplier, kind string, offset, limit int) ([]*supply.Document, int, error)
	PendingState(ctx context.Context, supplier, po string) ([]*supply.Document, []string, error)
	// NewDocumentID draws a document id with gen into the supplier's
	// partition, as AcceptSupplierDocument requires.
	NewDocumentID(supplier string, gen func() string) string
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
	CacheSet(ctx context.Context, key string, val []byte, ttl time.Duration) error
	CacheGenerations(ctx context.Context, scopes ...string) ([]int64, error)
	BumpCacheGenerations(ctx context.Context, scopes ...string) error
}

// Timelines appends events to customer orders' timelines
// (*tracking.Store).
type Timelines interface {
	Append(ctx context.Context, orderID string, e tracking.Event) (tracking.Event, error)
}

// Orders is what the supplier services need of the order store: whether
// this gateway holds an order (*store.Store).
type Orders interface {
	Order(ctx context.Context, id string) (*store.Record, error)
}

// Service is the one service layer behind the supplier REST API and
// SOAP SupplierService. Every method takes the authenticated supplier's id
// and only ever shows or changes that supplier's documents: anything else is
// NotFound, exactly like something that does not exist.
type Service struct {
	cfg    Config
	orders Orders
	now    func() time.Time
	log    *slog.Logger
	docs   *prometheus.CounterVec
}

// New returns the supplier service; its metrics go to reg.
func New(cfg Config, orders Orders, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Active == nil {
		cfg.Active = func() bool { return true }
	}
	docs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_supplier_documents_total",
		Help: "Supplier documents by kind and outcome: at the API accepted, replayed, invalid, not_found, conflict, error; after delivery to the ERP delivered, rejected, dead.",
	}, []string{"kind", "outcome"})
	if err := reg.Register(docs); err != nil {
		return nil, err
	}
	for _, k := range supply.DocumentKinds {
		for _, o := range []string{"accepted", "replayed", "invalid", "not_found", "conflict", "error", "delivered", "rejected", "dead"} {
			docs.WithLabelValues(k, o)
		}
	}
	return &Service{cfg: cfg, orders: orders, now: now, log: log, docs: docs}, nil
}
