package supply_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"erpgate"
	"erpgate/order"
	"erpgate/supply"
)

// now is the instant every test runs at; the PO was issued nine days before.
var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func dec(s string) order.Decimal { return order.MustDecimal(s) }

func newPO() *supply.PurchaseOrder {
	return &supply.PurchaseOrder{
		Number:                "PO/2026/0001",
		SupplierID:            "SUP-1",
		IssueDate:             "2026-03-01",
		Origin:                supply.OriginCustomerOrder,
		CustomerOrders:        []string{"ord_01j9z8x7w6v5t4s3r2q1p0n9m8"},
		Currency:              "EUR",
		RequestedDeliveryDate: "2026-03-20",
		ShipTo: order.Address{Name: "erpgate Lager Süd", Line1: "Industriestraße 4", City: "München",
			PostalCode: "80339", Country: "DE"},
		Lines: []supply.POLine{
			{LineNumber: 1, SKU: "SKU-1001", SupplierPartNumber: "ACME 77/1", Description: "Moka pot", Quantity: 10, Unit: "EA", UnitPrice: dec("12.50")},
			{LineNumber: 2, SKU: "SKU-1002", Quantity: 5, Unit: "BX", UnitPrice: dec("0.3333")},
			{LineNumber: 3, SKU: "SKU-1003", Quantity: 1, Unit: "EA", UnitPrice: dec("100")},
		},
		Status: supply.StatusIssued,
	}
}

func ack(id string, lines ...supply.AckLine) *supply.Acknowledgement {
	return &supply.Acknowledgement{ID: id, PONumber: "PO/2026/0001", SupplierID: "SUP-1", Date: "2026-03-02", Lines: lines}
}

func accept(n int) supply.AckLine {
	return supply.AckLine{LineNumber: n, Status: supply.LineAccepted, PromisedDate: "2026-03-15"}
}

func ackAll() *supply.Acknowledgement { return ack("ACK-1", accept(1), accept(2), accept(3)) }

func sl(n int, q int64) supply.ShipLine { return supply.ShipLine{LineNumber: n, Quantity: q} }

func notice(id string, lines ...supply.ShipLine) *supply.ShippingNotice {
	return &supply.ShippingNotice{ID: id, PONumber: "PO/2026/0001", SupplierID: "SUP-1", ShipDate: "2026-03-05",
		ExpectedDelivery: "2026-03-07", Carrier: "DHL", TrackingNumber: "00340434161234567890", Lines: lines}
}

func receipt(id, shipment string, lines ...supply.ShipLine) *supply.GoodsReceipt {
	return &supply.GoodsReceipt{ID: id, PONumber: "PO/2026/0001", ShipmentID: shipment, Date: "2026-03-07", Lines: lines}
}

// invoice bills lines of shipment at the PO's prices, adding up correctly
// with 19% tax.
func invoice(po *supply.PurchaseOrder, id, shipment string, lines ...supply.ShipLine) *supply.Invoice {
	inv := &supply.Invoice{ID: id, PONumber: po.Number, SupplierID: po.SupplierID, ShipmentID: shipment,
		Date: "2026-03-08", DueDate: "2026-04-07", Currency: po.Currency}
	for _, l := range lines {
		price := po.Lines[po.Line(l.LineNumber)].UnitPrice
		amount := price.MulInt(l.Quantity).Round(2)
		inv.Lines = append(inv.Lines, supply.InvoiceLine{LineNumber: l.LineNumber, Quantity: l.Quantity, UnitPrice: price, Amount: amount})
		inv.Subtotal += amount
	}
	inv.Tax = (inv.Subtotal.MulInt(19) / 100).Round(2)
	inv.Total = inv.Subtotal + inv.Tax
	return inv
}

// must returns a checker for a step that has to succeed: it fails the test
// on an error and checks the result's integrity. Use as must(t)(po.ApplyX(…)).
func must(t *testing.T) func(*supply.PurchaseOrder, error) *supply.PurchaseOrder {
	return func(po *supply.PurchaseOrder, err error) *supply.PurchaseOrder {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v %+v", err, erpgate.ErrorProblems(err))
		}
		if err := po.Validate(); err != nil {
			t.Fatalf("result fails Validate: %v %+v", err, erpgate.ErrorProblems(err))
		}
		return po
	}
}

// wantErr checks err's code and the exact set of problem fields.
func wantErr(t *testing.T, err error, code string, fields ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s %q", code, fields)
	}
	if got := erpgate.ErrorCode(err); got != code {
		t.Errorf("code = %q, want %q (%v)", got, code, err)
	}
	var got []string
	for _, p := range erpgate.ErrorProblems(err) {
		got = append(got, p.Field)
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields = %q, want %q (%v)", got, want, err)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
