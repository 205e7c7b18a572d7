// Package erpv2ws holds the WSDL of ERP interface v2 (the new release's
// sales-order WebService) and the types and client that gowsdl v0.5.0
// generates from it.
//
// erpv2.go is generated: never edit it by hand. Change erpv2.wsdl and run
// `go generate ./soap/...`; scripts/gen-check.sh fails CI when the committed
// file differs from a fresh generation.
//
// The generated types are wire types. They stay inside soap/... and the
// packages that speak v2 (erp/erpv2, erpsim); everything else sees the
// canonical order.
package erpv2ws

import _ "embed"

//go:generate go tool gowsdl -d .. -p erpv2ws -o erpv2.go erpv2.wsdl

// WSDL is the service description, served by the simulator at /erp/v2?wsdl.
// Its soap:address names the default simulator address; servers rewrite it.
//
//go:embed erpv2.wsdl
var WSDL []byte

// Namespace is the target namespace of the v2 messages.
const Namespace = "urn:erpgate:erp:v2"
