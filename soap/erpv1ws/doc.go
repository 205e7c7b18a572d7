// Package erpv1ws holds the WSDL of ERP interface v1 (the old release's order
// interface) and the types and client that gowsdl v0.5.0 generates from it.
//
// erpv1.go is generated: never edit it by hand. Change erpv1.wsdl and run
// `go generate ./soap/...`; scripts/gen-check.sh fails CI when the committed
// file differs from a fresh generation.
//
// The generated types are wire types. They stay inside soap/... and the
// packages that speak v1 (erp/erpv1, erpsim); everything else sees the
// canonical order.
package erpv1ws

import _ "embed"

//go:generate go tool gowsdl -d .. -p erpv1ws -o erpv1.go erpv1.wsdl

// WSDL is the service description, served by the simulator at /erp/v1?wsdl.
// Its soap:address names the default simulator address; servers rewrite it.
//
//go:embed erpv1.wsdl
var WSDL []byte

// Namespace is the target namespace of the v1 messages.
const Namespace = "urn:erpgate:erp:v1"

// Limits of the v1 schema that senders must respect (the maxLength and
// maxOccurs facets of erpv1.wsdl, in characters).
const (
	MaxReferenceLen       = 40
	MaxCustomerOrderNoLen = 35
	MaxCustomerNameLen    = 50
	MaxDeliveryNameLen    = 50
	MaxDeliveryAddressLen = 250
	MaxCountryLen         = 2
	MaxCurrencyLen        = 3
	MaxItemNoLen          = 64
	MaxItemTextLen        = 40
	MaxShipViaLen         = 30
	MaxRemarksLen         = 4000
	MaxOrderTextLen       = 4000
	MaxOrderTexts         = 999
)
