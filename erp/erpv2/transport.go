package erpv2

import (
	"errors"
	"net/http"

	"erpgate/erp/internal/soapcall"
)

// errResponseTooLarge is returned when an answer exceeds MaxResponseBytes.
var errResponseTooLarge = errors.New("erpv2: ERP answer exceeds the response size limit")

// newHTTPClient returns the client the generated SOAP client uses: base (or
// a pooled default) with a transport that keeps connections alive and
// bounds answers to maxBody bytes.
func newHTTPClient(base *http.Client, maxBody int64) *http.Client {
	return soapcall.NewHTTPClient(base, soapcall.Limit{MaxBytes: maxBody, Err: errResponseTooLarge})
}
