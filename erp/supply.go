package erp

import (
	"context"

	"erpgate/order"
	"erpgate/supply"
)

// SupplyChain is the supply-chain side of an ERP interface: the purchase
// orders it issued to suppliers, the suppliers' documents, and the catalog
// with stock and inbound supply. Only v2 has one (erpv2.Supply); the old
// release's interface does not, which is why supplier documents wait in v2's
// consumer group during a back-out.
//
// Every error is an *Error. KindPermanent codes: CodeNotFound (no such
// purchase order for that supplier, or no such sku), CodeInvalidDocument
// (the ERP refused the document against its purchase order), CodeIllegalStatus
// (the order's status does not allow it). Everything else is transient.
// Reasons are written by the adapter, never the ERP's text.
type SupplyChain interface {
	// PurchaseOrders returns one page of supplier's purchase orders, newest
	// first, only those in one of statuses when any are given. limit is 1 to
	// MaxPOPage (0: the ERP's default).
	PurchaseOrders(ctx context.Context, supplier string, statuses []supply.Status, offset, limit int) (POPage, error)
	// PurchaseOrder returns purchase order number of supplier; another
	// supplier's order is not found.
	PurchaseOrder(ctx context.Context, supplier, number string) (*supply.PurchaseOrder, error)
	// Acknowledge, Ship, AdviseStock and Invoice apply a supplier's
	// document. Each is idempotent by the document's id: a repeat answers
	// AlreadyApplied and changes nothing.
	Acknowledge(ctx context.Context, a *supply.Acknowledgement) (supply.DocResult, error)
	Ship(ctx context.Context, n *supply.ShippingNotice) (supply.DocResult, error)
	AdviseStock(ctx context.Context, a *supply.StockAdvice) (supply.DocResult, error)
	Invoice(ctx context.Context, inv *supply.Invoice) (supply.DocResult, error)
	// CatalogItems returns one page of the catalog (limit 1 to
	// MaxCatalogPage; 0: the ERP's default); CatalogItem one sku.
	CatalogItems(ctx context.Context, offset, limit int) (CatalogPage, error)
	CatalogItem(ctx context.Context, sku string) (CatalogItem, error)
}

// Page limits of the supply-chain reads (those of ERP v2).
const (
	MaxPOPage      = 100
	MaxCatalogPage = 1000
)

// Codes of permanent supply-chain errors (Error.Code).
const (
	CodeNotFound        = "not_found"
	CodeInvalidDocument = "invalid_document"
	CodeIllegalStatus   = "illegal_status"
)

// POPage is one page of purchase orders.
type POPage struct {
	Orders []*supply.PurchaseOrder `json:"orders"`
	Total  int                     `json:"total"`
	// NextOffset is the offset of the next page; 0 on the last page.
	NextOffset int `json:"next_offset,omitempty"`
}

// CatalogItem is one product: list price, stock available to promise and
// inbound supply.
type CatalogItem struct {
	SKU          string          `json:"sku"`
	Name         string          `json:"name"`
	Price        order.Decimal   `json:"price"`
	Currency     string          `json:"currency"`
	Available    int64           `json:"available"`
	SupplierID   string          `json:"supplier_id,omitempty"`
	LeadTimeDays int             `json:"lead_time_days"`
	Inbound      []InboundSupply `json:"inbound,omitempty"`
}

// InboundSupply is an open purchase order line that brings a sku in.
type InboundSupply struct {
	PONumber   string        `json:"po_number"`
	LineNumber int           `json:"line_number"`
	Quantity   int64         `json:"quantity"` // still to be received
	Status     supply.Status `json:"status"`
	// Dates are civil dates "YYYY-MM-DD" or empty: what the ERP asked for,
	// what the supplier promised (acknowledgement), and when the latest
	// shipment carrying the line is expected (shipping notice).
	RequestedDeliveryDate string `json:"requested_delivery_date,omitempty"`
	PromisedDate          string `json:"promised_date,omitempty"`
	ExpectedDelivery      string `json:"expected_delivery,omitempty"`
}

// CatalogPage is one page of the catalog.
type CatalogPage struct {
	Items      []CatalogItem `json:"items"`
	Total      int           `json:"total"`
	NextOffset int           `json:"next_offset,omitempty"`
}
