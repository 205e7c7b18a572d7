package erpsim

// The supply-chain operations of ERP interface v2 (soap/erpv2ws, the
// operations after the sales-order ones): translation between the wire types
// and package supply, and the answers. v2.go dispatches to serveSupply.

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"erpgate"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/erpv2ws"
	"erpgate/supply"
)

// Paging limits of the list operations (see the WSDL).
const (
	defaultPOPage      = 50
	maxPOPage          = 100
	defaultCatalogPage = 100
	maxCatalogPage     = 1000
)

// serveSupply answers the supply-chain operations; handled is false for an
// operation that is not one of them.
func (h *v2Handler) serveSupply(req *soap.Request) (resp any, handled bool, err error) {
	var in any
	switch req.Operation.Local {
	case "ListPurchaseOrders":
		in = new(erpv2ws.ListPurchaseOrders)
	case "GetPurchaseOrder":
		in = new(erpv2ws.GetPurchaseOrder)
	case "AcknowledgePurchaseOrder":
		in = new(erpv2ws.AcknowledgePurchaseOrder)
	case "SubmitShippingNotice":
		in = new(erpv2ws.SubmitShippingNotice)
	case "SubmitStockAdvice":
		in = new(erpv2ws.SubmitStockAdvice)
	case "SubmitInvoice":
		in = new(erpv2ws.SubmitInvoice)
	case "ListCatalogItems":
		in = new(erpv2ws.ListCatalogItems)
	case "GetCatalogItem":
		in = new(erpv2ws.GetCatalogItem)
	default:
		return nil, false, nil
	}
	if err := req.Decode(in); err != nil {
		return nil, true, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, req.Operation.Local+" does not match the schema")
	}
	// The ERP's periodic work happens at least whenever someone asks it.
	h.sim.ReceiveDue()
	switch in := in.(type) {
	case *erpv2ws.ListPurchaseOrders:
		resp, err = h.listPOs(in)
	case *erpv2ws.GetPurchaseOrder:
		resp, err = h.getPO(in)
	case *erpv2ws.AcknowledgePurchaseOrder:
		resp, err = h.acknowledge(in)
	case *erpv2ws.SubmitShippingNotice:
		resp, err = h.ship(in)
	case *erpv2ws.SubmitStockAdvice:
		resp, err = h.stockAdvice(in)
	case *erpv2ws.SubmitInvoice:
		resp, err = h.invoice(in)
	case *erpv2ws.ListCatalogItems:
		resp, err = h.listCatalog(in)
	case *erpv2ws.GetCatalogItem:
		resp, err = h.getCatalogItem(in)
	}
	return resp, true, err
}

func (h *v2Handler) listPOs(in *erpv2ws.ListPurchaseOrders) (any, error) {
	if in.SupplierId == "" {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "SupplierId is required")
	}
	want := map[supply.Status]bool{}
	for _, st := range in.Status {
		if st == nil || !supply.Status(*st).Valid() {
			return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST, "Status must be a purchase order status")
		}
		want[supply.Status(*st)] = true
	}
	offset, limit, f := pageOf(in.Offset, in.Limit, defaultPOPage, maxPOPage)
	if f != nil {
		return nil, f
	}
	var match []*supply.PurchaseOrder
	for _, po := range h.sim.PurchaseOrders(in.SupplierId) {
		if len(want) == 0 || want[po.Status] {
			match = append(match, po)
		}
	}
	out := &erpv2ws.ListPurchaseOrdersResponse{TotalCount: int32(len(match))}
	end := min(offset+limit, len(match))
	for _, po := range match[min(offset, len(match)):end] {
		out.PurchaseOrder = append(out.PurchaseOrder, wirePO(po))
	}
	if end < len(match) {
		out.NextOffset = int32(end)
	}
	return out, nil
}

// pageOf checks the paging parameters of a list operation.
func pageOf(offset, limit int32, def, maxLimit int) (int, int, *soap.Fault) {
	if offset < 0 || limit < 0 || int(limit) > maxLimit {
		return 0, 0, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_REQUEST,
			"Offset must not be negative and Limit must be 1 to "+strconv.Itoa(maxLimit))
	}
	if limit == 0 {
		limit = int32(def)
	}
	return int(offset), int(limit), nil
}

func (h *v2Handler) getPO(in *erpv2ws.GetPurchaseOrder) (any, error) {
	po, ok := h.sim.PurchaseOrder(in.PurchaseOrderNumber)
	if !ok || (in.SupplierId != "" && po.SupplierID != in.SupplierId) {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeNOT_FOUND, "no purchase order "+in.PurchaseOrderNumber)
	}
	return &erpv2ws.GetPurchaseOrderResponse{PurchaseOrder: wirePO(po)}, nil
}

// documentResult answers a document applied to a purchase order.
type documentResult struct {
	number  string
	status  supply.Status
	already bool
}

func (h *v2Handler) applyDoc(number, supplier string, apply func(*supply.PurchaseOrder, time.Time) (*supply.PurchaseOrder, error)) (documentResult, error) {
	po, err := h.sim.applyToPO(number, supplier, apply)
	already := errors.Is(err, errAlreadyApplied)
	if err != nil && !already {
		return documentResult{}, supplyFault(err)
	}
	return documentResult{number: po.Number, status: po.Status, already: already}, nil
}

func (h *v2Handler) acknowledge(in *erpv2ws.AcknowledgePurchaseOrder) (any, error) {
	a, err := fromWireAck(in.Acknowledgement)
	if err != nil {
		return nil, supplyFault(err)
	}
	r, err := h.applyDoc(a.PONumber, a.SupplierID, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyAck(a, now)
	})
	if err != nil {
		return nil, err
	}
	return &erpv2ws.AcknowledgePurchaseOrderResponse{PurchaseOrderNumber: r.number,
		PurchaseOrderStatus: ptr(erpv2ws.PurchaseOrderStatus(r.status)), AlreadyApplied: r.already}, nil
}

func (h *v2Handler) ship(in *erpv2ws.SubmitShippingNotice) (any, error) {
	n, err := fromWireNotice(in.ShippingNotice)
	if err != nil {
		return nil, supplyFault(err)
	}
	r, err := h.applyDoc(n.PONumber, n.SupplierID, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyShipment(n, now)
	})
	if err != nil {
		return nil, err
	}
	return &erpv2ws.SubmitShippingNoticeResponse{PurchaseOrderNumber: r.number,
		PurchaseOrderStatus: ptr(erpv2ws.PurchaseOrderStatus(r.status)), AlreadyApplied: r.already}, nil
}

func (h *v2Handler) invoice(in *erpv2ws.SubmitInvoice) (any, error) {
	inv, err := fromWireInvoice(in.Invoice)
	if err != nil {
		return nil, supplyFault(err)
	}
	r, err := h.applyDoc(inv.PONumber, inv.SupplierID, func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error) {
		return po.ApplyInvoice(inv, now)
	})
	if err != nil {
		return nil, err
	}
	return &erpv2ws.SubmitInvoiceResponse{PurchaseOrderNumber: r.number,
		PurchaseOrderStatus: ptr(erpv2ws.PurchaseOrderStatus(r.status)), AlreadyApplied: r.already}, nil
}

func (h *v2Handler) stockAdvice(in *erpv2ws.SubmitStockAdvice) (any, error) {
	a, err := fromWireStock(in.StockAdvice)
	if err != nil {
		return nil, supplyFault(err)
	}
	err = h.sim.applyStockAdvice(a)
	already := errors.Is(err, errAlreadyApplied)
	if err != nil && !already {
		return nil, supplyFault(err)
	}
	return &erpv2ws.SubmitStockAdviceResponse{AlreadyApplied: already}, nil
}

func (h *v2Handler) listCatalog(in *erpv2ws.ListCatalogItems) (any, error) {
	offset, limit, f := pageOf(in.Offset, in.Limit, defaultCatalogPage, maxCatalogPage)
	if f != nil {
		return nil, f
	}
	all := h.sim.catalogView("")
	out := &erpv2ws.ListCatalogItemsResponse{TotalCount: int32(len(all))}
	end := min(offset+limit, len(all))
	for _, e := range all[min(offset, len(all)):end] {
		out.Item = append(out.Item, wireCatalogItem(e))
	}
	if end < len(all) {
		out.NextOffset = int32(end)
	}
	return out, nil
}

func (h *v2Handler) getCatalogItem(in *erpv2ws.GetCatalogItem) (any, error) {
	items := h.sim.catalogView(in.Sku)
	if len(items) != 1 {
		return nil, v2Fault(soap.FaultClient, erpv2ws.ErrorCodeNOT_FOUND, "no catalog item "+in.Sku)
	}
	return &erpv2ws.GetCatalogItemResponse{Item: wireCatalogItem(items[0])}, nil
}

// supplyFault turns an error of package supply into a v2 fault: NotFound →
// NOT_FOUND, Conflict → ILLEGAL_STATUS, Invalid/Unprocessable →
// INVALID_DOCUMENT with one Issue per problem (Field the document's path).
func supplyFault(err error) *soap.Fault {
	msg := erpgate.ErrorMessage(err)
	switch erpgate.ErrorCode(err) {
	case erpgate.NotFound:
		return v2Fault(soap.FaultClient, erpv2ws.ErrorCodeNOT_FOUND, msg)
	case erpgate.Conflict:
		return v2Fault(soap.FaultClient, erpv2ws.ErrorCodeILLEGAL_STATUS, msg)
	case erpgate.Invalid, erpgate.Unprocessable:
		var issues []*erpv2ws.Issue
		for _, p := range erpgate.ErrorProblems(err) {
			if len(issues) == v2MaxIssues {
				break
			}
			issues = append(issues, &erpv2ws.Issue{Field: p.Field, Text: p.Message})
		}
		return v2Fault(soap.FaultClient, erpv2ws.ErrorCodeINVALID_DOCUMENT, msg, issues...)
	default:
		return v2Fault(soap.FaultServer, erpv2ws.ErrorCodeSERVICE_UNAVAILABLE, "internal error")
	}
}

// wireProblems collects the fields of a wire document that do not convert.
type wireProblems []erpgate.Problem

func (w *wireProblems) add(field, msg string) {
	*w = append(*w, erpgate.Problem{Field: field, Message: msg})
}

func (w *wireProblems) err(what string) error {
	if len(*w) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.Invalid, Message: "the " + what + " is invalid", Problems: *w}
}

func (w *wireProblems) money(field string, m *erpv2ws.Money) order.Decimal {
	if m == nil {
		w.add(field, "is required")
		return 0
	}
	d, err := order.ParseDecimal(strings.TrimSpace(string(*m)))
	if err != nil {
		w.add(field, "must be a decimal with at most 4 fractional digits")
	}
	return d
}

func wireCivil(d *erpv2ws.CalendarDate) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func wireDate(s string) *erpv2ws.CalendarDate {
	if s == "" {
		return nil
	}
	return ptr(erpv2ws.CalendarDate(s))
}

func lineField(list string, i int, f string) string {
	return list + "[" + strconv.Itoa(i) + "]." + f
}

func fromWireAck(a *erpv2ws.Acknowledgement) (*supply.Acknowledgement, error) {
	if a == nil {
		return nil, erpgate.Errorf(erpgate.Invalid, "Acknowledgement is required")
	}
	out := &supply.Acknowledgement{ID: a.DocumentId, PONumber: a.PurchaseOrderNumber, SupplierID: a.SupplierId,
		Date: wireCivil(a.DocumentDate), Notes: a.Notes}
	for _, l := range a.Line {
		if l == nil {
			continue
		}
		al := supply.AckLine{LineNumber: int(l.LineNumber), Quantity: l.Quantity, PromisedDate: wireCivil(l.PromisedDate), Reason: l.Reason}
		if l.Status != nil {
			al.Status = supply.LineStatus(*l.Status)
		}
		out.Lines = append(out.Lines, al)
	}
	return out, nil
}

func fromWireNotice(n *erpv2ws.ShippingNotice) (*supply.ShippingNotice, error) {
	if n == nil {
		return nil, erpgate.Errorf(erpgate.Invalid, "ShippingNotice is required")
	}
	var w wireProblems
	out := &supply.ShippingNotice{ID: n.DocumentId, PONumber: n.PurchaseOrderNumber, SupplierID: n.SupplierId,
		ShipDate: wireCivil(n.ShipDate), ExpectedDelivery: wireCivil(n.ExpectedDelivery), Carrier: n.Carrier,
		TrackingNumber: n.TrackingNumber, Notes: n.Notes}
	out.Lines = shipLines(n.Line)
	for i, p := range n.Package {
		if p == nil {
			continue
		}
		pk := supply.Package{ID: p.PackageId, Contents: shipLines(p.Content)}
		if p.WeightKg != nil {
			pk.WeightKG = w.money(lineField("packages", i, "weight_kg"), p.WeightKg)
		}
		out.Packages = append(out.Packages, pk)
	}
	return out, w.err("shipping notice")
}

func shipLines(ls []*erpv2ws.ShippedLine) []supply.ShipLine {
	var out []supply.ShipLine
	for _, l := range ls {
		if l != nil {
			out = append(out, supply.ShipLine{LineNumber: int(l.LineNumber), Quantity: l.Quantity})
		}
	}
	return out
}

func fromWireStock(a *erpv2ws.StockAdvice) (*supply.StockAdvice, error) {
	if a == nil {
		return nil, erpgate.Errorf(erpgate.Invalid, "StockAdvice is required")
	}
	var w wireProblems
	out := &supply.StockAdvice{ID: a.DocumentId, SupplierID: a.SupplierId}
	if a.AsOf == nil {
		w.add("as_of", "is required")
	} else if t, err := time.Parse(time.RFC3339Nano, string(*a.AsOf)); err != nil {
		w.add("as_of", "must be a date-time with zone")
	} else {
		out.AsOf = t
	}
	for _, it := range a.Item {
		if it == nil {
			continue
		}
		out.Items = append(out.Items, supply.StockItem{SKU: it.Sku, SupplierPartNumber: it.SupplierPartNumber,
			Available: it.AvailableQuantity, Unit: it.Unit, LeadTimeDays: int(it.LeadTimeDays),
			NextAvailableDate: wireCivil(it.NextAvailableDate), NextAvailableQuantity: it.NextAvailableQuantity})
	}
	return out, w.err("stock advice")
}

func fromWireInvoice(inv *erpv2ws.Invoice) (*supply.Invoice, error) {
	if inv == nil {
		return nil, erpgate.Errorf(erpgate.Invalid, "Invoice is required")
	}
	var w wireProblems
	out := &supply.Invoice{ID: inv.DocumentId, PONumber: inv.PurchaseOrderNumber, SupplierID: inv.SupplierId,
		ShipmentID: inv.ShipmentId, Date: wireCivil(inv.InvoiceDate), DueDate: wireCivil(inv.DueDate),
		Currency: inv.Currency, Notes: inv.Notes}
	for i, l := range inv.Line {
		if l == nil {
			continue
		}
		out.Lines = append(out.Lines, supply.InvoiceLine{LineNumber: int(l.LineNumber), SKU: l.Sku, Quantity: l.Quantity,
			UnitPrice: w.money(lineField("lines", i, "unit_price"), l.UnitPrice),
			Amount:    w.money(lineField("lines", i, "amount"), l.Amount)})
	}
	out.Subtotal = w.money("subtotal", inv.Subtotal)
	out.Tax = w.money("tax", inv.Tax)
	out.Total = w.money("total", inv.Total)
	return out, w.err("invoice")
}

// wirePO is a purchase order in v2's wire form.
func wirePO(po *supply.PurchaseOrder) *erpv2ws.PurchaseOrder {
	out := &erpv2ws.PurchaseOrder{
		PurchaseOrderNumber: po.Number, SupplierId: po.SupplierID, IssueDate: wireDate(po.IssueDate),
		Origin: ptr(erpv2ws.PurchaseOrderOrigin(po.Origin)), Currency: po.Currency,
		RequestedDeliveryDate: wireDate(po.RequestedDeliveryDate),
		ShipTo: &erpv2ws.Address{Name: po.ShipTo.Name, Street1: po.ShipTo.Line1, Street2: po.ShipTo.Line2,
			City: po.ShipTo.City, PostalCode: po.ShipTo.PostalCode, Region: po.ShipTo.Region, CountryCode: po.ShipTo.Country},
		Notes: po.Notes, Status: ptr(erpv2ws.PurchaseOrderStatus(po.Status)), StatusReason: po.StatusReason,
		AcknowledgementId: po.Acknowledgements, ReceiptId: po.Receipts, InvoiceId: po.Invoices,
		CustomerOrderReference: po.CustomerOrders,
	}
	for _, l := range po.Lines {
		wl := &erpv2ws.PurchaseOrderLine{LineNumber: int32(l.LineNumber), Sku: l.SKU, SupplierPartNumber: l.SupplierPartNumber,
			Description: l.Description, Quantity: l.Quantity, Unit: l.Unit, UnitPrice: money(l.UnitPrice),
			ConfirmedQuantity: l.ConfirmedQuantity, PromisedDate: wireDate(l.PromisedDate),
			ShippedQuantity: l.ShippedQuantity, ReceivedQuantity: l.ReceivedQuantity, InvoicedQuantity: l.InvoicedQuantity}
		if l.AckStatus != "" {
			wl.AckStatus = ptr(erpv2ws.LineAckStatus(l.AckStatus))
		}
		out.Line = append(out.Line, wl)
	}
	for _, sh := range po.Shipments {
		ws := &erpv2ws.ShipmentRecord{ShipmentId: sh.ID, ShipDate: wireDate(sh.ShipDate),
			ExpectedDelivery: wireDate(sh.ExpectedDelivery), Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber}
		for _, sl := range sh.Lines {
			ws.Line = append(ws.Line, &erpv2ws.ShipmentLine{LineNumber: int32(sl.LineNumber), Quantity: sl.Quantity,
				ReceivedQuantity: sl.Received, InvoicedQuantity: sl.Invoiced})
		}
		out.Shipment = append(out.Shipment, ws)
	}
	return out
}

func wireCatalogItem(e catalogEntry) *erpv2ws.CatalogItem {
	out := &erpv2ws.CatalogItem{Sku: e.SKU, Name: e.Name, Price: money(e.Price), Currency: supplyCurrency,
		AvailableQuantity: e.Available, SupplierId: e.Supplier, LeadTimeDays: int32(e.Lead)}
	for _, in := range e.Inbound {
		out.Inbound = append(out.Inbound, &erpv2ws.InboundSupply{PurchaseOrderNumber: in.PONumber,
			LineNumber: int32(in.LineNumber), Quantity: in.Quantity, Status: ptr(erpv2ws.PurchaseOrderStatus(in.Status)),
			RequestedDeliveryDate: wireDate(in.Requested), PromisedDate: wireDate(in.Promised),
			ExpectedDelivery: wireDate(in.ExpectedDelivery)})
	}
	return out
}
