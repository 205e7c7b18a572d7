package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/erp/erpsim"
	"erpgate/erp/erpv2"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// supT0 is the start of the supplier tests' fake clock.
var supT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type supClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *supClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *supClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// switchPlan is a release plan whose v2 can be paused and resumed.
type switchPlan struct{ v2Paused atomic.Bool }

func (p *switchPlan) Active(target string) bool { return target != erp.V2 || !p.v2Paused.Load() }
func (p *switchPlan) Authoritative(*order.Order) string {
	return erp.V2
}

// supEnv is the whole supply chain in one process: the gateway with its
// supplier services over the real store, the ERP simulator (v2 supply
// chain, manual lifecycle on the fake clock), and the delivery workers
// (v1 a fake, v2 the simulator).
type supEnv struct {
	t    *testing.T
	srv  *httptest.Server
	gw   *Server
	sim  *erpsim.Sim
	clk  *supClock
	st   *store.Store
	trk  *tracking.Store
	rdb  redis.UniversalClient
	plan *switchPlan
	reg  *prometheus.Registry
	v1   *erpfake.Fake
}

type supOpts struct {
	requireSignature bool
	noWorkers        bool
}

func newSupEnv(t *testing.T, opts ...supOpts) *supEnv {
	t.Helper()
	var o supOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Real(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	e := &supEnv{t: t, clk: &supClock{t: supT0}, rdb: rdb, plan: &switchPlan{}, reg: prometheus.NewRegistry()}
	e.sim = erpsim.New(erpsim.Config{Clock: e.clk.Now, Lifecycle: erpsim.LifecycleConfig{Step: 10 * time.Second, Manual: true}})
	t.Cleanup(e.sim.Close)
	simSrv := httptest.NewServer(e.sim)
	t.Cleanup(simSrv.Close)

	e.st = store.New(rdb, store.Options{Now: e.clk.Now})
	if err := e.st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	trk, err := tracking.NewStore(tracking.StoreConfig{Client: rdb, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.trk = trk
	chain, err := erpv2.NewSupply(erpv2.Config{URL: simSrv.URL + "/erp/v2", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyring(DemoClients())
	if err != nil {
		t.Fatal(err)
	}
	e.gw, err = New(Config{
		PublicURL: "https://gw.example", Store: e.st, Keyring: keys, Now: e.clk.Now,
		Registerer: e.reg, Gatherer: e.reg, Timelines: trk, Live: nopLive{},
		Supplier: SupplierConfig{ERP: chain, Store: e.st, Timelines: trk,
			Active: func() bool { return e.plan.Active(erp.V2) }, RequireSignature: o.requireSignature},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.gw)
	t.Cleanup(e.srv.Close)
	if !o.noWorkers {
		e.startWorkers(chain, simSrv.URL)
	}
	return e
}

type nopLive struct{}

func (nopLive) ServeSSE(context.Context, http.ResponseWriter, string, string, time.Duration) error {
	return nil
}

// startWorkers runs the delivery workers: orders to v1 (a fake) and v2
// (the simulator), supplier documents to v2 only.
func (e *supEnv) startWorkers(chain erp.SupplyChain, simURL string) {
	v2, err := erpv2.New(erpv2.Config{URL: simURL + "/erp/v2", Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.v1 = erpfake.New(erpfake.Config{Target: erp.V1})
	sd, err := erp.NewSupplyDelivery(erp.SupplyDeliveryConfig{Documents: e.st, Chains: map[string]erp.SupplyChain{erp.V2: chain},
		OnResult: e.gw.Supplier().OnDelivery, Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	d := erp.NewDispatcher(erp.DispatcherConfig{
		Outbox: e.st.Outbox(), Orders: e.st, Adapters: map[string]erp.Adapter{erp.V1: e.v1, erp.V2: v2},
		Handlers: sd.Handlers(), Plan: e.plan, Logger: slog.New(slog.DiscardHandler), Name: "t",
		Consumers: 2, BatchSize: 5, Block: 10 * time.Millisecond, Poll: 2 * time.Millisecond,
		Backoff: erp.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}, MaxDeliveries: 50,
		ReclaimMinIdle: time.Hour, ReclaimEvery: time.Hour,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("dispatcher: %v", err)
		}
	})
}

type supResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request with the given credentials: key is a Bearer key
// ("" for none); sign, when set, signs it as that client.
func (e *supEnv) call(method, path, key string, body any, hdr ...string) supResp {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(b) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := supResp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// signed returns the signature headers for a request by client id with
// secret at the env's clock.
func (e *supEnv) signed(id, secret, method, path string, body []byte, at time.Time) []string {
	ts := at.Unix()
	return []string{HeaderKeyID, id, HeaderTimestamp, strconv.FormatInt(ts, 10),
		HeaderSignature, SignSupplierRequest(secret, ts, method, path, body)}
}

const (
	sup1Key = "demo-supplier-key-1"
	sup2Key = "demo-supplier-key-2"
	shopKey = "demo-shop-key"
)

// waitFor polls cond until it holds (the workers deliver asynchronously).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shortOrder places an order for 2 × sku through the REST API, waits until
// the simulator holds it and runs it to its availability check.
func (e *supEnv) shortOrder(ext, sku string) string {
	e.t.Helper()
	body := strings.Replace(strings.Replace(validOrderJSON, `"WEB-1"`, `"`+ext+`"`, 1), `"SKU-1001"`, `"`+sku+`"`, 1)
	r := e.call(http.MethodPost, "/v1/orders", shopKey, body)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("order: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	waitFor(e.t, "the ERP to hold "+id, func() bool {
		rec, err := e.st.Order(context.Background(), id)
		return err == nil && rec.Results[erp.V2].State == erp.StateCreated
	})
	e.clk.Add(5 * time.Second)
	e.sim.Advance()
	e.clk.Add(10 * time.Second)
	e.sim.Advance()
	return id
}

// onlyPO returns the one purchase order supplier 2 has.
func (e *supEnv) onlyPO() map[string]any {
	e.t.Helper()
	r := e.call(http.MethodGet, "/v1/supplier/purchase-orders", sup2Key, nil)
	pos, _ := r.body["purchase_orders"].([]any)
	if r.status != http.StatusOK || len(pos) != 1 {
		e.t.Fatalf("SUP-2 purchase orders: %d %s, want one", r.status, r.raw)
	}
	return pos[0].(map[string]any)
}

func ackBody(id, promised string, qty int) map[string]any {
	line := map[string]any{"line_number": 1, "status": "accepted", "promised_date": promised}
	if qty > 0 {
		line["status"], line["quantity"] = "changed", qty
	}
	return map[string]any{"id": id, "date": "2026-03-02", "lines": []any{line}}
}

func asnBody(id, shipped, expected string, qty int) map[string]any {
	return map[string]any{"id": id, "ship_date": shipped, "expected_delivery": expected, "carrier": "DHL",
		"tracking_number": "00340434161234567890", "lines": []any{map[string]any{"line_number": 1, "quantity": qty}}}
}

func invoiceBody(id, shipment string, qty int64, price, tax string) map[string]any {
	p := order.MustDecimal(price)
	amount := p.MulInt(qty)
	t := order.MustDecimal(tax)
	return map[string]any{"id": id, "shipment_id": shipment, "date": "2026-03-04", "currency": "EUR",
		"lines":    []any{map[string]any{"line_number": 1, "quantity": qty, "unit_price": p.String(), "amount": amount.String()}},
		"subtotal": amount.String(), "tax": t.String(), "total": amount.Add(t).String()}
}

func (e *supEnv) docState(key, kind, id string) string {
	r := e.call(http.MethodGet, "/v1/supplier/"+kind+"/"+id, key, nil)
	s, _ := r.body["status"].(string)
	return s
}

func (e *supEnv) timeline(id string) []tracking.Event {
	e.t.Helper()
	evs, err := e.trk.Timeline(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func findEvent(evs []tracking.Event, typ string) *tracking.Event {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

// TestSupplierDemoWalkThrough is the README's demo: a customer orders the
// stand mixer nobody has in stock; a purchase order appears for SUP-2; the
// supplier acknowledges and ships; the customer's timeline shows the
// supplier's dates and the revised delivery; the goods arrive and the order
// completes. The catalog shows the inbound supply on the way.
func TestSupplierDemoWalkThrough(t *testing.T) {
	e := newSupEnv(t)
	orderID := e.shortOrder("WEB-MIXER", "SKU-1011")

	po := e.onlyPO()
	num := po["number"].(string)
	if po["origin"] != "customer_order" || po["status"] != "issued" || po["customer_orders"] != nil {
		t.Fatalf("purchase order = %v, want an issued customer_order PO without our order ids", po)
	}
	if r := e.call(http.MethodGet, "/v1/supplier/purchase-orders", sup1Key, nil); len(r.body["purchase_orders"].([]any)) != 0 {
		t.Errorf("SUP-1 sees %s, want no purchase orders", r.raw)
	}

	r := e.call(http.MethodPost, "/v1/supplier/purchase-orders/"+num+"/acknowledgements", sup2Key, ackBody("ACK-1", "2026-03-06", 0))
	if r.status != http.StatusAccepted || r.body["status"] != "accepted" || r.header.Get("Location") != "/v1/supplier/acknowledgements/ACK-1" {
		t.Fatalf("acknowledge: %d %s (Location %q)", r.status, r.raw, r.header.Get("Location"))
	}
	ev := findEvent(e.timeline(orderID), tracking.TypePOAcked)
	if ev == nil || ev.Details[tracking.DetailPromisedDate] != "2026-03-06" || ev.Source != tracking.SourceSupplier {
		t.Fatalf("timeline event po_acknowledged = %+v, want the promised date 2026-03-06", ev)
	}
	// The shipping notice may follow at once: it is checked against the
	// order as it will be once the acknowledgement is applied.
	r = e.call(http.MethodPost, "/v1/supplier/purchase-orders/"+num+"/shipping-notices", sup2Key, asnBody("ASN-1", "2026-03-02", "2026-03-04", 5))
	if r.status != http.StatusAccepted {
		t.Fatalf("shipping notice: %d %s", r.status, r.raw)
	}
	ev = findEvent(e.timeline(orderID), tracking.TypePOShipped)
	if ev == nil || ev.Details[tracking.DetailExpectedArrival] != "2026-03-04" {
		t.Fatalf("timeline event po_shipped = %+v, want the expected arrival 2026-03-04", ev)
	}
	sum := tracking.Derive(e.timeline(orderID))
	if want := "2026-03-05"; sum.ExpectedDelivery < want {
		t.Errorf("derived expected delivery = %q, want at least %s (arrival + handling)", sum.ExpectedDelivery, want)
	}
	waitFor(t, "both documents delivered", func() bool {
		return e.docState(sup2Key, "acknowledgements", "ACK-1") == "delivered" && e.docState(sup2Key, "shipping-notices", "ASN-1") == "delivered"
	})
	r = e.call(http.MethodGet, "/v1/catalog/items/SKU-1011", shopKey, nil)
	inbound, _ := r.body["inbound"].([]any)
	if r.status != http.StatusOK || len(inbound) != 1 || inbound[0].(map[string]any)["expected_delivery"] != "2026-03-04" ||
		inbound[0].(map[string]any)["promised_date"] != "2026-03-06" || r.body["available"] != 0.0 {
		t.Fatalf("catalog SKU-1011: %d %s, want 0 available and the shipped PO inbound with both dates", r.status, r.raw)
	}
	if _, ok := r.body["supplier_id"]; ok {
		t.Errorf("the shop's catalog names the supplier: %s", r.raw)
	}

	// The goods arrive on the 4th; the order is allocated and delivered.
	e.clk.Add(48 * time.Hour)
	if got := e.sim.ReceiveDue(); len(got) != 1 {
		t.Fatalf("receipts = %d, want 1", len(got))
	}
	for range 3 {
		e.clk.Add(10 * time.Second)
		e.sim.Advance()
	}
	if infos := e.sim.Orders(erpsim.Filter{Version: "v2", ExternalRef: orderID}); len(infos) != 1 || infos[0].Status != erpsim.StatusDelivered {
		t.Fatalf("order in the ERP = %+v, want delivered", infos)
	}
	r = e.call(http.MethodGet, "/v1/supplier/purchase-orders/"+num, sup2Key, nil)
	if got := r.body["purchase_order"].(map[string]any)["status"]; got != "received" {
		t.Errorf("purchase order status after receipt = %v, want received", got)
	}
	r = e.call(http.MethodPost, "/v1/supplier/purchase-orders/"+num+"/invoices", sup2Key, invoiceBody("INV-1", "ASN-1", 5, "205.00", "194.75"))
	if r.status != http.StatusAccepted {
		t.Fatalf("invoice: %d %s", r.status, r.raw)
	}
	waitFor(t, "the invoice delivered", func() bool { return e.docState(sup2Key, "invoices", "INV-1") == "delivered" })
	if got := e.call(http.MethodGet, "/v1/supplier/purchase-orders/"+num, sup2Key, nil).body["purchase_order"].(map[string]any)["status"]; got != "invoiced" {
		t.Errorf("purchase order status after the invoice = %v, want invoiced", got)
	}
	if got := testutil.ToFloat64(e.gw.Supplier().docs.WithLabelValues(erp.KindInvoice, "delivered")); got != 1 {
		t.Errorf("erpgate_supplier_documents_total{invoice,delivered} = %v, want 1", got)
	}
	if n := e.v1.Holds(orderID); n != 1 {
		t.Errorf("v1 holds the order %d times, want 1 (supplier documents never reach v1)", n)
	}
}
