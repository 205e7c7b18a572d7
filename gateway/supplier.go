package gateway

// The supplier REST API (issue 6). Every route authenticates a supplier
// (supplier_auth.go) and shows or changes only that supplier's documents:
// another supplier's purchase order or document is 404, like one that does
// not exist.
//
//	GET  /v1/supplier/purchase-orders?status=&offset=&limit=   my purchase orders, newest first
//	GET  /v1/supplier/purchase-orders/{number}                 one, with my documents not yet applied
//	POST /v1/supplier/purchase-orders/{number}/acknowledgements   202: accepted, delivered to the ERP later
//	POST /v1/supplier/purchase-orders/{number}/shipping-notices   202
//	POST /v1/supplier/purchase-orders/{number}/invoices           202
//	POST /v1/supplier/stock-advices                               202
//	GET  /v1/supplier/{acknowledgements|shipping-notices|invoices|stock-advices}?offset=&limit=
//	GET  /v1/supplier/{acknowledgements|shipping-notices|invoices|stock-advices}/{id}
//
// Writes are idempotent by (supplier, kind, document id): the same document
// again gets the same 202 (Idempotent-Replayed: true), a different one under
// the same id 422. The business checks run before the 202 against the
// purchase order as the ERP will see it when the document arrives; the
// delivery to the ERP's v2 supply-chain operations happens through the
// outbox, and waits while v2 is paused.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"erpgate/erp"
	"erpgate/supplier"
	"erpgate/supply"
)

// docPaths maps the URL segment of each document kind to the kind.
var docPaths = map[string]string{
	"acknowledgements": supply.KindAcknowledgement,
	"shipping-notices": supply.KindShippingNotice,
	"invoices":         supply.KindInvoice,
	"stock-advices":    supply.KindStockAdvice,
}

func docPath(kind string) string {
	for p, k := range docPaths {
		if k == kind {
			return p
		}
	}
	return ""
}

// SupplierConfig configures the supplier services and the catalog. The
// routes exist only when ERP and Store are set.
type SupplierConfig struct {
	// ERP is the ERP's supply chain (v2): purchase orders and the catalog
	// are read from it.
	ERP erp.SupplyChain
	// Store keeps supplier documents, the read cache and the signature
	// replay records (*store.Store).
	Store SupplyStore
	// Active, optional (nil: always), reports whether the ERP may be asked
	// at all (supplier.Config.Active).
	Active func() bool
	// Timelines, optional, receives the supplier's acknowledgement and
	// shipping notice as events on the timelines of the customer orders
	// waiting on the purchase order.
	Timelines supplier.Timelines
	// CacheTTL is how long a read from the ERP is served from the cache
	// (0: supplier.DefaultCacheTTL). Writes invalidate at once.
	CacheTTL time.Duration
	// RequireSignature refuses supplier requests that are not HMAC-signed
	// (a Bearer key alone is then not enough).
	RequireSignature bool
	// SignatureWindow is how far a signed request's timestamp may be from
	// the gateway's clock (0: DefaultSignatureWindow).
	SignatureWindow time.Duration
}

// DefaultSignatureWindow is SupplierConfig.SignatureWindow's default.
const DefaultSignatureWindow = 5 * time.Minute

// SupplyStore is what the supplier routes need of the store: the supplier
// services' store and the signature replay records.
type SupplyStore interface {
	supplier.Store
	FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// initSupplier creates the supplier service when cfg has an ERP and a store
// (New calls it before the routes; the routes exist only then).
func (s *Server) initSupplier(cfg SupplierConfig, reg prometheus.Registerer) error {
	if cfg.ERP == nil || cfg.Store == nil {
		return nil
	}
	if cfg.SignatureWindow <= 0 {
		cfg.SignatureWindow = DefaultSignatureWindow
	}
	svc, err := supplier.New(supplier.Config{ERP: cfg.ERP, Store: cfg.Store, Active: cfg.Active,
		Timelines: cfg.Timelines, CacheTTL: cfg.CacheTTL}, s.store, s.now, s.log, reg)
	if err != nil {
		return err
	}
	s.supplier, s.supplierCfg = svc, cfg
	return nil
}

// Supplier returns the supplier service (nil when not configured), whose
// OnDelivery the delivery worker calls.
func (s *Server) Supplier() *supplier.Service { return s.supplier }

// supplierPO is a purchase order as its supplier sees it: without our
// customer order ids.
func supplierPO(po *supply.PurchaseOrder) *supply.PurchaseOrder {
	out := po.Clone()
	out.CustomerOrders = nil
	return out
}

type pendingDocJSON struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	AcceptedAt time.Time `json:"accepted_at"`
}

type poJSON struct {
	PurchaseOrder *supply.PurchaseOrder `json:"purchase_order"`
	// PendingDocuments are the supplier's documents accepted by the
	// gateway and not yet applied by the ERP.
	PendingDocuments []pendingDocJSON `json:"pending_documents"`
	Stale            bool             `json:"stale,omitempty"`
}

type poListJSON struct {
	PurchaseOrders []*supply.PurchaseOrder `json:"purchase_orders"`
	Total          int                     `json:"total"`
	NextOffset     int                     `json:"next_offset,omitempty"`
	Stale          bool                    `json:"stale,omitempty"`
}

// documentJSON is a supplier document with its delivery state.
type documentJSON struct {
	ID       string `json:"id"` // the supplier's document number
	Kind     string `json:"kind"`
	PONumber string `json:"po_number,omitempty"`
	// Status: accepted (durably stored, on its way to the ERP), delivered
	// (the ERP applied it), rejected (the ERP refused it: Reason), failed
	// (could not be delivered; operators are alerted).
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	AcceptedAt time.Time  `json:"accepted_at"`
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
	Document   any        `json:"document"`
}

type documentListJSON struct {
	Documents  []documentJSON `json:"documents"`
	Total      int            `json:"total"`
	NextOffset int            `json:"next_offset,omitempty"`
}

func documentView(d *supply.Document) documentJSON {
	out := documentJSON{ID: d.DocumentID, Kind: d.Kind, PONumber: d.PONumber, Status: docStateName(d.State),
		AcceptedAt: d.AcceptedAt}
	if d.State != supply.DocPending {
		out.Reason = d.Reason
	}
	if !d.UpdatedAt.IsZero() && d.State != supply.DocPending {
		t := d.UpdatedAt
		out.UpdatedAt = &t
	}
	switch d.Kind {
	case supply.KindAcknowledgement:
		out.Document = d.Acknowledgement
	case supply.KindShippingNotice:
		out.Document = d.ShippingNotice
	case supply.KindInvoice:
		out.Document = d.Invoice
	case supply.KindStockAdvice:
		out.Document = d.StockAdvice
	}
	return out
}

func handleListPurchaseOrders(svc *supplier.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		offset, limit, err := pageParams(c)
		if err != nil {
			return err
		}
		var statuses []supply.Status
		for _, v := range c.QueryParams()["status"] {
			for _, st := range strings.Split(v, ",") {
				if st = strings.TrimSpace(st); st != "" {
					statuses = append(statuses, supply.Status(st))
				}
			}
		}
		p, err := svc.ListPurchaseOrders(c.Request().Context(), principal(c).SupplierID, statuses, offset, limit)
		if err != nil {
			return err
		}
		out := poListJSON{PurchaseOrders: []*supply.PurchaseOrder{}, Total: p.Total, NextOffset: p.NextOffset, Stale: p.Stale}
		for _, po := range p.Orders {
			out.PurchaseOrders = append(out.PurchaseOrders, supplierPO(po))
		}
		setStale(c, p.Stale)
		return c.JSON(http.StatusOK, out)
	}
}

func handleGetPurchaseOrder(svc *supplier.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := svc.PurchaseOrder(c.Request().Context(), principal(c).SupplierID, c.Param("number"))
		if err != nil {
			return err
		}
		out := poJSON{PurchaseOrder: supplierPO(v.Order), PendingDocuments: []pendingDocJSON{}, Stale: v.Stale}
		for _, d := range v.Pending {
			if d.SupplierID == v.Order.SupplierID {
				out.PendingDocuments = append(out.PendingDocuments, pendingDocJSON{Kind: d.Kind, ID: d.DocumentID, AcceptedAt: d.AcceptedAt})
			}
		}
		setStale(c, v.Stale)
		return c.JSON(http.StatusOK, out)
	}
}

// handleSubmit decodes a document of type T and hands it to submit.
func handleSubmit[T any](submit func(c echo.Context, supplier string, doc *T) (supplier.DocReceipt, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		doc := new(T)
		if err := decodeJSON(c, doc); err != nil {
			return err
		}
		r, err := submit(c, principal(c).SupplierID, doc)
		if err != nil {
			return err
		}
		if r.Replayed {
			c.Response().Header().Set("Idempotent-Replayed", "true")
		}
		c.Response().Header().Set(echo.HeaderLocation, "/v1/supplier/"+docPath(r.Doc.Kind)+"/"+url.PathEscape(r.Doc.DocumentID))
		return c.JSON(http.StatusAccepted, documentView(r.Doc))
	}
}

func handleAcknowledge(svc *supplier.Service) echo.HandlerFunc {
	return handleSubmit(func(c echo.Context, sup string, a *supply.Acknowledgement) (supplier.DocReceipt, error) {
		return svc.Acknowledge(c.Request().Context(), sup, c.Param("number"), a)
	})
}

func handleShippingNotice(svc *supplier.Service) echo.HandlerFunc {
	return handleSubmit(func(c echo.Context, sup string, n *supply.ShippingNotice) (supplier.DocReceipt, error) {
		return svc.Ship(c.Request().Context(), sup, c.Param("number"), n)
	})
}

func handleInvoice(svc *supplier.Service) echo.HandlerFunc {
	return handleSubmit(func(c echo.Context, sup string, inv *supply.Invoice) (supplier.DocReceipt, error) {
		return svc.Invoice(c.Request().Context(), sup, c.Param("number"), inv)
	})
}

func handleStockAdvice(svc *supplier.Service) echo.HandlerFunc {
	return handleSubmit(func(c echo.Context, sup string, a *supply.StockAdvice) (supplier.DocReceipt, error) {
		return svc.AdviseStock(c.Request().Context(), sup, a)
	})
}

func handleListDocuments(svc *supplier.Service, kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		offset, limit, err := pageParams(c)
		if err != nil {
			return err
		}
		if limit == 0 {
			limit = supplier.DefaultPOPage
		}
		docs, total, err := svc.Documents(c.Request().Context(), principal(c).SupplierID, kind, offset, limit)
		if err != nil {
			return err
		}
		out := documentListJSON{Documents: []documentJSON{}, Total: total}
		for _, d := range docs {
			out.Documents = append(out.Documents, documentView(d))
		}
		if offset+len(docs) < total && len(docs) > 0 {
			out.NextOffset = offset + len(docs)
		}
		return c.JSON(http.StatusOK, out)
	}
}

func handleGetDocument(svc *supplier.Service, kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		d, err := svc.Document(c.Request().Context(), principal(c).SupplierID, kind, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, documentView(d))
	}
}

// docStateName is the state a supplier sees: accepted (waiting for the
// ERP), delivered, rejected, failed.
func docStateName(state string) string {
	switch state {
	case supply.DocDelivered:
		return "delivered"
	case supply.DocRejected:
		return "rejected"
	case supply.DocDead:
		return "failed"
	}
	return "accepted"
}
