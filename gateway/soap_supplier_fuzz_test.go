package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"

	"erpgate/soap"
	"erpgate/soap/supplierws"
)

// FuzzSupplierSOAPDecode feeds arbitrary operation bodies through the
// SupplierService's reading path — the hardened envelope reader, the strict
// decoder and the translation to package supply — which must refuse or
// accept, never panic, and never let an invalid document through without
// an error from its own validation.
func FuzzSupplierSOAPDecode(f *testing.F) {
	for _, seed := range []string{
		`<AcknowledgePurchaseOrder xmlns="urn:erpgate:supplier:v1"><PurchaseOrderNumber>PO-1</PurchaseOrderNumber><Acknowledgement><Id>A</Id><Date>2026-03-02</Date><Line><LineNumber>1</LineNumber><Status>accepted</Status><PromisedDate>2026-03-06</PromisedDate></Line></Acknowledgement></AcknowledgePurchaseOrder>`,
		`<SubmitShippingNotice xmlns="urn:erpgate:supplier:v1"><PurchaseOrderNumber>PO-1</PurchaseOrderNumber><ShippingNotice><Id>S</Id><ShipDate>2026-03-02</ShipDate><ExpectedDelivery>2026-03-04</ExpectedDelivery><Carrier>DHL</Carrier><Line><LineNumber>1</LineNumber><Quantity>5</Quantity></Line><Package><Id>P</Id><WeightKg>1.5</WeightKg></Package></ShippingNotice></SubmitShippingNotice>`,
		`<SubmitInvoice xmlns="urn:erpgate:supplier:v1"><PurchaseOrderNumber>PO-1</PurchaseOrderNumber><Invoice><Id>I</Id><ShipmentId>S</ShipmentId><Date>2026-03-02</Date><Currency>EUR</Currency><Line><LineNumber>1</LineNumber><Quantity>1</Quantity><UnitPrice>1e3</UnitPrice><Amount>-0</Amount></Line><Subtotal>.5</Subtotal><Tax>0</Tax><Total>0.5</Total></Invoice></SubmitInvoice>`,
		`<SubmitStockAdvice xmlns="urn:erpgate:supplier:v1"><StockAdvice><Id>K</Id><AsOf>2026-03-02T08:00:00Z</AsOf><Item><Sku>SKU-1</Sku><Available>-3</Available><Unit>EA</Unit></Item></StockAdvice></SubmitStockAdvice>`,
		`<ListPurchaseOrders xmlns="urn:erpgate:supplier:v1"><Status>issued</Status><Limit>999999999999</Limit></ListPurchaseOrders>`,
		`<GetDocument xmlns="urn:erpgate:supplier:v1"><Kind>nonsense</Kind><Id>x</Id></GetDocument>`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
		r := httptest.NewRequest("POST", soapSupplierPath, strings.NewReader(env))
		r.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req, err := soap.ReadRequest(r, soap.DefaultLimits())
		if err != nil || req.Operation.Space != supplierws.Namespace {
			return
		}
		switch req.Operation.Local {
		case supplierws.OpAcknowledgePurchaseOrder:
			var in supplierws.AcknowledgePurchaseOrder
			if req.DecodeStrict(&in) == nil {
				if a, err := ackFromWire(in.Acknowledgement); err == nil {
					_ = a.Validate()
				}
			}
		case supplierws.OpSubmitShippingNotice:
			var in supplierws.SubmitShippingNotice
			if req.DecodeStrict(&in) == nil {
				if n, err := noticeFromWire(in.ShippingNotice); err == nil {
					_ = n.Validate()
				}
			}
		case supplierws.OpSubmitInvoice:
			var in supplierws.SubmitInvoice
			if req.DecodeStrict(&in) == nil {
				if inv, err := invoiceFromWire(in.Invoice); err == nil {
					_ = inv.Validate()
				}
			}
		case supplierws.OpSubmitStockAdvice:
			var in supplierws.SubmitStockAdvice
			if req.DecodeStrict(&in) == nil {
				if a, err := stockFromWire(in.StockAdvice); err == nil {
					_ = a.Validate()
				}
			}
		case supplierws.OpListPurchaseOrders:
			var in supplierws.ListPurchaseOrders
			_ = req.DecodeStrict(&in)
		case supplierws.OpGetDocument:
			var in supplierws.GetDocument
			if req.DecodeStrict(&in) == nil {
				_, _ = wireKind(in.Kind)
			}
		}
	})
}
