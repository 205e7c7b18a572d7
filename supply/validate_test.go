package supply_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"erpgate"
	"erpgate/supply"
)

const (
	inv = erpgate.Invalid
	unp = erpgate.Unprocessable
)

func TestPurchaseOrderValidate(t *testing.T) {
	if err := newPO().Validate(); err != nil {
		t.Fatalf("Validate(valid PO) = %v %+v", err, erpgate.ErrorProblems(err))
	}
	tests := []struct {
		name   string
		mutate func(po *supply.PurchaseOrder)
		code   string
		fields []string
	}{
		{"number missing", func(po *supply.PurchaseOrder) { po.Number = "" }, inv, []string{"number"}},
		{"number with space", func(po *supply.PurchaseOrder) { po.Number = "PO 1" }, inv, []string{"number"}},
		{"supplier too long", func(po *supply.PurchaseOrder) { po.SupplierID = strings.Repeat("S", 65) }, inv, []string{"supplier_id"}},
		{"issue date invalid", func(po *supply.PurchaseOrder) { po.IssueDate = "2026-02-29" }, inv, []string{"issue_date"}},
		{"origin unknown", func(po *supply.PurchaseOrder) { po.Origin = "whim" }, inv, []string{"origin"}},
		{"customer order id bad", func(po *supply.PurchaseOrder) { po.CustomerOrders = append(po.CustomerOrders, "a b") }, inv, []string{"customer_orders[1]"}},
		{"currency", func(po *supply.PurchaseOrder) { po.Currency = "EURO" }, inv, []string{"currency"}},
		{"requested before issue", func(po *supply.PurchaseOrder) { po.RequestedDeliveryDate = "2026-02-28" }, unp, []string{"requested_delivery_date"}},
		{"requested too far", func(po *supply.PurchaseOrder) { po.RequestedDeliveryDate = "2028-03-02" }, unp, []string{"requested_delivery_date"}},
		{"ship_to country", func(po *supply.PurchaseOrder) { po.ShipTo.Country = "Germany" }, inv, []string{"ship_to.country"}},
		{"no lines", func(po *supply.PurchaseOrder) { po.Lines = nil }, inv, []string{"lines"}},
		{"duplicate line number", func(po *supply.PurchaseOrder) { po.Lines[2].LineNumber = 1 }, inv, []string{"lines[2].line_number"}},
		{"line number zero", func(po *supply.PurchaseOrder) { po.Lines[1].LineNumber = 0 }, inv, []string{"lines[1].line_number"}},
		{"sku", func(po *supply.PurchaseOrder) { po.Lines[0].SKU = "SKU 1" }, inv, []string{"lines[0].sku"}},
		{"quantity zero", func(po *supply.PurchaseOrder) { po.Lines[1].Quantity = 0 }, inv, []string{"lines[1].quantity"}},
		{"quantity too large", func(po *supply.PurchaseOrder) { po.Lines[1].Quantity = supply.MaxQuantity + 1 }, inv, []string{"lines[1].quantity"}},
		{"unit", func(po *supply.PurchaseOrder) { po.Lines[0].Unit = "each" }, inv, []string{"lines[0].unit"}},
		{"unit price negative", func(po *supply.PurchaseOrder) { po.Lines[2].UnitPrice = dec("-1") }, inv, []string{"lines[2].unit_price"}},
		{"description control", func(po *supply.PurchaseOrder) { po.Lines[0].Description = "a\x00" }, inv, []string{"lines[0].description"}},
		{"confirmed without ack", func(po *supply.PurchaseOrder) { po.Lines[0].ConfirmedQuantity = 1 }, inv, []string{"lines[0].ack_status"}},
		{"confirmed above ordered", func(po *supply.PurchaseOrder) {
			po.Lines[0].AckStatus, po.Lines[0].ConfirmedQuantity = supply.LineChanged, 11
		}, inv, []string{"lines[0].confirmed_quantity"}},
		{"rejected with quantity", func(po *supply.PurchaseOrder) {
			po.Lines[0].AckStatus, po.Lines[0].ConfirmedQuantity = supply.LineRejected, 1
		}, inv, []string{"lines[0].confirmed_quantity"}},
		{"shipped without shipment", func(po *supply.PurchaseOrder) {
			po.Lines[0].AckStatus, po.Lines[0].ConfirmedQuantity, po.Lines[0].ShippedQuantity = supply.LineAccepted, 10, 2
		}, inv, []string{"lines[0]"}},
		{"received above shipped", func(po *supply.PurchaseOrder) {
			po.Lines[0].AckStatus, po.Lines[0].ConfirmedQuantity, po.Lines[0].ReceivedQuantity = supply.LineAccepted, 10, 1
		}, inv, []string{"lines[0]", "lines[0].received_quantity"}},
		{"status does not match", func(po *supply.PurchaseOrder) { po.Status = supply.StatusShipped }, inv, []string{"status"}},
		{"status unknown", func(po *supply.PurchaseOrder) { po.Status = "lost" }, inv, []string{"status"}},
		{"total overflows", func(po *supply.PurchaseOrder) {
			po.Lines[0].UnitPrice, po.Lines[0].Quantity = dec("1000000000000"), 2
		}, unp, []string{"lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			po := newPO()
			tt.mutate(po)
			wantErr(t, po.Validate(), tt.code, tt.fields...)
		})
	}
}

func TestAcknowledgementValidate(t *testing.T) {
	if err := ackAll().Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(a *supply.Acknowledgement)
		code   string
		fields []string
	}{
		{"id missing", func(a *supply.Acknowledgement) { a.ID = "" }, inv, []string{"id"}},
		{"date missing", func(a *supply.Acknowledgement) { a.Date = "" }, inv, []string{"date"}},
		{"no lines", func(a *supply.Acknowledgement) { a.Lines = nil }, inv, []string{"lines"}},
		{"status missing", func(a *supply.Acknowledgement) { a.Lines[0].Status = "" }, inv, []string{"lines[0].status"}},
		{"status unknown", func(a *supply.Acknowledgement) { a.Lines[0].Status = "maybe" }, inv, []string{"lines[0].status"}},
		{"changed without quantity", func(a *supply.Acknowledgement) { a.Lines[1].Status = supply.LineChanged }, inv, []string{"lines[1].quantity"}},
		{"backordered negative", func(a *supply.Acknowledgement) {
			a.Lines[1].Status, a.Lines[1].Quantity = supply.LineBackordered, -1
		}, inv, []string{"lines[1].quantity"}},
		{"rejected with quantity and date", func(a *supply.Acknowledgement) {
			a.Lines[2].Status, a.Lines[2].Quantity = supply.LineRejected, 1
		}, inv, []string{"lines[2].promised_date", "lines[2].quantity"}},
		{"promised date missing", func(a *supply.Acknowledgement) { a.Lines[0].PromisedDate = "" }, inv, []string{"lines[0].promised_date"}},
		{"promised before ack date", func(a *supply.Acknowledgement) { a.Lines[0].PromisedDate = "2026-03-01" }, unp, []string{"lines[0].promised_date"}},
		{"promised too far", func(a *supply.Acknowledgement) { a.Lines[0].PromisedDate = "2028-03-03" }, unp, []string{"lines[0].promised_date"}},
		{"duplicate line", func(a *supply.Acknowledgement) { a.Lines[1].LineNumber = 1 }, inv, []string{"lines[1].line_number"}},
		{"reason too long", func(a *supply.Acknowledgement) { a.Lines[0].Reason = strings.Repeat("r", 201) }, inv, []string{"lines[0].reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ackAll()
			tt.mutate(a)
			wantErr(t, a.Validate(), tt.code, tt.fields...)
		})
	}
}

func TestShippingNoticeValidate(t *testing.T) {
	good := func() *supply.ShippingNotice {
		n := notice("ASN-1", sl(1, 4), sl(2, 5))
		n.Packages = []supply.Package{
			{ID: "00340434161234567890", WeightKG: dec("12.5"), Contents: []supply.ShipLine{sl(1, 4)}},
			{ID: "00340434161234567891", Contents: []supply.ShipLine{sl(2, 5)}},
		}
		return n
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(n *supply.ShippingNotice)
		code   string
		fields []string
	}{
		{"carrier missing", func(n *supply.ShippingNotice) { n.Carrier = " " }, inv, []string{"carrier"}},
		{"tracking number newline", func(n *supply.ShippingNotice) { n.TrackingNumber = "1\n2" }, inv, []string{"tracking_number"}},
		{"ship date bad", func(n *supply.ShippingNotice) { n.ShipDate = "05.03.2026" }, inv, []string{"ship_date"}},
		{"expected before ship", func(n *supply.ShippingNotice) { n.ExpectedDelivery = "2026-03-04" }, unp, []string{"expected_delivery"}},
		{"expected too late", func(n *supply.ShippingNotice) { n.ExpectedDelivery = "2027-03-06" }, unp, []string{"expected_delivery"}},
		{"quantity zero", func(n *supply.ShippingNotice) { n.Lines[0].Quantity = 0; n.Packages = nil }, inv, []string{"lines[0].quantity"}},
		{"duplicate line", func(n *supply.ShippingNotice) { n.Lines[1].LineNumber = 1; n.Packages = nil }, inv, []string{"lines[1].line_number"}},
		{"packages do not add up", func(n *supply.ShippingNotice) { n.Packages[1].Contents[0].Quantity = 4 }, unp, []string{"lines[1].quantity"}},
		{"package content unknown line", func(n *supply.ShippingNotice) {
			n.Packages[1].Contents = append(n.Packages[1].Contents, sl(3, 1))
		}, unp, []string{"packages[1].contents[1].line_number"}},
		{"package id repeated", func(n *supply.ShippingNotice) { n.Packages[1].ID = n.Packages[0].ID }, inv, []string{"packages[1].id"}},
		{"package id missing", func(n *supply.ShippingNotice) { n.Packages[1].ID = "" }, inv, []string{"packages[1].id"}},
		{"package weight negative", func(n *supply.ShippingNotice) { n.Packages[0].WeightKG = dec("-1") }, inv, []string{"packages[0].weight_kg"}},
		// The bad content is not counted, so line 1 no longer adds up either:
		// both are reported, and the code stays Invalid.
		{"package content quantity zero", func(n *supply.ShippingNotice) { n.Packages[0].Contents[0].Quantity = 0 }, inv,
			[]string{"packages[0].contents[0].quantity", "lines[0].quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good()
			tt.mutate(n)
			wantErr(t, n.Validate(), tt.code, tt.fields...)
		})
	}
}

func TestInvoiceValidate(t *testing.T) {
	po := newPO()
	good := func() *supply.Invoice { return invoice(po, "INV-1", "ASN-1", sl(1, 4), sl(2, 3)) }
	g := good()
	// 3 × 0.3333 = 0.9999 → 1.00 in EUR.
	if g.Lines[1].Amount != dec("1.00") || g.Subtotal != dec("51.00") || g.Total != dec("60.69") {
		t.Fatalf("test invoice does not add up as expected: %+v", g)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(i *supply.Invoice)
		code   string
		fields []string
	}{
		{"amount finer than currency", func(i *supply.Invoice) { i.Lines[1].Amount = dec("0.9999") }, unp, []string{"lines[1].amount"}},
		{"amount wrong", func(i *supply.Invoice) {
			i.Lines[0].Amount = dec("49.00")
			i.Subtotal = dec("50.00")
			i.Total = dec("59.69")
		}, unp, []string{"lines[0].amount"}},
		{"rounding down is wrong", func(i *supply.Invoice) { i.Lines[1].Amount = dec("0.99") }, unp, []string{"lines[1].amount", "subtotal"}},
		{"subtotal wrong", func(i *supply.Invoice) { i.Subtotal = dec("51.01"); i.Total = dec("60.70") }, unp, []string{"subtotal"}},
		{"total wrong", func(i *supply.Invoice) { i.Total = dec("60.68") }, unp, []string{"total"}},
		{"tax finer than currency", func(i *supply.Invoice) { i.Tax = dec("9.691"); i.Total = dec("60.691") }, unp, []string{"tax", "total"}},
		{"tax negative", func(i *supply.Invoice) { i.Tax = dec("-9.69") }, inv, []string{"tax"}},
		{"currency unknown", func(i *supply.Invoice) { i.Currency = "XXX" }, inv, []string{"currency"}},
		{"quantity zero", func(i *supply.Invoice) { i.Lines[0].Quantity = 0 }, inv, []string{"lines[0].quantity"}},
		{"due before date", func(i *supply.Invoice) { i.DueDate = "2026-03-07" }, unp, []string{"due_date"}},
		{"due too late", func(i *supply.Invoice) { i.DueDate = "2027-03-09" }, unp, []string{"due_date"}},
		{"shipment missing", func(i *supply.Invoice) { i.ShipmentID = "" }, inv, []string{"shipment_id"}},
		{"sku bad", func(i *supply.Invoice) { i.Lines[0].SKU = "a b" }, inv, []string{"lines[0].sku"}},
		{"line overflow", func(i *supply.Invoice) {
			i.Lines[0].UnitPrice, i.Lines[0].Quantity = dec("1000000000000"), 2
		}, unp, []string{"lines[0].quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := good()
			tt.mutate(i)
			wantErr(t, i.Validate(), tt.code, tt.fields...)
		})
	}
	// JPY: no decimals at all. The amounts happen to be whole (50, and 0.9999
	// rounds to 1), the tax is not.
	j := good()
	j.Currency = "JPY"
	wantErr(t, j.Validate(), unp, "tax", "total")
	j.Tax, j.Total = dec("10"), dec("61")
	if err := j.Validate(); err != nil {
		t.Errorf("JPY invoice with whole amounts: %v", err)
	}
}

func TestStockAdvice(t *testing.T) {
	good := func() *supply.StockAdvice {
		return &supply.StockAdvice{ID: "STK-1", SupplierID: "SUP-1", AsOf: now.Add(-time.Hour), Items: []supply.StockItem{
			{SKU: "SKU-1001", Available: 40, Unit: "EA", LeadTimeDays: 2},
			{SKU: "SKU-1002", Available: 0, Unit: "BX", LeadTimeDays: 0, NextAvailableDate: "2026-04-01", NextAvailableQuantity: 100},
		}}
	}
	if err := good().ValidateAt(now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(s *supply.StockAdvice)
		code   string
		fields []string
	}{
		{"as_of missing", func(s *supply.StockAdvice) { s.AsOf = time.Time{} }, inv, []string{"as_of"}},
		{"as_of in the future", func(s *supply.StockAdvice) { s.AsOf = now.Add(time.Hour) }, unp, []string{"as_of"}},
		{"as_of stale", func(s *supply.StockAdvice) {
			s.AsOf = now.Add(-31 * 24 * time.Hour)
			s.Items[1].NextAvailableDate = ""
			s.Items[1].NextAvailableQuantity = 0
		}, unp, []string{"as_of"}},
		{"no items", func(s *supply.StockAdvice) { s.Items = nil }, inv, []string{"items"}},
		{"duplicate sku", func(s *supply.StockAdvice) { s.Items[1].SKU = "SKU-1001" }, inv, []string{"items[1].sku"}},
		{"available negative", func(s *supply.StockAdvice) { s.Items[0].Available = -1 }, inv, []string{"items[0].available"}},
		{"lead time too long", func(s *supply.StockAdvice) { s.Items[0].LeadTimeDays = 366 }, inv, []string{"items[0].lead_time_days"}},
		{"next quantity without date", func(s *supply.StockAdvice) { s.Items[1].NextAvailableDate = "" }, inv, []string{"items[1].next_available_date"}},
		{"next date before as_of", func(s *supply.StockAdvice) { s.Items[1].NextAvailableDate = "2026-03-09" }, unp, []string{"items[1].next_available_date"}},
		{"unit missing", func(s *supply.StockAdvice) { s.Items[0].Unit = "" }, inv, []string{"items[0].unit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.mutate(s)
			wantErr(t, s.ValidateAt(now), tt.code, tt.fields...)
		})
	}
	// Validate ignores the clock.
	s := good()
	s.AsOf = now.Add(-365 * 24 * time.Hour)
	s.Items[1].NextAvailableDate = "2025-03-20"
	if err := s.Validate(); err != nil {
		t.Errorf("Validate of an old advice = %v, want nil", err)
	}
}

func TestGoodsReceiptValidate(t *testing.T) {
	wantErr(t, receipt("", "ASN-1", sl(1, 0), sl(1, 2)).Validate(), inv, "id", "lines[0].quantity", "lines[1].line_number")
	if err := receipt("GR-1", "ASN-1", sl(1, 1)).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	po := newPO()
	po = must(t)(po.ApplyAck(ackAll(), now))
	po = must(t)(po.ApplyShipment(notice("ASN-1", sl(1, 4)), now))
	b, err := json.Marshal(po)
	if err != nil {
		t.Fatal(err)
	}
	var back supply.PurchaseOrder
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(po, &back) {
		t.Errorf("round trip differs:\n%+v\n%+v", po, &back)
	}
	if !strings.Contains(string(b), `"status":"partially_shipped"`) || !strings.Contains(string(b), `"unit_price":"12.50"`) {
		t.Errorf("unexpected JSON: %s", b)
	}
}
