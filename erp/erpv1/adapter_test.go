package erpv1_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"erpgate/erp"
	"erpgate/erp/erpv1"
	"erpgate/erpsim"
	"erpgate/order"
	"erpgate/order/ordertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

// fixture is a fully populated order of catalog items, fixed here (not
// taken from ordertest) so the golden envelope changes only with the
// translation.
func fixture() *order.Order {
	return &order.Order{
		ID:         "ord_01jqz8x7w6v5t4s3r2q1p0n9m8",
		ShopID:     "demo-shop",
		ExternalID: "WEB-2026-000042",
		Customer:   order.Customer{ID: "CUST-7", Name: "Zoë Łukasiewicz-Müller", Email: "zoe@example.com", Phone: "+49 30 1234-567"},
		ShippingAddress: order.Address{Name: "Zoë Łukasiewicz-Müller", Line1: "Straße des 17. Juni 135", Line2: "Hinterhaus",
			City: "Berlin", PostalCode: "10623", Region: "Berlin", Country: "DE"},
		BillingAddress: &order.Address{Name: "Müller & Søn GmbH", Line1: "Nørrebrogade 12", City: "København N", PostalCode: "2200", Country: "DK"},
		Currency:       "EUR",
		Lines: []order.Line{
			{SKU: "SKU-1001", Description: "Espresso cups, set of 6 — „Moka“ edition in stoneware", Quantity: 2, UnitPrice: order.MustDecimal("24.90"), Discount: order.MustDecimal("5.00")},
			{SKU: "SKU-1009", Description: "Digital kitchen scale\nwith batteries", Quantity: 3, UnitPrice: order.MustDecimal("19.9875")},
			{SKU: "SKU-1020", Quantity: 1, UnitPrice: order.MustDecimal("25")},
		},
		Shipping:              order.Shipping{Method: "DHL Paket (Premium, Signature required)", Price: order.MustDecimal("4.99")},
		RequestedDeliveryDate: "2026-03-28",
		Notes:                 "Bitte beim Nachbarn abgeben.\nTür-Code: 4711 ✓ <b>&amp;</b>",
		CreatedAt:             now,
	}
}

// catalogOrder returns a random valid order whose skus the simulator
// sells, so that it is accepted.
func catalogOrder(r *rand.Rand, opts ordertest.Options) *order.Order {
	o := ordertest.Random(r, opts)
	for i := range o.Lines {
		o.Lines[i].SKU = erpsim.DemoCatalog()[r.IntN(20)].SKU
	}
	return o
}

type env struct {
	sim *erpsim.Sim
	srv *httptest.Server
	a   *erpv1.Adapter
}

func newEnv(t *testing.T, cfg erpsim.Config, acfg erpv1.Config) *env {
	t.Helper()
	sim := erpsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	acfg.URL = srv.URL + "/erp/v1"
	a, err := erpv1.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, a: a}
}

// v1Orders returns the orders v1 holds for ref.
func (e *env) v1Orders(ref string) []erpsim.OrderInfo {
	return e.sim.Orders(erpsim.Filter{Version: "v1", ExternalRef: ref})
}

func erpError(t *testing.T, err error) *erp.Error {
	t.Helper()
	var ee *erp.Error
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T) is not an *erp.Error", err, err)
	}
	return ee
}

func TestCreateOrderOnceThenDuplicate(t *testing.T) {
	e := newEnv(t, erpsim.Config{Clock: func() time.Time { return now }}, erpv1.Config{})
	o := fixture()
	c, err := e.a.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// v1 booked the rounded net prices it was sent, so the confirmation
	// carries the exact total.
	want := erp.Confirmation{ERPOrderNumber: "V1-000001", Status: "confirmed", Total: o.Total(), LineCount: 3}
	if info := e.v1Orders(o.ID); len(info) != 1 || info[0].Total == o.Total() {
		t.Fatalf("v1 booked %+v; the fixture must show v1's rounding (total ≠ %s)", info, o.Total())
	}
	if c != want {
		t.Errorf("confirmation = %+v, want %+v", c, want)
	}
	// The worker died before acknowledging: the redelivery finds the order.
	again, err := e.a.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	want.Duplicate = true
	if again != want {
		t.Errorf("repeat confirmation = %+v, want %+v", again, want)
	}
	if got := e.v1Orders(o.ID); len(got) != 1 {
		t.Errorf("v1 holds %d orders for %s, want 1", len(got), o.ID)
	}
	if e.sim.OrderCount("v2") != 0 {
		t.Error("the v1 adapter wrote to v2")
	}
}

// TestLostCreateReplyIsRecovered: v1 creates the order but the answer is
// lost; the adapter's follow-up lookup finds it, so there is neither an
// error nor a second order.
func TestLostCreateReplyIsRecovered(t *testing.T) {
	var calls atomic.Int32
	// Calls in order: lookup, create (answer lost), lookup.
	rnd := func() float64 {
		if calls.Add(1) == 2 {
			return 0
		}
		return 0.99
	}
	e := newEnv(t, erpsim.Config{Rand: rnd, Faults: erpsim.Faults{LostReplyRate: 0.5}}, erpv1.Config{})
	o := fixture()
	c, err := e.a.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatalf("CreateOrder after a lost reply: %v", err)
	}
	if c.ERPOrderNumber != "V1-000001" || c.Duplicate {
		t.Errorf("confirmation = %+v, want V1-000001 created by this call", c)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("SOAP calls = %d, want 3 (lookup, create, lookup)", n)
	}
	if got := e.v1Orders(o.ID); len(got) != 1 {
		t.Errorf("v1 holds %d orders, want 1", len(got))
	}
}

// TestFirstDeliveryCreatesWithoutLookingFirst: a delivery the workers mark
// as the order's first (erp.WithFirstDelivery) creates at once — one SOAP
// call instead of two — and still looks after a lost answer, so the
// order is neither lost nor doubled.
func TestFirstDeliveryCreatesWithoutLookingFirst(t *testing.T) {
	var calls atomic.Int32
	lose := atomic.Int32{} // the call whose answer is lost (0: none)
	rnd := func() float64 {
		if calls.Add(1) == lose.Load() {
			return 0
		}
		return 0.99
	}
	e := newEnv(t, erpsim.Config{Rand: rnd, Faults: erpsim.Faults{LostReplyRate: 0.5}}, erpv1.Config{})
	ctx := erp.WithFirstDelivery(t.Context())

	o := fixture()
	c, err := e.a.CreateOrder(ctx, o)
	if err != nil || c.Duplicate || c.ERPOrderNumber != "V1-000001" {
		t.Fatalf("first delivery = %+v, %v; want V1-000001 created", c, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("SOAP calls = %d, want 1 (create only)", n)
	}

	// Calls: create (answer lost), lookup — finds it.
	calls.Store(0)
	lose.Store(1)
	o2 := fixture()
	o2.ID = "ord_01jqz8x7w6v5t4s3r2q1p0n9m9"
	c, err = e.a.CreateOrder(ctx, o2)
	if err != nil || c.ERPOrderNumber != "V1-000002" {
		t.Fatalf("first delivery with a lost answer = %+v, %v; want V1-000002 found by the follow-up lookup", c, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("SOAP calls = %d, want 2 (create, lookup)", n)
	}
	if got := e.v1Orders(o2.ID); len(got) != 1 {
		t.Errorf("v1 holds %d orders for %s, want 1", len(got), o2.ID)
	}
}

// TestLostRepliesThenRedelivery: v1 creates the order, but both the
// create's answer and the follow-up lookup's answer are lost, so the
// delivery fails as transient — the state a worker leaves when it dies
// between v1's answer and the acknowledgement. The redelivery finds the
// order and creates no second one.
func TestLostRepliesThenRedelivery(t *testing.T) {
	var calls atomic.Int32
	// Calls in order: lookup, create (answer lost), lookup (answer lost),
	// then the redelivery's lookup.
	rnd := func() float64 {
		if n := calls.Add(1); n == 2 || n == 3 {
			return 0
		}
		return 0.99
	}
	e := newEnv(t, erpsim.Config{Rand: rnd, Faults: erpsim.Faults{LostReplyRate: 0.5}}, erpv1.Config{})
	o := fixture()
	_, err := e.a.CreateOrder(t.Context(), o)
	if ee := erpError(t, err); ee.Kind != erp.KindTransient {
		t.Fatalf("error = %v, want transient", ee)
	}
	if got := e.v1Orders(o.ID); len(got) != 1 {
		t.Fatalf("v1 holds %d orders after the lost answers, want 1", len(got))
	}
	c, err := e.a.CreateOrder(t.Context(), o)
	if err != nil || !c.Duplicate || c.ERPOrderNumber != "V1-000001" {
		t.Fatalf("redelivery = %+v, %v; want the existing V1-000001 as duplicate", c, err)
	}
	if got := e.v1Orders(o.ID); len(got) != 1 {
		t.Errorf("v1 holds %d orders, want 1", len(got))
	}
}

// TestConcurrentDeliveriesMakeOneOrder: deliveries of one order racing in
// one process are serialised, so v1 gets it once.
func TestConcurrentDeliveriesMakeOneOrder(t *testing.T) {
	e := newEnv(t, erpsim.Config{}, erpv1.Config{})
	o := fixture()
	const n = 8
	var wg sync.WaitGroup
	var created, dups atomic.Int32
	for range n {
		wg.Go(func() {
			c, err := e.a.CreateOrder(context.Background(), o.Clone())
			switch {
			case err != nil:
				t.Error(err)
			case c.Duplicate:
				dups.Add(1)
			default:
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || dups.Load() != n-1 {
		t.Errorf("created %d, duplicates %d; want 1 and %d", created.Load(), dups.Load(), n-1)
	}
	if got := e.v1Orders(o.ID); len(got) != 1 {
		t.Errorf("v1 holds %d orders, want 1", len(got))
	}
}

func TestCreateOrderFailures(t *testing.T) {
	unknown := fixture()
	unknown.Lines[1].SKU = "SKU-9999"
	unknown.Lines = append(unknown.Lines, order.Line{SKU: "NOPE-1", Quantity: 1, UnitPrice: 1})
	noID := fixture()
	noID.ID = ""
	longSKU := fixture()
	longSKU.Lines[0].SKU = string(bytes.Repeat([]byte("S"), 65))
	for _, c := range []struct {
		name   string
		faults erpsim.Faults
		o      *order.Order
		kind   erp.Kind
		code   string
		reason string
	}{
		{"unknown sku", erpsim.Faults{}, unknown, erp.KindPermanent, erpv1.CodeUnknownSKU, "SKU-9999 and NOPE-1 are not sold by us"},
		{"no id", erpsim.Faults{}, noID, erp.KindPermanent, erpv1.CodeUntranslatable, "the order has no id"},
		{"untranslatable", erpsim.Faults{}, longSKU, erp.KindPermanent, erpv1.CodeUntranslatable, "the order cannot be expressed in the old ERP's format"},
		{"busy", erpsim.Faults{ErrorRate: 1}, fixture(), erp.KindTransient, erpv1.CodeServiceBusy, "the ERP is temporarily unavailable"},
		{"down", erpsim.Faults{Down: true}, fixture(), erp.KindTransient, erpv1.CodeHTTPStatus, "the ERP is temporarily unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, erpsim.Config{Faults: c.faults}, erpv1.Config{})
			_, err := e.a.CreateOrder(t.Context(), c.o)
			ee := erpError(t, err)
			if ee.Kind != c.kind || ee.Code != c.code || ee.Reason != c.reason {
				t.Errorf("error = %v / %q, want %v %s %q", ee, ee.Reason, c.kind, c.code, c.reason)
			}
			if ee.Err == nil {
				t.Error("the error keeps no cause for operators")
			}
			if n := e.sim.OrderCount("v1"); n != 0 {
				t.Errorf("v1 holds %d orders after a failure, want 0", n)
			}
		})
	}
}

// TestTimeoutIsTransient: an ERP slower than the call timeout is a
// transient failure, and the adapter does not create on a lookup it could
// not complete.
func TestTimeoutIsTransient(t *testing.T) {
	e := newEnv(t, erpsim.Config{Faults: erpsim.Faults{LatencyMS: 200}}, erpv1.Config{CallTimeout: 20 * time.Millisecond})
	_, err := e.a.CreateOrder(t.Context(), fixture())
	if ee := erpError(t, err); ee.Kind != erp.KindTransient || ee.Code != erpv1.CodeTimeout {
		t.Errorf("error = %v, want transient timeout", ee)
	}
	e.srv.Close() // waits for the simulator's handlers
	if n := e.sim.OrderCount("v1"); n != 0 {
		t.Errorf("v1 holds %d orders, want 0", n)
	}
}

func TestOrderStatus(t *testing.T) {
	e := newEnv(t, erpsim.Config{}, erpv1.Config{})
	o := fixture()
	if _, err := e.a.CreateOrder(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	st, err := e.a.OrderStatus(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (erp.Status{ERPOrderNumber: "V1-000001", Status: "confirmed"}); st != want {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	for _, c := range []struct{ sim, want string }{
		{erpsim.StatusBackordered, "backordered"}, {erpsim.StatusAllocated, "allocated"}, {erpsim.StatusPicked, "picked"},
		{erpsim.StatusShipped, "shipped"}, {erpsim.StatusDelivered, "delivered"}, {erpsim.StatusCancelled, "cancelled"},
		{erpsim.StatusRejected, "rejected"},
	} {
		if err := e.sim.SetStatus("v1", o.ID, erpsim.OrderStatus{Status: c.sim, Carrier: "DHL", TrackingNumber: "00340434", ExpectedDelivery: "2026-03-20"}); err != nil {
			t.Fatal(err)
		}
		st, err := e.a.OrderStatus(t.Context(), o.ID)
		want := erp.Status{ERPOrderNumber: "V1-000001", Status: c.want, Carrier: "DHL", TrackingNumber: "00340434", ExpectedDelivery: "2026-03-20"}
		if err != nil || st != want {
			t.Errorf("status = %+v, %v; want %+v", st, err, want)
		}
	}
	_, err = e.a.OrderStatus(t.Context(), "ord_unknown")
	if ee := erpError(t, err); ee.Kind != erp.KindPermanent || ee.Code != "not_found" {
		t.Errorf("status of an unknown ref: %v, want permanent not_found", ee)
	}
}

// TestFetchOrderRestoresEveryField: what v1 holds comes back, through SOAP
// both ways, as the original canonical order — also the largest ones.
func TestFetchOrderRestoresEveryField(t *testing.T) {
	e := newEnv(t, erpsim.Config{}, erpv1.Config{})
	r := rand.New(rand.NewPCG(11, 12))
	orders := []*order.Order{
		fixture(),
		catalogOrder(r, ordertest.Options{Now: now, Max: true}),
	}
	small := 20
	if !erpv1.RaceEnabled {
		orders = append(orders, catalogOrder(r, ordertest.Options{Now: now, Max: true, ASCII: true}))
		small = 100
	}
	for range small {
		orders = append(orders, catalogOrder(r, ordertest.Options{Now: now, Lines: 1 + r.IntN(10)}))
	}
	for _, o := range orders {
		want := o.Clone()
		if _, err := e.a.CreateOrder(t.Context(), o); err != nil {
			t.Fatalf("CreateOrder(%d lines): %v", len(o.Lines), err)
		}
		got, err := e.a.FetchOrder(t.Context(), o.ID)
		if err != nil {
			t.Fatalf("FetchOrder(%d lines): %v", len(o.Lines), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("FetchOrder(%s) differs from the order sent (%d lines)", o.ID, len(o.Lines))
		}
	}
	_, err := e.a.FetchOrder(t.Context(), "ord_unknown")
	if ee := erpError(t, err); ee.Code != "not_found" {
		t.Errorf("FetchOrder of an unknown ref: %v", ee)
	}
}

// TestGoldenCreateOrderEnvelope pins the v1 request the adapter sends for
// fixture(): the wire format the old ERP sees. Run with -update to rewrite.
func TestGoldenCreateOrderEnvelope(t *testing.T) {
	sim := erpsim.New(erpsim.Config{})
	var mu sync.Mutex
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("SOAPAction") == "urn:erpgate:erp:v1/CreateOrder" {
			mu.Lock()
			body = b
			mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a, err := erpv1.New(erpv1.Config{URL: srv.URL + "/erp/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateOrder(t.Context(), fixture()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	golden := filepath.Join("testdata", "create_order.golden.xml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("CreateOrder envelope differs from %s (run with -update if intended)\n got: %s\nwant: %s", golden, body, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []erpv1.Config{
		{},
		{URL: "ftp://x/erp/v1"},
		{URL: "http://"},
		{URL: "http://127.0.0.1/erp/v1", CallTimeout: -1},
		{URL: "http://127.0.0.1/erp/v1", MaxResponseBytes: -1},
	} {
		if _, err := erpv1.New(c); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", c)
		}
	}
	a, err := erpv1.New(erpv1.Config{URL: "http://127.0.0.1:1/erp/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Target() != erp.V1 {
		t.Errorf("Target() = %q, want %q", a.Target(), erp.V1)
	}
	// Nothing listens on port 1: a dead ERP is a transient failure.
	_, err = a.CreateOrder(t.Context(), fixture())
	if ee := erpError(t, err); ee.Kind != erp.KindTransient {
		t.Errorf("error for a dead endpoint = %v, want transient", ee)
	}
}
