package erpv2_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"erpgate/erp"
	"erpgate/erp/erpv2"
	"erpgate/erpsim"
	"erpgate/order"
	"erpgate/supply"
)

var supplyT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newSupply(t *testing.T) (*erpv2.Supply, *erpsim.Sim, *httptest.Server) {
	t.Helper()
	sim := erpsim.New(erpsim.Config{Clock: func() time.Time { return supplyT0 }})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	a, err := erpv2.NewSupply(erpv2.Config{URL: srv.URL + "/erp/v2", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a, sim, srv
}

func erpCode(err error) (erp.Kind, string) {
	var e *erp.Error
	if !errors.As(err, &e) {
		return 0, ""
	}
	return e.Kind, e.Code
}

// TestSupplyRoundTrip: a purchase order read through the adapter equals
// the simulator's (every field of package supply survives v2's wire form
// both ways), documents go through and come back in its progress.
func TestSupplyRoundTrip(t *testing.T) {
	a, sim, _ := newSupply(t)
	ctx := t.Context()
	nums, err := sim.IssueBackorderPO("ord_1", []erpsim.ShortLine{{SKU: "SKU-1011", Quantity: 2}, {SKU: "SKU-1004", Quantity: 1}})
	if err != nil || len(nums) != 1 {
		t.Fatal(nums, err)
	}
	num := nums[0]
	ack := &supply.Acknowledgement{ID: "ACK-1", PONumber: num, SupplierID: "SUP-2", Date: "2026-03-02", Notes: "Grüße\nSUP-2",
		Lines: []supply.AckLine{
			{LineNumber: 1, Status: supply.LineChanged, Quantity: 4, PromisedDate: "2026-03-09", Reason: "short"},
			{LineNumber: 2, Status: supply.LineAccepted, PromisedDate: "2026-03-05"},
		}}
	if r, err := a.Acknowledge(ctx, ack); err != nil || r.AlreadyApplied || r.POStatus != supply.StatusAcknowledged {
		t.Fatalf("Acknowledge = %+v, %v", r, err)
	}
	if r, err := a.Acknowledge(ctx, ack); err != nil || !r.AlreadyApplied {
		t.Fatalf("repeated Acknowledge = %+v, %v; want AlreadyApplied", r, err)
	}
	n := &supply.ShippingNotice{ID: "ASN-1", PONumber: num, SupplierID: "SUP-2", ShipDate: "2026-03-02", ExpectedDelivery: "2026-03-04",
		Carrier: "DHL", TrackingNumber: "0034", Lines: []supply.ShipLine{{LineNumber: 1, Quantity: 4}, {LineNumber: 2, Quantity: 10}},
		Packages: []supply.Package{{ID: "PKG-1", WeightKG: order.MustDecimal("12.5"), Contents: []supply.ShipLine{{LineNumber: 1, Quantity: 4}, {LineNumber: 2, Quantity: 10}}}}}
	if r, err := a.Ship(ctx, n); err != nil || r.POStatus != supply.StatusShipped {
		t.Fatalf("Ship = %+v, %v", r, err)
	}
	got, err := a.PurchaseOrder(ctx, "SUP-2", num)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sim.PurchaseOrder(num)
	if gj, wj := toJSON(t, got), toJSON(t, want); gj != wj {
		t.Errorf("purchase order through the adapter:\n got %s\nwant %s", gj, wj)
	}
	page, err := a.PurchaseOrders(ctx, "SUP-2", []supply.Status{supply.StatusShipped}, 0, 10)
	if err != nil || page.Total != 1 || len(page.Orders) != 1 || page.Orders[0].Number != num {
		t.Errorf("PurchaseOrders(shipped) = %+v, %v", page, err)
	}
	it, err := a.CatalogItem(ctx, "SKU-1011")
	if err != nil || it.Price != order.MustDecimal("349.00") || it.SupplierID != "SUP-2" || len(it.Inbound) != 1 ||
		it.Inbound[0].Quantity != 4 || it.Inbound[0].PromisedDate != "2026-03-09" || it.Inbound[0].ExpectedDelivery != "2026-03-04" {
		t.Errorf("CatalogItem = %+v, %v", it, err)
	}
	cat, err := a.CatalogItems(ctx, 5, 5)
	if err != nil || len(cat.Items) != 5 || cat.Items[0].SKU != "SKU-1006" || cat.NextOffset != 10 || cat.Total != 20 {
		t.Errorf("CatalogItems(5, 5) = %d items from %s, next %d, total %d, %v", len(cat.Items), cat.Items[0].SKU, cat.NextOffset, cat.Total, err)
	}
	adv := &supply.StockAdvice{ID: "STK-1", SupplierID: "SUP-2", AsOf: supplyT0.Add(-time.Hour),
		Items: []supply.StockItem{{SKU: "SKU-1004", Available: 12, Unit: "EA", LeadTimeDays: 4, NextAvailableDate: "2026-03-20", NextAvailableQuantity: 50}}}
	if r, err := a.AdviseStock(ctx, adv); err != nil || r.AlreadyApplied {
		t.Errorf("AdviseStock = %+v, %v", r, err)
	}
}

// TestSupplyClassification: the ERP's refusals are permanent with our own
// reasons; an ERP that is down is transient.
func TestSupplyClassification(t *testing.T) {
	a, sim, srv := newSupply(t)
	ctx := t.Context()
	nums, _ := sim.IssueBackorderPO("ord_1", []erpsim.ShortLine{{SKU: "SKU-1011", Quantity: 2}})
	num := nums[0]
	_, err := a.PurchaseOrder(ctx, "SUP-1", num)
	if k, c := erpCode(err); k != erp.KindPermanent || c != erp.CodeNotFound {
		t.Errorf("another supplier's order: %v, want permanent not_found", err)
	}
	_, err = a.Ship(ctx, &supply.ShippingNotice{ID: "ASN-1", PONumber: num, SupplierID: "SUP-2", ShipDate: "2026-03-02",
		ExpectedDelivery: "2026-03-03", Carrier: "DHL", Lines: []supply.ShipLine{{LineNumber: 1, Quantity: 1}}})
	if k, c := erpCode(err); k != erp.KindPermanent || c != erp.CodeIllegalStatus {
		t.Errorf("ship before acknowledgement: %v, want permanent illegal_status", err)
	}
	_, err = a.Acknowledge(ctx, &supply.Acknowledgement{ID: "ACK-1", PONumber: num, SupplierID: "SUP-2", Date: "2026-03-02",
		Lines: []supply.AckLine{{LineNumber: 1, Status: supply.LineChanged, Quantity: 9, PromisedDate: "2026-03-05"}}})
	var e *erp.Error
	if !errors.As(err, &e) || e.Kind != erp.KindPermanent || e.Code != erp.CodeInvalidDocument || e.Reason != "the ERP refused the document: lines[0].quantity" {
		t.Errorf("quantity above ordered: %v, want permanent invalid_document naming lines[0].quantity", err)
	}
	if err := sim.SetFaults(erpsim.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	_, err = a.PurchaseOrders(ctx, "SUP-2", nil, 0, 0)
	if k, _ := erpCode(err); k != erp.KindTransient {
		t.Errorf("ERP down: %v, want transient", err)
	}
	srv.Close()
	_, err = a.CatalogItems(ctx, 0, 0)
	if k, _ := erpCode(err); k != erp.KindTransient {
		t.Errorf("ERP gone: %v, want transient", err)
	}
	if _, err := a.PurchaseOrders(ctx, "SUP-2", nil, 0, erp.MaxPOPage+1); !erp.IsPermanent(err) {
		t.Errorf("page above the limit: %v, want a permanent error before any call", err)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
