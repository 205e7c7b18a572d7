// Package soap is erpgate's SOAP 1.1/1.2 stack for inbound services and the
// simulator: envelope reading with hard limits on untrusted XML, responses,
// and faults that carry our error code. The WSDL files and the
// gowsdl-generated types of each service live in sub-packages.
//
// A server handler is three calls:
//
//	req, err := soap.ReadRequest(r, soap.DefaultLimits())
//	if err != nil {
//		soap.WriteFault(w, soap.VersionOf(r), soap.FaultFromError(err))
//		return
//	}
//	var in orderws.SubmitOrder
//	if err := req.Decode(&in); err != nil { ... WriteFault(w, req.Version, FaultFromError(err)) }
//	soap.WriteResponse(w, req.Version, &orderws.SubmitOrderResponse{...})
//
// Outbound calls (the ERP adapters) use the generated clients, which run on
// gowsdl's own soap runtime. That runtime turns any HTTP status >= 400 into
// a *soap.HTTPError carrying the raw body, so a fault (500) reaches the
// adapter as bytes: ParseFault reads it back.
package soap

import (
	"encoding/xml"
	"errors"
	"net/http"

	"erpgate"
)

// Namespaces of the two SOAP versions.
const (
	NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12 = "http://www.w3.org/2003/05/soap-envelope"
)

// NSFault is the namespace of the <error> element our faults carry in
// their detail.
const NSFault = "urn:erpgate:fault"

// NSWSSE is the namespace of the WS-Security header (OASIS WSS 1.0).
const NSWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

// WSSESecurity is the name of the WS-Security header block. A service that
// reads credentials with (*Request).UsernameToken understands it and passes
// it to (*Request).CheckMustUnderstand.
var WSSESecurity = xml.Name{Space: NSWSSE, Local: "Security"}

// Version is a SOAP version.
type Version int

// SOAP versions.
const (
	V11 Version = 11
	V12 Version = 12
)

// Namespace returns the envelope namespace of v (SOAP 1.1 unless v is V12).
func (v Version) Namespace() string {
	if v == V12 {
		return NS12
	}
	return NS11
}

// ContentType returns the HTTP Content-Type of messages of version v.
func (v Version) ContentType() string {
	if v == V12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// Fault codes, as Fault.Code holds them (the SOAP 1.1 names; WriteFault maps
// Client and Server to Sender and Receiver for SOAP 1.2).
const (
	FaultClient          = "Client"          // the request is wrong; do not resend it unchanged
	FaultServer          = "Server"          // we failed; the same request may succeed later
	FaultVersionMismatch = "VersionMismatch" // not an Envelope of the expected SOAP version
	FaultMustUnderstand  = "MustUnderstand"  // a mandatory header block we do not process
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

// withDefaults fills zero (or negative) fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = d.MaxAttributes
	}
	if l.MaxTokenBytes <= 0 {
		l.MaxTokenBytes = d.MaxTokenBytes
	}
	return l
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
	// Namespace prefixes it uses may be declared on Envelope or Body; Decode
	// takes care of that.
	Body []byte
	// Header is the raw XML of the Header element (start to end tag,
	// inclusive), or nil when the envelope has none.
	Header []byte
	// MustUnderstand lists the header blocks addressed to us (no actor/role,
	// or the "next"/"ultimateReceiver" one) that the sender marked
	// mustUnderstand. ReadRequest cannot know which the service processes:
	// the service calls CheckMustUnderstand.
	MustUnderstand []xml.Name

	// scope holds the namespace declarations (xmlns attributes) of Envelope
	// and Body, which are in scope for Body but not part of it.
	scope []xml.Attr
	// wsse is the one UsernameToken found in a wsse:Security header, if any.
	wsse usernameToken
}

// Fault is a SOAP fault. Code is one of the Fault* constants (Client and
// Server are mapped to Sender/Receiver for 1.2); Detail carries erpgate's
// error code and problems.
type Fault struct {
	Code       string
	String     string
	Detail     FaultDetail
	HTTPStatus int // 500 for faults per WS-I BP; 4xx for transport-level refusals (413, 415, 405)
	// DetailElement, when non-nil, replaces Detail as the content of the
	// detail element: it is marshalled with encoding/xml, so a generated
	// fault type that a WSDL declares (e.g. erpv2ws.Error) is written as is.
	// Parsing never sets it.
	DetailElement any
}

// FaultDetail is the <detail> content: our error code and field problems.
// It is written as {urn:erpgate:fault}error with children code, message and
// problem (field, message).
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
// the action may be a URI ending in "/Operation", "#Operation" or
// ":Operation"). Every refusal is a *Fault; write it with WriteFault in the
// version VersionOf(r) returns.
//
// ReadRequest reads r.Body but does not close it (net/http does).
func ReadRequest(r *http.Request, lim Limits) (*Request, error) {
	return readRequest(r, lim)
}

// VersionOf returns the SOAP version an HTTP request asks for by its
// content type: V12 for application/soap+xml, V11 for anything else. Use it
// to answer a request that ReadRequest refused.
func VersionOf(r *http.Request) Version {
	if mediaType(r.Header.Get("Content-Type")) == "application/soap+xml" {
		return V12
	}
	return V11
}

// Decode unmarshals the body element into v (a generated request type).
// Namespace prefixes declared on Envelope or Body are honoured. A body that
// does not fit v is a Client fault.
func (req *Request) Decode(v any) error {
	return req.decode(v)
}

// WriteResponse writes body (a generated response type) in an envelope of the
// given version with status 200. If body cannot be marshalled, it writes a
// Server fault instead and returns the marshalling error (for the log).
func WriteResponse(w http.ResponseWriter, v Version, body any) error {
	return writeResponse(w, v, body)
}

// WriteFault writes f in an envelope of version v with f.HTTPStatus (500 when zero).
func WriteFault(w http.ResponseWriter, v Version, f *Fault) {
	writeFault(w, v, f)
}

// FaultFromError maps any error to a Fault with one table from erpgate codes:
// client errors become Client faults, everything else a Server fault whose
// text never includes the cause. A *Fault in err's chain is returned as is.
func FaultFromError(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	code := erpgate.ErrorCode(err)
	if code == "" { // no error at all: a caller bug, so a Server fault
		code = erpgate.Internal
	}
	fc := FaultClient
	switch code {
	case erpgate.Internal, erpgate.Unavailable, erpgate.Overloaded, erpgate.OutcomeUnknown, erpgate.RateLimited:
		// Not the request's fault: the same request may succeed later
		// (the gateway sets Retry-After on the answer).
		fc = FaultServer
	}
	return &Fault{Code: fc, String: erpgate.ErrorMessage(err), HTTPStatus: http.StatusInternalServerError,
		Detail: FaultDetail{Code: code, Message: erpgate.ErrorMessage(err), Problems: erpgate.ErrorProblems(err)}}
}
