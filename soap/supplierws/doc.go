// Package supplierws holds the WSDL of erpgate's supplier-facing
// SupplierService (SOAP 1.1, document/literal wrapped, namespace
// urn:erpgate:supplier:v1) and the types gowsdl v0.5.0 generates from it.
//
// supplierservice.go is generated: never edit it by hand. Change
// supplierservice.wsdl and run `go generate ./soap/...`; scripts/gen-check.sh
// fails CI when the committed file differs from a fresh generation.
//
// The gateway's handwritten SOAP dispatch (gateway/soap_supplier.go) decodes
// requests into these types and answers with them; gowsdl's generated client
// is used only by tests. The types are wire types: they stay inside soap/...
// and the gateway's SOAP handler; everything else sees package supply.
package supplierws

import _ "embed"

//go:generate go tool gowsdl -d .. -p supplierws -o supplierservice.go supplierservice.wsdl

// WSDL is the service description, served at GET /soap/supplier?wsdl. Its
// soap:address names DefaultLocation; the server rewrites it to the address
// the client used.
//
//go:embed supplierservice.wsdl
var WSDL []byte

// Namespace is the target namespace of the SupplierService messages.
const Namespace = "urn:erpgate:supplier:v1"

// DefaultLocation is the soap:address location written in the WSDL file.
const DefaultLocation = "http://127.0.0.1:8080/soap/supplier"

// Operation names (the local names of the request elements).
const (
	OpListPurchaseOrders       = "ListPurchaseOrders"
	OpGetPurchaseOrder         = "GetPurchaseOrder"
	OpAcknowledgePurchaseOrder = "AcknowledgePurchaseOrder"
	OpSubmitShippingNotice     = "SubmitShippingNotice"
	OpSubmitInvoice            = "SubmitInvoice"
	OpSubmitStockAdvice        = "SubmitStockAdvice"
	OpListDocuments            = "ListDocuments"
	OpGetDocument              = "GetDocument"
)
