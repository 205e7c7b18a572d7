// Package erpv2cb holds the WSDL of ERP interface v2's status push, the
// SalesOrderStatusCallback WebService (SOAP 1.1, document/literal wrapped,
// namespace urn:erpgate:erp:v2:callback), and the types and client that
// gowsdl v0.5.0 generates from it.
//
// The direction is reversed: the ERP is the client and the gateway the
// server. The simulator (erpsim) pushes with the generated client; the
// gateway (gateway/erp_callback.go) decodes requests into the generated types
// and answers with them, with a handwritten dispatch on the soap package.
//
// callback.go is generated: never edit it by hand. Change callback.wsdl and
// run `go generate ./soap/...`; scripts/gen-check.sh fails CI when the
// committed file differs from a fresh generation.
//
// The generated types are wire types: they stay inside soap/... and the
// packages that speak this interface (erpsim, the gateway's callback
// handler); everything else sees tracking events.
package erpv2cb

import _ "embed"

//go:generate go tool gowsdl -d .. -p erpv2cb -o callback.go callback.wsdl

// WSDL is the service description, served by the gateway at
// GET /erp/v2/callback?wsdl. Its soap:address names DefaultLocation; the
// server rewrites it to the address the client used.
//
//go:embed callback.wsdl
var WSDL []byte

// Namespace is the target namespace of the callback messages.
const Namespace = "urn:erpgate:erp:v2:callback"

// DefaultLocation is the soap:address location written in the WSDL file.
const DefaultLocation = "http://127.0.0.1:8080/erp/v2/callback"

// OpStatusChanged is the local name of the one request element.
const OpStatusChanged = "SalesOrderStatusChanged"

// MaxEventIDLen bounds EventId, so that it fits a tracking dedup key.
const MaxEventIDLen = 100
