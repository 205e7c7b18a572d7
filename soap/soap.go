// Package soap is erpgate's SOAP 1.1/1.2 stack for inbound services and the
// simulator: envelope reading with hard limits on untrusted XML, responses,
// and faults that carry our error code. The WSDL files and the
// gowsdl-generated types of each service live in sub-packages.
//
// Outbound calls (the ERP adapters) use the generated clients, which run on
// gowsdl's own soap runtime.
package soap

import (
	"encoding/xml"
	"net/http"

	"erpgate"
)

// Namespaces of the two SOAP versions.
const (
	NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Version is a SOAP version.
type Version int

// SOAP versions.
const (
	V11 Version = 11
	V12 Version = 12
)

// Limits bound what ReadRequest accepts. Zero fields take DefaultLimits.
type Limits struct {
	MaxBytes      int64 // body size; beyond it: 413 before parsing
	MaxDepth      int   // element nesting depth
	MaxElements   int   // total elements
	MaxAttributes int   // attributes on one element
	MaxTokenBytes int   // one text node, name or attribute value
}

// DefaultLimits are sized for an order of 500 lines with room to spare.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 20000, MaxAttributes: 16, MaxTokenBytes: 64 << 10}
}

// Request is a decoded SOAP request envelope.
type Request struct {
	Version Version
	// Action is the SOAPAction (1.1 header, or the action parameter of the 1.2
	// content type), unquoted; may be empty.
	Action string
	// Operation is the name of the one element in Body.
	Operation xml.Name
	// Body is the raw XML of that element (start to end tag, inclusive).
	Body []byte
}

// Fault is a SOAP fault. Code is "Client" or "Server" (mapped to
// Sender/Receiver for 1.2); Detail carries erpgate's error code and problems.
type Fault struct {
	Code       string
	String     string
	Detail     FaultDetail
	HTTPStatus int // 500 for faults per WS-I BP; 4xx for transport-level refusals (413, 415, 405)
}

// FaultDetail is the <detail> content: our error code and field problems.
type FaultDetail struct {
	Code     string            `xml:"code"`
	Message  string            `xml:"message"`
	Problems []erpgate.Problem `xml:"problem"`
}

func (f *Fault) Error() string { return "soap fault " + f.Code + ": " + f.String }

// ReadRequest reads and checks one SOAP request from r under lim: method
// POST, a SOAP content type, size, DOCTYPE refused, depth/element/attribute/
// token limits, exactly one Body child, and a SOAPAction that, when present,
// must match the body element (operation names are compared by local name;
// the action may be a URI ending in "/Operation" or "#Operation"). Every
// refusal is a *Fault.
func ReadRequest(r *http.Request, lim Limits) (*Request, error) {
	return readRequest(r, lim)
}

// Decode unmarshals the body element into v (a generated request type).
func (req *Request) Decode(v any) error {
	if err := xml.Unmarshal(req.Body, v); err != nil {
		return &Fault{Code: "Client", String: "malformed " + req.Operation.Local, HTTPStatus: http.StatusInternalServerError,
			Detail: FaultDetail{Code: erpgate.Invalid, Message: "the request body does not match the schema"}}
	}
	return nil
}

// WriteResponse writes body (a generated response type) in an envelope of the
// given version with status 200.
func WriteResponse(w http.ResponseWriter, v Version, body any) error {
	return writeEnvelope(w, v, http.StatusOK, body)
}

// WriteFault writes f in an envelope of version v with f.HTTPStatus (500 when zero).
func WriteFault(w http.ResponseWriter, v Version, f *Fault) {
	writeFault(w, v, f)
}

// FaultFromError maps any error to a Fault with one table from erpgate codes:
// client errors become Client faults, everything else a Server fault whose
// text never includes the cause.
func FaultFromError(err error) *Fault {
	if f, ok := err.(*Fault); ok {
		return f
	}
	code := erpgate.ErrorCode(err)
	fc := "Client"
	if code == erpgate.Internal || code == erpgate.Unavailable {
		fc = "Server"
	}
	return &Fault{Code: fc, String: erpgate.ErrorMessage(err), HTTPStatus: http.StatusInternalServerError,
		Detail: FaultDetail{Code: code, Message: erpgate.ErrorMessage(err), Problems: erpgate.ErrorProblems(err)}}
}
