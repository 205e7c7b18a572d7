package gateway

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"erpgate/soap"
	"erpgate/soap/supplierws"
	"erpgate/supply"
)

// soapSupplier posts a SupplierService request (body: a generated request
// value or raw XML) with the given headers ("Authorization" etc.).
func (e *supEnv) soapSupplier(body any, hdr ...string) soapReply {
	e.t.Helper()
	var inner []byte
	switch v := body.(type) {
	case string:
		inner = []byte(v)
	default:
		var err error
		if inner, err = xml.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	env := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + string(inner) + `</soap:Body></soap:Envelope>`
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+soapSupplierPath, strings.NewReader(env))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return soapReply{status: res.StatusCode, header: res.Header, body: b}
}

func bearerHdr(key string) []string { return []string{"Authorization", "Bearer " + key} }

// soapRequestFor turns a REST business case into the SupplierService
// request with the same document, or ok=false when the case has no SOAP
// form (JSON-only mistakes, or fields SOAP takes from elsewhere).
func soapRequestFor(t *testing.T, c checkCase, num string) (req any, doc string, ok bool) {
	t.Helper()
	raw, _ := json.Marshal(c.body)
	if m, isMap := c.body.(map[string]any); isMap {
		if _, has := m["supplier_id"]; has {
			return nil, "", false
		}
		if _, has := m["po_number"]; has {
			return nil, "", false
		}
	}
	decode := func(v any) bool {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		return dec.Decode(v) == nil
	}
	path := strings.ReplaceAll(c.path, "{po}", num)
	po := strings.Split(path, "/")
	number := ""
	if len(po) == 3 {
		number = po[1]
	}
	switch {
	case strings.HasSuffix(path, "/acknowledgements"):
		var a supply.Acknowledgement
		if !decode(&a) {
			return nil, "", false
		}
		w := wireDocument(&supply.Document{Acknowledgement: &a}).Acknowledgement
		return &supplierws.AcknowledgePurchaseOrder{PurchaseOrderNumber: number, Acknowledgement: w}, "Acknowledgement", true
	case strings.HasSuffix(path, "/shipping-notices"):
		var n supply.ShippingNotice
		if !decode(&n) {
			return nil, "", false
		}
		w := wireDocument(&supply.Document{ShippingNotice: &n}).ShippingNotice
		return &supplierws.SubmitShippingNotice{PurchaseOrderNumber: number, ShippingNotice: w}, "ShippingNotice", true
	case strings.HasSuffix(path, "/invoices"):
		var inv supply.Invoice
		if !decode(&inv) {
			return nil, "", false
		}
		w := wireDocument(&supply.Document{Invoice: &inv}).Invoice
		return &supplierws.SubmitInvoice{PurchaseOrderNumber: number, Invoice: w}, "Invoice", true
	case path == "stock-advices":
		var a supply.StockAdvice
		if !decode(&a) {
			return nil, "", false
		}
		w := wireDocument(&supply.Document{StockAdvice: &a}).StockAdvice
		return &supplierws.SubmitStockAdvice{StockAdvice: w}, "StockAdvice", true
	}
	t.Fatalf("no SOAP form for %s", c.path)
	return nil, "", false
}

// TestSupplierBusinessChecksSOAP runs the REST business cases through the
// SOAP SupplierService: the same outcome, the same error code and the same
// field (as a WSDL element path) for every one.
func TestSupplierBusinessChecksSOAP(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_x")
	ran := 0
	for _, c := range businessCases() {
		req, doc, ok := soapRequestFor(t, c, num)
		if !ok {
			continue
		}
		ran++
		before := e.outboxLen()
		r := e.soapSupplier(req, bearerHdr(sup2Key)...)
		if c.status == http.StatusAccepted {
			if r.status != http.StatusOK || e.outboxLen() != before+1 {
				t.Errorf("%s: %d %s, want accepted", c.name, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusInternalServerError {
			t.Errorf("%s: HTTP %d, want a fault (500): %s", c.name, r.status, r.body)
			continue
		}
		f, err := soap.ParseFault(r.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := soapDocPath(doc, c.field)
		found := c.field == ""
		for _, p := range f.Detail.Problems {
			found = found || p.Field == want
		}
		if f.Code != soap.FaultClient || f.Detail.Code != c.code || !found {
			t.Errorf("%s: fault %s/%s %+v, want Client/%s naming %q", c.name, f.Code, f.Detail.Code, f.Detail.Problems, c.code, want)
		}
		if e.outboxLen() != before {
			t.Errorf("%s: refused, but stored", c.name)
		}
	}
	if ran < 20 {
		t.Errorf("only %d cases have a SOAP form, want at least 20", ran)
	}
	// An element the schema does not declare is refused, not dropped.
	r := e.soapSupplier(`<AcknowledgePurchaseOrder xmlns="urn:erpgate:supplier:v1"><PurchaseOrderNumber>`+num+`</PurchaseOrderNumber>`+
		`<Acknowledgement><Id>ACK-9</Id><Date>2026-03-02</Date><Line><LineNumber>1</LineNumber><Status>accepted</Status><Qty>1</Qty></Line></Acknowledgement></AcknowledgePurchaseOrder>`,
		bearerHdr(sup2Key)...)
	if f := r.fault(t, http.StatusInternalServerError, soap.FaultClient); f.Detail.Code != "invalid" || !strings.Contains(string(r.body), "Acknowledgement/Line[1]/Qty") {
		t.Errorf("undeclared element: %s", r.body)
	}
}

// TestSupplierIsolationSOAP: SUP-1 reaches none of SUP-2's purchase orders
// or documents over SOAP either.
func TestSupplierIsolationSOAP(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_iso")
	ack := &supplierws.Acknowledgement{Id: "ACK-1", Date: wireCivil("2026-03-02"),
		Line: []*supplierws.AckLine{{LineNumber: 1, Status: ptrTo(supplierws.LineStatusAccepted), PromisedDate: wireCivil("2026-03-06")}}}
	var ok supplierws.AcknowledgePurchaseOrderResponse
	e.soapSupplier(&supplierws.AcknowledgePurchaseOrder{PurchaseOrderNumber: num, Acknowledgement: ack}, bearerHdr(sup2Key)...).ok(t, &ok)
	if ok.Document == nil || val(ok.Document.Status) != "accepted" {
		t.Fatalf("SUP-2's acknowledgement: %+v", ok.Document)
	}
	asn := &supplierws.ShippingNotice{Id: "ASN-1", ShipDate: wireCivil("2026-03-02"), ExpectedDelivery: wireCivil("2026-03-04"), Carrier: "DHL",
		Line: []*supplierws.ShipLine{{LineNumber: 1, Quantity: 1}}}
	inv := &supplierws.Invoice{Id: "INV-1", ShipmentId: "ASN-1", Date: wireCivil("2026-03-02"), Currency: "EUR",
		Line:     []*supplierws.InvoiceLine{{LineNumber: 1, Quantity: 1, UnitPrice: ptrTo(supplierws.Money("205.00")), Amount: ptrTo(supplierws.Money("205.00"))}},
		Subtotal: ptrTo(supplierws.Money("205.00")), Tax: ptrTo(supplierws.Money("0")), Total: ptrTo(supplierws.Money("205.00"))}
	kind := ptrTo(supplierws.DocumentKindAcknowledgement)
	for name, req := range map[string]any{
		"GetPurchaseOrder":         &supplierws.GetPurchaseOrder{PurchaseOrderNumber: num},
		"AcknowledgePurchaseOrder": &supplierws.AcknowledgePurchaseOrder{PurchaseOrderNumber: num, Acknowledgement: ack},
		"SubmitShippingNotice":     &supplierws.SubmitShippingNotice{PurchaseOrderNumber: num, ShippingNotice: asn},
		"SubmitInvoice":            &supplierws.SubmitInvoice{PurchaseOrderNumber: num, Invoice: inv},
		"GetDocument":              &supplierws.GetDocument{Kind: kind, Id: "ACK-1"},
	} {
		f := e.soapSupplier(req, bearerHdr(sup1Key)...).fault(t, http.StatusInternalServerError, soap.FaultClient)
		if f.Detail.Code != "not_found" {
			t.Errorf("SUP-1 %s on SUP-2's: %s %s, want not_found", name, f.Detail.Code, f.String)
		}
	}
	var list supplierws.ListPurchaseOrdersResponse
	e.soapSupplier(&supplierws.ListPurchaseOrders{}, bearerHdr(sup1Key)...).ok(t, &list)
	if len(list.PurchaseOrder) != 0 || list.TotalCount != 0 {
		t.Errorf("SUP-1 lists %d purchase orders, want none", len(list.PurchaseOrder))
	}
	var docs supplierws.ListDocumentsResponse
	e.soapSupplier(&supplierws.ListDocuments{Kind: kind}, bearerHdr(sup1Key)...).ok(t, &docs)
	if len(docs.Document) != 0 {
		t.Errorf("SUP-1 lists %d acknowledgements, want none", len(docs.Document))
	}
	e.soapSupplier(&supplierws.ListDocuments{Kind: kind}, bearerHdr(sup2Key)...).ok(t, &docs)
	if len(docs.Document) != 1 || docs.Document[0].Id != "ACK-1" || docs.Document[0].Acknowledgement == nil {
		t.Errorf("SUP-2 lists %+v, want its ACK-1 with content", docs.Document)
	}
	var got supplierws.GetPurchaseOrderResponse
	e.soapSupplier(&supplierws.GetPurchaseOrder{PurchaseOrderNumber: num}, bearerHdr(sup2Key)...).ok(t, &got)
	if got.PurchaseOrder == nil || got.PurchaseOrder.Number != num || len(got.PendingDocument) != 1 || got.PendingDocument[0].Id != "ACK-1" {
		t.Errorf("SUP-2 GetPurchaseOrder = %+v pending %+v", got.PurchaseOrder, got.PendingDocument)
	}
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestSupplierSOAPAuthentication: Bearer, HMAC over the raw envelope and a
// UsernameToken each authenticate; wrong ones are refused.
func TestSupplierSOAPAuthentication(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	e.issuedPO("ord_auth")
	list := `<ListPurchaseOrders xmlns="urn:erpgate:supplier:v1"/>`
	var out supplierws.ListPurchaseOrdersResponse
	e.soapSupplier(list, bearerHdr(sup2Key)...).ok(t, &out)
	if out.TotalCount != 1 {
		t.Fatalf("Bearer: %d purchase orders, want 1", out.TotalCount)
	}
	// UsernameToken in the envelope.
	tok := `<wsse:Security xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken><wsse:Username>demo-supplier-2</wsse:Username>` +
		`<wsse:Password>` + sup2Key + `</wsse:Password></wsse:UsernameToken></wsse:Security>`
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` + tok + `</soap:Header><soap:Body>` + list + `</soap:Body></soap:Envelope>`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+soapSupplierPath, strings.NewReader(env))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	soapReply{status: res.StatusCode, header: res.Header, body: b}.ok(t, &out)
	if out.TotalCount != 1 {
		t.Errorf("UsernameToken: %d purchase orders, want 1", out.TotalCount)
	}
	// HMAC over the exact envelope bytes.
	full := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + list + `</soap:Body></soap:Envelope>`
	sig := e.signed("demo-supplier-2", "demo-supplier-secret-2", http.MethodPost, soapSupplierPath, []byte(full), e.clk.Now())
	e.soapSupplier(list, sig...).ok(t, &out)
	if out.TotalCount != 1 {
		t.Errorf("HMAC: %d purchase orders, want 1", out.TotalCount)
	}
	if f := e.soapSupplier(list, sig...).fault(t, http.StatusUnauthorized, soap.FaultClient); !strings.Contains(f.String, "used before") {
		t.Errorf("replayed signature: %s", f.String)
	}
	tampered := e.signed("demo-supplier-2", "demo-supplier-secret-2", http.MethodPost, soapSupplierPath, []byte(full+" "), e.clk.Now())
	if f := e.soapSupplier(list, tampered...).fault(t, http.StatusUnauthorized, soap.FaultClient); !strings.Contains(f.String, "does not match") {
		t.Errorf("signature over other bytes: %s", f.String)
	}
	e.soapSupplier(list).fault(t, http.StatusUnauthorized, soap.FaultClient)
	e.soapSupplier(list, bearerHdr("wrong")...).fault(t, http.StatusUnauthorized, soap.FaultClient)
	e.soapSupplier(list, bearerHdr(shopKey)...).fault(t, http.StatusForbidden, soap.FaultClient)

	// The WSDL is public and points at the address the client used.
	res, err = http.Get(e.srv.URL + soapSupplierPath + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(wsdl, []byte(`location="`+e.srv.URL+soapSupplierPath+`"`)) {
		t.Errorf("WSDL: %d, location not rewritten to %s", res.StatusCode, e.srv.URL+soapSupplierPath)
	}
}

func TestSOAPDocPath(t *testing.T) {
	for _, c := range []struct{ doc, in, want string }{
		{"Acknowledgement", "lines[0].quantity", "Acknowledgement/Line[1]/Quantity"},
		{"ShippingNotice", "packages[1].contents[0].line_number", "ShippingNotice/Package[2]/Content[1]/LineNumber"},
		{"StockAdvice", "items[2].lead_time_days", "StockAdvice/Item[3]/LeadTimeDays"},
		{"Invoice", "shipment_id", "Invoice/ShipmentId"},
		{"Invoice", "po_number", "PurchaseOrderNumber"},
		{"", "limit", "Limit"},
		{"Invoice", "", ""},
	} {
		if got := soapDocPath(c.doc, c.in); got != c.want {
			t.Errorf("soapDocPath(%q, %q) = %q, want %q", c.doc, c.in, got, c.want)
		}
	}
}

// TestSupplierZeep: a third-party SOAP toolkit (python3-zeep) loads the
// live WSDL and walks the supplier flow. It skips without zeep unless
// ERPGATE_REQUIRE_TOOLS=1.
func TestSupplierZeep(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import zeep").Run(); err != nil {
		if os.Getenv("ERPGATE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("python3-zeep is required (ERPGATE_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip("python3-zeep not installed")
	}
	e := newSupEnv(t)
	num := e.issuedPO("ord_zeep")
	script, err := filepath.Abs("../scripts/zeep_supplier.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, e.srv.URL+soapSupplierPath+"?wsdl", num)
	cmd.Env = append(os.Environ(), "ERPGATE_SUPPLIER_KEY="+sup2Key, "ERPGATE_SUPPLIER_ID=demo-supplier-2", "ERPGATE_TODAY="+e.clk.Now().Format("2006-01-02"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zeep_supplier.py: %v\n%s", err, out)
	}
	t.Logf("zeep:\n%s", out)
	waitFor(t, "the zeep client's documents delivered", func() bool {
		po, _ := e.sim.PurchaseOrder(num)
		return len(po.Shipments) == 1 && len(po.Acknowledgements) == 1 // shipped, or received already: it arrives today
	})
	if !strings.Contains(string(out), "ok: isolation") {
		t.Errorf("zeep script did not check isolation:\n%s", out)
	}
}

// TestSupplierSOAPGolden keeps the SupplierService answers byte for byte
// (a change of the wire form is a decision, made with -update-soap), and
// TestWSDLCheck validates these files against the published WSDL's schema:
// a purchase order, an accepted acknowledgement, a business fault naming
// the element, and a page of the list.
func TestSupplierSOAPGolden(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_golden")
	auth := bearerHdr(sup2Key)

	r := e.soapSupplier(&supplierws.GetPurchaseOrder{PurchaseOrderNumber: num}, auth...)
	if r.status != http.StatusOK {
		t.Fatalf("GetPurchaseOrder: %d %s", r.status, r.body)
	}
	soapGolden(t, "supplier_get_purchase_order_response.xml", r.body)

	req, _, ok := soapRequestFor(t, checkCase{path: "purchase-orders/{po}/acknowledgements", body: ackBody("ACK-1", "2026-03-06", 3)}, num)
	if !ok {
		t.Fatal("no SOAP form of the acknowledgement")
	}
	r = e.soapSupplier(req, auth...)
	var ack supplierws.AcknowledgePurchaseOrderResponse
	r.ok(t, &ack)
	if ack.Document == nil || ack.Document.Id != "ACK-1" {
		t.Fatalf("acknowledgement answer without the document: %s", r.body)
	}
	soapGolden(t, "supplier_acknowledge_response.xml", r.body)

	req, _, _ = soapRequestFor(t, checkCase{path: "purchase-orders/{po}/shipping-notices", body: asnBody("ASN-X", "2026-03-02", "2026-03-04", 4)}, num)
	r = e.soapSupplier(req, auth...)
	if f := r.fault(t, http.StatusInternalServerError, soap.FaultClient); f.Detail.Code != "unprocessable" {
		t.Fatalf("shipping more than confirmed: %s", r.body)
	}
	soapGolden(t, "supplier_unprocessable_fault.xml", r.body)

	r = e.soapSupplier(&supplierws.ListPurchaseOrders{Limit: 5}, auth...)
	if r.status != http.StatusOK {
		t.Fatalf("ListPurchaseOrders: %d %s", r.status, r.body)
	}
	soapGolden(t, "supplier_list_purchase_orders_response.xml", r.body)
}
