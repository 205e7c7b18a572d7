package erpv2_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/erp"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv2"
	"erpgate/erpsim"
)

// newAdapter starts a simulator behind a real HTTP server and returns an
// adapter talking SOAP to it.
func newAdapter(t *testing.T, simCfg erpsim.Config, cfg erpv2.Config) (*erpv2.Adapter, *erpsim.Sim, *httptest.Server) {
	t.Helper()
	sim := erpsim.New(simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if cfg.URL == "" {
		cfg.URL = srv.URL + "/erp/v2"
	}
	a, err := erpv2.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, sim, srv
}

func TestConformance(t *testing.T) {
	erptest.Run(t, func(t *testing.T) erptest.Harness {
		a, sim, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
		return erptest.Harness{Adapter: a, ERP: erptest.SimERP(sim, erp.V2)}
	})
}

func TestCapabilities(t *testing.T) {
	var a erp.Adapter = &erpv2.Adapter{}
	if _, ok := a.(erptest.OrderFetcher); !ok {
		t.Error("the v2 adapter does not declare OrderFetcher")
	}
}

func classified(t *testing.T, err error) *erp.Error {
	t.Helper()
	var e *erp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *erp.Error", err, err)
	}
	return e
}

func TestUnknownSKUReasonIsShopSafe(t *testing.T) {
	a, _, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
	o := erptest.Order()
	o.Lines[0].SKU = "SKU-9999"
	o.Lines[2].SKU = "SKU-8888"
	_, err := a.CreateOrder(t.Context(), o)
	e := classified(t, err)
	if got, want := e.Reason, "SKU-9999 and SKU-8888 are not sold by us"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	// The ERP's own words stay in the cause, for operators.
	if strings.Contains(e.Reason, "unknown sku") || !strings.Contains(e.Err.Error(), "unknown sku") {
		t.Errorf("Reason %q / cause %q: the ERP text must be in the cause only", e.Reason, e.Err)
	}
}

func TestInvalidOrderNamesCanonicalFields(t *testing.T) {
	a, _, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
	o := erptest.Order()
	o.Lines[1].Quantity = 2_000_000 // over the ERP's limit
	o.ShippingAddress.Country = "Deutschland"
	_, err := a.CreateOrder(t.Context(), o)
	e := classified(t, err)
	if e.Kind != erp.KindPermanent || e.Code != erpv2.CodeInvalidOrder {
		t.Fatalf("error = %v %q, want permanent invalid_order", e.Kind, e.Code)
	}
	if got, want := e.Reason, "the ERP cannot accept this order: shipping_address.country and lines[1].quantity"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}

func TestOrderWithoutIDIsRefused(t *testing.T) {
	a, sim, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
	o := erptest.Order()
	o.ID = ""
	if _, err := a.CreateOrder(t.Context(), o); !erp.IsPermanent(err) {
		t.Errorf("CreateOrder without ID = %v, want a permanent error", err)
	}
	if n := sim.OrderCount(""); n != 0 {
		t.Errorf("orders = %d, want 0", n)
	}
}

func TestTransientFailures(t *testing.T) {
	deadAddr := func(t *testing.T) string {
		// A port that was just free: nothing listens there.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/erp/v2"
	}
	handler := func(status int, body string) func(*testing.T) string {
		return func(t *testing.T) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)
			return srv.URL
		}
	}
	fault := func(faultcode, detail string) string {
		return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
			`<faultcode>soap:` + faultcode + `</faultcode><faultstring>boom</faultstring>` + detail +
			`</soap:Fault></soap:Body></soap:Envelope>`
	}
	erpFault := func(code string) string {
		return `<detail><ErpFault xmlns="urn:erpgate:erp:v2"><ErrorCode>` + code + `</ErrorCode><Message>m</Message></ErpFault></detail>`
	}
	tests := []struct {
		name   string
		url    func(*testing.T) string
		code   string
		simCfg *erpsim.Config
	}{
		{"connection refused", deadAddr, erpv2.CodeUnreachable, nil},
		{"bad gateway from a proxy", handler(http.StatusBadGateway, "<html>bad gateway</html>"), erpv2.CodeHTTPStatus, nil},
		{"404 from a wrong URL", handler(http.StatusNotFound, "not found"), erpv2.CodeHTTPStatus, nil},
		{"fault without detail", handler(500, fault("Client", "")), erpv2.CodeSOAPFault, nil},
		{"busy", handler(500, fault("Server", erpFault("SERVICE_BUSY"))), erpv2.CodeServiceBusy, nil},
		{"maintenance", handler(500, fault("Server", erpFault("SERVICE_UNAVAILABLE"))), erpv2.CodeServiceUnavailable, nil},
		{"our request off-schema", handler(500, fault("Client", erpFault("INVALID_REQUEST"))), erpv2.CodeInvalidRequest, nil},
		{"unknown fault code", handler(500, fault("Client", erpFault("QUOTA_EXCEEDED"))), erpv2.CodeSOAPFault, nil},
		{"garbage answer", handler(200, "<<<not xml"), erpv2.CodeBadResponse, nil},
		{"empty answer", handler(200, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`), erpv2.CodeBadResponse, nil},
		{"fault in a 200", handler(200, fault("Client", "")), erpv2.CodeSOAPFault, nil},
		{"simulator busy", nil, erpv2.CodeServiceBusy, &erpsim.Config{Faults: erpsim.Faults{ErrorRate: 1}}},
		{"simulator down", nil, erpv2.CodeHTTPStatus, &erpsim.Config{Faults: erpsim.Faults{Down: true}}},
		{"simulator loses the reply", nil, erpv2.CodeUnreachable, &erpsim.Config{Faults: erpsim.Faults{LostReplyRate: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a *erpv2.Adapter
			if tt.simCfg != nil {
				a, _, _ = newAdapter(t, *tt.simCfg, erpv2.Config{})
			} else {
				var err error
				if a, err = erpv2.New(erpv2.Config{URL: tt.url(t)}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := a.CreateOrder(t.Context(), erptest.Order())
			e := classified(t, err)
			if e.Kind != erp.KindTransient || e.Code != tt.code {
				t.Errorf("error = %v %q (%v), want transient %q", e.Kind, e.Code, e.Err, tt.code)
			}
			if e.Reason == "" || strings.Contains(e.Reason, "boom") {
				t.Errorf("Reason = %q: want a shop-safe text", e.Reason)
			}
		})
	}
}

func TestPerCallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	a, err := erpv2.New(erpv2.Config{URL: srv.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.CreateOrder(t.Context(), erptest.Order())
	if e := classified(t, err); e.Kind != erp.KindTransient || e.Code != erpv2.CodeTimeout {
		t.Errorf("error = %v %q, want transient timeout", e.Kind, e.Code)
	}

	// The caller's own cancellation is reported as such.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = a.CreateOrder(ctx, erptest.Order())
	if e := classified(t, err); e.Code != erpv2.CodeCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %q (%v), want canceled wrapping context.Canceled", e.Code, err)
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><CreateSalesOrderResponse xmlns="urn:erpgate:erp:v2"><SalesOrderNumber>`))
		_, _ = w.Write([]byte(strings.Repeat("9", 64<<10)))
		_, _ = w.Write([]byte(`</SalesOrderNumber></CreateSalesOrderResponse></soap:Body></soap:Envelope>`))
	}))
	t.Cleanup(srv.Close)
	a, err := erpv2.New(erpv2.Config{URL: srv.URL, MaxResponseBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.CreateOrder(t.Context(), erptest.Order())
	if e := classified(t, err); e.Code != erpv2.CodeBadResponse || !strings.Contains(e.Err.Error(), "size limit") {
		t.Errorf("error = %q (%v), want bad_response for an oversized answer", e.Code, e.Err)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	sim := erpsim.New(erpsim.Config{})
	srv := httptest.NewUnstartedServer(sim)
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	a, err := erpv2.New(erpv2.Config{URL: srv.URL + "/erp/v2"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		o := erptest.Order()
		if _, err := a.CreateOrder(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		if _, err := a.OrderStatus(t.Context(), o.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 sequential calls opened %d connections, want 1 (keep-alive)", n)
	}
}

func TestConcurrentDeliveriesOfOneOrderMakeOneERPOrder(t *testing.T) {
	a, sim, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
	o := erptest.Order()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		numbers = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			c, err := a.CreateOrder(t.Context(), o)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			numbers[c.ERPOrderNumber] = true
			if !c.Duplicate {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 || len(numbers) != 1 {
		t.Errorf("%d non-duplicate confirmations, %d numbers; want 1 and 1", created, len(numbers))
	}
	if got := sim.Orders(erpsim.Filter{ExternalRef: o.ID}); len(got) != 1 || got[0].CreateCalls != 8 {
		t.Errorf("simulator holds %+v, want one order with 8 create calls", got)
	}
}

func TestStatusCarriesShippingData(t *testing.T) {
	a, sim, _ := newAdapter(t, erpsim.Config{}, erpv2.Config{})
	o := erptest.Order()
	if _, err := a.CreateOrder(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetStatus(erp.V2, o.ID, erpsim.OrderStatus{Status: "shipped", Carrier: "DHL", TrackingNumber: "JJD000390007", ExpectedDelivery: "2025-03-07"}); err != nil {
		t.Fatal(err)
	}
	st, err := a.OrderStatus(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "shipped" || st.Carrier != "DHL" || st.TrackingNumber != "JJD000390007" || st.ExpectedDelivery != "2025-03-07" {
		t.Errorf("status = %+v, want shipped by DHL, JJD000390007, 2025-03-07", st)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []erpv2.Config{
		{},
		{URL: "127.0.0.1:8090/erp/v2"},
		{URL: "ftp://127.0.0.1/erp/v2"},
		{URL: "http://127.0.0.1:8090/erp/v2", Timeout: -1},
	} {
		if _, err := erpv2.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

// BenchmarkCreateOrder is one delivery end to end: translation, SOAP over
// loopback HTTP (kept-alive connection), the simulator, and the answer.
func BenchmarkCreateOrder(b *testing.B) {
	sim := erpsim.New(erpsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	a, err := erpv2.New(erpv2.Config{URL: srv.URL + "/erp/v2"})
	if err != nil {
		b.Fatal(err)
	}
	o := erptest.Order()
	b.ReportAllocs()
	for b.Loop() {
		o.ID = erptest.NewRef()
		if _, err := a.CreateOrder(b.Context(), o); err != nil {
			b.Fatal(err)
		}
	}
}
