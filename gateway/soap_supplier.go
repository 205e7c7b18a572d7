package gateway

// The supplier-facing SOAP SupplierService (WSDL:
// soap/supplierws/supplierservice.wsdl), served at POST /soap/supplier with
// its WSDL at GET /soap/supplier?wsdl.
//
// A second door to the same rooms as the REST API: every operation calls
// the shared SupplierService, so the checks, the isolation and the errors
// are the same; only the wire differs. What is SOAP-specific lives here:
// hardened envelope reading (package soap), strict decoding (Request.DecodeStrict),
// translation between the gowsdl types and package supply, problem paths
// named after WSDL elements, credentials (Bearer, HMAC signature over the
// raw envelope, or a WS-Security UsernameToken) and faults.

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/erp"
	"erpgate/order"
	"erpgate/soap"
	"erpgate/soap/supplierws"
	"erpgate/supplier"
	"erpgate/supply"
)

// soapSupplierPath is where the SupplierService is served (POST) and its
// WSDL (GET ?wsdl).
const soapSupplierPath = "/soap/supplier"

// handleSupplierServiceWSDL serves the WSDL (see handleWSDL).
func (s *Server) handleSupplierServiceWSDL() echo.HandlerFunc {
	return handleWSDL(supplierws.WSDL, supplierws.DefaultLocation, soapSupplierPath, methodNotAllowed)
}

// handleSupplierService is the SOAP endpoint (see serveSOAP).
func (s *Server) handleSupplierService() echo.HandlerFunc {
	return s.serveSOAP(soapService{
		namespace:        supplierws.Namespace,
		unknownOperation: unknownSupplierOperation,
		limits:           soap.DefaultLimits(),
		authenticate:     s.soapSupplier,
		ops:              supplierOperations(s.supplier),
	})
}

// soapSupplier authenticates the supplier and returns its supplier id:
// HTTP credentials (which may sign the raw body) before the envelope is
// read, a WS-Security UsernameToken after.
func (s *Server) soapSupplier(x *soapExchange) (*soap.Request, string, bool) {
	r := x.c.Request()
	// The body is read first: an HMAC signature covers it.
	raw, err := readBody(r, x.limits.MaxBytes)
	if err != nil {
		// Transport-level refusals keep their HTTP status (413, 408, 503).
		switch code := erpgate.ErrorCode(err); code {
		case erpgate.TooLarge, erpgate.Timeout, erpgate.Overloaded:
			f := soap.FaultFromError(err)
			f.HTTPStatus = statusOf[code]
			setRetryAfter(x.c.Response().Header(), f.HTTPStatus, err)
			soap.WriteFault(x.c.Response(), x.version, f)
		default:
			x.fail(err)
		}
		return nil, "", false
	}
	var viaHTTP *Principal
	if r.Header.Get(echo.HeaderAuthorization) != "" || r.Header.Get(HeaderKeyID) != "" ||
		r.Header.Get(HeaderTimestamp) != "" || r.Header.Get(HeaderSignature) != "" {
		p, err := s.authenticateSupplier(r.Context(), r, raw)
		if err != nil {
			x.refuse(transportAuthFault(err))
			return nil, "", false
		}
		viaHTTP = &p
	}
	req, ok := x.read()
	if !ok {
		return nil, "", false
	}
	p, f := s.soapSupplierPrincipal(r, req, viaHTTP)
	if f != nil {
		x.refuse(f)
		return nil, "", false
	}
	x.c.Set(principalKey, p)
	return req, p.SupplierID, true
}

// transportAuthFault turns a refused HTTP credential into a fault with the
// REST status (401, 403).
func transportAuthFault(err error) *soap.Fault {
	status := http.StatusUnauthorized
	code := erpgate.ErrorCode(err)
	switch code {
	case erpgate.Forbidden:
		status = http.StatusForbidden
	case erpgate.Unauthorized:
	default:
		f := soap.FaultFromError(err) // the replay guard's store failed
		return f
	}
	return authFault(status, code, erpgate.ErrorMessage(err))
}

// soapSupplierPrincipal returns the authenticated supplier: from the HTTP
// credentials, a WS-Security UsernameToken (Username = client id, Password
// = API key), or both when they name the same client.
func (s *Server) soapSupplierPrincipal(r *http.Request, req *soap.Request, viaHTTP *Principal) (Principal, *soap.Fault) {
	user, pass, ok := req.UsernameToken()
	if !ok {
		if tokens, digest := req.UsernameTokens(); tokens > 0 || digest {
			return Principal{}, authFault(http.StatusInternalServerError, erpgate.Unauthorized,
				"the WS-Security UsernameToken needs a Username (your client id) and a Password (your API key as PasswordText)")
		}
		if viaHTTP == nil {
			return Principal{}, authFault(http.StatusUnauthorized, erpgate.Unauthorized,
				"missing credentials: send Authorization: Bearer <api key>, a signed request ("+HeaderSignature+") or a WS-Security UsernameToken")
		}
		return *viaHTTP, nil
	}
	cl, found := s.keys.Lookup(pass)
	if !found || cl.ID != user {
		return Principal{}, authFault(http.StatusInternalServerError, erpgate.Unauthorized, "invalid WS-Security UsernameToken")
	}
	if cl.Kind != KindSupplier {
		return Principal{}, authFault(http.StatusInternalServerError, erpgate.Forbidden, "this key may not call the SupplierService")
	}
	if viaHTTP != nil && viaHTTP.ClientID != cl.ID {
		return Principal{}, authFault(http.StatusInternalServerError, erpgate.Unauthorized, "the HTTP credentials and the WS-Security UsernameToken name different clients")
	}
	if viaHTTP == nil && s.supplierCfg.RequireSignature && r.Header.Get(HeaderSignature) == "" {
		return Principal{}, authFault(http.StatusUnauthorized, erpgate.Unauthorized, "this gateway requires signed supplier requests ("+HeaderSignature+")")
	}
	return Principal{ClientID: cl.ID, Kind: cl.Kind, SupplierID: cl.SupplierID}, nil
}

func unknownSupplierOperation(op xml.Name) error {
	return unknownOperationError("the SupplierService operations in "+supplierws.Namespace, op)
}

// supplierOperations is the SupplierService's operation table.
func supplierOperations(svc *supplier.Service) soapOps {
	return soapOps{
		supplierws.OpListPurchaseOrders: soapOp(func(ctx context.Context, call soapCall, in *supplierws.ListPurchaseOrders) (any, error) {
			var statuses []supply.Status
			for _, st := range in.Status {
				if st != nil {
					statuses = append(statuses, supply.Status(*st))
				}
			}
			p, err := svc.ListPurchaseOrders(ctx, call.caller, statuses, int(in.Offset), int(in.Limit))
			if err != nil {
				return nil, soapDocProblems(err, "")
			}
			out := &supplierws.ListPurchaseOrdersResponse{TotalCount: int32(p.Total), NextOffset: int32(p.NextOffset), Stale: p.Stale}
			for _, po := range p.Orders {
				out.PurchaseOrder = append(out.PurchaseOrder, wireSupplierPO(po))
			}
			return out, nil
		}),
		supplierws.OpGetPurchaseOrder: soapOp(func(ctx context.Context, call soapCall, in *supplierws.GetPurchaseOrder) (any, error) {
			v, err := svc.PurchaseOrder(ctx, call.caller, in.PurchaseOrderNumber)
			if err != nil {
				return nil, err
			}
			out := &supplierws.GetPurchaseOrderResponse{PurchaseOrder: wireSupplierPO(v.Order), Stale: v.Stale}
			for _, d := range v.Pending {
				if d.SupplierID == call.caller {
					out.PendingDocument = append(out.PendingDocument, &supplierws.PendingDocument{Id: d.DocumentID,
						Kind: ptrTo(supplierws.DocumentKind(d.Kind)), AcceptedAt: wireTime(d.AcceptedAt)})
				}
			}
			return out, nil
		}),
		supplierws.OpAcknowledgePurchaseOrder: soapSubmit("Acknowledgement",
			func(in *supplierws.AcknowledgePurchaseOrder) (*supply.Acknowledgement, error) {
				return ackFromWire(in.Acknowledgement)
			},
			func(ctx context.Context, sup string, in *supplierws.AcknowledgePurchaseOrder, a *supply.Acknowledgement) (supplier.DocReceipt, error) {
				return svc.Acknowledge(ctx, sup, in.PurchaseOrderNumber, a)
			},
			func(d *supplierws.Document, replayed bool) any {
				return &supplierws.AcknowledgePurchaseOrderResponse{Document: d, Replayed: replayed}
			}),
		supplierws.OpSubmitShippingNotice: soapSubmit("ShippingNotice",
			func(in *supplierws.SubmitShippingNotice) (*supply.ShippingNotice, error) {
				return noticeFromWire(in.ShippingNotice)
			},
			func(ctx context.Context, sup string, in *supplierws.SubmitShippingNotice, n *supply.ShippingNotice) (supplier.DocReceipt, error) {
				return svc.Ship(ctx, sup, in.PurchaseOrderNumber, n)
			},
			func(d *supplierws.Document, replayed bool) any {
				return &supplierws.SubmitShippingNoticeResponse{Document: d, Replayed: replayed}
			}),
		supplierws.OpSubmitInvoice: soapSubmit("Invoice",
			func(in *supplierws.SubmitInvoice) (*supply.Invoice, error) { return invoiceFromWire(in.Invoice) },
			func(ctx context.Context, sup string, in *supplierws.SubmitInvoice, inv *supply.Invoice) (supplier.DocReceipt, error) {
				return svc.Invoice(ctx, sup, in.PurchaseOrderNumber, inv)
			},
			func(d *supplierws.Document, replayed bool) any {
				return &supplierws.SubmitInvoiceResponse{Document: d, Replayed: replayed}
			}),
		supplierws.OpSubmitStockAdvice: soapSubmit("StockAdvice",
			func(in *supplierws.SubmitStockAdvice) (*supply.StockAdvice, error) {
				return stockFromWire(in.StockAdvice)
			},
			func(ctx context.Context, sup string, _ *supplierws.SubmitStockAdvice, a *supply.StockAdvice) (supplier.DocReceipt, error) {
				return svc.AdviseStock(ctx, sup, a)
			},
			func(d *supplierws.Document, replayed bool) any {
				return &supplierws.SubmitStockAdviceResponse{Document: d, Replayed: replayed}
			}),
		supplierws.OpListDocuments: soapOp(func(ctx context.Context, call soapCall, in *supplierws.ListDocuments) (any, error) {
			kind, err := wireKind(in.Kind)
			if err != nil {
				return nil, err
			}
			docs, total, err := svc.Documents(ctx, call.caller, kind, int(in.Offset), int(in.Limit))
			if err != nil {
				return nil, soapDocProblems(err, "")
			}
			out := &supplierws.ListDocumentsResponse{TotalCount: int32(total)}
			for _, d := range docs {
				out.Document = append(out.Document, wireDocument(d))
			}
			if n := int(in.Offset) + len(docs); n < total && len(docs) > 0 {
				out.NextOffset = int32(n)
			}
			return out, nil
		}),
		supplierws.OpGetDocument: soapOp(func(ctx context.Context, call soapCall, in *supplierws.GetDocument) (any, error) {
			kind, err := wireKind(in.Kind)
			if err != nil {
				return nil, err
			}
			d, err := svc.Document(ctx, call.caller, kind, in.Id)
			if err != nil {
				return nil, err
			}
			return &supplierws.GetDocumentResponse{Document: wireDocument(d)}, nil
		}),
	}
}

// soapSubmit is the row of an operation that submits one supplier
// document: the request In decoded, its document translated by fromWire,
// submitted, and answered with the stored document; problems are named
// after the request's element field.
func soapSubmit[In, Doc any](field string, fromWire func(*In) (*Doc, error),
	submit func(ctx context.Context, supplier string, in *In, doc *Doc) (supplier.DocReceipt, error),
	answer func(d *supplierws.Document, replayed bool) any) soapOperation {
	return soapOp(func(ctx context.Context, call soapCall, in *In) (any, error) {
		doc, err := fromWire(in)
		if err != nil {
			return nil, err
		}
		r, err := submit(ctx, call.caller, in, doc)
		if err != nil {
			return nil, soapDocProblems(err, field)
		}
		return answer(wireDocument(r.Doc), r.Replayed), nil
	})
}

func wireKind(k *supplierws.DocumentKind) (string, error) {
	if k != nil && erp.MessageType(string(*k)) != "" {
		return string(*k), nil
	}
	return "", &erpgate.Error{Code: erpgate.Invalid, Message: "unknown document kind",
		Problems: []erpgate.Problem{{Field: "Kind", Message: "must be acknowledgement, shipping_notice, stock_advice or invoice"}}}
}

// --- problem paths ---

// soapListNames maps the JSON names of lists to their (singular) WSDL
// elements; every other JSON name becomes its CamelCase form.
var soapListNames = map[string]string{"lines": "Line", "packages": "Package", "contents": "Content", "items": "Item"}

// soapDocPath turns a document problem path ("lines[0].quantity") into the
// path of the request element it came from ("Acknowledgement/Line[1]/Quantity",
// 1-based as in XPath); doc is the document's element ("" for paths that
// are not about a document, such as paging).
func soapDocPath(doc, p string) string {
	switch p {
	case "":
		return ""
	case "po_number":
		return "PurchaseOrderNumber"
	}
	var parts []string
	if doc != "" {
		parts = append(parts, doc)
	}
	for seg := range strings.SplitSeq(p, ".") {
		name, idx, hasIdx := strings.Cut(seg, "[")
		if n, ok := soapListNames[name]; ok {
			name = n
		} else {
			name = camel(name)
		}
		if hasIdx {
			if i, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				name += "[" + strconv.Itoa(i+1) + "]"
			}
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, "/")
}

func camel(s string) string {
	var b strings.Builder
	for w := range strings.SplitSeq(s, "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// soapDocProblems rewrites the problem paths of err for SOAP clients.
func soapDocProblems(err error, doc string) error {
	var e *erpgate.Error
	if !errors.As(err, &e) || len(e.Problems) == 0 {
		return err
	}
	out := *e
	out.Problems = make([]erpgate.Problem, len(e.Problems))
	for i, p := range e.Problems {
		p.Field = soapDocPath(doc, p.Field)
		out.Problems[i] = p
	}
	return &out
}

// --- wire → supply ---

// wireProblems collects conversion problems (amounts, times) with their
// SOAP paths.
type wireProblems []erpgate.Problem

func (w *wireProblems) money(path string, m *supplierws.Money, required bool) order.Decimal {
	if m == nil {
		if required {
			*w = append(*w, erpgate.Problem{Field: path, Message: "is required"})
		}
		return 0
	}
	d, err := parseXSDDecimal(string(*m))
	if err != nil {
		*w = append(*w, erpgate.Problem{Field: path, Message: decimalMessage(err)})
	}
	return d
}

func (w wireProblems) err(what string) error {
	if len(w) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.Invalid, Message: "the " + what + " has invalid amounts or times", Problems: w}
}

func missing(element string) error {
	return &erpgate.Error{Code: erpgate.Invalid, Message: element + " is required",
		Problems: []erpgate.Problem{{Field: element, Message: "is required"}}}
}

func civilOf(d *supplierws.CalendarDate) string {
	if d == nil {
		return ""
	}
	return strings.TrimSpace(string(*d))
}

func ackFromWire(w *supplierws.Acknowledgement) (*supply.Acknowledgement, error) {
	if w == nil {
		return nil, missing("Acknowledgement")
	}
	a := &supply.Acknowledgement{ID: w.Id, Date: civilOf(w.Date), Notes: w.Notes, Lines: []supply.AckLine{}}
	for _, l := range w.Line {
		if l == nil {
			continue
		}
		al := supply.AckLine{LineNumber: int(l.LineNumber), Quantity: l.Quantity, PromisedDate: civilOf(l.PromisedDate), Reason: l.Reason}
		if l.Status != nil {
			al.Status = supply.LineStatus(*l.Status)
		}
		a.Lines = append(a.Lines, al)
	}
	return a, nil
}

func shipLinesFromWire(ls []*supplierws.ShipLine) []supply.ShipLine {
	out := []supply.ShipLine{}
	for _, l := range ls {
		if l != nil {
			out = append(out, supply.ShipLine{LineNumber: int(l.LineNumber), Quantity: l.Quantity})
		}
	}
	return out
}

func noticeFromWire(w *supplierws.ShippingNotice) (*supply.ShippingNotice, error) {
	if w == nil {
		return nil, missing("ShippingNotice")
	}
	var probs wireProblems
	n := &supply.ShippingNotice{ID: w.Id, ShipDate: civilOf(w.ShipDate), ExpectedDelivery: civilOf(w.ExpectedDelivery),
		Carrier: w.Carrier, TrackingNumber: w.TrackingNumber, Notes: w.Notes, Lines: shipLinesFromWire(w.Line)}
	for i, p := range w.Package {
		if p == nil {
			continue
		}
		pk := supply.Package{ID: p.Id, WeightKG: probs.money("ShippingNotice/Package["+strconv.Itoa(i+1)+"]/WeightKg", p.WeightKg, false)}
		if len(p.Content) > 0 {
			pk.Contents = shipLinesFromWire(p.Content)
		}
		n.Packages = append(n.Packages, pk)
	}
	return n, probs.err("shipping notice")
}

func stockFromWire(w *supplierws.StockAdvice) (*supply.StockAdvice, error) {
	if w == nil {
		return nil, missing("StockAdvice")
	}
	var probs wireProblems
	a := &supply.StockAdvice{ID: w.Id, Items: []supply.StockItem{}}
	if w.AsOf == nil {
		probs = append(probs, erpgate.Problem{Field: "StockAdvice/AsOf", Message: "is required"})
	} else if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(*w.AsOf))); err != nil {
		probs = append(probs, erpgate.Problem{Field: "StockAdvice/AsOf", Message: "must be a date-time with a zone, e.g. 2025-03-01T09:30:00Z"})
	} else {
		a.AsOf = t
	}
	for _, it := range w.Item {
		if it != nil {
			a.Items = append(a.Items, supply.StockItem{SKU: it.Sku, SupplierPartNumber: it.SupplierPartNumber, Available: it.Available,
				Unit: it.Unit, LeadTimeDays: int(it.LeadTimeDays), NextAvailableDate: civilOf(it.NextAvailableDate),
				NextAvailableQuantity: it.NextAvailableQuantity})
		}
	}
	return a, probs.err("stock advice")
}

func invoiceFromWire(w *supplierws.Invoice) (*supply.Invoice, error) {
	if w == nil {
		return nil, missing("Invoice")
	}
	var probs wireProblems
	inv := &supply.Invoice{ID: w.Id, ShipmentID: w.ShipmentId, Date: civilOf(w.Date), DueDate: civilOf(w.DueDate),
		Currency: w.Currency, Notes: w.Notes, Lines: []supply.InvoiceLine{},
		Subtotal: probs.money("Invoice/Subtotal", w.Subtotal, true),
		Tax:      probs.money("Invoice/Tax", w.Tax, true),
		Total:    probs.money("Invoice/Total", w.Total, true)}
	for i, l := range w.Line {
		if l == nil {
			continue
		}
		p := "Invoice/Line[" + strconv.Itoa(i+1) + "]/"
		inv.Lines = append(inv.Lines, supply.InvoiceLine{LineNumber: int(l.LineNumber), SKU: l.Sku, Quantity: l.Quantity,
			UnitPrice: probs.money(p+"UnitPrice", l.UnitPrice, true), Amount: probs.money(p+"Amount", l.Amount, true)})
	}
	return inv, probs.err("invoice")
}

// --- supply → wire ---

func ptrTo[T any](v T) *T { return &v }

func wireCivil(s string) *supplierws.CalendarDate {
	if s == "" {
		return nil
	}
	return ptrTo(supplierws.CalendarDate(s))
}

func wireTime(t time.Time) *supplierws.Timestamp {
	if t.IsZero() {
		return nil
	}
	return ptrTo(supplierws.Timestamp(t.UTC().Format(soapTimestamp)))
}

func wireMoneyOf(d order.Decimal) *supplierws.Money { return ptrTo(supplierws.Money(d.String())) }

// wireSupplierPO is a purchase order as its supplier sees it (without our
// customer order ids).
func wireSupplierPO(po *supply.PurchaseOrder) *supplierws.PurchaseOrder {
	a := po.ShipTo
	out := &supplierws.PurchaseOrder{Number: po.Number, IssueDate: wireCivil(po.IssueDate), Origin: ptrTo(supplierws.Origin(po.Origin)),
		Currency: po.Currency, RequestedDeliveryDate: wireCivil(po.RequestedDeliveryDate),
		ShipTo: &supplierws.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, PostalCode: a.PostalCode, Region: a.Region, Country: a.Country},
		Notes:  po.Notes, Status: ptrTo(supplierws.PurchaseOrderStatus(po.Status)), StatusReason: po.StatusReason,
		AcknowledgementId: po.Acknowledgements, ReceiptId: po.Receipts, InvoiceId: po.Invoices}
	for _, l := range po.Lines {
		wl := &supplierws.PurchaseOrderLine{LineNumber: int32(l.LineNumber), Sku: l.SKU, SupplierPartNumber: l.SupplierPartNumber,
			Description: l.Description, Quantity: l.Quantity, Unit: l.Unit, UnitPrice: wireMoneyOf(l.UnitPrice),
			ConfirmedQuantity: l.ConfirmedQuantity, PromisedDate: wireCivil(l.PromisedDate), ShippedQuantity: l.ShippedQuantity,
			ReceivedQuantity: l.ReceivedQuantity, InvoicedQuantity: l.InvoicedQuantity}
		if l.AckStatus != "" {
			wl.AckStatus = ptrTo(supplierws.LineStatus(l.AckStatus))
		}
		out.Line = append(out.Line, wl)
	}
	for _, sh := range po.Shipments {
		ws := &supplierws.Shipment{Id: sh.ID, ShipDate: wireCivil(sh.ShipDate), ExpectedDelivery: wireCivil(sh.ExpectedDelivery),
			Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber}
		for _, sl := range sh.Lines {
			ws.Line = append(ws.Line, &supplierws.ShipmentLine{LineNumber: int32(sl.LineNumber), Quantity: sl.Quantity, Received: sl.Received, Invoiced: sl.Invoiced})
		}
		out.Shipment = append(out.Shipment, ws)
	}
	return out
}

func wireShipLines(ls []supply.ShipLine) []*supplierws.ShipLine {
	var out []*supplierws.ShipLine
	for _, l := range ls {
		out = append(out, &supplierws.ShipLine{LineNumber: int32(l.LineNumber), Quantity: l.Quantity})
	}
	return out
}

// wireDocument is a stored document with its status, in SOAP form.
func wireDocument(d *supply.Document) *supplierws.Document {
	out := &supplierws.Document{Id: d.DocumentID, Kind: ptrTo(supplierws.DocumentKind(d.Kind)), PurchaseOrderNumber: d.PONumber,
		Status: ptrTo(supplierws.DocumentStatus(docStateName(d.State))), AcceptedAt: wireTime(d.AcceptedAt)}
	if d.State != supply.DocPending {
		out.Reason = d.Reason
		out.UpdatedAt = wireTime(d.UpdatedAt)
	}
	switch {
	case d.Acknowledgement != nil:
		a := d.Acknowledgement
		w := &supplierws.Acknowledgement{Id: a.ID, Date: wireCivil(a.Date), Notes: a.Notes}
		for _, l := range a.Lines {
			w.Line = append(w.Line, &supplierws.AckLine{LineNumber: int32(l.LineNumber), Status: ptrTo(supplierws.LineStatus(l.Status)),
				Quantity: l.Quantity, PromisedDate: wireCivil(l.PromisedDate), Reason: l.Reason})
		}
		out.Acknowledgement = w
	case d.ShippingNotice != nil:
		n := d.ShippingNotice
		w := &supplierws.ShippingNotice{Id: n.ID, ShipDate: wireCivil(n.ShipDate), ExpectedDelivery: wireCivil(n.ExpectedDelivery),
			Carrier: n.Carrier, TrackingNumber: n.TrackingNumber, Line: wireShipLines(n.Lines), Notes: n.Notes}
		for _, p := range n.Packages {
			wp := &supplierws.Package{Id: p.ID, Content: wireShipLines(p.Contents)}
			if !p.WeightKG.IsZero() {
				wp.WeightKg = wireMoneyOf(p.WeightKG)
			}
			w.Package = append(w.Package, wp)
		}
		out.ShippingNotice = w
	case d.StockAdvice != nil:
		a := d.StockAdvice
		w := &supplierws.StockAdvice{Id: a.ID, AsOf: wireTime(a.AsOf)}
		for _, it := range a.Items {
			w.Item = append(w.Item, &supplierws.StockItem{Sku: it.SKU, SupplierPartNumber: it.SupplierPartNumber, Available: it.Available,
				Unit: it.Unit, LeadTimeDays: int32(it.LeadTimeDays), NextAvailableDate: wireCivil(it.NextAvailableDate),
				NextAvailableQuantity: it.NextAvailableQuantity})
		}
		out.StockAdvice = w
	case d.Invoice != nil:
		inv := d.Invoice
		w := &supplierws.Invoice{Id: inv.ID, ShipmentId: inv.ShipmentID, Date: wireCivil(inv.Date), DueDate: wireCivil(inv.DueDate),
			Currency: inv.Currency, Subtotal: wireMoneyOf(inv.Subtotal), Tax: wireMoneyOf(inv.Tax), Total: wireMoneyOf(inv.Total), Notes: inv.Notes}
		for _, l := range inv.Lines {
			w.Line = append(w.Line, &supplierws.InvoiceLine{LineNumber: int32(l.LineNumber), Sku: l.SKU, Quantity: l.Quantity,
				UnitPrice: wireMoneyOf(l.UnitPrice), Amount: wireMoneyOf(l.Amount)})
		}
		out.Invoice = w
	}
	return out
}
