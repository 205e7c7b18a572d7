package supplier

// Supplier documents: the check against the purchase order as it will be,
// the durable accept and what follows it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"erpgate"
	"erpgate/internal/ulid"
	"erpgate/store"
	"erpgate/supply"
	"erpgate/tracking"
)

// DocReceipt is what a supplier gets back for a document: the document as
// stored, and whether this was a repeat of an earlier submission.
type DocReceipt struct {
	Doc      *supply.Document
	Replayed bool
}

// Acknowledge accepts supplier's acknowledgement a of purchase order number
// (a.PONumber and a.SupplierID may be empty: they are taken from the path
// and the credentials). See submit for the errors.
func (s *Service) Acknowledge(ctx context.Context, supplier, number string, a *supply.Acknowledgement) (DocReceipt, error) {
	if err := s.own(supplier, &a.SupplierID, number, &a.PONumber); err != nil {
		return s.outcome(supply.KindAcknowledgement, DocReceipt{}, err)
	}
	doc := &supply.Document{Kind: supply.KindAcknowledgement, DocumentID: a.ID, PONumber: number, Acknowledgement: a}
	return s.submit(ctx, supplier, doc, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyAck(a, now)
	})
}

// Ship accepts supplier's shipping notice n for purchase order number.
func (s *Service) Ship(ctx context.Context, supplier, number string, n *supply.ShippingNotice) (DocReceipt, error) {
	if err := s.own(supplier, &n.SupplierID, number, &n.PONumber); err != nil {
		return s.outcome(supply.KindShippingNotice, DocReceipt{}, err)
	}
	doc := &supply.Document{Kind: supply.KindShippingNotice, DocumentID: n.ID, PONumber: number, ShippingNotice: n}
	return s.submit(ctx, supplier, doc, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyShipment(n, now)
	})
}

// Invoice accepts supplier's invoice inv for purchase order number.
func (s *Service) Invoice(ctx context.Context, supplier, number string, inv *supply.Invoice) (DocReceipt, error) {
	if err := s.own(supplier, &inv.SupplierID, number, &inv.PONumber); err != nil {
		return s.outcome(supply.KindInvoice, DocReceipt{}, err)
	}
	doc := &supply.Document{Kind: supply.KindInvoice, DocumentID: inv.ID, PONumber: number, Invoice: inv}
	return s.submit(ctx, supplier, doc, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyInvoice(inv, now)
	})
}

// AdviseStock accepts supplier's stock advice a. Every item must be a sku
// the catalog lists with this supplier (Unprocessable otherwise, as the
// ERP would refuse it).
func (s *Service) AdviseStock(ctx context.Context, supplier string, a *supply.StockAdvice) (DocReceipt, error) {
	if err := s.own(supplier, &a.SupplierID, "", nil); err != nil {
		return s.outcome(supply.KindStockAdvice, DocReceipt{}, err)
	}
	doc := &supply.Document{Kind: supply.KindStockAdvice, DocumentID: a.ID, StockAdvice: a}
	return s.submit(ctx, supplier, doc, nil)
}

// own fills in the supplier and purchase order of a document from the
// credentials and the path. A document that names another supplier is
// about something that is not the caller's: NotFound. A purchase order
// number in the body that differs from the path's is Invalid.
func (s *Service) own(supplier string, docSupplier *string, number string, docPO *string) error {
	if *docSupplier != "" && *docSupplier != supplier {
		return noSuchPO()
	}
	*docSupplier = supplier
	if docPO == nil {
		return nil
	}
	if !validDocID(number) {
		return noSuchPO()
	}
	if *docPO != "" && *docPO != number {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the document names another purchase order than the request",
			Problems: []erpgate.Problem{{Field: "po_number", Message: "must be " + number + " (or left out)"}}}
	}
	*docPO = number
	return nil
}

// submit checks and accepts doc for supplier: its own validation, then
// (for documents about a purchase order) apply on the purchase order as it
// will be once the documents accepted before have been applied — exactly
// the check the ERP makes on delivery — and the durable accept. A repeat
// of an accepted document (same kind and number, same content) is answered
// as the first was, without checks; other content under the same number is
// IdempotencyMismatch.
//
// Errors: Invalid / Unprocessable (the document, or the business rules),
// NotFound (no such purchase order for this supplier), Conflict (the
// purchase order's status does not allow it, or the document was applied
// already), IdempotencyMismatch, Unavailable.
func (s *Service) submit(ctx context.Context, supplier string, doc *supply.Document, apply func(*supply.PurchaseOrder, time.Time) (*supply.PurchaseOrder, error)) (DocReceipt, error) {
	now := s.now().UTC()
	doc.SupplierID = supplier
	if err := validateDocument(doc, now); err != nil {
		return s.outcome(doc.Kind, DocReceipt{}, err)
	}
	fp, err := docFingerprint(doc)
	if err != nil {
		return s.outcome(doc.Kind, DocReceipt{}, erpgate.Wrap(erpgate.Internal, err, "internal error"))
	}
	// A repeat skips the checks: its purchase order has moved on since.
	if prev, err := s.cfg.Store.SupplierDocumentByNumber(ctx, supplier, doc.Kind, doc.DocumentID); err == nil {
		return s.accept(ctx, prev, fp, nil, nil)
	} else if erpgate.ErrorCode(err) != erpgate.NotFound {
		return s.outcome(doc.Kind, DocReceipt{}, err)
	}
	if apply == nil {
		if err := s.checkStockSKUs(ctx, doc.StockAdvice); err != nil {
			return s.outcome(doc.Kind, DocReceipt{}, err)
		}
		doc.ID = s.cfg.Store.NewDocumentID(supplier, func() string { return newDocID(now) })
		doc.AcceptedAt = now.Truncate(time.Millisecond)
		doc.DocumentDelivery = supply.DocumentDelivery{State: supply.DocPending}
		return s.accept(ctx, doc, fp, nil, nil)
	}
	// The check and the accept are one optimistic step: the accept goes
	// through only if the purchase order's pending documents are still
	// the ones checked against, so two documents checked at once (two
	// shipping notices for the last units) cannot both pass; the loser is
	// checked again against the winner.
	for attempt := 1; ; attempt++ {
		base, _, err := s.purchaseOrder(ctx, supplier, doc.PONumber)
		if err != nil {
			return s.outcome(doc.Kind, DocReceipt{}, err)
		}
		projected, seen, err := s.project(ctx, base, now)
		if err != nil {
			return s.outcome(doc.Kind, DocReceipt{}, err)
		}
		po, err := apply(projected, now)
		if err != nil {
			return s.outcome(doc.Kind, DocReceipt{}, err)
		}
		doc.ID = s.cfg.Store.NewDocumentID(supplier, func() string { return newDocID(now) })
		doc.AcceptedAt = now.Truncate(time.Millisecond)
		doc.DocumentDelivery = supply.DocumentDelivery{State: supply.DocPending}
		r, err := s.accept(ctx, doc, fp, po, seen)
		if !errors.Is(err, store.ErrPendingChanged) || attempt == maxCheckAttempts {
			return r, err
		}
	}
}

// maxCheckAttempts bounds how often a supplier document is checked again
// because the purchase order's pending documents changed meanwhile; then
// the supplier gets a Conflict to send it again.
const maxCheckAttempts = 3

// accept stores doc durably and does what follows: po is the purchase
// order with doc applied (nil for a repeat or a stock advice) and seen the
// pending documents it was checked against (nil: no check).
func (s *Service) accept(ctx context.Context, doc *supply.Document, fp string, po *supply.PurchaseOrder, seen []string) (DocReceipt, error) {
	acc, err := s.cfg.Store.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: doc, Fingerprint: fp, CheckedAgainst: seen})
	if err != nil {
		return s.outcome(doc.Kind, DocReceipt{}, err)
	}
	if acc.Replayed {
		prev, err := s.cfg.Store.SupplierDocumentByNumber(ctx, doc.SupplierID, doc.Kind, doc.DocumentID)
		if err != nil {
			return s.outcome(doc.Kind, DocReceipt{}, err)
		}
		return s.outcome(doc.Kind, DocReceipt{Doc: prev, Replayed: true}, nil)
	}
	scopes := []string{supplierScope(doc.SupplierID)}
	if doc.Kind == supply.KindShippingNotice || doc.Kind == supply.KindStockAdvice || doc.Kind == supply.KindAcknowledgement {
		scopes = append(scopes, catalogScope) // inbound supply and stock changed
	}
	if err := s.cfg.Store.BumpCacheGenerations(ctx, scopes...); err != nil {
		s.log.WarnContext(ctx, "cache invalidation after a supplier document failed", "document", doc.ID, "err", err)
	}
	if po != nil {
		s.announce(ctx, po, doc)
	}
	return s.outcome(doc.Kind, DocReceipt{Doc: doc}, nil)
}

// project returns the purchase order with the supplier's documents that
// are accepted but not yet delivered applied on top, in accept order. A
// document the ERP already holds (its record not updated yet) is skipped,
// as is one that no longer applies (the ERP will reject it too).
func (s *Service) project(ctx context.Context, po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, []string, error) {
	pending, seen, err := s.cfg.Store.PendingState(ctx, po.SupplierID, po.Number)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range pending {
		var next *supply.PurchaseOrder
		var aerr error
		switch {
		case d.Acknowledgement != nil:
			next, aerr = po.ApplyAck(d.Acknowledgement, now)
		case d.ShippingNotice != nil:
			next, aerr = po.ApplyShipment(d.ShippingNotice, now)
		case d.Invoice != nil:
			next, aerr = po.ApplyInvoice(d.Invoice, now)
		default:
			continue
		}
		if aerr == nil {
			po = next
		}
	}
	return po, seen, nil
}

// validateDocument runs the document's own checks.
func validateDocument(doc *supply.Document, now time.Time) error {
	switch doc.Kind {
	case supply.KindAcknowledgement:
		return doc.Acknowledgement.Validate()
	case supply.KindShippingNotice:
		return doc.ShippingNotice.Validate()
	case supply.KindInvoice:
		return doc.Invoice.Validate()
	case supply.KindStockAdvice:
		return doc.StockAdvice.ValidateAt(now)
	}
	return erpgate.Errorf(erpgate.Internal, "unknown document kind %q", doc.Kind)
}

// checkStockSKUs refuses stock advice items whose sku the catalog does not
// list with this supplier, with the problems the ERP reports for them.
func (s *Service) checkStockSKUs(ctx context.Context, a *supply.StockAdvice) error {
	items, _, err := s.catalogAll(ctx)
	if err != nil {
		return err
	}
	supplierOf := make(map[string]string, len(items))
	for _, it := range items {
		supplierOf[it.SKU] = it.SupplierID
	}
	var probs []erpgate.Problem
	for i, it := range a.Items {
		if supplierOf[it.SKU] != a.SupplierID {
			probs = append(probs, erpgate.Problem{Field: "items[" + strconv.Itoa(i) + "].sku",
				Message: "is not a sku this supplier supplies to us"})
		}
	}
	if len(probs) > 0 {
		return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the stock advice names skus this supplier does not supply", Problems: probs}
	}
	return nil
}

// outcome counts a submission in erpgate_supplier_documents_total.
func (s *Service) outcome(kind string, r DocReceipt, err error) (DocReceipt, error) {
	o := "accepted"
	switch {
	case err == nil && r.Replayed:
		o = "replayed"
	case err == nil:
	default:
		switch erpgate.ErrorCode(err) {
		case erpgate.Invalid, erpgate.Unprocessable, erpgate.TooLarge, erpgate.UnsupportedMedia:
			o = "invalid"
		case erpgate.NotFound:
			o = "not_found"
		case erpgate.Conflict, erpgate.IdempotencyMismatch:
			o = "conflict"
		default:
			o = "error"
		}
	}
	s.docs.WithLabelValues(kind, o).Inc()
	return r, err
}

// announce puts the supplier's dates on the timelines of the customer
// orders waiting on po (accepted: the customer sees them at once; the
// events carry dedup keys, so a repeat records nothing).
func (s *Service) announce(ctx context.Context, po *supply.PurchaseOrder, doc *supply.Document) {
	if s.cfg.Timelines == nil || len(po.CustomerOrders) == 0 {
		return
	}
	var ev tracking.Event
	switch {
	case doc.Acknowledgement != nil:
		promised := ""
		for _, l := range doc.Acknowledgement.Lines {
			if l.Status != supply.LineRejected && l.PromisedDate > promised {
				promised = l.PromisedDate
			}
		}
		if promised == "" {
			return // every line rejected: the ERP reorders elsewhere; nothing to promise
		}
		ev = tracking.Event{Type: tracking.TypePOAcked,
			Summary: "Our supplier confirmed the missing items for " + promised,
			Details: map[string]string{tracking.DetailPromisedDate: promised}}
	case doc.ShippingNotice != nil:
		n := doc.ShippingNotice
		ev = tracking.Event{Type: tracking.TypePOShipped,
			Summary: "Our supplier shipped the missing items; they are expected at our warehouse on " + n.ExpectedDelivery,
			Details: map[string]string{tracking.DetailExpectedArrival: n.ExpectedDelivery}}
	default:
		return
	}
	ev.Source = tracking.SourceSupplier
	ev.Time = doc.AcceptedAt
	ev.Details["po_number"] = po.Number
	ev.Details[tracking.DetailDedup] = ev.Type + ":" + po.Number + ":" + doc.DocumentID
	for _, id := range po.CustomerOrders {
		// The ids come from the ERP: only orders this gateway holds get
		// events.
		if _, err := s.orders.Order(ctx, id); err != nil {
			continue
		}
		e := ev
		e.Details = make(map[string]string, len(ev.Details))
		for k, v := range ev.Details {
			e.Details[k] = v
		}
		if _, err := s.cfg.Timelines.Append(ctx, id, e); err != nil {
			s.log.WarnContext(ctx, "supplier event not recorded on the order's timeline", "order", id, "po", po.Number, "err", err)
		}
	}
}

// Documents returns one page of supplier's documents of kind, newest first.
func (s *Service) Documents(ctx context.Context, supplier, kind string, offset, limit int) ([]*supply.Document, int, error) {
	if limit == 0 {
		limit = DefaultPOPage
	}
	if err := checkPage(offset, limit, store.MaxDocumentPage); err != nil {
		return nil, 0, err
	}
	return s.cfg.Store.SupplierDocuments(ctx, supplier, kind, offset, limit)
}

// Document returns supplier's document of kind with the supplier's number
// docID. Errors: NotFound (also another supplier's), Unavailable.
func (s *Service) Document(ctx context.Context, supplier, kind, docID string) (*supply.Document, error) {
	if !validDocID(docID) {
		return nil, erpgate.Errorf(erpgate.NotFound, "no such document")
	}
	d, err := s.cfg.Store.SupplierDocumentByNumber(ctx, supplier, kind, docID)
	if erpgate.ErrorCode(err) == erpgate.NotFound || (err == nil && d.SupplierID != supplier) {
		return nil, erpgate.Errorf(erpgate.NotFound, "no such document")
	}
	return d, err
}

// BeforeFinal is the delivery worker's hook before a supplier document's
// final state is recorded (erp.SupplyDeliveryConfig.BeforeFinal): the
// ERP's answer changes what the supplier and the catalog read.
func (s *Service) BeforeFinal(ctx context.Context, doc *supply.Document) {
	if err := s.cfg.Store.BumpCacheGenerations(ctx, supplierScope(doc.SupplierID), catalogScope); err != nil {
		s.log.WarnContext(ctx, "cache invalidation before a delivery result failed", "document", doc.ID, "err", err)
	}
}

// OnDelivery is the delivery worker's hook for supplier documents
// (erp.SupplyDeliveryConfig.OnResult): a final answer of the ERP is
// counted.
func (s *Service) OnDelivery(ctx context.Context, target string, doc *supply.Document) {
	if !doc.Final() {
		return
	}
	s.docs.WithLabelValues(doc.Kind, doc.State).Inc()
}

// docFingerprint identifies a document's content: the canonical JSON of the
// document as the supplier sent it (with supplier and purchase order filled
// in), so formatting does not count as a difference.
func docFingerprint(doc *supply.Document) (string, error) {
	var v any
	switch doc.Kind {
	case supply.KindAcknowledgement:
		v = doc.Acknowledgement
	case supply.KindShippingNotice:
		v = doc.ShippingNotice
	case supply.KindStockAdvice:
		v = doc.StockAdvice
	case supply.KindInvoice:
		v = doc.Invoice
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(doc.Kind+"\n"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// newDocID returns "sd_" and a ULID, like order ids.
func newDocID(now time.Time) string {
	return ulid.New("sd_", now)
}
