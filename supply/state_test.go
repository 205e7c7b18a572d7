package supply_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"erpgate"
	"erpgate/supply"
)

// TestLifeCycle walks a purchase order through every status and checks that
// no step changes the order it was applied to.
func TestLifeCycle(t *testing.T) {
	po := newPO()
	steps := []struct {
		name  string
		apply func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error)
		want  supply.Status
	}{
		{"ack line 1", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyAck(ack("ACK-1", accept(1)), now)
		}, supply.StatusPartiallyAcknowledged},
		{"ack lines 2 and 3", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyAck(ack("ACK-2", supply.AckLine{LineNumber: 2, Status: supply.LineBackordered, Quantity: 5, PromisedDate: "2026-03-30", Reason: "Lieferengpass"}, accept(3)), now)
		}, supply.StatusAcknowledged},
		{"ship part of line 1", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyShipment(notice("ASN-1", sl(1, 4), sl(3, 1)), now)
		}, supply.StatusPartiallyShipped},
		{"ship the rest", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyShipment(notice("ASN-2", sl(1, 6), sl(2, 5)), now)
		}, supply.StatusShipped},
		{"invoice before receipt", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyInvoice(invoice(po, "INV-1", "ASN-1", sl(1, 4)), now)
		}, supply.StatusShipped},
		{"receive part of ASN-1", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyReceipt(receipt("GR-1", "ASN-1", sl(1, 4)), now)
		}, supply.StatusPartiallyReceived},
		{"receive rest", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyReceipt(receipt("GR-2", "ASN-2", sl(1, 6), sl(2, 5)), now)
		}, supply.StatusPartiallyReceived},
		{"receive line 3", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyReceipt(receipt("GR-3", "ASN-1", sl(3, 1)), now)
		}, supply.StatusPartiallyInvoiced},
		{"invoice ASN-1 line 3", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyInvoice(invoice(po, "INV-2", "ASN-1", sl(3, 1)), now)
		}, supply.StatusPartiallyInvoiced},
		{"invoice ASN-2", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.ApplyInvoice(invoice(po, "INV-3", "ASN-2", sl(1, 6), sl(2, 5)), now)
		}, supply.StatusInvoiced},
		{"close", func(po *supply.PurchaseOrder) (*supply.PurchaseOrder, error) {
			return po.Close("complete")
		}, supply.StatusClosed},
	}
	for _, s := range steps {
		before, _ := json.Marshal(po)
		next := must(t)(s.apply(po))
		if after, _ := json.Marshal(po); string(after) != string(before) {
			t.Fatalf("%s: the receiver changed", s.name)
		}
		if next.Status != s.want {
			t.Fatalf("%s: status %s, want %s", s.name, next.Status, s.want)
		}
		po = next
	}
	l := po.Lines[0]
	if l.ConfirmedQuantity != 10 || l.ShippedQuantity != 10 || l.ReceivedQuantity != 10 || l.InvoicedQuantity != 10 {
		t.Errorf("line 1 quantities = %+v, want all 10", l)
	}
	if po.Lines[1].AckStatus != supply.LineBackordered || po.Lines[1].PromisedDate != "2026-03-30" {
		t.Errorf("line 2 = %+v, want backordered by 2026-03-30", po.Lines[1])
	}
	if got := len(po.Shipments) + len(po.Acknowledgements) + len(po.Receipts) + len(po.Invoices); got != 10 {
		t.Errorf("%d documents recorded, want 10", got)
	}
	if po.StatusReason != "complete" {
		t.Errorf("StatusReason = %q", po.StatusReason)
	}
}

// acked returns the test PO with every line accepted.
func acked(t *testing.T) *supply.PurchaseOrder {
	return must(t)(newPO().ApplyAck(ackAll(), now))
}

func TestApplyAck(t *testing.T) {
	shipped := func(t *testing.T) *supply.PurchaseOrder {
		return must(t)(acked(t).ApplyShipment(notice("ASN-1", sl(1, 4)), now))
	}
	tests := []struct {
		name   string
		po     func(t *testing.T) *supply.PurchaseOrder
		ack    *supply.Acknowledgement
		code   string
		fields []string
		cause  error
	}{
		{"changed above ordered", nil, ack("A", supply.AckLine{LineNumber: 1, Status: supply.LineChanged, Quantity: 11, PromisedDate: "2026-03-15"}), unp, []string{"lines[0].quantity"}, nil},
		{"accepted with another quantity", nil, ack("A", supply.AckLine{LineNumber: 1, Status: supply.LineAccepted, Quantity: 9, PromisedDate: "2026-03-15"}), unp, []string{"lines[0].quantity"}, nil},
		{"backordered above ordered", nil, ack("A", supply.AckLine{LineNumber: 3, Status: supply.LineBackordered, Quantity: 2, PromisedDate: "2026-04-15"}), unp, []string{"lines[0].quantity"}, nil},
		{"unknown line", nil, ack("A", accept(1), accept(4)), unp, []string{"lines[1].line_number"}, nil},
		{"dated before issue", nil, func() *supply.Acknowledgement {
			a := ackAll()
			a.Date = "2026-02-27"
			return a
		}(), unp, []string{"date"}, nil},
		{"dated in the future", nil, func() *supply.Acknowledgement {
			a := ackAll()
			a.Date = "2026-03-12" // today is the 10th; the 11th is allowed for time zones
			return a
		}(), unp, []string{"date"}, nil},
		{"everything wrong at once", nil, ack("A",
			supply.AckLine{LineNumber: 1, Status: supply.LineChanged, Quantity: 11, PromisedDate: "2026-03-15"},
			supply.AckLine{LineNumber: 2, Status: supply.LineAccepted, Quantity: 4, PromisedDate: "2026-03-15"},
			accept(9)), unp, []string{"lines[0].quantity", "lines[1].quantity", "lines[2].line_number"}, nil},
		{"reject a shipped line", shipped, ack("A", supply.AckLine{LineNumber: 1, Status: supply.LineRejected}), unp, []string{"lines[0].status"}, nil},
		{"change below shipped", shipped, ack("A", supply.AckLine{LineNumber: 1, Status: supply.LineChanged, Quantity: 3, PromisedDate: "2026-03-15"}), unp, []string{"lines[0].quantity"}, nil},
		{"invalid document first", nil, ack("", accept(1)), inv, []string{"id"}, nil},
		{"another supplier's order", nil, func() *supply.Acknowledgement { a := ackAll(); a.SupplierID = "SUP-2"; return a }(), erpgate.NotFound, nil, nil},
		{"another purchase order", nil, func() *supply.Acknowledgement { a := ackAll(); a.PONumber = "PO/2026/0002"; return a }(), unp, []string{"po_number"}, nil},
		{"same document twice", acked, ackAll(), erpgate.Conflict, nil, supply.ErrAlreadyApplied},
		{"fully shipped", func(t *testing.T) *supply.PurchaseOrder {
			return must(t)(acked(t).ApplyShipment(notice("ASN-1", sl(1, 10), sl(2, 5), sl(3, 1)), now))
		}, ack("ACK-9", accept(1)), erpgate.Conflict, nil, supply.ErrIllegalStatus},
		{"cancelled", func(t *testing.T) *supply.PurchaseOrder { return must(t)(newPO().Cancel("not needed")) }, ackAll(), erpgate.Conflict, nil, supply.ErrIllegalStatus},
		{"rejected", func(t *testing.T) *supply.PurchaseOrder {
			return must(t)(newPO().ApplyAck(ack("R", supply.AckLine{LineNumber: 1, Status: supply.LineRejected},
				supply.AckLine{LineNumber: 2, Status: supply.LineRejected}, supply.AckLine{LineNumber: 3, Status: supply.LineRejected}), now))
		}, ackAll(), erpgate.Conflict, nil, supply.ErrIllegalStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			po := newPO()
			if tt.po != nil {
				po = tt.po(t)
			}
			before, _ := json.Marshal(po)
			next, err := po.ApplyAck(tt.ack, now)
			if next != nil {
				t.Errorf("a result alongside the error")
			}
			wantErr(t, err, tt.code, tt.fields...)
			if tt.cause != nil && !isErr(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			if after, _ := json.Marshal(po); string(after) != string(before) {
				t.Error("the purchase order changed on error")
			}
		})
	}
}

func TestApplyAckRevision(t *testing.T) {
	po := must(t)(acked(t).ApplyShipment(notice("ASN-1", sl(1, 4)), now))
	// Line 1: confirm only what shipped plus 2; line 2 backordered; line 3 rejected.
	po = must(t)(po.ApplyAck(ack("ACK-2",
		supply.AckLine{LineNumber: 1, Status: supply.LineChanged, Quantity: 6, PromisedDate: "2026-03-20"},
		supply.AckLine{LineNumber: 2, Status: supply.LineBackordered, Quantity: 5, PromisedDate: "2026-04-20"},
		supply.AckLine{LineNumber: 3, Status: supply.LineRejected, Reason: "discontinued"}), now))
	if po.Status != supply.StatusPartiallyShipped {
		t.Errorf("status %s, want partially_shipped", po.Status)
	}
	if l := po.Lines[2]; l.ConfirmedQuantity != 0 || l.PromisedDate != "" || l.AckStatus != supply.LineRejected {
		t.Errorf("rejected line = %+v", l)
	}
	// Exactly the remaining quantity ships; one more is refused.
	_, err := po.ApplyShipment(notice("ASN-2", sl(1, 3)), now)
	wantErr(t, err, unp, "lines[0].quantity")
	po = must(t)(po.ApplyShipment(notice("ASN-2", sl(1, 2), sl(2, 5)), now))
	if po.Status != supply.StatusShipped {
		t.Errorf("status %s, want shipped", po.Status)
	}
}

func TestApplyShipment(t *testing.T) {
	partly := func(t *testing.T) *supply.PurchaseOrder { return must(t)(newPO().ApplyAck(ack("A1", accept(1)), now)) }
	rejected3 := func(t *testing.T) *supply.PurchaseOrder {
		return must(t)(newPO().ApplyAck(ack("A1", accept(1), accept(2), supply.AckLine{LineNumber: 3, Status: supply.LineRejected}), now))
	}
	tests := []struct {
		name   string
		po     func(t *testing.T) *supply.PurchaseOrder
		n      *supply.ShippingNotice
		code   string
		fields []string
		cause  error
	}{
		{"not acknowledged", func(*testing.T) *supply.PurchaseOrder { return newPO() }, notice("S", sl(1, 1)), erpgate.Conflict, nil, supply.ErrIllegalStatus},
		{"line not acknowledged", partly, notice("S", sl(1, 1), sl(2, 1)), unp, []string{"lines[1].line_number"}, nil},
		{"line rejected", rejected3, notice("S", sl(3, 1)), unp, []string{"lines[0].line_number"}, nil},
		{"more than acknowledged", acked, notice("S", sl(1, 11)), unp, []string{"lines[0].quantity"}, nil},
		{"more than remaining", func(t *testing.T) *supply.PurchaseOrder {
			return must(t)(acked(t).ApplyShipment(notice("S1", sl(1, 7)), now))
		}, notice("S2", sl(1, 4)), unp, []string{"lines[0].quantity"}, nil},
		{"unknown line", acked, notice("S", sl(7, 1)), unp, []string{"lines[0].line_number"}, nil},
		{"ship date before issue", acked, func() *supply.ShippingNotice { n := notice("S", sl(1, 1)); n.ShipDate = "2026-02-20"; return n }(), unp, []string{"ship_date"}, nil},
		{"ship date in the future", acked, func() *supply.ShippingNotice {
			n := notice("S", sl(1, 1))
			n.ShipDate, n.ExpectedDelivery = "2026-03-12", "2026-03-14"
			return n
		}(), unp, []string{"ship_date"}, nil},
		{"same notice twice", func(t *testing.T) *supply.PurchaseOrder {
			return must(t)(acked(t).ApplyShipment(notice("S", sl(1, 1)), now))
		}, notice("S", sl(1, 1)), erpgate.Conflict, nil, supply.ErrAlreadyApplied},
		{"another supplier", acked, func() *supply.ShippingNotice { n := notice("S", sl(1, 1)); n.SupplierID = "SUP-2"; return n }(), erpgate.NotFound, nil, nil},
		{"invalid notice", acked, notice("S"), inv, []string{"lines"}, nil},
		{"closed", func(t *testing.T) *supply.PurchaseOrder { return must(t)(acked(t).Close("")) }, notice("S", sl(1, 1)), erpgate.Conflict, nil, supply.ErrIllegalStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			po := tt.po(t)
			before, _ := json.Marshal(po)
			_, err := po.ApplyShipment(tt.n, now)
			wantErr(t, err, tt.code, tt.fields...)
			if tt.cause != nil && !isErr(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			if after, _ := json.Marshal(po); string(after) != string(before) {
				t.Error("the purchase order changed on error")
			}
		})
	}
	// A partly acknowledged order ships its acknowledged lines.
	po := must(t)(partly(t).ApplyShipment(notice("S", sl(1, 10)), now))
	if po.Status != supply.StatusPartiallyAcknowledged {
		t.Errorf("status %s, want partially_acknowledged (lines 2 and 3 still wait for an answer)", po.Status)
	}
}

// twoShipments: line 1 shipped as 4 (ASN-1) + 6 (ASN-2).
func twoShipments(t *testing.T) *supply.PurchaseOrder {
	po := must(t)(acked(t).ApplyShipment(notice("ASN-1", sl(1, 4)), now))
	return must(t)(po.ApplyShipment(notice("ASN-2", sl(1, 6), sl(2, 5)), now))
}

func TestApplyReceipt(t *testing.T) {
	tests := []struct {
		name   string
		po     func(t *testing.T) *supply.PurchaseOrder
		r      *supply.GoodsReceipt
		code   string
		fields []string
	}{
		{"nothing shipped", acked, receipt("R", "ASN-1", sl(1, 1)), erpgate.Conflict, nil},
		{"unknown shipment", twoShipments, receipt("R", "ASN-9", sl(1, 1)), unp, []string{"shipment_id"}},
		{"line not in shipment", twoShipments, receipt("R", "ASN-1", sl(2, 1)), unp, []string{"lines[0].line_number"}},
		{"more than the shipment carried", twoShipments, receipt("R", "ASN-1", sl(1, 5)), unp, []string{"lines[0].quantity"}},
		{"before the ship date", twoShipments, func() *supply.GoodsReceipt { r := receipt("R", "ASN-1", sl(1, 1)); r.Date = "2026-03-04"; return r }(), unp, []string{"date"}},
		{"in the future", twoShipments, func() *supply.GoodsReceipt { r := receipt("R", "ASN-1", sl(1, 1)); r.Date = "2026-03-20"; return r }(), unp, []string{"date"}},
		{"another purchase order", twoShipments, func() *supply.GoodsReceipt { r := receipt("R", "ASN-1", sl(1, 1)); r.PONumber = "PO-X"; return r }(), unp, []string{"po_number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.po(t).ApplyReceipt(tt.r, now)
			wantErr(t, err, tt.code, tt.fields...)
		})
	}
	po := must(t)(twoShipments(t).ApplyReceipt(receipt("R1", "ASN-1", sl(1, 3)), now))
	_, err := po.ApplyReceipt(receipt("R2", "ASN-1", sl(1, 2)), now)
	wantErr(t, err, unp, "lines[0].quantity") // only 1 of ASN-1 left to receive
	_, err = po.ApplyReceipt(receipt("R1", "ASN-1", sl(1, 1)), now)
	wantErr(t, err, erpgate.Conflict)
	if !isErr(err, supply.ErrAlreadyApplied) {
		t.Errorf("repeat receipt: %v, want ErrAlreadyApplied", err)
	}
}

func TestApplyInvoice(t *testing.T) {
	po := twoShipments(t)
	tests := []struct {
		name   string
		po     *supply.PurchaseOrder
		inv    *supply.Invoice
		code   string
		fields []string
	}{
		{"more than the shipment carried", po, invoice(po, "I", "ASN-1", sl(1, 5)), unp, []string{"lines[0].quantity"}},
		{"line not in shipment", po, invoice(po, "I", "ASN-1", sl(2, 1)), unp, []string{"lines[0].line_number"}},
		{"unknown line", po, func() *supply.Invoice {
			i := invoice(po, "I", "ASN-1", sl(1, 1))
			i.Lines[0].LineNumber = 9
			return i
		}(), unp, []string{"lines[0].line_number"}},
		{"unknown shipment", po, invoice(po, "I", "ASN-7", sl(1, 1)), unp, []string{"shipment_id"}},
		{"price differs", po, func() *supply.Invoice {
			i := invoice(po, "I", "ASN-1", sl(1, 2))
			i.Lines[0].UnitPrice, i.Lines[0].Amount = dec("13"), dec("26")
			i.Subtotal, i.Tax, i.Total = dec("26"), dec("0"), dec("26")
			return i
		}(), unp, []string{"lines[0].unit_price"}},
		{"sku differs", po, func() *supply.Invoice {
			i := invoice(po, "I", "ASN-1", sl(1, 1))
			i.Lines[0].SKU = "SKU-1002"
			return i
		}(), unp, []string{"lines[0].sku"}},
		{"currency differs", po, func() *supply.Invoice { i := invoice(po, "I", "ASN-1", sl(1, 1)); i.Currency = "USD"; return i }(), unp, []string{"currency"}},
		{"dated before shipping", po, func() *supply.Invoice { i := invoice(po, "I", "ASN-1", sl(1, 1)); i.Date = "2026-03-04"; return i }(), unp, []string{"date"}},
		{"does not add up", po, func() *supply.Invoice { i := invoice(po, "I", "ASN-1", sl(1, 1)); i.Total++; return i }(), unp, []string{"total"}},
		{"nothing shipped", acked(t), invoice(po, "I", "ASN-1", sl(1, 1)), erpgate.Conflict, nil},
		{"another supplier", po, func() *supply.Invoice { i := invoice(po, "I", "ASN-1", sl(1, 1)); i.SupplierID = "SUP-2"; return i }(), erpgate.NotFound, nil},
		{"several problems", po, func() *supply.Invoice {
			i := invoice(po, "I", "ASN-2", sl(1, 7), sl(2, 5))
			i.Currency = "USD"
			i.Lines[1].SKU = "SKU-1003"
			return i
		}(), unp, []string{"currency", "lines[0].quantity", "lines[1].sku"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.po.ApplyInvoice(tt.inv, now)
			wantErr(t, err, tt.code, tt.fields...)
		})
	}
	// Invoiced ≤ shipped per shipment, across invoices.
	next := must(t)(po.ApplyInvoice(invoice(po, "I1", "ASN-1", sl(1, 3)), now))
	_, err := next.ApplyInvoice(invoice(next, "I2", "ASN-1", sl(1, 2)), now)
	wantErr(t, err, unp, "lines[0].quantity")
	next = must(t)(next.ApplyInvoice(invoice(next, "I2", "ASN-1", sl(1, 1)), now))
	_, err = next.ApplyInvoice(invoice(next, "I2", "ASN-2", sl(1, 1)), now)
	if !isErr(err, supply.ErrAlreadyApplied) || erpgate.ErrorCode(err) != erpgate.Conflict {
		t.Errorf("repeat invoice id: %v, want conflict ErrAlreadyApplied", err)
	}
	if next.Lines[0].InvoicedQuantity != 4 || next.Status != supply.StatusPartiallyShipped {
		t.Errorf("line 1 invoiced %d status %s, want 4 partially_shipped (line 3 not shipped)", next.Lines[0].InvoicedQuantity, next.Status)
	}
}

func TestCancelClose(t *testing.T) {
	po := must(t)(newPO().Cancel("ordered by mistake"))
	if po.Status != supply.StatusCancelled || po.StatusReason != "ordered by mistake" {
		t.Errorf("Cancel: %s %q", po.Status, po.StatusReason)
	}
	_, err := po.Close("")
	wantErr(t, err, erpgate.Conflict)

	_, err = twoShipments(t).Cancel("")
	wantErr(t, err, erpgate.Conflict)
	// A partly acknowledged order with a shipment cannot be cancelled either.
	partly := must(t)(newPO().ApplyAck(ack("A1", accept(1)), now))
	partly = must(t)(partly.ApplyShipment(notice("S", sl(1, 1)), now))
	_, err = partly.Cancel("")
	wantErr(t, err, erpgate.Conflict)

	closed := must(t)(twoShipments(t).Close("rest not needed"))
	if closed.Status != supply.StatusClosed {
		t.Errorf("Close: %s", closed.Status)
	}
	for _, op := range []func() error{
		func() error { _, err := closed.ApplyAck(ack("X", accept(3)), now); return err },
		func() error { _, err := closed.ApplyShipment(notice("X", sl(3, 1)), now); return err },
		func() error { _, err := closed.ApplyReceipt(receipt("X", "ASN-1", sl(1, 1)), now); return err },
		func() error { _, err := closed.ApplyInvoice(invoice(closed, "X", "ASN-1", sl(1, 1)), now); return err },
		func() error { _, err := closed.Cancel(""); return err },
	} {
		if err := op(); erpgate.ErrorCode(err) != erpgate.Conflict || !isErr(err, supply.ErrIllegalStatus) {
			t.Errorf("operation on a closed order: %v, want conflict", err)
		}
	}
	_, err = newPO().Close("a\nb")
	wantErr(t, err, inv, "reason")
}

// TestStatusTable pins the state machine as documented on Status.Allows.
func TestStatusTable(t *testing.T) {
	ops := []supply.Operation{supply.OpAcknowledge, supply.OpShip, supply.OpReceive, supply.OpInvoice, supply.OpCancel, supply.OpClose}
	want := map[supply.Status]string{ // one letter per operation, in ops order
		supply.StatusIssued:                "a---cx",
		supply.StatusPartiallyAcknowledged: "asricx",
		supply.StatusAcknowledged:          "as--cx",
		supply.StatusRejected:              "----cx",
		supply.StatusPartiallyShipped:      "asri-x",
		supply.StatusShipped:               "--ri-x",
		supply.StatusPartiallyReceived:     "--ri-x",
		supply.StatusReceived:              "---i-x",
		supply.StatusPartiallyInvoiced:     "---i-x",
		supply.StatusInvoiced:              "-----x",
		supply.StatusClosed:                "------",
		supply.StatusCancelled:             "------",
	}
	if len(want) != len(supply.Statuses()) {
		t.Fatalf("table has %d statuses, Statuses() %d", len(want), len(supply.Statuses()))
	}
	for _, s := range supply.Statuses() {
		if !s.Valid() {
			t.Errorf("%s not Valid", s)
		}
		for i, op := range ops {
			if got := s.Allows(op); got != (want[s][i] != '-') {
				t.Errorf("%s.Allows(%s) = %v", s, op, got)
			}
		}
		if s.Terminal() != (s == supply.StatusClosed || s == supply.StatusCancelled) {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
	if supply.Status("lost").Valid() {
		t.Error(`Status("lost").Valid()`)
	}
}

// TestRandomOperations applies random documents — valid and invalid — to
// purchase orders and checks the invariants after every step: a failure
// changes nothing and is an *erpgate.Error; a success yields an order that
// passes Validate (quantities ordered ≥ confirmed ≥ shipped ≥ received,
// invoiced ≤ shipped, shipments adding up, status matching the quantities).
func TestRandomOperations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[supply.Status]bool{}
	for round := range 300 {
		po := newPO()
		for step := range 40 {
			n := func() int { return 1 + r.IntN(4) } // line 4 does not exist
			q := func() int64 { return int64(r.IntN(12)) }
			var (
				next *supply.PurchaseOrder
				err  error
			)
			id := "D" + string(rune('A'+step%26))
			shipID := "S" + string(rune('A'+r.IntN(8)))
			switch r.IntN(7) {
			// Half the documents are built from the order's state, so the
			// walk gets far; the rest are random and mostly refused.
			case 0, 1:
				st := []supply.LineStatus{supply.LineAccepted, supply.LineChanged, supply.LineBackordered, supply.LineRejected}[r.IntN(4)]
				l := supply.AckLine{LineNumber: n(), Status: st, Quantity: q(), PromisedDate: "2026-03-15"}
				if st == supply.LineRejected {
					l.Quantity, l.PromisedDate = 0, ""
				}
				next, err = po.ApplyAck(ack(id, l), now)
			case 2, 3:
				ln, qty := n(), q()
				if i := r.IntN(len(po.Lines)); r.IntN(3) > 0 {
					ln, qty = po.Lines[i].LineNumber, po.Lines[i].ConfirmedQuantity-po.Lines[i].ShippedQuantity // plausible
				}
				next, err = po.ApplyShipment(notice(shipID, sl(ln, qty)), now)
			case 4:
				sid, ln, qty := shipID, n(), q()
				if len(po.Shipments) > 0 && r.IntN(3) > 0 {
					s := po.Shipments[r.IntN(len(po.Shipments))]
					l := s.Lines[r.IntN(len(s.Lines))]
					sid, ln, qty = s.ID, l.LineNumber, l.Quantity-l.Received
					if qty > 1 && r.IntN(2) == 0 {
						qty = 1 + r.Int64N(qty-1) // a partial receipt
					}
				}
				next, err = po.ApplyReceipt(receipt(id, sid, sl(ln, qty)), now)
			case 5:
				sid, ln, qty := shipID, 1, q()
				if len(po.Shipments) > 0 && r.IntN(3) > 0 {
					s := po.Shipments[r.IntN(len(po.Shipments))]
					l := s.Lines[r.IntN(len(s.Lines))]
					sid, ln, qty = s.ID, l.LineNumber, l.Quantity-l.Invoiced
					if qty > 1 && r.IntN(2) == 0 {
						qty = 1 + r.Int64N(qty-1) // a partial invoice
					}
				}
				next, err = po.ApplyInvoice(invoice(po, id, sid, sl(ln, qty)), now)
			case 6:
				if r.IntN(10) == 0 {
					next, err = po.Close("")
				} else {
					continue
				}
			}
			if err != nil {
				var e *erpgate.Error
				if !errorsAs(err, &e) || next != nil {
					t.Fatalf("round %d step %d: error %v (%T), result %v", round, step, err, err, next)
				}
				continue
			}
			if verr := next.Validate(); verr != nil {
				b, _ := json.Marshal(next)
				t.Fatalf("round %d step %d: result fails Validate: %v %+v\n%s", round, step, verr, erpgate.ErrorProblems(verr), b)
			}
			for _, l := range next.Lines {
				if l.ConfirmedQuantity > l.Quantity || l.ShippedQuantity > l.ConfirmedQuantity ||
					l.ReceivedQuantity > l.ShippedQuantity || l.InvoicedQuantity > l.ShippedQuantity {
					t.Fatalf("round %d step %d: quantities out of order: %+v", round, step, l)
				}
			}
			if reflect.DeepEqual(po, next) {
				t.Fatalf("round %d step %d: success without change", round, step)
			}
			seen[next.Status] = true
			po = next
		}
	}
	for _, s := range supply.Statuses() {
		if !seen[s] && s != supply.StatusCancelled && s != supply.StatusIssued {
			t.Errorf("status %s never reached", s)
		}
	}
}
