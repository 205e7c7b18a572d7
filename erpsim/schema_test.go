package erpsim_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
)

// TestMessagesMatchTheWSDLSchema checks the WSDL, the generated types and the
// simulator against each other: what the generated client sends and what
// the simulator answers (responses and fault details) must validate against
// the schema in erpv2.wsdl. It needs xmllint (Debian: libxml2-utils).
func TestMessagesMatchTheWSDLSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed")
	}
	dir := t.TempDir()
	xsd := filepath.Join(dir, "erpv2.xsd")
	if err := os.WriteFile(xsd, schemaOf(t, erpv2ws.WSDL), 0o600); err != nil {
		t.Fatal(err)
	}
	validate := func(name string, doc []byte) {
		t.Helper()
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", xsd, f).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not match the schema: %v\n%s\n%s", name, err, out, doc)
		}
	}

	sim, srv, _ := newSim(t, erpsim.Config{})
	call := func(name string, body any) []byte {
		t.Helper()
		req, err := xml.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		validate(name, req)
		env := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + string(req) + `</soap:Body></soap:Envelope>`
		res, err := http.Post(srv.URL+"/erp/v2", "text/xml; charset=utf-8", strings.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return bodyChild(t, b)
	}

	so := salesOrder("ord_schema")
	validate("CreateSalesOrderResponse", call("CreateSalesOrder", &erpv2ws.CreateSalesOrder{SalesOrder: so}))
	validate("CreateSalesOrderResponse-again", call("CreateSalesOrder", &erpv2ws.CreateSalesOrder{SalesOrder: so}))
	minimal := &erpv2ws.SalesOrder{
		ExternalReference: "ord_min", Customer: &erpv2ws.Customer{Name: "A", Email: "a@example.com"},
		ShipTo:   &erpv2ws.Address{Name: "A", Street1: "S", City: "C", PostalCode: "1", CountryCode: "DK"},
		Currency: "DKK", Shipping: &erpv2ws.Shipping{Method: "pickup", Price: money("0")},
		Line: []*erpv2ws.OrderLine{{LineNumber: 1, Sku: "SKU-1020", Quantity: 1, UnitPrice: money("25")}},
	}
	validate("CreateSalesOrderResponse-minimal", call("CreateSalesOrder-minimal", &erpv2ws.CreateSalesOrder{SalesOrder: minimal}))
	validate("GetSalesOrderResponse", call("GetSalesOrder", &erpv2ws.GetSalesOrder{ExternalReference: "ord_schema"}))
	validate("GetSalesOrderStatusResponse", call("GetSalesOrderStatus", &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_schema"}))
	if err := sim.SetStatus("v2", "ord_schema", erpsim.OrderStatus{Status: "shipped", Carrier: "DHL", TrackingNumber: "1", ExpectedDelivery: "2025-03-05"}); err != nil {
		t.Fatal(err)
	}
	validate("GetSalesOrderStatusResponse-shipped", call("GetSalesOrderStatus", &erpv2ws.GetSalesOrderStatus{ExternalReference: "ord_schema"}))

	// Fault details: the child of detail.
	bad := salesOrder("ord_bad", "SKU-9999")
	validate("ErpFault-unknown-sku", faultDetail(t, call("CreateSalesOrder-bad", &erpv2ws.CreateSalesOrder{SalesOrder: bad})))
	bad.Line[0].Discount = money("999")
	validate("ErpFault-invalid", faultDetail(t, call("CreateSalesOrder-invalid", &erpv2ws.CreateSalesOrder{SalesOrder: bad})))
	validate("ErpFault-not-found", faultDetail(t, call("GetSalesOrderStatus-missing", &erpv2ws.GetSalesOrderStatus{ExternalReference: "nope"})))
}

// schemaOf cuts the xsd:schema out of a WSDL and declares on it the
// prefixes it borrows from wsdl:definitions.
func schemaOf(t *testing.T, wsdl []byte) []byte {
	t.Helper()
	start := bytes.Index(wsdl, []byte("<xsd:schema "))
	end := bytes.Index(wsdl, []byte("</xsd:schema>"))
	if start < 0 || end < 0 {
		t.Fatal("no xsd:schema in the WSDL")
	}
	s := string(wsdl[start : end+len("</xsd:schema>")])
	return []byte(strings.Replace(s, "<xsd:schema ", `<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:erpgate:erp:v2" `, 1))
}

// bodyChild returns the raw XML of the one element in a SOAP Body.
func bodyChild(t *testing.T, envelope []byte) []byte {
	t.Helper()
	var env struct {
		Body struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(envelope, &env); err != nil {
		t.Fatalf("response %q: %v", envelope, err)
	}
	return bytes.TrimSpace(env.Body.Inner)
}

// faultDetail returns the raw XML of the element inside a Fault's detail.
func faultDetail(t *testing.T, fault []byte) []byte {
	t.Helper()
	var f struct {
		Detail struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"detail"`
	}
	if err := xml.Unmarshal(fault, &f); err != nil || len(f.Detail.Inner) == 0 {
		t.Fatalf("no fault detail in %q: %v", fault, err)
	}
	return bytes.TrimSpace(f.Detail.Inner)
}
