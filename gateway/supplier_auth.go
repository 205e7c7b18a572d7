package gateway

// Supplier authentication: an API key (Bearer), an HMAC-signed request, or
// both. The scheme, as documented for suppliers:
//
//	X-Erpgate-Key-Id:    the supplier client's id (demo: demo-supplier-1)
//	X-Erpgate-Timestamp: the time of signing, Unix seconds (decimal)
//	X-Erpgate-Signature: v1=<hex HMAC-SHA256(secret, timestamp "." method "." target "." body)>
//
// where method is the HTTP method in upper case, target the request target
// exactly as sent (path and query, e.g. "/v1/supplier/purchase-orders?status=issued")
// and body the raw request body (empty for GET). The secret is the client's
// hmac_secret (demo: demo-supplier-secret-1).
//
// The gateway recomputes the signature and compares in constant time,
// refuses a timestamp more than SignatureWindow (default 5 minutes) away
// from its clock, and remembers every accepted signature in Redis (SET NX
// with an expiry of twice the window) so that a captured request cannot be
// replayed: a retry must be signed again with a new timestamp.
//
// A request with both a Bearer key and a signature must name the same
// client with both. With SupplierConfig.RequireSignature a Bearer key alone
// is refused. Every refusal is 401 (403 for a valid key of a client that is
// not a supplier), and says why.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
)

// Signature headers.
const (
	HeaderKeyID     = "X-Erpgate-Key-Id"
	HeaderTimestamp = "X-Erpgate-Timestamp"
	HeaderSignature = "X-Erpgate-Signature"
)

// SignSupplierRequest returns the X-Erpgate-Signature value for a request:
// "v1=" and the hex HMAC-SHA256 of timestamp "." method "." target "." body
// under secret. Clients (and tests) use it; the gateway checks with it.
func SignSupplierRequest(secret string, timestamp int64, method, target string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write([]byte(strings.ToUpper(method)))
	m.Write([]byte("."))
	m.Write([]byte(target))
	m.Write([]byte("."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// supplierByID returns the supplier client with id (for signed requests,
// which name the client rather than send its key).
func (k *Keyring) supplierByID(id string) (Client, bool) {
	for _, c := range k.byHash {
		if c.ID == id && c.Kind == KindSupplier {
			return c, true
		}
	}
	return Client{}, false
}

func unauthorized(msg string) error { return erpgate.Errorf(erpgate.Unauthorized, "%s", msg) }

// authenticateSupplier checks the credentials of a supplier request whose
// body has been read into body, and returns the supplier.
func (s *Server) authenticateSupplier(ctx context.Context, r *http.Request, body []byte) (Principal, error) {
	cfg := &s.supplierCfg
	var viaKey, viaSig *Client
	if r.Header.Get(echo.HeaderAuthorization) != "" {
		key := ""
		if h := r.Header.Get(echo.HeaderAuthorization); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			key = strings.TrimSpace(h[7:])
		}
		if key == "" {
			return Principal{}, unauthorized("unsupported Authorization scheme: send Authorization: Bearer <api key>")
		}
		cl, ok := s.keys.Lookup(key)
		if !ok {
			return Principal{}, unauthorized("invalid API key")
		}
		if cl.Kind != KindSupplier {
			return Principal{}, erpgate.Errorf(erpgate.Forbidden, "this key may not call the supplier API")
		}
		viaKey = &cl
	}
	id, ts, sig := r.Header.Get(HeaderKeyID), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if id != "" || ts != "" || sig != "" {
		cl, err := s.checkSignature(ctx, r, body, id, ts, sig)
		if err != nil {
			return Principal{}, err
		}
		viaSig = &cl
	}
	switch {
	case viaKey == nil && viaSig == nil:
		return Principal{}, unauthorized("missing credentials: send Authorization: Bearer <api key> and/or a signed request (" + HeaderKeyID + ", " + HeaderTimestamp + ", " + HeaderSignature + ")")
	case viaKey != nil && viaSig != nil && viaKey.ID != viaSig.ID:
		return Principal{}, unauthorized("the API key and the signature belong to different clients")
	case viaSig == nil && cfg.RequireSignature:
		return Principal{}, unauthorized("this gateway requires signed supplier requests (" + HeaderSignature + ")")
	}
	cl := viaSig
	if cl == nil {
		cl = viaKey
	}
	return Principal{ClientID: cl.ID, Kind: cl.Kind, SupplierID: cl.SupplierID}, nil
}

// checkSignature verifies an HMAC-signed request (see the file comment).
func (s *Server) checkSignature(ctx context.Context, r *http.Request, body []byte, id, ts, sig string) (Client, error) {
	cfg := &s.supplierCfg
	if id == "" || ts == "" || sig == "" {
		return Client{}, unauthorized("a signed request needs all of " + HeaderKeyID + ", " + HeaderTimestamp + " and " + HeaderSignature)
	}
	cl, ok := s.keys.supplierByID(id)
	if !ok || cl.HMACSecret == "" {
		return Client{}, unauthorized("unknown signing key id")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return Client{}, unauthorized(HeaderTimestamp + " must be Unix seconds")
	}
	if d := s.now().Sub(time.Unix(sec, 0)); d > cfg.SignatureWindow || d < -cfg.SignatureWindow {
		return Client{}, unauthorized("the request's timestamp is outside the allowed window of " + cfg.SignatureWindow.String() + "; check the clock and sign again")
	}
	got, ok := strings.CutPrefix(sig, "v1=")
	raw, err := hex.DecodeString(got)
	if !ok || err != nil || len(raw) != sha256.Size {
		return Client{}, unauthorized(HeaderSignature + " must be v1=<64 hex digits>")
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(SignSupplierRequest(cl.HMACSecret, sec, r.Method, r.URL.RequestURI(), body), "v1="))
	if !hmac.Equal(raw, want) {
		return Client{}, unauthorized("the signature does not match the request")
	}
	first, err := s.supplierCfg.Store.FirstUse(ctx, cl.ID+"|"+hex.EncodeToString(raw), 2*cfg.SignatureWindow)
	if err != nil {
		return Client{}, err
	}
	if !first {
		return Client{}, unauthorized("this signature was used before: sign every request anew")
	}
	return cl, nil
}

// readBody reads the request body up to limit bytes (TooLarge beyond) and
// puts it back for the handler.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, bodyReadError(err, limit)
	}
	if int64(len(b)) > limit {
		return nil, erpgate.Errorf(erpgate.TooLarge, "request body is larger than %d bytes", limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// requireSupplier authenticates a REST supplier request (Bearer and/or
// signature) and sets its principal.
func (s *Server) requireSupplier() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			body, err := readBody(r, MaxBodyBytes)
			if err != nil {
				return err
			}
			p, err := s.authenticateSupplier(r.Context(), r, body)
			if err != nil {
				return err
			}
			if p.SupplierID == "" {
				return errors.New("supplier client without supplier id") // NewKeyring refuses these
			}
			c.Set(principalKey, p)
			authenticated(c)
			return next(c)
		}
	}
}
