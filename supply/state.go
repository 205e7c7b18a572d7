package supply

import (
	"errors"
	"strconv"
	"time"

	"erpgate"
	"erpgate/order"
)

// Causes wrapped by the Conflict errors of the Apply methods, for callers
// that must tell them apart (errors.Is): a redelivered document is usually
// success for an idempotent pipeline, an illegal status is not.
var (
	ErrAlreadyApplied = errors.New("document already applied")
	ErrIllegalStatus  = errors.New("operation not allowed in this status")
)

// derivedStatus is the status the line quantities give: the first stage the
// order still waits for. Terminal statuses stay.
func (po *PurchaseOrder) derivedStatus() Status {
	if po.Status.Terminal() {
		return po.Status
	}
	acked := 0
	var confirmed, shipped, received, invoiced int64
	for _, l := range po.Lines {
		if l.AckStatus != "" {
			acked++
		}
		confirmed += l.ConfirmedQuantity
		shipped += l.ShippedQuantity
		received += l.ReceivedQuantity
		invoiced += l.InvoicedQuantity
	}
	switch {
	case acked == 0:
		return StatusIssued
	case acked < len(po.Lines):
		return StatusPartiallyAcknowledged
	case confirmed == 0:
		return StatusRejected
	case shipped == 0:
		return StatusAcknowledged
	case shipped < confirmed:
		return StatusPartiallyShipped
	case received == 0:
		return StatusShipped
	case received < confirmed:
		return StatusPartiallyReceived
	case invoiced == 0:
		return StatusReceived
	case invoiced < confirmed:
		return StatusPartiallyInvoiced
	default:
		return StatusInvoiced
	}
}

var opVerb = map[Operation]string{
	OpAcknowledge: "acknowledged", OpShip: "shipped against", OpReceive: "received against",
	OpInvoice: "invoiced", OpCancel: "cancelled", OpClose: "closed",
}

// allow returns the Conflict error for op in po's status, or nil.
func (po *PurchaseOrder) allow(op Operation) error {
	if po.Status.Allows(op) {
		return nil
	}
	return &erpgate.Error{
		Code:    erpgate.Conflict,
		Message: "purchase order " + po.Number + " is " + string(po.Status) + " and cannot be " + opVerb[op],
		Err:     ErrIllegalStatus,
	}
}

func applied(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func alreadyApplied(kind, id string) error {
	return &erpgate.Error{Code: erpgate.Conflict, Message: kind + " " + id + " was already applied", Err: ErrAlreadyApplied}
}

func tooMany(kind string) error {
	return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the purchase order has " + strconv.Itoa(MaxDocuments) + " " + kind + "s already",
		Problems: []erpgate.Problem{{Field: "id", Message: "no more than " + strconv.Itoa(MaxDocuments) + " " + kind + "s per purchase order"}}}
}

// header runs the checks every supplier document shares, in the documented
// order: ownership (NotFound), purchase order number (Unprocessable), status
// (Conflict).
func (po *PurchaseOrder) header(op Operation, supplierID, poNumber string) error {
	if supplierID != po.SupplierID {
		return erpgate.Errorf(erpgate.NotFound, "purchase order %s not found", poNumber)
	}
	if poNumber != po.Number {
		return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the document is for another purchase order",
			Problems: []erpgate.Problem{{Field: "po_number", Message: "must be " + po.Number}}}
	}
	return po.allow(op)
}

// docDate checks a document date against the order's issue date and today.
func (po *PurchaseOrder) docDate(c *collector, field, date string, notBefore time.Time, notBeforeWhat string, now time.Time) {
	d, ok := order.ParseDate(date)
	if !ok {
		return // Validate reported it
	}
	if issued, ok := order.ParseDate(po.IssueDate); ok && d.Before(issued) {
		c.Unprocessable(field, "must not be before the purchase order's issue date "+po.IssueDate)
	} else if !notBefore.IsZero() && d.Before(notBefore) {
		c.Unprocessable(field, "must not be before "+notBeforeWhat+" "+order.FormatDate(notBefore))
	}
	y, m, dd := now.UTC().Date()
	if today := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC); d.After(today.Add(DateSkew)) {
		c.Unprocessable(field, "must not be in the future")
	}
}

// finish returns the new order with its status recomputed, or the problems.
func finish(next *PurchaseOrder, c *collector, what string) (*PurchaseOrder, error) {
	if err := c.Err(what); err != nil {
		return nil, err
	}
	next.Status = next.derivedStatus()
	return next, nil
}

// ApplyAck returns the purchase order with acknowledgement a applied at
// instant now; po is not changed. Business rules (Unprocessable): every line
// exists on the order; accepted means the ordered quantity; a changed or
// backordered quantity is at most the ordered one; no line is confirmed (or
// rejected) below what has already shipped on it; the date is not before the
// order's issue date nor in the future. See the package documentation for
// the other codes.
func (po *PurchaseOrder) ApplyAck(a *Acknowledgement, now time.Time) (*PurchaseOrder, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := po.header(OpAcknowledge, a.SupplierID, a.PONumber); err != nil {
		return nil, err
	}
	if applied(po.Acknowledgements, a.ID) {
		return nil, alreadyApplied("acknowledgement", a.ID)
	}
	if len(po.Acknowledgements) >= MaxDocuments {
		return nil, tooMany("acknowledgement")
	}
	var c collector
	po.docDate(&c, "date", a.Date, time.Time{}, "", now)
	next := po.Clone()
	for i, al := range a.Lines {
		li := next.Line(al.LineNumber)
		if li < 0 {
			c.Unprocessable(path("lines", i, "line_number"), "names no line of purchase order "+po.Number)
			continue
		}
		l := &next.Lines[li]
		qty := al.Quantity
		switch al.Status {
		case LineAccepted:
			if qty == 0 {
				qty = l.Quantity
			} else if qty != l.Quantity {
				c.Unprocessable(path("lines", i, "quantity"), "must be the ordered quantity "+strconv.FormatInt(l.Quantity, 10)+" (or empty) when accepted; use changed for less")
				continue
			}
		case LineChanged, LineBackordered:
			if qty > l.Quantity {
				c.Unprocessable(path("lines", i, "quantity"), "exceeds the ordered quantity "+strconv.FormatInt(l.Quantity, 10))
				continue
			}
		case LineRejected:
			qty = 0
		}
		if qty < l.ShippedQuantity {
			field := path("lines", i, "quantity")
			if al.Status == LineRejected {
				field = path("lines", i, "status")
			}
			c.Unprocessable(field, "must cover the "+strconv.FormatInt(l.ShippedQuantity, 10)+" already shipped on line "+strconv.Itoa(l.LineNumber))
			continue
		}
		l.AckStatus, l.ConfirmedQuantity, l.PromisedDate = al.Status, qty, al.PromisedDate
	}
	next.Acknowledgements = append(next.Acknowledgements, a.ID)
	return finish(next, &c, "the acknowledgement")
}

// ApplyShipment returns the purchase order with shipping notice n applied at
// instant now; po is not changed. Business rules (Unprocessable): every line
// exists, is acknowledged and not rejected; the quantity is at most the
// line's confirmed quantity not yet shipped; the ship date is not before the
// order's issue date nor in the future.
func (po *PurchaseOrder) ApplyShipment(n *ShippingNotice, now time.Time) (*PurchaseOrder, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if err := po.header(OpShip, n.SupplierID, n.PONumber); err != nil {
		return nil, err
	}
	if po.Shipment(n.ID) >= 0 {
		return nil, alreadyApplied("shipping notice", n.ID)
	}
	if len(po.Shipments) >= MaxDocuments {
		return nil, tooMany("shipping notice")
	}
	var c collector
	po.docDate(&c, "ship_date", n.ShipDate, time.Time{}, "", now)
	next := po.Clone()
	rec := ShipmentRecord{ID: n.ID, ShipDate: n.ShipDate, ExpectedDelivery: n.ExpectedDelivery,
		Carrier: n.Carrier, TrackingNumber: n.TrackingNumber, Lines: make([]ShipmentLineRecord, 0, len(n.Lines))}
	for i, sl := range n.Lines {
		li := next.Line(sl.LineNumber)
		if li < 0 {
			c.Unprocessable(path("lines", i, "line_number"), "names no line of purchase order "+po.Number)
			continue
		}
		l := &next.Lines[li]
		switch {
		case l.AckStatus == "":
			c.Unprocessable(path("lines", i, "line_number"), "line "+strconv.Itoa(l.LineNumber)+" is not acknowledged yet")
			continue
		case l.AckStatus == LineRejected:
			c.Unprocessable(path("lines", i, "line_number"), "line "+strconv.Itoa(l.LineNumber)+" was rejected")
			continue
		}
		if rest := l.ConfirmedQuantity - l.ShippedQuantity; sl.Quantity > rest {
			c.Unprocessable(path("lines", i, "quantity"), "exceeds the "+strconv.FormatInt(rest, 10)+" acknowledged and not yet shipped on line "+strconv.Itoa(l.LineNumber))
			continue
		}
		l.ShippedQuantity += sl.Quantity
		rec.Lines = append(rec.Lines, ShipmentLineRecord{LineNumber: sl.LineNumber, Quantity: sl.Quantity})
	}
	next.Shipments = append(next.Shipments, rec)
	return finish(next, &c, "the shipping notice")
}

// ApplyReceipt returns the purchase order with goods receipt r applied at
// instant now; po is not changed. Business rules (Unprocessable): the
// shipment exists on this order; every line is in it; received quantities
// stay within what that shipment carried; the date is not before the ship
// date nor in the future. Receipts come from the ERP, so there is no
// supplier check.
func (po *PurchaseOrder) ApplyReceipt(r *GoodsReceipt, now time.Time) (*PurchaseOrder, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := po.header(OpReceive, po.SupplierID, r.PONumber); err != nil {
		return nil, err
	}
	if applied(po.Receipts, r.ID) {
		return nil, alreadyApplied("goods receipt", r.ID)
	}
	if len(po.Receipts) >= MaxDocuments {
		return nil, tooMany("goods receipt")
	}
	si := po.Shipment(r.ShipmentID)
	if si < 0 {
		return nil, unknownShipment(po, r.ShipmentID)
	}
	var c collector
	shipDate, _ := order.ParseDate(po.Shipments[si].ShipDate)
	po.docDate(&c, "date", r.Date, shipDate, "the ship date", now)
	next := po.Clone()
	s := &next.Shipments[si]
	for i, rl := range r.Lines {
		sj := shipmentLine(s, rl.LineNumber)
		if sj < 0 {
			c.Unprocessable(path("lines", i, "line_number"), "line "+strconv.Itoa(rl.LineNumber)+" is not in shipment "+s.ID)
			continue
		}
		sl := &s.Lines[sj]
		if rest := sl.Quantity - sl.Received; rl.Quantity > rest {
			c.Unprocessable(path("lines", i, "quantity"), "exceeds the "+strconv.FormatInt(rest, 10)+" shipped in "+s.ID+" and not yet received")
			continue
		}
		li := next.Line(rl.LineNumber)
		if li < 0 { // only in a corrupt record; never panic on one
			c.Unprocessable(path("lines", i, "line_number"), "names no line of purchase order "+po.Number)
			continue
		}
		sl.Received += rl.Quantity
		next.Lines[li].ReceivedQuantity += rl.Quantity
	}
	next.Receipts = append(next.Receipts, r.ID)
	return finish(next, &c, "the goods receipt")
}

// ApplyInvoice returns the purchase order with invoice inv applied at
// instant now; po is not changed. Business rules (Unprocessable): the
// currency is the order's; the shipment exists on this order; every line
// exists on the order and in that shipment, with the order's sku (when
// given) and unit price; invoiced quantities stay within what that shipment
// carried (invoiced ≤ shipped); the date is not before the ship date nor in
// the future. That the invoice adds up is checked by inv.Validate.
func (po *PurchaseOrder) ApplyInvoice(inv *Invoice, now time.Time) (*PurchaseOrder, error) {
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	if err := po.header(OpInvoice, inv.SupplierID, inv.PONumber); err != nil {
		return nil, err
	}
	if applied(po.Invoices, inv.ID) {
		return nil, alreadyApplied("invoice", inv.ID)
	}
	if len(po.Invoices) >= MaxDocuments {
		return nil, tooMany("invoice")
	}
	si := po.Shipment(inv.ShipmentID)
	if si < 0 {
		return nil, unknownShipment(po, inv.ShipmentID)
	}
	var c collector
	if inv.Currency != po.Currency {
		c.Unprocessable("currency", "must be the purchase order's currency "+po.Currency)
	}
	shipDate, _ := order.ParseDate(po.Shipments[si].ShipDate)
	po.docDate(&c, "date", inv.Date, shipDate, "the ship date", now)
	next := po.Clone()
	s := &next.Shipments[si]
	for i, il := range inv.Lines {
		li := next.Line(il.LineNumber)
		if li < 0 {
			c.Unprocessable(path("lines", i, "line_number"), "names no line of purchase order "+po.Number)
			continue
		}
		l := &next.Lines[li]
		if il.SKU != "" && il.SKU != l.SKU {
			c.Unprocessable(path("lines", i, "sku"), "must be the purchase order line's sku "+l.SKU)
		}
		if il.UnitPrice != l.UnitPrice {
			c.Unprocessable(path("lines", i, "unit_price"), "must be the purchase order price "+l.UnitPrice.String())
		}
		sj := shipmentLine(s, il.LineNumber)
		if sj < 0 {
			c.Unprocessable(path("lines", i, "line_number"), "line "+strconv.Itoa(il.LineNumber)+" is not in shipment "+s.ID)
			continue
		}
		sl := &s.Lines[sj]
		if rest := sl.Quantity - sl.Invoiced; il.Quantity > rest {
			c.Unprocessable(path("lines", i, "quantity"), "exceeds the "+strconv.FormatInt(rest, 10)+" shipped in "+s.ID+" and not yet invoiced")
			continue
		}
		sl.Invoiced += il.Quantity
		l.InvoicedQuantity += il.Quantity
	}
	next.Invoices = append(next.Invoices, inv.ID)
	return finish(next, &c, "the invoice")
}

func unknownShipment(po *PurchaseOrder, id string) error {
	return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the document names an unknown shipment",
		Problems: []erpgate.Problem{{Field: "shipment_id", Message: "names no shipment of purchase order " + po.Number}}}
}

func shipmentLine(s *ShipmentRecord, lineNumber int) int {
	for j := range s.Lines {
		if s.Lines[j].LineNumber == lineNumber {
			return j
		}
	}
	return -1
}

// Cancel returns the purchase order cancelled by the buyer for reason
// (optional, at most MaxReasonLen characters); po is not changed. Only an
// order from which nothing has shipped can be cancelled (Conflict
// otherwise); use Close to stop waiting for the rest of a partly shipped one.
func (po *PurchaseOrder) Cancel(reason string) (*PurchaseOrder, error) {
	return po.terminate(OpCancel, StatusCancelled, reason)
}

// Close returns the purchase order closed by the buyer for reason; po is not
// changed. Any non-terminal order can be closed: a fully invoiced one when
// done, a partly delivered one to stop waiting for the rest.
func (po *PurchaseOrder) Close(reason string) (*PurchaseOrder, error) {
	return po.terminate(OpClose, StatusClosed, reason)
}

func (po *PurchaseOrder) terminate(op Operation, to Status, reason string) (*PurchaseOrder, error) {
	if msg := order.TextProblem(reason, false, MaxReasonLen, false); msg != "" {
		return nil, &erpgate.Error{Code: erpgate.Invalid, Message: "the reason is invalid",
			Problems: []erpgate.Problem{{Field: "reason", Message: msg}}}
	}
	if err := po.allow(op); err != nil {
		return nil, err
	}
	if op == OpCancel && po.anyShipped() {
		return nil, &erpgate.Error{Code: erpgate.Conflict, Message: "purchase order " + po.Number + " has shipments and cannot be cancelled; close it instead", Err: ErrIllegalStatus}
	}
	next := po.Clone()
	next.Status, next.StatusReason = to, reason
	return next, nil
}
