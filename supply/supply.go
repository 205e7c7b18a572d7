package supply

import (
	"slices"
	"time"

	"erpgate/order"
)

// Limits. They bound every list and string a supplier can send.
const (
	MaxIDLen          = 64 // PO numbers, document ids, supplier ids: [A-Za-z0-9._:/-]
	MaxLines          = 500
	MaxQuantity       = 10_000_000 // per line, in the line's unit
	MaxPartNumberLen  = 64
	MaxDescriptionLen = 500 // multi-line
	MaxReasonLen      = 200
	MaxCarrierLen     = 64
	MaxTrackingLen    = 64
	MaxNotesLen       = 2000 // multi-line
	MaxPackages       = 1000
	MaxStockItems     = 1000
	MaxLeadTimeDays   = 365
	// MaxDocuments bounds the acknowledgements, shipments, receipts and
	// invoices one purchase order takes (each kind), so that a purchase
	// order record stays small.
	MaxDocuments = 100
	// MaxHorizonYears bounds how far ahead requested, promised and
	// next-availability dates may lie (from the order's issue date, the
	// acknowledgement date, the stock advice's as-of time).
	MaxHorizonYears = 2
	// MaxTransitDays bounds expected delivery after the ship date.
	MaxTransitDays = 365
	// MaxPaymentDays bounds an invoice's due date after its date.
	MaxPaymentDays = 365
	// MaxPackageWeightKG bounds a package's gross weight.
	MaxPackageWeightKG = 100_000
	// DateSkew is how far after today (UTC) a document date may lie: a
	// supplier east of UTC is already on the next day.
	DateSkew = 24 * time.Hour
	// MaxStockAge is how old a stock advice may be when it arrives, and
	// ClockSkew how far its as-of time may lie in the future.
	MaxStockAge = 30 * 24 * time.Hour
	ClockSkew   = 5 * time.Minute
)

// Status is the state of a purchase order; see the package documentation.
type Status string

// Statuses of a purchase order.
const (
	StatusIssued                Status = "issued"                 // sent to the supplier, no line acknowledged
	StatusPartiallyAcknowledged Status = "partially_acknowledged" // some lines acknowledged
	StatusAcknowledged          Status = "acknowledged"           // every line acknowledged, nothing shipped
	StatusRejected              Status = "rejected"               // every line rejected
	StatusPartiallyShipped      Status = "partially_shipped"      // some confirmed quantity shipped
	StatusShipped               Status = "shipped"                // all confirmed quantity shipped, none received
	StatusPartiallyReceived     Status = "partially_received"     // some shipped quantity received
	StatusReceived              Status = "received"               // all confirmed quantity received, none invoiced
	StatusPartiallyInvoiced     Status = "partially_invoiced"     // some received quantity invoiced
	StatusInvoiced              Status = "invoiced"               // everything confirmed shipped, received and invoiced
	StatusClosed                Status = "closed"                 // closed by the buyer (terminal)
	StatusCancelled             Status = "cancelled"              // cancelled by the buyer (terminal)
)

// Statuses returns every status in life-cycle order; a fresh slice (for
// validating a status filter).
func Statuses() []Status {
	return []Status{StatusIssued, StatusPartiallyAcknowledged, StatusAcknowledged, StatusRejected,
		StatusPartiallyShipped, StatusShipped, StatusPartiallyReceived, StatusReceived,
		StatusPartiallyInvoiced, StatusInvoiced, StatusClosed, StatusCancelled}
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// Terminal reports whether s takes no more operations (closed, cancelled).
func (s Status) Terminal() bool { return s == StatusClosed || s == StatusCancelled }

// Operation names an operation on a purchase order.
type Operation string

// Operations on a purchase order.
const (
	OpAcknowledge Operation = "acknowledge" // supplier: ApplyAck
	OpShip        Operation = "ship"        // supplier: ApplyShipment
	OpReceive     Operation = "receive"     // ERP goods receipt: ApplyReceipt
	OpInvoice     Operation = "invoice"     // supplier: ApplyInvoice
	OpCancel      Operation = "cancel"      // buyer: Cancel
	OpClose       Operation = "close"       // buyer: Close
)

// allowed is the state machine: which status allows which operation. The
// quantity rules then decide what exactly may be acknowledged, shipped,
// received or invoiced.
var allowed = map[Status][]Operation{
	StatusIssued:                {OpAcknowledge, OpCancel, OpClose},
	StatusPartiallyAcknowledged: {OpAcknowledge, OpShip, OpReceive, OpInvoice, OpCancel, OpClose},
	StatusAcknowledged:          {OpAcknowledge, OpShip, OpCancel, OpClose},
	StatusRejected:              {OpCancel, OpClose},
	StatusPartiallyShipped:      {OpAcknowledge, OpShip, OpReceive, OpInvoice, OpClose},
	StatusShipped:               {OpReceive, OpInvoice, OpClose},
	StatusPartiallyReceived:     {OpReceive, OpInvoice, OpClose},
	StatusReceived:              {OpInvoice, OpClose},
	StatusPartiallyInvoiced:     {OpInvoice, OpClose},
	StatusInvoiced:              {OpClose},
	StatusClosed:                nil,
	StatusCancelled:             nil,
}

// Allows reports whether a purchase order in status s takes operation op.
// Cancel additionally requires that nothing has shipped.
//
//	status                  acknowledge ship receive invoice cancel close
//	issued                       ✓                           ✓      ✓
//	partially_acknowledged       ✓        ✓     ✓       ✓      ✓      ✓
//	acknowledged                 ✓        ✓                    ✓      ✓
//	rejected                                                   ✓      ✓
//	partially_shipped            ✓        ✓     ✓       ✓             ✓
//	shipped                                     ✓       ✓             ✓
//	partially_received                          ✓       ✓             ✓
//	received                                            ✓             ✓
//	partially_invoiced                                  ✓             ✓
//	invoiced                                                          ✓
//	closed, cancelled
func (s Status) Allows(op Operation) bool { return slices.Contains(allowed[s], op) }

// Origin says why the ERP issued a purchase order.
type Origin string

// Origins of a purchase order.
const (
	OriginReplenishment Origin = "replenishment"  // stock fell below the reorder point
	OriginCustomerOrder Origin = "customer_order" // customer orders are short of stock
)

// PurchaseOrder is an order the ERP issued to a supplier (X12 850), together
// with its progress. The header and Lines[i] up to UnitPrice come from the
// ERP; the progress fields (Status, the per-line quantities, the document
// lists) change only through the Apply methods.
type PurchaseOrder struct {
	// Number is the ERP's purchase order number, unique per ERP.
	Number     string `json:"number"`
	SupplierID string `json:"supplier_id"`
	// IssueDate is the civil date the ERP issued the order, "YYYY-MM-DD".
	IssueDate string `json:"issue_date"`
	Origin    Origin `json:"origin"`
	// CustomerOrders are the gateway ids of the customer orders waiting on
	// this purchase order (Origin customer_order), so their tracking shows
	// the supplier's dates.
	CustomerOrders []string `json:"customer_orders,omitempty"`
	// Currency is the ISO 4217 code every price of the order and its
	// invoices is in.
	Currency string `json:"currency"`
	// RequestedDeliveryDate is when the buyer wants the goods, "YYYY-MM-DD".
	RequestedDeliveryDate string        `json:"requested_delivery_date"`
	ShipTo                order.Address `json:"ship_to"`
	Lines                 []POLine      `json:"lines"`
	Notes                 string        `json:"notes,omitempty"`

	Status Status `json:"status"`
	// StatusReason is the buyer's reason for closing or cancelling.
	StatusReason string `json:"status_reason,omitempty"`
	// Acknowledgements, Receipts and Invoices are the ids of the documents
	// applied, in order; Shipments keeps each shipping notice's quantities
	// because receipts and invoices are checked per shipment.
	Acknowledgements []string         `json:"acknowledgements,omitempty"`
	Shipments        []ShipmentRecord `json:"shipments,omitempty"`
	Receipts         []string         `json:"receipts,omitempty"`
	Invoices         []string         `json:"invoices,omitempty"`
}

// POLine is one line of a purchase order. Quantities are whole numbers of
// Unit (a UN/ECE Recommendation 20 code such as "EA", "C62", "BX", "KGM").
type POLine struct {
	LineNumber         int           `json:"line_number"`
	SKU                string        `json:"sku"`
	SupplierPartNumber string        `json:"supplier_part_number,omitempty"`
	Description        string        `json:"description,omitempty"`
	Quantity           int64         `json:"quantity"`
	Unit               string        `json:"unit"`
	UnitPrice          order.Decimal `json:"unit_price"`

	// AckStatus is the supplier's latest answer for this line; empty until
	// acknowledged.
	AckStatus LineStatus `json:"ack_status,omitempty"`
	// ConfirmedQuantity is what the supplier committed to deliver (accepted,
	// changed or backordered); zero when rejected.
	ConfirmedQuantity int64 `json:"confirmed_quantity,omitzero"`
	// PromisedDate is the supplier's delivery promise, "YYYY-MM-DD".
	PromisedDate     string `json:"promised_date,omitempty"`
	ShippedQuantity  int64  `json:"shipped_quantity,omitzero"`
	ReceivedQuantity int64  `json:"received_quantity,omitzero"`
	InvoicedQuantity int64  `json:"invoiced_quantity,omitzero"`
}

// ShipmentRecord is what a purchase order keeps of an applied shipping
// notice.
type ShipmentRecord struct {
	ID               string               `json:"id"`
	ShipDate         string               `json:"ship_date"`
	ExpectedDelivery string               `json:"expected_delivery"`
	Carrier          string               `json:"carrier"`
	TrackingNumber   string               `json:"tracking_number,omitempty"`
	Lines            []ShipmentLineRecord `json:"lines"`
}

// ShipmentLineRecord is one line of a shipment and how much of it has been
// received and invoiced.
type ShipmentLineRecord struct {
	LineNumber int   `json:"line_number"`
	Quantity   int64 `json:"quantity"`
	Received   int64 `json:"received,omitzero"`
	Invoiced   int64 `json:"invoiced,omitzero"`
}

// LineStatus is a supplier's answer for one purchase order line (the X12 855
// line item status codes IA, IR, IC/IQ, IB).
type LineStatus string

// Line statuses of an acknowledgement.
const (
	// LineAccepted: the full ordered quantity, by PromisedDate.
	LineAccepted LineStatus = "accepted"
	// LineRejected: nothing will be delivered; Quantity and PromisedDate
	// are empty.
	LineRejected LineStatus = "rejected"
	// LineChanged: Quantity (1..ordered) by PromisedDate, e.g. a partial
	// confirmation or a rescheduled date.
	LineChanged LineStatus = "changed"
	// LineBackordered: Quantity (1..ordered) is not in stock and will come
	// by PromisedDate.
	LineBackordered LineStatus = "backordered"
)

// Valid reports whether s is one of the line statuses.
func (s LineStatus) Valid() bool {
	return s == LineAccepted || s == LineRejected || s == LineChanged || s == LineBackordered
}

// Acknowledgement is a supplier's answer to a purchase order (X12 855, cXML
// ConfirmationRequest, UBL OrderResponse): per line accept, reject, change or
// backorder, with a promised date. Lines not mentioned keep their previous
// answer (or stay unacknowledged); a later acknowledgement may revise a line
// as long as the new quantity covers what has already shipped.
type Acknowledgement struct {
	// ID is the supplier's document number; each is applied once.
	ID         string `json:"id"`
	PONumber   string `json:"po_number"`
	SupplierID string `json:"supplier_id"`
	// Date is the civil date of the acknowledgement, "YYYY-MM-DD".
	Date  string    `json:"date"`
	Lines []AckLine `json:"lines"`
	Notes string    `json:"notes,omitempty"`
}

// AckLine is the answer for one purchase order line.
type AckLine struct {
	LineNumber int        `json:"line_number"`
	Status     LineStatus `json:"status"`
	// Quantity is the confirmed quantity: for accepted either 0 (meaning the
	// ordered quantity) or exactly the ordered quantity; for changed and
	// backordered 1..ordered; for rejected 0.
	Quantity int64 `json:"quantity,omitzero"`
	// PromisedDate is required unless rejected, "YYYY-MM-DD".
	PromisedDate string `json:"promised_date,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// ShippingNotice is an advance ship notice (X12 856, cXML ShipNoticeRequest,
// UBL DespatchAdvice): what left the supplier for which purchase order lines.
type ShippingNotice struct {
	ID         string `json:"id"`
	PONumber   string `json:"po_number"`
	SupplierID string `json:"supplier_id"`
	// ShipDate and ExpectedDelivery are civil dates, "YYYY-MM-DD";
	// ExpectedDelivery is not before ShipDate.
	ShipDate         string `json:"ship_date"`
	ExpectedDelivery string `json:"expected_delivery"`
	// Carrier is the carrier's name or SCAC code.
	Carrier        string     `json:"carrier"`
	TrackingNumber string     `json:"tracking_number,omitempty"`
	Lines          []ShipLine `json:"lines"`
	// Packages optionally describes the handling units. When any package
	// lists contents, the contents of all packages must add up to Lines
	// exactly.
	Packages []Package `json:"packages,omitempty"`
	Notes    string    `json:"notes,omitempty"`
}

// ShipLine is a quantity of one purchase order line.
type ShipLine struct {
	LineNumber int   `json:"line_number"`
	Quantity   int64 `json:"quantity"`
}

// Package is one handling unit of a shipment.
type Package struct {
	// ID is the package label, e.g. an SSCC-18.
	ID string `json:"id"`
	// WeightKG is the gross weight in kilograms, zero when unknown.
	WeightKG order.Decimal `json:"weight_kg,omitzero"`
	Contents []ShipLine    `json:"contents,omitempty"`
}

// GoodsReceipt is the ERP's record that a shipment arrived (what the
// warehouse counted). Suppliers do not send it; it moves the order to
// received.
type GoodsReceipt struct {
	ID         string `json:"id"`
	PONumber   string `json:"po_number"`
	ShipmentID string `json:"shipment_id"`
	// Date is the civil date of receipt, "YYYY-MM-DD".
	Date  string     `json:"date"`
	Lines []ShipLine `json:"lines"`
}

// StockAdvice is a supplier's report of what it can deliver (X12 846, cXML
// ProductActivity): per sku available quantity, lead time and when more
// arrives.
type StockAdvice struct {
	ID         string `json:"id"`
	SupplierID string `json:"supplier_id"`
	// AsOf is when the figures were taken.
	AsOf  time.Time   `json:"as_of"`
	Items []StockItem `json:"items"`
}

// StockItem is the stock of one sku.
type StockItem struct {
	SKU                string `json:"sku"`
	SupplierPartNumber string `json:"supplier_part_number,omitempty"`
	// Available is the quantity the supplier can ship now, in Unit.
	Available int64  `json:"available"`
	Unit      string `json:"unit"`
	// LeadTimeDays is how many days after an order the supplier ships
	// (0: same day).
	LeadTimeDays int `json:"lead_time_days"`
	// NextAvailableDate and NextAvailableQuantity announce the next
	// replenishment at the supplier; the quantity needs the date.
	NextAvailableDate     string `json:"next_available_date,omitempty"`
	NextAvailableQuantity int64  `json:"next_available_quantity,omitzero"`
}

// Invoice is a supplier's bill for one shipment of one purchase order (X12
// 810, cXML InvoiceDetailRequest, UBL Invoice). Amounts are exact:
// Amount = round(Quantity × UnitPrice) to the currency's minor unit (halves
// away from zero) on each line, Subtotal = Σ Amount, Total = Subtotal + Tax.
type Invoice struct {
	ID         string `json:"id"`
	PONumber   string `json:"po_number"`
	SupplierID string `json:"supplier_id"`
	ShipmentID string `json:"shipment_id"`
	// Date and DueDate are civil dates, "YYYY-MM-DD"; DueDate is optional.
	Date     string        `json:"date"`
	DueDate  string        `json:"due_date,omitempty"`
	Currency string        `json:"currency"`
	Lines    []InvoiceLine `json:"lines"`
	Subtotal order.Decimal `json:"subtotal"`
	Tax      order.Decimal `json:"tax"`
	Total    order.Decimal `json:"total"`
	Notes    string        `json:"notes,omitempty"`
}

// InvoiceLine bills a quantity of one purchase order line.
type InvoiceLine struct {
	LineNumber int `json:"line_number"`
	// SKU is optional; when given it must be the purchase order line's.
	SKU       string        `json:"sku,omitempty"`
	Quantity  int64         `json:"quantity"`
	UnitPrice order.Decimal `json:"unit_price"`
	Amount    order.Decimal `json:"amount"`
}

// Clone returns a deep copy of po.
func (po *PurchaseOrder) Clone() *PurchaseOrder {
	c := *po
	c.CustomerOrders = slices.Clone(po.CustomerOrders)
	c.Lines = slices.Clone(po.Lines)
	c.Acknowledgements = slices.Clone(po.Acknowledgements)
	c.Receipts = slices.Clone(po.Receipts)
	c.Invoices = slices.Clone(po.Invoices)
	c.Shipments = slices.Clone(po.Shipments)
	for i := range c.Shipments {
		c.Shipments[i].Lines = slices.Clone(po.Shipments[i].Lines)
	}
	return &c
}

// Line returns the index of the line with number n, or -1.
func (po *PurchaseOrder) Line(n int) int {
	for i := range po.Lines {
		if po.Lines[i].LineNumber == n {
			return i
		}
	}
	return -1
}

// Shipment returns the index of the applied shipment with id, or -1.
func (po *PurchaseOrder) Shipment(id string) int {
	for i := range po.Shipments {
		if po.Shipments[i].ID == id {
			return i
		}
	}
	return -1
}

// Total returns Σ quantity × unit price over the lines, and false if it
// would exceed order.MaxDecimal.
func (po *PurchaseOrder) Total() (order.Decimal, bool) {
	var t order.Decimal
	for _, l := range po.Lines {
		a, ok := l.UnitPrice.MulIntChecked(l.Quantity)
		if !ok {
			return 0, false
		}
		if t, ok = t.AddChecked(a); !ok {
			return 0, false
		}
	}
	return t, true
}
