package erp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"erpgate"
	"erpgate/supply"
)

// Outbox message types of supplier documents. Their message id is the
// gateway's id of the document (SupplierDocument.ID).
const (
	TypePOAck         = "po.ack"
	TypeASNCreate     = "asn.create"
	TypeStockUpdate   = "stock.update"
	TypeInvoiceCreate = "invoice.create"
)

// Kinds of supplier documents.
const (
	KindAcknowledgement = "acknowledgement"
	KindShippingNotice  = "shipping_notice"
	KindStockAdvice     = "stock_advice"
	KindInvoice         = "invoice"
)

// DocumentKinds lists the kinds in a fixed order (for metrics and lists).
var DocumentKinds = []string{KindAcknowledgement, KindShippingNotice, KindStockAdvice, KindInvoice}

// MessageType returns the outbox message type of a document kind ("" for
// an unknown kind).
func MessageType(kind string) string {
	switch kind {
	case KindAcknowledgement:
		return TypePOAck
	case KindShippingNotice:
		return TypeASNCreate
	case KindStockAdvice:
		return TypeStockUpdate
	case KindInvoice:
		return TypeInvoiceCreate
	}
	return ""
}

// States of a supplier document's delivery. Pending and dead are the order
// result states; an ERP that took the document makes it delivered.
const (
	DocPending   = StatePending
	DocDelivered = "delivered"
	DocRejected  = StateRejected
	DocDead      = StateDead
)

// SupplierDocument is a supplier's document as the gateway accepted it, with
// its delivery state. It is what the store keeps (store.SupplierDocument is
// this type), what the delivery worker sends and what the supplier lists.
// Exactly one of the document fields is set, according to Kind.
type SupplierDocument struct {
	ID         string `json:"id"` // the gateway's id, the outbox message id
	Kind       string `json:"kind"`
	SupplierID string `json:"supplier_id"`
	DocumentID string `json:"document_id"` // the supplier's own document number
	PONumber   string `json:"po_number,omitempty"`

	Acknowledgement *supply.Acknowledgement `json:"acknowledgement,omitempty"`
	ShippingNotice  *supply.ShippingNotice  `json:"shipping_notice,omitempty"`
	StockAdvice     *supply.StockAdvice     `json:"stock_advice,omitempty"`
	Invoice         *supply.Invoice         `json:"invoice,omitempty"`

	AcceptedAt time.Time `json:"accepted_at"`
	DocumentDelivery
}

// DocumentDelivery is the delivery state of a supplier document.
type DocumentDelivery struct {
	State string `json:"state"`
	// Reason is fit to show the supplier (rejected, dead).
	Reason    string     `json:"reason,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	ERP       *DocResult `json:"erp,omitempty"` // the ERP's answer once delivered
	UpdatedAt time.Time  `json:"updated_at,omitzero"`
}

// Final reports whether the delivery state no longer changes.
func (d DocumentDelivery) Final() bool {
	return d.State == DocDelivered || d.State == DocRejected || d.State == DocDead
}

// SupplierDocuments is what the supply delivery needs from the store;
// *store.Store implements it.
type SupplierDocuments interface {
	// SupplierDocument returns the document with the gateway id id.
	// Errors: erpgate.NotFound, erpgate.Unavailable.
	SupplierDocument(ctx context.Context, id string) (*SupplierDocument, error)
	// SetDocumentDelivery records d for document id. A final state is
	// never replaced; a final state takes the document off its purchase
	// order's pending list. Errors: NotFound, Unavailable.
	SetDocumentDelivery(ctx context.Context, id string, d DocumentDelivery) error
	// PendingBefore returns the ids of the documents of the same purchase
	// order that were accepted before document id and are not final, oldest
	// first. Errors: Unavailable.
	PendingBefore(ctx context.Context, doc *SupplierDocument) ([]string, error)
}

// SupplyDeliveryConfig configures a SupplyDelivery.
type SupplyDeliveryConfig struct {
	Documents SupplierDocuments // required
	// Chains maps the targets that have a supply chain to it (erp.V2).
	// Every other target acknowledges supplier documents without a call.
	Chains map[string]SupplyChain
	// OnResult, optional, is called after a final state (or a retried
	// pending one) was recorded: cache invalidation, tracking events,
	// metrics. It may be called more than once for one result.
	OnResult func(ctx context.Context, target string, doc *SupplierDocument)
	Logger   *slog.Logger     // default: discard
	Now      func() time.Time // default time.Now
}

// SupplyDelivery delivers supplier documents from the outbox to the ERP
// targets that have a supply chain. It is the Handler of the four supplier
// message types (Handlers).
//
// Order: documents of one purchase order are applied by the ERP in the
// order the gateway accepted them (an acknowledgement before the shipping
// notice that depends on it, a shipping notice before its invoice), even
// though several workers deliver concurrently and a failed delivery waits
// out a backoff: a document with an earlier pending one waits (ErrNotYet).
type SupplyDelivery struct {
	cfg SupplyDeliveryConfig
}

var _ Handler = (*SupplyDelivery)(nil)

// NewSupplyDelivery returns the supply delivery for cfg.
func NewSupplyDelivery(cfg SupplyDeliveryConfig) (*SupplyDelivery, error) {
	if cfg.Documents == nil {
		return nil, errors.New("erp: SupplyDelivery needs Documents")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SupplyDelivery{cfg: cfg}, nil
}

// Handlers returns d as the handler of every supplier message type, for
// DispatcherConfig.Handlers.
func (d *SupplyDelivery) Handlers() map[string]Handler {
	return map[string]Handler{TypePOAck: d, TypeASNCreate: d, TypeStockUpdate: d, TypeInvoiceCreate: d}
}

// Takes reports whether target has a supply chain.
func (d *SupplyDelivery) Takes(target string) bool { return d.cfg.Chains[target] != nil }

// Deliver implements Handler.
func (d *SupplyDelivery) Deliver(ctx context.Context, target string, m Message) (bool, error) {
	chain := d.cfg.Chains[target]
	doc, err := d.cfg.Documents.SupplierDocument(ctx, m.OrderID)
	if err != nil {
		return false, err
	}
	if doc.State == DocDelivered || doc.State == DocRejected {
		// Recorded by an earlier delivery that was not acknowledged. (A
		// dead document is delivered again: an operator replayed it.)
		return true, nil
	}
	if MessageType(doc.Kind) != m.Type {
		return false, erpgate.Errorf(erpgate.NotFound, "document %s is a %s, not a %s message", doc.ID, doc.Kind, m.Type)
	}
	if doc.PONumber != "" {
		before, err := d.cfg.Documents.PendingBefore(ctx, doc)
		if err != nil {
			return false, err
		}
		if len(before) > 0 {
			return false, fmt.Errorf("%w: document %s of purchase order %s", ErrNotYet, before[0], doc.PONumber)
		}
	}
	var res DocResult
	switch doc.Kind {
	case KindAcknowledgement:
		res, err = chain.Acknowledge(ctx, doc.Acknowledgement)
	case KindShippingNotice:
		res, err = chain.Ship(ctx, doc.ShippingNotice)
	case KindStockAdvice:
		res, err = chain.AdviseStock(ctx, doc.StockAdvice)
	case KindInvoice:
		res, err = chain.Invoice(ctx, doc.Invoice)
	default:
		return false, erpgate.Errorf(erpgate.NotFound, "document %s has unknown kind %q", doc.ID, doc.Kind)
	}
	now := d.cfg.Now()
	attempts := int(m.Deliveries)
	switch {
	case err == nil:
		doc.DocumentDelivery = DocumentDelivery{State: DocDelivered, Attempts: attempts, ERP: &res, UpdatedAt: now}
	case IsPermanent(err):
		doc.DocumentDelivery = DocumentDelivery{State: DocRejected, Reason: shopReason(err), Attempts: attempts, UpdatedAt: now}
	default:
		d.record(ctx, target, doc, DocumentDelivery{State: DocPending, Attempts: attempts, UpdatedAt: now,
			Reason: "the ERP is not reachable yet; delivery is retried automatically"})
		return false, err
	}
	if rerr := d.record(ctx, target, doc, doc.DocumentDelivery); rerr != nil {
		return false, rerr // handed back; the ERP answers AlreadyApplied next time
	}
	return res.AlreadyApplied, err
}

// record stores the delivery state and calls the hook; the error is the
// store's (Unavailable, NotFound).
func (d *SupplyDelivery) record(ctx context.Context, target string, doc *SupplierDocument, dd DocumentDelivery) error {
	if err := d.cfg.Documents.SetDocumentDelivery(ctx, doc.ID, dd); err != nil {
		d.cfg.Logger.Error("recording a supplier document's delivery failed", "document", doc.ID, "state", dd.State, "err", err)
		return err
	}
	doc.DocumentDelivery = dd
	if d.cfg.OnResult != nil {
		d.cfg.OnResult(ctx, target, doc)
	}
	return nil
}

// Dead implements Handler: the document is recorded as dead.
func (d *SupplyDelivery) Dead(ctx context.Context, target string, m Message, reason string) {
	doc, err := d.cfg.Documents.SupplierDocument(ctx, m.OrderID)
	if err != nil {
		d.cfg.Logger.Error("dead supplier document not recorded", "document", m.OrderID, "err", err)
		return
	}
	if doc.Final() {
		return
	}
	_ = d.record(ctx, target, doc, DocumentDelivery{State: DocDead, Attempts: int(m.Deliveries), UpdatedAt: d.cfg.Now(),
		Reason: "the document could not be delivered to the ERP; our operators have been alerted"})
}
