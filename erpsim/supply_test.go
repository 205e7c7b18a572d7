package erpsim_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
	"erpgate/supply"
)

// supplySim is a simulator on a fake clock with a manual lifecycle, and its
// v2 client.
func supplySim(t *testing.T) (*erpsim.Sim, *lcClock, erpv2ws.SalesOrderService) {
	t.Helper()
	clk := newLCClock()
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second)})
	t.Cleanup(sim.Close)
	return sim, clk, c
}

// backorder creates v2 order ref for 2 of each sku and runs it to its
// availability check.
func backorder(t *testing.T, sim *erpsim.Sim, clk *lcClock, c erpv2ws.SalesOrderService, ref string, skus ...string) {
	t.Helper()
	if _, err := create(t.Context(), c, salesOrder(ref, skus...)); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	sim.Advance()
	clk.Add(10 * time.Second)
	sim.Advance()
}

func listPOs(t *testing.T, c erpv2ws.SalesOrderService, supplier string, statuses ...string) *erpv2ws.ListPurchaseOrdersResponse {
	t.Helper()
	req := &erpv2ws.ListPurchaseOrders{SupplierId: supplier}
	for _, s := range statuses {
		req.Status = append(req.Status, ptr(erpv2ws.PurchaseOrderStatus(s)))
	}
	res, err := c.ListPurchaseOrdersContext(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func catalogItem(t *testing.T, c erpv2ws.SalesOrderService, sku string) *erpv2ws.CatalogItem {
	t.Helper()
	res, err := c.GetCatalogItemContext(t.Context(), &erpv2ws.GetCatalogItem{Sku: sku})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item
}

func wantFault(t *testing.T, err error, code erpv2ws.ErrorCode) fault {
	t.Helper()
	if err == nil {
		t.Fatalf("got no fault, want %s", code)
	}
	f := faultOf(t, err)
	if f.Detail == nil || val(f.Detail.ErrorCode) != code {
		t.Fatalf("fault = %+v, want %s", f, code)
	}
	return f
}

func date(s string) *erpv2ws.CalendarDate { return ptr(erpv2ws.CalendarDate(s)) }

// TestSupplyChainFromBackorderToReceipt follows the demo: a customer order
// short of SKU-1011 makes a purchase order for SUP-2; SUP-2 acknowledges and
// ships; on the expected date the goods are received, the order allocated
// and the rest is in stock; the invoice closes the purchase order.
func TestSupplyChainFromBackorderToReceipt(t *testing.T) {
	sim, clk, c := supplySim(t)
	ctx := t.Context()
	backorder(t, sim, clk, c, "ord_mixer", "SKU-1001", "SKU-1011")

	res := listPOs(t, c, "SUP-2")
	if len(res.PurchaseOrder) != 1 || res.TotalCount != 1 {
		t.Fatalf("SUP-2 has %d purchase orders, want 1", len(res.PurchaseOrder))
	}
	po := res.PurchaseOrder[0]
	if val(po.Origin) != "customer_order" || !slices.Equal(po.CustomerOrderReference, []string{"ord_mixer"}) ||
		len(po.Line) != 1 || po.Line[0].Sku != "SKU-1011" || po.Line[0].Quantity != 5 ||
		val(po.Status) != "issued" || val(po.IssueDate) != "2026-03-02" || val(po.RequestedDeliveryDate) != "2026-03-12" {
		t.Fatalf("purchase order = %+v line %+v, want SKU-1011 × 5 (the reorder quantity) for ord_mixer, issued 2026-03-02, requested 2026-03-12", po, po.Line[0])
	}
	if got := listPOs(t, c, "SUP-1"); len(got.PurchaseOrder) != 0 {
		t.Errorf("SUP-1 sees %d purchase orders, want 0", len(got.PurchaseOrder))
	}
	num := po.PurchaseOrderNumber
	_, err := c.GetPurchaseOrderContext(ctx, &erpv2ws.GetPurchaseOrder{PurchaseOrderNumber: num, SupplierId: "SUP-1"})
	wantFault(t, err, erpv2ws.ErrorCodeNOT_FOUND)

	// Shipping before any acknowledgement: the status does not allow it.
	asn := &erpv2ws.ShippingNotice{DocumentId: "ASN-1", PurchaseOrderNumber: num, SupplierId: "SUP-2",
		ShipDate: date("2026-03-02"), ExpectedDelivery: date("2026-03-04"), Carrier: "DHL", TrackingNumber: "00340434161234567890",
		Line: []*erpv2ws.ShippedLine{{LineNumber: 1, Quantity: 5}}}
	_, err = c.SubmitShippingNoticeContext(ctx, &erpv2ws.SubmitShippingNotice{ShippingNotice: asn})
	wantFault(t, err, erpv2ws.ErrorCodeILLEGAL_STATUS)
	// Another supplier cannot acknowledge it.
	ack := &erpv2ws.Acknowledgement{DocumentId: "ACK-1", PurchaseOrderNumber: num, SupplierId: "SUP-1", DocumentDate: date("2026-03-02"),
		Line: []*erpv2ws.AcknowledgementLine{{LineNumber: 1, Status: ptr(erpv2ws.LineAckStatusAccepted), PromisedDate: date("2026-03-06")}}}
	_, err = c.AcknowledgePurchaseOrderContext(ctx, &erpv2ws.AcknowledgePurchaseOrder{Acknowledgement: ack})
	wantFault(t, err, erpv2ws.ErrorCodeNOT_FOUND)
	ack.SupplierId = "SUP-2"
	ar, err := c.AcknowledgePurchaseOrderContext(ctx, &erpv2ws.AcknowledgePurchaseOrder{Acknowledgement: ack})
	if err != nil || val(ar.PurchaseOrderStatus) != "acknowledged" || ar.AlreadyApplied {
		t.Fatalf("acknowledge = %+v, %v; want acknowledged", ar, err)
	}
	ar, err = c.AcknowledgePurchaseOrderContext(ctx, &erpv2ws.AcknowledgePurchaseOrder{Acknowledgement: ack})
	if err != nil || !ar.AlreadyApplied {
		t.Fatalf("repeated acknowledge = %+v, %v; want AlreadyApplied", ar, err)
	}
	// More than confirmed: a business rule, with the field named.
	asn.Line[0].Quantity = 6
	_, err = c.SubmitShippingNoticeContext(ctx, &erpv2ws.SubmitShippingNotice{ShippingNotice: asn})
	f := wantFault(t, err, erpv2ws.ErrorCodeINVALID_DOCUMENT)
	if len(f.Detail.Issue) == 0 || f.Detail.Issue[0].Field != "lines[0].quantity" {
		t.Errorf("issues = %+v, want lines[0].quantity", f.Detail.Issue)
	}
	asn.Line[0].Quantity = 5
	sr, err := c.SubmitShippingNoticeContext(ctx, &erpv2ws.SubmitShippingNotice{ShippingNotice: asn})
	if err != nil || val(sr.PurchaseOrderStatus) != "shipped" {
		t.Fatalf("ship = %+v, %v; want shipped", sr, err)
	}
	it := catalogItem(t, c, "SKU-1011")
	if it.AvailableQuantity != 0 || len(it.Inbound) != 1 || it.Inbound[0].Quantity != 5 ||
		val(it.Inbound[0].PromisedDate) != "2026-03-06" || val(it.Inbound[0].ExpectedDelivery) != "2026-03-04" {
		t.Errorf("catalog SKU-1011 = %+v inbound %+v, want 0 available and 5 inbound promised 2026-03-06, expected 2026-03-04", it, it.Inbound)
	}

	// Not yet: the shipment is expected on the 4th.
	if got := sim.ReceiveDue(); len(got) != 0 {
		t.Fatalf("received %d shipments on the 2nd, want none", len(got))
	}
	clk.Add(48 * time.Hour)
	// Any supply-chain call books what has arrived.
	it = catalogItem(t, c, "SKU-1011")
	if it.AvailableQuantity != 3 || len(it.Inbound) != 0 {
		t.Errorf("after receipt: SKU-1011 available %d inbound %d, want 3 (5 received, 2 allocated to ord_mixer) and none", it.AvailableQuantity, len(it.Inbound))
	}
	if st := val(v2StatusOf(t, c, "ord_mixer").Status); st != "allocated" {
		t.Errorf("ord_mixer status = %s, want allocated", st)
	}
	got, _ := sim.PurchaseOrder(num)
	if got.Status != supply.StatusReceived || got.Lines[0].ReceivedQuantity != 5 || len(got.Receipts) != 1 {
		t.Errorf("purchase order after receipt = %s received %d receipts %v, want received 5", got.Status, got.Lines[0].ReceivedQuantity, got.Receipts)
	}

	inv := &erpv2ws.Invoice{DocumentId: "INV-1", PurchaseOrderNumber: num, SupplierId: "SUP-2", ShipmentId: "ASN-1",
		InvoiceDate: date("2026-03-04"), Currency: "EUR",
		Line:     []*erpv2ws.InvoiceLine{{LineNumber: 1, Sku: "SKU-1011", Quantity: 5, UnitPrice: money("205.00"), Amount: money("1025.00")}},
		Subtotal: money("1025.00"), Tax: money("194.75"), Total: money("1219.75")}
	ir, err := c.SubmitInvoiceContext(ctx, &erpv2ws.SubmitInvoice{Invoice: inv})
	if err != nil || val(ir.PurchaseOrderStatus) != "invoiced" {
		t.Fatalf("invoice = %+v, %v; want invoiced", ir, err)
	}
	inv.DocumentId, inv.Total = "INV-2", money("1219.76")
	_, err = c.SubmitInvoiceContext(ctx, &erpv2ws.SubmitInvoice{Invoice: inv})
	wantFault(t, err, erpv2ws.ErrorCodeINVALID_DOCUMENT)
}

func TestStockAdviceOnlyForTheSuppliersSKUs(t *testing.T) {
	_, clk, c := supplySim(t)
	adv := &erpv2ws.StockAdvice{DocumentId: "STK-1", SupplierId: "SUP-2", AsOf: ptr(erpv2ws.Timestamp(clk.Now().Format(time.RFC3339))),
		Item: []*erpv2ws.StockItem{
			{Sku: "SKU-1004", AvailableQuantity: 40, Unit: "EA", LeadTimeDays: 3},
			{Sku: "SKU-1001", AvailableQuantity: 1, Unit: "EA", LeadTimeDays: 2}, // SUP-1's
		}}
	_, err := c.SubmitStockAdviceContext(t.Context(), &erpv2ws.SubmitStockAdvice{StockAdvice: adv})
	f := wantFault(t, err, erpv2ws.ErrorCodeINVALID_DOCUMENT)
	if len(f.Detail.Issue) != 1 || f.Detail.Issue[0].Field != "items[1].sku" {
		t.Errorf("issues = %+v, want one for items[1].sku", f.Detail.Issue)
	}
	adv.Item = adv.Item[:1]
	for i, want := range []bool{false, true} {
		r, err := c.SubmitStockAdviceContext(t.Context(), &erpv2ws.SubmitStockAdvice{StockAdvice: adv})
		if err != nil || r.AlreadyApplied != want {
			t.Fatalf("stock advice %d = %+v, %v; want AlreadyApplied %v", i+1, r, err, want)
		}
	}
	if it := catalogItem(t, c, "SKU-1004"); it.LeadTimeDays != 3 {
		t.Errorf("SKU-1004 lead time = %d, want the advised 3", it.LeadTimeDays)
	}
}

// TestBackordersPegOntoOpenPurchaseOrders: a second order short of the same
// sku waits on the open purchase order while it has room, then gets its
// own; v1's backorders issue nothing (v1 has no supply chain).
func TestBackordersPegOntoOpenPurchaseOrders(t *testing.T) {
	sim, clk, c := supplySim(t)
	backorder(t, sim, clk, c, "ord_a", "SKU-1011") // PO of 5, 2 promised
	backorder(t, sim, clk, c, "ord_b", "SKU-1011") // pegs: 2 more of the 3 free
	backorder(t, sim, clk, c, "ord_c", "SKU-1011") // 1 free < 2: a new PO
	res := listPOs(t, c, "SUP-2")
	if len(res.PurchaseOrder) != 2 {
		t.Fatalf("got %d purchase orders, want 2", len(res.PurchaseOrder))
	}
	newest, oldest := res.PurchaseOrder[0], res.PurchaseOrder[1]
	if !slices.Equal(oldest.CustomerOrderReference, []string{"ord_a", "ord_b"}) || !slices.Equal(newest.CustomerOrderReference, []string{"ord_c"}) {
		t.Errorf("waiting orders = %v and %v, want [ord_a ord_b] and [ord_c]", oldest.CustomerOrderReference, newest.CustomerOrderReference)
	}
	if got := listPOs(t, c, "SUP-2", "acknowledged"); len(got.PurchaseOrder) != 0 || got.TotalCount != 0 {
		t.Errorf("status filter acknowledged: %d orders, want 0", len(got.PurchaseOrder))
	}
	page, err := c.ListPurchaseOrdersContext(t.Context(), &erpv2ws.ListPurchaseOrders{SupplierId: "SUP-2", Limit: 1})
	if err != nil || len(page.PurchaseOrder) != 1 || page.NextOffset != 1 || page.TotalCount != 2 {
		t.Errorf("page of 1 = %d orders, next %d, total %d, %v; want 1, 1, 2", len(page.PurchaseOrder), page.NextOffset, page.TotalCount, err)
	}
}

// TestReplenishmentBelowTheReorderPoint: an order takes SKU-1004 (stock 3,
// reorder point 2) down to 1; the next supply run orders the reorder
// quantity, once.
func TestReplenishmentBelowTheReorderPoint(t *testing.T) {
	sim, clk, c := supplySim(t)
	if got := sim.Replenish(); len(got) != 0 {
		t.Fatalf("fresh demo replenished %v, want nothing", got)
	}
	backorder(t, sim, clk, c, "ord_pot", "SKU-1004") // allocated 2 of 3
	got := sim.Replenish()
	if len(got) != 1 {
		t.Fatalf("replenished %v, want one purchase order", got)
	}
	po, _ := sim.PurchaseOrder(got[0])
	if po.Origin != supply.OriginReplenishment || po.SupplierID != "SUP-2" || len(po.Lines) != 1 ||
		po.Lines[0].SKU != "SKU-1004" || po.Lines[0].Quantity != 10 || len(po.CustomerOrders) != 0 {
		t.Errorf("replenishment = %+v, want 10 × SKU-1004 from SUP-2", po)
	}
	if again := sim.Replenish(); len(again) != 0 {
		t.Errorf("second run replenished %v, want nothing (10 inbound)", again)
	}
}

func TestSupplyRequestsAreChecked(t *testing.T) {
	_, _, c := supplySim(t)
	ctx := context.Background()
	_, err := c.ListPurchaseOrdersContext(ctx, &erpv2ws.ListPurchaseOrders{})
	wantFault(t, err, erpv2ws.ErrorCodeINVALID_REQUEST)
	_, err = c.ListPurchaseOrdersContext(ctx, &erpv2ws.ListPurchaseOrders{SupplierId: "SUP-1", Limit: 101})
	wantFault(t, err, erpv2ws.ErrorCodeINVALID_REQUEST)
	_, err = c.GetCatalogItemContext(ctx, &erpv2ws.GetCatalogItem{Sku: "SKU-9999"})
	wantFault(t, err, erpv2ws.ErrorCodeNOT_FOUND)
	_, err = c.AcknowledgePurchaseOrderContext(ctx, &erpv2ws.AcknowledgePurchaseOrder{})
	wantFault(t, err, erpv2ws.ErrorCodeINVALID_DOCUMENT)
	all, err := c.ListCatalogItemsContext(ctx, &erpv2ws.ListCatalogItems{})
	if err != nil || len(all.Item) != 20 || all.TotalCount != 20 || all.NextOffset != 0 {
		t.Fatalf("catalog = %d items, total %d, next %d, %v; want all 20", len(all.Item), all.TotalCount, all.NextOffset, err)
	}
	if it := all.Item[10]; it.Sku != "SKU-1011" || it.SupplierId != "SUP-2" || val(it.Price) != "349.00" || it.Currency != "EUR" {
		t.Errorf("item 11 = %+v, want SKU-1011 of SUP-2 at 349.00 EUR", it)
	}
}
