package supply

import "time"

// Kinds of supplier documents.
const (
	KindAcknowledgement = "acknowledgement"
	KindShippingNotice  = "shipping_notice"
	KindStockAdvice     = "stock_advice"
	KindInvoice         = "invoice"
)

// DocumentKinds lists the kinds in a fixed order (for metrics and lists).
var DocumentKinds = []string{KindAcknowledgement, KindShippingNotice, KindStockAdvice, KindInvoice}

// States of a supplier document's delivery. Pending, rejected and dead have
// the values of erp's order result states (TestDocumentStates holds them
// together); an ERP that took the document makes it delivered.
const (
	DocPending   = "pending"
	DocDelivered = "delivered"
	DocRejected  = "rejected"
	DocDead      = "dead"
)

// Document is a supplier's document as the gateway accepted it, with its
// delivery state. It is what the store keeps, what the delivery worker
// sends and what the supplier lists.
// Exactly one of the document fields is set, according to Kind.
type Document struct {
	ID         string `json:"id"` // the gateway's id, the outbox message id
	Kind       string `json:"kind"`
	SupplierID string `json:"supplier_id"`
	DocumentID string `json:"document_id"` // the supplier's own document number
	PONumber   string `json:"po_number,omitempty"`

	Acknowledgement *Acknowledgement `json:"acknowledgement,omitempty"`
	ShippingNotice  *ShippingNotice  `json:"shipping_notice,omitempty"`
	StockAdvice     *StockAdvice     `json:"stock_advice,omitempty"`
	Invoice         *Invoice         `json:"invoice,omitempty"`

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

// DocResult is what the ERP answered to a supplier document.
type DocResult struct {
	PONumber string `json:"po_number,omitempty"`
	POStatus Status `json:"po_status,omitempty"`
	// AlreadyApplied: the ERP had applied a document with this id before.
	AlreadyApplied bool `json:"already_applied,omitempty"`
}
