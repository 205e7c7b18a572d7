package gateway

// The frame every hand-written SOAP endpoint shares (OrderService,
// SupplierService, the ERP v2 status callback): the WSDL served with its
// soap:address rewritten to the host the client used, reading the envelope
// within limits, faults instead of problem+json (a panic included), and the
// Bearer challenge on an authentication fault. What an endpoint does with a
// request — its credentials, operations and fault details — stays in its
// own file.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/soap"
)

// handleWSDL serves wsdl (no authentication: the description is public,
// the operations are not) with its soap:address (defaultLocation) pointing
// at path on the host the client used, so a toolkit that loads
// http://host:port<path>?wsdl calls that same address. A GET without ?wsdl
// is answered with the fault notAllowed builds from an explanation.
func handleWSDL(wsdl []byte, defaultLocation, path string, notAllowed func(msg string) *soap.Fault) echo.HandlerFunc {
	before, after, found := bytes.Cut(wsdl, []byte(`location="`+defaultLocation+`"`))
	return func(c echo.Context) error {
		r := c.Request()
		if !wantsWSDL(r) {
			soap.WriteFault(c.Response(), soap.V11, notAllowed("POST SOAP requests to "+path+"; the WSDL is at "+path+"?wsdl"))
			return nil
		}
		body := wsdl
		if loc, ok := serviceLocation(r); ok && found {
			loc = strings.TrimSuffix(loc, soapOrdersPath) + path
			var b bytes.Buffer
			b.Grow(len(wsdl) + len(loc))
			b.Write(before)
			b.WriteString(`location="`)
			_ = xml.EscapeText(&b, []byte(loc))
			b.WriteString(`"`)
			b.Write(after)
			body = b.Bytes()
		}
		return c.Blob(http.StatusOK, "text/xml; charset=utf-8", body)
	}
}

// methodNotAllowed is the fault of a GET without ?wsdl at a service
// endpoint.
func methodNotAllowed(msg string) *soap.Fault {
	return &soap.Fault{Code: soap.FaultClient, String: msg,
		Detail: soap.FaultDetail{Code: erpgate.Invalid, Message: "method not allowed"}, HTTPStatus: http.StatusMethodNotAllowed}
}

// wantsWSDL reports whether the query asks for the WSDL ("?wsdl", "?WSDL").
func wantsWSDL(r *http.Request) bool {
	for k := range r.URL.Query() {
		if strings.EqualFold(k, "wsdl") {
			return true
		}
	}
	return false
}

// serviceLocation returns the OrderService URL as the client addressed it
// (other endpoints replace its path). The Host header is the client's own
// input, so only a plain host[:port] is used; anything else keeps the
// WSDL's default address. X-Forwarded-Proto is honoured for "https" so a
// TLS-terminating proxy yields https URLs.
func serviceLocation(r *http.Request) (string, bool) {
	host := r.Host
	if host == "" || len(host) > 255 {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		ch := host[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']') {
			return "", false
		}
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + host + soapOrdersPath, true
}

// soapService is what a SOAP service endpoint adds to the frame of
// serveSOAP.
type soapService struct {
	// namespace is the service's; an operation outside it is answered with
	// the error unknownOperation returns.
	namespace        string
	unknownOperation func(op xml.Name) error
	// limits bound the envelope x.read reads.
	limits soap.Limits
	// authenticate checks the caller's credentials, reading the envelope
	// with x.read between the transport-level and the message-level checks.
	// It returns the request and the caller's id for call, or false when it
	// has answered with a fault (x.fail, x.refuse).
	authenticate func(x *soapExchange) (req *soap.Request, caller string, ok bool)
	// ops are the service's operations; an operation not in it is answered
	// with the error unknownOperation returns.
	ops soapOps
}

// soapCall is what an operation is called with: the HTTP request (for
// headers such as Idempotency-Key), the envelope and the authenticated
// caller's id.
type soapCall struct {
	r      *http.Request
	req    *soap.Request
	caller string
}

// soapOperation is one row of a service's operation table: it decodes the
// operation's request type, translates it, runs the use case and returns
// the response body (the generated response type), which serveSOAP encodes.
// Its error is answered as a fault.
type soapOperation func(ctx context.Context, call soapCall) (any, error)

// soapOps is a service's operation table by operation name (the local name
// of the body element, in the service's namespace).
type soapOps map[string]soapOperation

// soapOp is the row of an operation whose request type is In: the body is
// decoded strictly into In (soap.Request.DecodeStrict) and handed to run.
func soapOp[In any](run func(ctx context.Context, call soapCall, in *In) (any, error)) soapOperation {
	return soapOpDecoding(func(req *soap.Request, in *In) error { return req.DecodeStrict(in) }, run)
}

// soapOpDecoding is soapOp with the operation's own decode.
func soapOpDecoding[In any](decode func(*soap.Request, *In) error, run func(ctx context.Context, call soapCall, in *In) (any, error)) soapOperation {
	return func(ctx context.Context, call soapCall) (any, error) {
		in := new(In)
		if err := decode(call.req, in); err != nil {
			return nil, err
		}
		return run(ctx, call, in)
	}
}

// soapExchange is one request to a SOAP service endpoint, answered in the
// request's SOAP version: the Content-Type's until the envelope is read.
type soapExchange struct {
	s       *Server
	c       echo.Context
	version soap.Version
	limits  soap.Limits
}

// read reads the envelope and checks that every mustUnderstand header is a
// WS-Security one; on failure it answers with the fault and returns false.
func (x *soapExchange) read() (*soap.Request, bool) {
	req, err := soap.ReadRequest(x.c.Request(), x.limits)
	if err != nil {
		x.fail(err)
		return nil, false
	}
	x.version = req.Version
	if err := req.CheckMustUnderstand(soap.WSSESecurity); err != nil {
		x.fail(err)
		return nil, false
	}
	return req, true
}

// fail answers with err as a fault (see Server.soapFault).
func (x *soapExchange) fail(err error) { x.s.soapFault(x.c, x.version, err) }

// refuse answers with an authentication fault (see writeChallengeFault).
func (x *soapExchange) refuse(f *soap.Fault) { writeChallengeFault(x.c.Response(), x.version, f) }

// serveSOAP is a SOAP service endpoint. Every outcome is a SOAP envelope:
// a response, or a fault from soap.FaultFromError's one code→fault table.
func (s *Server) serveSOAP(svc soapService) echo.HandlerFunc {
	return func(c echo.Context) (retErr error) {
		w, r := c.Response(), c.Request()
		x := &soapExchange{s: s, c: c, version: soap.VersionOf(r), limits: svc.limits}
		defer func() {
			// A bug must still answer with a fault, not a problem+json or a
			// dropped connection: SOAP clients only understand envelopes.
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				if !c.Response().Committed {
					s.soapFault(c, x.version, erpgate.Wrap(erpgate.Internal, fmt.Errorf("panic: %v", p), "internal error"))
				}
				retErr = nil
			}
		}()
		req, caller, ok := svc.authenticate(x)
		if !ok {
			return nil
		}
		if p := principal(c); p.ClientID != "" {
			if err := s.rates.admit(c, p.ClientID); err != nil {
				x.fail(err)
				return nil
			}
		}
		op, found := svc.ops[req.Operation.Local]
		if req.Operation.Space != svc.namespace || !found {
			x.fail(svc.unknownOperation(req.Operation))
			return nil
		}
		ctx := r.Context()
		resp, err := op(ctx, soapCall{r: r, req: req, caller: caller})
		if err != nil {
			x.fail(err)
			return nil
		}
		if err := soap.WriteResponse(w, x.version, resp); err != nil {
			// A marshalling bug (WriteResponse answered with a Server fault)
			// or a client that went away mid-response.
			s.log.WarnContext(ctx, "soap response not written", "err", err, "request_id", w.Header().Get(echo.HeaderXRequestID))
		}
		return nil
	}
}

// unknownOperationError is the error of an operation an endpoint does not
// serve; serves says what it does serve.
func unknownOperationError(serves string, op xml.Name) error {
	return &erpgate.Error{Code: erpgate.Invalid,
		Message:  "unknown operation: this endpoint serves " + serves,
		Problems: []erpgate.Problem{{Field: "", Message: "got {" + truncateRunes(op.Space, 100) + "}" + truncateRunes(op.Local, 64)}}}
}

// soapFault writes err as a fault. Only internal errors are logged (once,
// here at the edge): the rest are the client's to fix.
func (s *Server) soapFault(c echo.Context, v soap.Version, err error) {
	var f *soap.Fault
	if !errors.As(err, &f) && erpgate.ErrorCode(err) == erpgate.Internal {
		s.log.ErrorContext(c.Request().Context(), "internal error", "err", err,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "route", c.Path())
	}
	f = soap.FaultFromError(err)
	setRetryAfter(c.Response().Header(), statusOf[f.Detail.Code], err)
	soap.WriteFault(c.Response(), v, f)
}

// writeChallengeFault writes f without logging it; a 401 (an
// authentication failure) carries the Bearer challenge like the REST API's.
func writeChallengeFault(w *echo.Response, v soap.Version, f *soap.Fault) {
	if f.HTTPStatus == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="erpgate"`)
	}
	soap.WriteFault(w, v, f)
}
