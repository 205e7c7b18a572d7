// Package orderws holds the WSDL of erpgate's shop-facing OrderService (SOAP
// 1.1, document/literal wrapped, namespace urn:erpgate:orders:v1) and the
// types gowsdl v0.5.0 generates from it.
//
// orderservice.go is generated: never edit it by hand. Change
// orderservice.wsdl and run `go generate ./soap/...`; scripts/gen-check.sh
// fails CI when the committed file differs from a fresh generation.
//
// The gateway's handwritten SOAP dispatch (gateway/soap_orders.go) decodes
// requests into these types and answers with them; gowsdl's generated client
// and server stubs are not used by the server. The types are wire types: they
// stay inside soap/... and the gateway's SOAP handler; everything else sees
// the canonical order.
package orderws

import _ "embed"

//go:generate go tool gowsdl -d .. -p orderws -o orderservice.go orderservice.wsdl

// WSDL is the service description, served at GET /soap/orders?wsdl. Its
// soap:address names DefaultLocation; the server rewrites it to the address
// the client used.
//
//go:embed orderservice.wsdl
var WSDL []byte

// Namespace is the target namespace of the OrderService messages.
const Namespace = "urn:erpgate:orders:v1"

// DefaultLocation is the soap:address location written in the WSDL file.
const DefaultLocation = "http://127.0.0.1:8080/soap/orders"

// Operation names (the local names of the request elements).
const (
	OpSubmitOrder    = "SubmitOrder"
	OpGetOrder       = "GetOrder"
	OpGetOrderStatus = "GetOrderStatus"
)
