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
// gateway's id of the document (supply.Document.ID).
const (
	TypePOAck         = "po.ack"
	TypeASNCreate     = "asn.create"
	TypeStockUpdate   = "stock.update"
	TypeInvoiceCreate = "invoice.create"
)

// MessageType returns the outbox message type of a document kind ("" for
// an unknown kind).
func MessageType(kind string) string {
	switch kind {
	case supply.KindAcknowledgement:
		return TypePOAck
	case supply.KindShippingNotice:
		return TypeASNCreate
	case supply.KindStockAdvice:
		return TypeStockUpdate
	case supply.KindInvoice:
		return TypeInvoiceCreate
	}
	return ""
}

// SupplierDocuments is what the supply delivery needs from the store;
// *store.Store implements it.
type SupplierDocuments interface {
	// SupplierDocument returns the document with the gateway id id.
	// Errors: erpgate.NotFound, erpgate.Unavailable.
	SupplierDocument(ctx context.Context, id string) (*supply.Document, error)
	// SetDocumentDelivery records d for document id. A final state is
	// never replaced; a final state takes the document off its purchase
	// order's pending list. Errors: NotFound, Unavailable.
	SetDocumentDelivery(ctx context.Context, id string, d supply.DocumentDelivery) error
	// PendingBefore returns the ids of the documents of the same purchase
	// order that were accepted before document id and are not final, oldest
	// first. Errors: Unavailable.
	PendingBefore(ctx context.Context, doc *supply.Document) ([]string, error)
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
	OnResult func(ctx context.Context, target string, doc *supply.Document)
	// BeforeFinal, optional, is called just before a final state is
	// recorded: what readers cached about the document's purchase order
	// must be invalidated then, not after. Once final, the document no
	// longer counts as pending, so a purchase order cached from before the
	// ERP applied it would be checked without it (a shipping notice right
	// after its acknowledgement was refused as "issued"). A reader in
	// between reads the ERP, which holds the document already.
	BeforeFinal func(ctx context.Context, doc *supply.Document)
	Logger      *slog.Logger     // default: discard
	Now         func() time.Time // default time.Now
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
	if doc.State == supply.DocDelivered || doc.State == supply.DocRejected {
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
	var res supply.DocResult
	switch doc.Kind {
	case supply.KindAcknowledgement:
		res, err = chain.Acknowledge(ctx, doc.Acknowledgement)
	case supply.KindShippingNotice:
		res, err = chain.Ship(ctx, doc.ShippingNotice)
	case supply.KindStockAdvice:
		res, err = chain.AdviseStock(ctx, doc.StockAdvice)
	case supply.KindInvoice:
		res, err = chain.Invoice(ctx, doc.Invoice)
	default:
		return false, erpgate.Errorf(erpgate.NotFound, "document %s has unknown kind %q", doc.ID, doc.Kind)
	}
	now := d.cfg.Now()
	attempts := int(m.Deliveries)
	switch {
	case err == nil:
		doc.DocumentDelivery = supply.DocumentDelivery{State: supply.DocDelivered, Attempts: attempts, ERP: &res, UpdatedAt: now}
	case IsPermanent(err):
		doc.DocumentDelivery = supply.DocumentDelivery{State: supply.DocRejected, Reason: shopReason(err), Attempts: attempts, UpdatedAt: now}
	default:
		d.record(ctx, target, doc, supply.DocumentDelivery{State: supply.DocPending, Attempts: attempts, UpdatedAt: now,
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
func (d *SupplyDelivery) record(ctx context.Context, target string, doc *supply.Document, dd supply.DocumentDelivery) error {
	if dd.Final() && d.cfg.BeforeFinal != nil {
		d.cfg.BeforeFinal(ctx, doc)
	}
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
	_ = d.record(ctx, target, doc, supply.DocumentDelivery{State: supply.DocDead, Attempts: int(m.Deliveries), UpdatedAt: d.cfg.Now(),
		Reason: "the document could not be delivered to the ERP; our operators have been alerted"})
}
