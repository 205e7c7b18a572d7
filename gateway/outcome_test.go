package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"erpgate"
	"erpgate/soap"
	"erpgate/store"
)

// failingStore fails every accept with err.
type failingStore struct {
	nullStore
	err error
}

func (f failingStore) Accept(context.Context, store.Intake) (store.Accepted, error) {
	return store.Accepted{}, f.err
}

// TestAcceptOutcomeUnknownAnswers: an accept that Redis did not confirm
// after it was sent is a 503 that says the outcome is unknown and that the
// same external id is safe to retry, with Retry-After — as a REST problem
// and as a SOAP Server fault.
func TestAcceptOutcomeUnknownAnswers(t *testing.T) {
	cause := &erpgate.Error{Code: erpgate.OutcomeUnknown,
		Message: "the order may or may not have been stored. Retry with the same external_id"}
	srv := failingServer(t, cause, restNow)

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/orders", strings.NewReader(validOrderJSON))
	req.Header.Set("Authorization", "Bearer demo-shop-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p problem
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || p.Code != erpgate.OutcomeUnknown || resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST: %d %+v Retry-After %q, want 503 outcome_unknown with Retry-After", resp.StatusCode, p, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(p.Detail, "may or may not") {
		t.Errorf("REST detail %q does not say the outcome is unknown", p.Detail)
	}

	srv = failingServer(t, cause, soapNow)
	env := soapEnvelope("", soapOrder{}.xml())
	req, _ = http.NewRequest(http.MethodPost, srv.URL+soapOrdersPath, strings.NewReader(env))
	req.Header.Set("Authorization", "Bearer demo-shop-key")
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f, err := soap.ParseFault(b)
	if err != nil {
		t.Fatalf("SOAP: %v\n%s", err, b)
	}
	if f.Code != soap.FaultServer || f.Detail.Code != erpgate.OutcomeUnknown || resp.Header.Get("Retry-After") == "" {
		t.Errorf("SOAP: fault %s/%s Retry-After %q, want Server outcome_unknown with Retry-After", f.Code, f.Detail.Code, resp.Header.Get("Retry-After"))
	}
}

// failingServer serves a gateway whose store fails every accept with err.
func failingServer(t *testing.T, err error, now time.Time) *httptest.Server {
	t.Helper()
	keys, _ := NewKeyring(DemoClients())
	s, nerr := New(Config{PublicURL: "https://gw.example", Store: failingStore{err: err}, Keyring: keys,
		Now: func() time.Time { return now }})
	if nerr != nil {
		t.Fatal(nerr)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}
