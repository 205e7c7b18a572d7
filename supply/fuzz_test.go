package supply_test

import (
	"encoding/json"
	"errors"
	"testing"

	"erpgate"
	"erpgate/supply"
)

// FuzzDocuments decodes fuzz bytes as each supplier document, the way the
// REST intake does, validates it and applies it to a purchase order that has
// one shipment. Nothing may panic; every refusal is an *erpgate.Error; every
// success is a purchase order that passes Validate, and the original is
// unchanged.
func FuzzDocuments(f *testing.F) {
	for _, v := range []any{
		ackAll(),
		notice("ASN-2", sl(1, 2), sl(2, 5)),
		receipt("GR-1", "ASN-1", sl(1, 4)),
		invoice(newPO(), "INV-1", "ASN-1", sl(1, 4)),
		&supply.StockAdvice{ID: "S", SupplierID: "SUP-1", AsOf: now, Items: []supply.StockItem{{SKU: "A", Available: 1, Unit: "EA"}}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"lines":[{"line_number":1,"quantity":9223372036854775807,"status":"changed"}]}`))
	f.Add([]byte(`{"packages":[{"id":"P","contents":[{"line_number":-1,"quantity":1}]}]}`))
	f.Add([]byte(`{"number":"PO/2026/0001","supplier_id":"SUP-1","status":"partially_shipped","lines":[{"line_number":2,"ack_status":"accepted","confirmed_quantity":5}],"shipments":[{"id":"ASN-1","ship_date":"2026-03-05","lines":[{"line_number":1,"quantity":4}]}]}`))

	base := func(t *testing.T) *supply.PurchaseOrder {
		po, err := newPO().ApplyAck(ackAll(), now)
		if err == nil {
			po, err = po.ApplyShipment(notice("ASN-1", sl(1, 4)), now)
		}
		if err != nil {
			t.Fatal(err)
		}
		return po
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		po := base(t)
		before, _ := json.Marshal(po)
		check := func(next *supply.PurchaseOrder, err error) {
			t.Helper()
			if err != nil {
				var e *erpgate.Error
				if !errors.As(err, &e) || next != nil {
					t.Fatalf("refusal %v (%T) with result %v", err, err, next)
				}
				return
			}
			if verr := next.Validate(); verr != nil {
				t.Fatalf("result fails Validate: %v %+v", verr, erpgate.ErrorProblems(verr))
			}
		}
		var a supply.Acknowledgement
		if json.Unmarshal(body, &a) == nil {
			check(po.ApplyAck(&a, now))
		}
		var n supply.ShippingNotice
		if json.Unmarshal(body, &n) == nil {
			check(po.ApplyShipment(&n, now))
		}
		var r supply.GoodsReceipt
		if json.Unmarshal(body, &r) == nil {
			check(po.ApplyReceipt(&r, now))
		}
		var inv supply.Invoice
		if json.Unmarshal(body, &inv) == nil {
			check(po.ApplyInvoice(&inv, now))
		}
		var s supply.StockAdvice
		if json.Unmarshal(body, &s) == nil {
			if err := s.ValidateAt(now); err != nil && erpgate.ErrorCode(err) == erpgate.Internal {
				t.Fatalf("stock advice: %v", err)
			}
		}
		// A record read from a store may be anything: the Apply methods must
		// not panic on it either.
		var p supply.PurchaseOrder
		if json.Unmarshal(body, &p) == nil {
			_ = p.Validate()
			_, _ = p.ApplyAck(ackAll(), now)
			_, _ = p.ApplyShipment(notice("ASN-9", sl(1, 1)), now)
			_, _ = p.ApplyReceipt(receipt("GR-9", "ASN-1", sl(1, 1)), now)
			_, _ = p.ApplyInvoice(invoice(newPO(), "INV-9", "ASN-1", sl(1, 1)), now)
			_, _ = p.Cancel("")
			_, _ = p.Close("")
		}
		if after, _ := json.Marshal(po); string(after) != string(before) {
			t.Fatal("the purchase order changed")
		}
	})
}
