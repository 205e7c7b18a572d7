package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"erpgate/store"
)

// nullStore accepts every order without storing it, so that
// BenchmarkCreateOrderCPU measures the gateway's own work per order.
type nullStore struct{}

func (nullStore) Accept(_ context.Context, in store.Intake) (store.Accepted, error) {
	return store.Accepted{OrderID: in.Order.ID, ExternalID: in.Order.ExternalID, Token: in.Token}, nil
}
func (nullStore) Order(context.Context, string) (*store.Record, error) { return nil, nil }
func (nullStore) OrderByExternalID(context.Context, string, string) (*store.Record, error) {
	return nil, nil
}
func (nullStore) NewOrderID(_, _ string, gen func() string) string { return gen() }

// BenchmarkCreateOrderCPU is BenchmarkCreateOrder without Redis: routing,
// middleware, auth, decode, validate, fingerprint, ids, metrics and the 202,
// as CPU time and allocations per order (the HTTP server's own parsing
// and the network are not included; httptest's request and recorder are).
func BenchmarkCreateOrderCPU(b *testing.B) {
	now := func() time.Time { return restNow }
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{PublicURL: "https://gw.example", Store: nullStore{}, Keyring: keys, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, 1024)
	for i := range bodies {
		bodies[i] = strings.Replace(validOrderJSON, `"WEB-1"`, `"B-`+strconv.Itoa(i)+`"`, 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/orders", strings.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer demo-shop-key")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("got %d %s", w.Code, w.Body)
		}
		i++
	}
}

// BenchmarkSOAPSubmitOrderCPU is BenchmarkCreateOrderCPU for the SOAP
// OrderService: envelope reading, strict decode, translation, the shared
// intake and the SOAP response, without Redis.
func BenchmarkSOAPSubmitOrderCPU(b *testing.B) {
	now := func() time.Time { return soapNow }
	keys, _ := NewKeyring(DemoClients())
	s, err := New(Config{PublicURL: "https://gw.example", Store: nullStore{}, Keyring: keys, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, 1024)
	for i := range bodies {
		bodies[i] = soapEnvelope("", soapOrder{ext: "B-" + strconv.Itoa(i)}.xml())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, soapOrdersPath, strings.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("Authorization", "Bearer demo-shop-key")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("got %d %s", w.Code, w.Body)
		}
		i++
	}
}
