package erpv2

// The supply-chain side of the v2 adapter: purchase orders, supplier
// documents and the catalog over v2's supply-chain operations, translated
// to and from package supply, with the same per-call deadline, bounded
// answers and classification as the sales-order side.
//
// Classification (erp.Error.Code) in addition to the package comment's:
//
//	ErpFault NOT_FOUND         permanent (not_found)
//	ErpFault INVALID_DOCUMENT  permanent (invalid_document) Reason names the document fields concerned
//	ErpFault ILLEGAL_STATUS    permanent (illegal_status)
//
// An answer that does not make a valid purchase order (supply's integrity
// checks) is a transient bad_response.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate"
	"erpgate/erp"
	"erpgate/erp/internal/soapcall"
	"erpgate/order"
	"erpgate/soap/erpv2ws"
	"erpgate/supply"
)

// Supply-chain operation names, as they appear in the causes of errors.
const (
	OpListPurchaseOrders       = "ListPurchaseOrders"
	OpGetPurchaseOrder         = "GetPurchaseOrder"
	OpAcknowledgePurchaseOrder = "AcknowledgePurchaseOrder"
	OpSubmitShippingNotice     = "SubmitShippingNotice"
	OpSubmitStockAdvice        = "SubmitStockAdvice"
	OpSubmitInvoice            = "SubmitInvoice"
	OpListCatalogItems         = "ListCatalogItems"
	OpGetCatalogItem           = "GetCatalogItem"
)

// Supply is the v2 adapter's supply-chain side. It is safe for concurrent
// use.
type Supply struct {
	svc     erpv2ws.SalesOrderService
	timeout time.Duration
}

var _ erp.SupplyChain = (*Supply)(nil)

// NewSupply returns the supply-chain adapter for the v2 endpoint in cfg.
func NewSupply(cfg Config) (*Supply, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Supply{timeout: cfg.Timeout}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	maxBody := cfg.MaxResponseBytes
	if maxBody == 0 {
		maxBody = DefaultMaxResponseBytes
	}
	a.svc = erpv2ws.NewSalesOrderService(gsoap.NewClient(cfg.URL,
		gsoap.WithHTTPClient(newHTTPClient(cfg.HTTPClient, maxBody)),
		gsoap.WithHTTPHeaders(map[string]string{"User-Agent": "erpgate-erpv2-supply"}),
	))
	return a, nil
}

func (a *Supply) call(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return fn(ctx)
}

// PurchaseOrders implements erp.SupplyChain.
func (a *Supply) PurchaseOrders(ctx context.Context, supplier string, statuses []supply.Status, offset, limit int) (erp.POPage, error) {
	if offset < 0 || limit < 0 || limit > erp.MaxPOPage {
		return erp.POPage{}, permanent(CodeInvalidRequest, "invalid page", fmt.Errorf("offset %d, limit %d", offset, limit))
	}
	req := &erpv2ws.ListPurchaseOrders{SupplierId: supplier, Offset: int32(offset), Limit: int32(limit)}
	for _, st := range statuses {
		req.Status = append(req.Status, ptr(erpv2ws.PurchaseOrderStatus(st)))
	}
	var res *erpv2ws.ListPurchaseOrdersResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.ListPurchaseOrdersContext(ctx, req)
		return err
	})
	if err != nil {
		return erp.POPage{}, classifySupply(ctx, OpListPurchaseOrders, err)
	}
	out := erp.POPage{Total: int(res.TotalCount), NextOffset: int(res.NextOffset)}
	for _, w := range res.PurchaseOrder {
		po, err := fromWirePO(w)
		if err != nil {
			return erp.POPage{}, soapcall.BadResponse(OpListPurchaseOrders, err)
		}
		if po.SupplierID != supplier {
			return erp.POPage{}, soapcall.BadResponse(OpListPurchaseOrders, fmt.Errorf("answer holds %s of supplier %q", po.Number, po.SupplierID))
		}
		out.Orders = append(out.Orders, po)
	}
	return out, nil
}

// PurchaseOrder implements erp.SupplyChain.
func (a *Supply) PurchaseOrder(ctx context.Context, supplier, number string) (*supply.PurchaseOrder, error) {
	req := &erpv2ws.GetPurchaseOrder{PurchaseOrderNumber: number, SupplierId: supplier}
	var res *erpv2ws.GetPurchaseOrderResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.GetPurchaseOrderContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, classifySupply(ctx, OpGetPurchaseOrder, err)
	}
	po, err := fromWirePO(res.PurchaseOrder)
	if err != nil {
		return nil, soapcall.BadResponse(OpGetPurchaseOrder, err)
	}
	if po.Number != number || (supplier != "" && po.SupplierID != supplier) {
		return nil, soapcall.BadResponse(OpGetPurchaseOrder, fmt.Errorf("asked for %s of %q, got %s of %q", number, supplier, po.Number, po.SupplierID))
	}
	return po, nil
}

// Acknowledge implements erp.SupplyChain.
func (a *Supply) Acknowledge(ctx context.Context, ack *supply.Acknowledgement) (supply.DocResult, error) {
	req := &erpv2ws.AcknowledgePurchaseOrder{Acknowledgement: toWireAck(ack)}
	var res *erpv2ws.AcknowledgePurchaseOrderResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.AcknowledgePurchaseOrderContext(ctx, req)
		return err
	})
	if err != nil {
		return supply.DocResult{}, classifySupply(ctx, OpAcknowledgePurchaseOrder, err)
	}
	return docResult(res.PurchaseOrderNumber, res.PurchaseOrderStatus, res.AlreadyApplied), nil
}

// Ship implements erp.SupplyChain.
func (a *Supply) Ship(ctx context.Context, n *supply.ShippingNotice) (supply.DocResult, error) {
	req := &erpv2ws.SubmitShippingNotice{ShippingNotice: toWireNotice(n)}
	var res *erpv2ws.SubmitShippingNoticeResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.SubmitShippingNoticeContext(ctx, req)
		return err
	})
	if err != nil {
		return supply.DocResult{}, classifySupply(ctx, OpSubmitShippingNotice, err)
	}
	return docResult(res.PurchaseOrderNumber, res.PurchaseOrderStatus, res.AlreadyApplied), nil
}

// AdviseStock implements erp.SupplyChain.
func (a *Supply) AdviseStock(ctx context.Context, adv *supply.StockAdvice) (supply.DocResult, error) {
	req := &erpv2ws.SubmitStockAdvice{StockAdvice: toWireStock(adv)}
	var res *erpv2ws.SubmitStockAdviceResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.SubmitStockAdviceContext(ctx, req)
		return err
	})
	if err != nil {
		return supply.DocResult{}, classifySupply(ctx, OpSubmitStockAdvice, err)
	}
	return supply.DocResult{AlreadyApplied: res.AlreadyApplied}, nil
}

// Invoice implements erp.SupplyChain.
func (a *Supply) Invoice(ctx context.Context, inv *supply.Invoice) (supply.DocResult, error) {
	req := &erpv2ws.SubmitInvoice{Invoice: toWireInvoice(inv)}
	var res *erpv2ws.SubmitInvoiceResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.SubmitInvoiceContext(ctx, req)
		return err
	})
	if err != nil {
		return supply.DocResult{}, classifySupply(ctx, OpSubmitInvoice, err)
	}
	return docResult(res.PurchaseOrderNumber, res.PurchaseOrderStatus, res.AlreadyApplied), nil
}

// CatalogItems implements erp.SupplyChain.
func (a *Supply) CatalogItems(ctx context.Context, offset, limit int) (erp.CatalogPage, error) {
	if offset < 0 || limit < 0 || limit > erp.MaxCatalogPage {
		return erp.CatalogPage{}, permanent(CodeInvalidRequest, "invalid page", fmt.Errorf("offset %d, limit %d", offset, limit))
	}
	req := &erpv2ws.ListCatalogItems{Offset: int32(offset), Limit: int32(limit)}
	var res *erpv2ws.ListCatalogItemsResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.ListCatalogItemsContext(ctx, req)
		return err
	})
	if err != nil {
		return erp.CatalogPage{}, classifySupply(ctx, OpListCatalogItems, err)
	}
	out := erp.CatalogPage{Total: int(res.TotalCount), NextOffset: int(res.NextOffset)}
	for _, w := range res.Item {
		it, err := fromWireCatalogItem(w)
		if err != nil {
			return erp.CatalogPage{}, soapcall.BadResponse(OpListCatalogItems, err)
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

// CatalogItem implements erp.SupplyChain.
func (a *Supply) CatalogItem(ctx context.Context, sku string) (erp.CatalogItem, error) {
	req := &erpv2ws.GetCatalogItem{Sku: sku}
	var res *erpv2ws.GetCatalogItemResponse
	err := a.call(ctx, func(ctx context.Context) (err error) {
		res, err = a.svc.GetCatalogItemContext(ctx, req)
		return err
	})
	if err != nil {
		return erp.CatalogItem{}, classifySupply(ctx, OpGetCatalogItem, err)
	}
	it, err := fromWireCatalogItem(res.Item)
	if err == nil && it.SKU != sku {
		err = fmt.Errorf("asked for %s, got %s", sku, it.SKU)
	}
	if err != nil {
		return erp.CatalogItem{}, soapcall.BadResponse(OpGetCatalogItem, err)
	}
	return it, nil
}

func docResult(number string, st *erpv2ws.PurchaseOrderStatus, already bool) supply.DocResult {
	r := supply.DocResult{PONumber: number, AlreadyApplied: already}
	if st != nil {
		r.POStatus = supply.Status(*st)
	}
	return r
}

func permanent(code, reason string, err error) *erp.Error {
	return &erp.Error{Kind: erp.KindPermanent, Code: code, Reason: reason, Err: err}
}

// classifySupply classifies a failed supply-chain call: the supply fault
// codes here, everything else as for sales orders.
func classifySupply(ctx context.Context, op string, err error) *erp.Error {
	var he *gsoap.HTTPError
	if ctx.Err() == nil && errors.As(err, &he) {
		if f := parseFault(he.ResponseBody); f != nil && f.Detail != nil && f.Detail.ErrorCode != nil {
			raw := f.shared(he.StatusCode).Err(op)
			switch *f.Detail.ErrorCode {
			case erpv2ws.ErrorCodeNOT_FOUND:
				return permanent(erp.CodeNotFound, "not found", raw)
			case erpv2ws.ErrorCodeILLEGAL_STATUS:
				return permanent(erp.CodeIllegalStatus, "the purchase order's status does not allow this document", raw)
			case erpv2ws.ErrorCodeINVALID_DOCUMENT:
				return permanent(erp.CodeInvalidDocument, invalidDocumentReason(f.Detail.Issue), raw)
			}
		}
	}
	return classify(ctx, op, nil, err)
}

// documentPath is the form of a document field path this adapter repeats
// to a supplier ("lines[0].quantity"); anything else from the ERP is not.
var documentPath = regexp.MustCompile(`^[a-z_]+(\[[0-9]{1,4}\])?(\.[a-z_]+(\[[0-9]{1,4}\])?){0,3}$`)

// invalidDocumentReason names the document fields the ERP objected to.
func invalidDocumentReason(issues []*erpv2ws.Issue) string {
	var fields []string
	seen := map[string]bool{}
	for _, is := range issues {
		if is != nil && documentPath.MatchString(is.Field) && !seen[is.Field] {
			seen[is.Field] = true
			fields = append(fields, is.Field)
		}
	}
	if len(fields) == 0 {
		return "the ERP refused the document"
	}
	return "the ERP refused the document: " + soapcall.Enumerate(fields)
}

func ptr[T any](v T) *T { return &v }

func wireDate(s string) *erpv2ws.CalendarDate {
	if s == "" {
		return nil
	}
	return ptr(erpv2ws.CalendarDate(s))
}

func civil(d *erpv2ws.CalendarDate) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func wireMoney(d order.Decimal) *erpv2ws.Money { return ptr(erpv2ws.Money(d.String())) }

func toWireAck(a *supply.Acknowledgement) *erpv2ws.Acknowledgement {
	out := &erpv2ws.Acknowledgement{DocumentId: a.ID, PurchaseOrderNumber: a.PONumber, SupplierId: a.SupplierID,
		DocumentDate: wireDate(a.Date), Notes: a.Notes}
	for _, l := range a.Lines {
		out.Line = append(out.Line, &erpv2ws.AcknowledgementLine{LineNumber: int32(l.LineNumber),
			Status: ptr(erpv2ws.LineAckStatus(l.Status)), Quantity: l.Quantity,
			PromisedDate: wireDate(l.PromisedDate), Reason: l.Reason})
	}
	return out
}

func toWireShipLines(ls []supply.ShipLine) []*erpv2ws.ShippedLine {
	var out []*erpv2ws.ShippedLine
	for _, l := range ls {
		out = append(out, &erpv2ws.ShippedLine{LineNumber: int32(l.LineNumber), Quantity: l.Quantity})
	}
	return out
}

func toWireNotice(n *supply.ShippingNotice) *erpv2ws.ShippingNotice {
	out := &erpv2ws.ShippingNotice{DocumentId: n.ID, PurchaseOrderNumber: n.PONumber, SupplierId: n.SupplierID,
		ShipDate: wireDate(n.ShipDate), ExpectedDelivery: wireDate(n.ExpectedDelivery), Carrier: n.Carrier,
		TrackingNumber: n.TrackingNumber, Line: toWireShipLines(n.Lines), Notes: n.Notes}
	for _, p := range n.Packages {
		wp := &erpv2ws.Package{PackageId: p.ID, Content: toWireShipLines(p.Contents)}
		if !p.WeightKG.IsZero() {
			wp.WeightKg = wireMoney(p.WeightKG)
		}
		out.Package = append(out.Package, wp)
	}
	return out
}

func toWireStock(a *supply.StockAdvice) *erpv2ws.StockAdvice {
	out := &erpv2ws.StockAdvice{DocumentId: a.ID, SupplierId: a.SupplierID,
		AsOf: ptr(erpv2ws.Timestamp(a.AsOf.UTC().Format(time.RFC3339Nano)))}
	for _, it := range a.Items {
		out.Item = append(out.Item, &erpv2ws.StockItem{Sku: it.SKU, SupplierPartNumber: it.SupplierPartNumber,
			AvailableQuantity: it.Available, Unit: it.Unit, LeadTimeDays: int32(it.LeadTimeDays),
			NextAvailableDate: wireDate(it.NextAvailableDate), NextAvailableQuantity: it.NextAvailableQuantity})
	}
	return out
}

func toWireInvoice(inv *supply.Invoice) *erpv2ws.Invoice {
	out := &erpv2ws.Invoice{DocumentId: inv.ID, PurchaseOrderNumber: inv.PONumber, SupplierId: inv.SupplierID,
		ShipmentId: inv.ShipmentID, InvoiceDate: wireDate(inv.Date), DueDate: wireDate(inv.DueDate),
		Currency: inv.Currency, Subtotal: wireMoney(inv.Subtotal), Tax: wireMoney(inv.Tax), Total: wireMoney(inv.Total),
		Notes: inv.Notes}
	for _, l := range inv.Lines {
		out.Line = append(out.Line, &erpv2ws.InvoiceLine{LineNumber: int32(l.LineNumber), Sku: l.SKU,
			Quantity: l.Quantity, UnitPrice: wireMoney(l.UnitPrice), Amount: wireMoney(l.Amount)})
	}
	return out
}

func parseMoney(field string, m *erpv2ws.Money) (order.Decimal, error) {
	if m == nil {
		return 0, fmt.Errorf("%s is missing", field)
	}
	d, err := order.ParseDecimal(strings.TrimSpace(string(*m)))
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", field, *m, err)
	}
	return d, nil
}

// fromWirePO translates and checks a purchase order from the ERP: the
// result must pass supply's Validate (header, lines and the integrity of
// the progress), so nothing inconsistent is cached or shown.
func fromWirePO(w *erpv2ws.PurchaseOrder) (*supply.PurchaseOrder, error) {
	if w == nil {
		return nil, errors.New("no purchase order in the answer")
	}
	po := &supply.PurchaseOrder{
		Number: w.PurchaseOrderNumber, SupplierID: w.SupplierId, IssueDate: civil(w.IssueDate),
		CustomerOrders: w.CustomerOrderReference, Currency: w.Currency,
		RequestedDeliveryDate: civil(w.RequestedDeliveryDate), Notes: w.Notes, StatusReason: w.StatusReason,
		Acknowledgements: w.AcknowledgementId, Receipts: w.ReceiptId, Invoices: w.InvoiceId,
	}
	if w.Origin != nil {
		po.Origin = supply.Origin(*w.Origin)
	}
	if w.Status != nil {
		po.Status = supply.Status(*w.Status)
	}
	if a := w.ShipTo; a != nil {
		po.ShipTo = order.Address{Name: a.Name, Line1: a.Street1, Line2: a.Street2, City: a.City,
			PostalCode: a.PostalCode, Region: a.Region, Country: a.CountryCode}
	}
	for i, l := range w.Line {
		if l == nil {
			return nil, fmt.Errorf("line %d is empty", i+1)
		}
		price, err := parseMoney(fmt.Sprintf("Line[%d].UnitPrice", i+1), l.UnitPrice)
		if err != nil {
			return nil, err
		}
		pl := supply.POLine{LineNumber: int(l.LineNumber), SKU: l.Sku, SupplierPartNumber: l.SupplierPartNumber,
			Description: l.Description, Quantity: l.Quantity, Unit: l.Unit, UnitPrice: price,
			ConfirmedQuantity: l.ConfirmedQuantity, PromisedDate: civil(l.PromisedDate),
			ShippedQuantity: l.ShippedQuantity, ReceivedQuantity: l.ReceivedQuantity, InvoicedQuantity: l.InvoicedQuantity}
		if l.AckStatus != nil {
			pl.AckStatus = supply.LineStatus(*l.AckStatus)
		}
		po.Lines = append(po.Lines, pl)
	}
	for i, s := range w.Shipment {
		if s == nil {
			return nil, fmt.Errorf("shipment %d is empty", i+1)
		}
		rec := supply.ShipmentRecord{ID: s.ShipmentId, ShipDate: civil(s.ShipDate), ExpectedDelivery: civil(s.ExpectedDelivery),
			Carrier: s.Carrier, TrackingNumber: s.TrackingNumber}
		for _, sl := range s.Line {
			if sl != nil {
				rec.Lines = append(rec.Lines, supply.ShipmentLineRecord{LineNumber: int(sl.LineNumber), Quantity: sl.Quantity,
					Received: sl.ReceivedQuantity, Invoiced: sl.InvoicedQuantity})
			}
		}
		po.Shipments = append(po.Shipments, rec)
	}
	if err := po.Validate(); err != nil {
		return nil, fmt.Errorf("purchase order %s: %w %v", w.PurchaseOrderNumber, err, erpgate.ErrorProblems(err))
	}
	return po, nil
}

func fromWireCatalogItem(w *erpv2ws.CatalogItem) (erp.CatalogItem, error) {
	if w == nil {
		return erp.CatalogItem{}, errors.New("no catalog item in the answer")
	}
	price, err := parseMoney("Price", w.Price)
	if err != nil {
		return erp.CatalogItem{}, err
	}
	if w.Sku == "" || w.AvailableQuantity < 0 {
		return erp.CatalogItem{}, fmt.Errorf("catalog item %q: no sku or negative stock", w.Sku)
	}
	it := erp.CatalogItem{SKU: w.Sku, Name: w.Name, Price: price, Currency: w.Currency, Available: w.AvailableQuantity,
		SupplierID: w.SupplierId, LeadTimeDays: int(w.LeadTimeDays)}
	for _, in := range w.Inbound {
		if in == nil {
			continue
		}
		s := erp.InboundSupply{PONumber: in.PurchaseOrderNumber, LineNumber: int(in.LineNumber), Quantity: in.Quantity,
			RequestedDeliveryDate: civil(in.RequestedDeliveryDate), PromisedDate: civil(in.PromisedDate),
			ExpectedDelivery: civil(in.ExpectedDelivery)}
		if in.Status != nil {
			s.Status = supply.Status(*in.Status)
		}
		it.Inbound = append(it.Inbound, s)
	}
	return it, nil
}
