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
	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/erp/erpv2"
	"erpgate/erpsim"
	"erpgate/internal/backoff"
	"erpgate/internal/partition"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/supply"
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
	wrapStore        func(SupplyStore) SupplyStore // wraps the supplier services' store
}

func newSupEnv(t *testing.T, opts ...supOpts) *supEnv {
	t.Helper()
	var o supOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	var rdb redis.UniversalClient
	if os.Getenv("ERPGATE_REDIS_ADDR") != "" || os.Getenv("ERPGATE_REDIS_REQUIRED") == "1" {
		rdb = redistest.Universal(t)
	} else {
		rdb, _ = redistest.Mini(t)
	}
	e := &supEnv{t: t, clk: &supClock{t: supT0}, rdb: rdb, plan: &switchPlan{}, reg: prometheus.NewRegistry()}
	e.sim = erpsim.New(erpsim.Config{Clock: e.clk.Now, Lifecycle: erpsim.LifecycleConfig{Step: 10 * time.Second, Manual: true}})
	t.Cleanup(e.sim.Close)
	simSrv := httptest.NewServer(e.sim)
	t.Cleanup(simSrv.Close)

	e.st = store.New(rdb, store.Options{Now: e.clk.Now, Partitions: 1})
	if err := e.st.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	trk, err := tracking.NewStore(tracking.StoreConfig{Client: rdb, Space: partition.MustNew(1), Now: e.clk.Now})
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
	var supplyStore SupplyStore = e.st
	if o.wrapStore != nil {
		supplyStore = o.wrapStore(e.st)
	}
	e.gw, err = New(Config{
		PublicURL: "https://gw.example", Store: e.st, Keyring: keys, Now: e.clk.Now,
		Registerer: e.reg, Gatherer: e.reg, Timelines: trk, Live: nopLive{},
		Supplier: SupplierConfig{ERP: chain, Store: supplyStore, Timelines: trk, RequireSignature: o.requireSignature},
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
		OnResult: e.gw.Supplier().OnDelivery, BeforeFinal: e.gw.Supplier().BeforeFinal, Now: e.clk.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	d := erp.NewDispatcher(erp.DispatcherConfig{
		Outbox: e.st.Outbox(), Orders: e.st, Adapters: map[string]erp.Adapter{erp.V1: e.v1, erp.V2: v2},
		Handlers: sd.Handlers(), Plan: e.plan, Logger: slog.New(slog.DiscardHandler), Name: "t",
		Consumers: 2, BatchSize: 5, Block: 10 * time.Millisecond, Poll: 2 * time.Millisecond,
		Backoff: backoff.Policy{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}, MaxDeliveries: 50,
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
	return map[string]any{"id": id, "shipment_id": shipment, "date": "2026-03-02", "currency": "EUR",
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
	if got := counterValueLabels(t, e.reg, "erpgate_supplier_documents_total", supply.KindInvoice, "delivered"); got != 1 {
		t.Errorf("erpgate_supplier_documents_total{invoice,delivered} = %v, want 1", got)
	}
	if n := e.v1.Holds(orderID); n != 1 {
		t.Errorf("v1 holds the order %d times, want 1 (supplier documents never reach v1)", n)
	}
}

// issuedPO issues a purchase order of 5 × SKU-1011 for SUP-2 in the
// simulator (as a backorder of order ref would) and returns its number.
func (e *supEnv) issuedPO(ref string) string {
	e.t.Helper()
	nums, err := e.sim.IssueBackorderPO(ref, []erpsim.ShortLine{{SKU: "SKU-1011", Quantity: 2}})
	if err != nil || len(nums) != 1 {
		e.t.Fatalf("IssueBackorderPO = %v, %v", nums, err)
	}
	return nums[0]
}

func (e *supEnv) outboxLen() int64 {
	e.t.Helper()
	n, err := e.rdb.XLen(context.Background(), "outbox:{p0.0}").Result()
	if err != nil && err != redis.Nil {
		e.t.Fatal(err)
	}
	return n
}

// checkCase is one submission and the answer it must get.
type checkCase struct {
	name   string
	path   string // after /v1/supplier/; {po} is replaced
	body   any
	status int    // 202 or the error's
	code   string // problem code when an error
	field  string // a field the problems must name ("" for none)
}

// businessCases walks a purchase order of 5 through every business check,
// in order: the 202 steps change the order (as accepted, not yet delivered),
// so later steps are checked against it.
func businessCases() []checkCase {
	ack := func(mod func(m map[string]any)) map[string]any {
		m := ackBody("ACK-X", "2026-03-06", 0)
		if mod != nil {
			mod(m)
		}
		return m
	}
	line := func(m map[string]any) map[string]any { return m["lines"].([]any)[0].(map[string]any) }
	inv := func(mod func(m map[string]any)) map[string]any {
		m := invoiceBody("INV-X", "ASN-1", 3, "205.00", "116.85")
		if mod != nil {
			mod(m)
		}
		return m
	}
	return []checkCase{
		{"ack: unknown field", "purchase-orders/{po}/acknowledgements", map[string]any{"id": "A", "bogus": 1}, 400, "invalid", "bogus"},
		{"ack: malformed date", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { m["date"] = "02.03.2026" }), 400, "invalid", "date"},
		{"ack: promised before the acknowledgement", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { line(m)["promised_date"] = "2026-03-01" }), 422, "unprocessable", "lines[0].promised_date"},
		{"ack: no such line", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { line(m)["line_number"] = 2 }), 422, "unprocessable", "lines[0].line_number"},
		{"ack: more than ordered", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { line(m)["status"], line(m)["quantity"] = "changed", 6 }), 422, "unprocessable", "lines[0].quantity"},
		{"ack: dated in the future", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { m["date"], line(m)["promised_date"] = "2026-03-09", "2026-03-10" }), 422, "unprocessable", "date"},
		{"ack: another supplier's id in the body", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { m["supplier_id"] = "SUP-1" }), 404, "not_found", ""},
		{"ack: another purchase order in the body", "purchase-orders/{po}/acknowledgements", ack(func(m map[string]any) { m["po_number"] = "PO-999999" }), 400, "invalid", "po_number"},
		{"ack: no such purchase order", "purchase-orders/PO-999999/acknowledgements", ack(nil), 404, "not_found", ""},
		{"ship before any acknowledgement", "purchase-orders/{po}/shipping-notices", asnBody("ASN-0", "2026-03-02", "2026-03-04", 1), 409, "conflict", ""},
		{"ack: 3 of 5 (accepted)", "purchase-orders/{po}/acknowledgements", ackBody("ACK-1", "2026-03-06", 3), 202, "", ""},
		{"ship: more than confirmed", "purchase-orders/{po}/shipping-notices", asnBody("ASN-X", "2026-03-02", "2026-03-04", 4), 422, "unprocessable", "lines[0].quantity"},
		{"ship: expected before shipped", "purchase-orders/{po}/shipping-notices", asnBody("ASN-X", "2026-03-02", "2026-03-01", 3), 422, "unprocessable", "expected_delivery"},
		{"ship: shipped tomorrow", "purchase-orders/{po}/shipping-notices", asnBody("ASN-X", "2026-03-04", "2026-03-05", 3), 422, "unprocessable", "ship_date"},
		{"invoice before any shipment", "purchase-orders/{po}/invoices", inv(nil), 409, "conflict", ""},
		{"ship: 3 (accepted)", "purchase-orders/{po}/shipping-notices", asnBody("ASN-1", "2026-03-02", "2026-03-04", 3), 202, "", ""},
		{"ship: nothing left to ship", "purchase-orders/{po}/shipping-notices", asnBody("ASN-2", "2026-03-02", "2026-03-04", 1), 409, "conflict", ""},
		{"ack: below what shipped", "purchase-orders/{po}/acknowledgements", ackBody("ACK-2", "2026-03-06", 2), 409, "conflict", ""},
		{"invoice: unknown shipment", "purchase-orders/{po}/invoices", invoiceBody("INV-X", "ASN-9", 3, "205.00", "116.85"), 422, "unprocessable", "shipment_id"},
		{"invoice: more than shipped", "purchase-orders/{po}/invoices", invoiceBody("INV-X", "ASN-1", 4, "205.00", "155.80"), 422, "unprocessable", "lines[0].quantity"},
		{"invoice: another price", "purchase-orders/{po}/invoices", invoiceBody("INV-X", "ASN-1", 3, "210.00", "119.70"), 422, "unprocessable", "lines[0].unit_price"},
		{"invoice: total does not add up", "purchase-orders/{po}/invoices", inv(func(m map[string]any) { m["total"] = "732.86" }), 422, "unprocessable", "total"},
		{"invoice: another currency", "purchase-orders/{po}/invoices", inv(func(m map[string]any) { m["currency"] = "USD" }), 422, "unprocessable", "currency"},
		{"invoice: amount as a JSON number", "purchase-orders/{po}/invoices", inv(func(m map[string]any) { m["tax"] = 116.85 }), 400, "invalid", ""},
		{"invoice (accepted)", "purchase-orders/{po}/invoices", inv(nil), 202, "", ""},
		{"stock: another supplier's sku", "stock-advices", map[string]any{"id": "STK-1", "as_of": "2026-03-02T08:00:00Z",
			"items": []any{map[string]any{"sku": "SKU-1001", "available": 3, "unit": "EA", "lead_time_days": 2}}}, 422, "unprocessable", "items[0].sku"},
		{"stock: figures a year old", "stock-advices", map[string]any{"id": "STK-1", "as_of": "2025-03-02T08:00:00Z",
			"items": []any{map[string]any{"sku": "SKU-1004", "available": 3, "unit": "EA", "lead_time_days": 2}}}, 422, "unprocessable", "as_of"},
		{"stock (accepted)", "stock-advices", map[string]any{"id": "STK-1", "as_of": "2026-03-02T08:00:00Z",
			"items": []any{map[string]any{"sku": "SKU-1004", "available": 3, "unit": "EA", "lead_time_days": 2}}}, 202, "", ""},
	}
}

func hasField(body map[string]any, field string) bool {
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["field"] == field {
			return true
		}
	}
	return false
}

// TestSupplierBusinessChecksREST: every business check answers with its
// precise status, code and field, and a refused document stores nothing.
func TestSupplierBusinessChecksREST(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_x")
	for _, c := range businessCases() {
		before := e.outboxLen()
		r := e.call(http.MethodPost, "/v1/supplier/"+strings.ReplaceAll(c.path, "{po}", num), sup2Key, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.raw)
			continue
		}
		after := e.outboxLen()
		if c.status == http.StatusAccepted {
			if after != before+1 {
				t.Errorf("%s: outbox grew by %d, want 1", c.name, after-before)
			}
			continue
		}
		if r.body["code"] != c.code || (c.field != "" && !hasField(r.body, c.field)) {
			t.Errorf("%s: %s, want code %s naming %q", c.name, r.raw, c.code, c.field)
		}
		if after != before {
			t.Errorf("%s: refused, but the outbox grew by %d", c.name, after-before)
		}
	}
	if got := counterValueLabels(t, e.reg, "erpgate_supplier_documents_total", supply.KindAcknowledgement, "invalid"); got != 6 {
		t.Errorf("erpgate_supplier_documents_total{acknowledgement,invalid} = %v, want 6", got)
	}
}

// pausingStore holds the first PendingState call after arm until
// released, so a test can run another request in between.
type pausingStore struct {
	SupplyStore
	mu      sync.Mutex
	armed   bool
	reached chan struct{}
	release chan struct{}
}

func (p *pausingStore) arm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed, p.reached, p.release = true, make(chan struct{}), make(chan struct{})
}

func (p *pausingStore) PendingState(ctx context.Context, supplier, po string) ([]*supply.Document, []string, error) {
	docs, ids, err := p.SupplyStore.PendingState(ctx, supplier, po)
	p.mu.Lock()
	armed, reached, release := p.armed, p.reached, p.release
	p.armed = false
	p.mu.Unlock()
	if armed {
		close(reached)
		<-release
	}
	return docs, ids, err
}

// TestSupplierConcurrentDocumentsCannotBothPass: two shipping notices for
// the same three confirmed units, checked at the same moment against the
// same state, cannot both be accepted: the one whose check began first but
// was accepted second is checked again and refused.
func TestSupplierConcurrentDocumentsCannotBothPass(t *testing.T) {
	ps := &pausingStore{}
	e := newSupEnv(t, supOpts{noWorkers: true, wrapStore: func(s SupplyStore) SupplyStore { ps.SupplyStore = s; return ps }})
	num := e.issuedPO("ord_race")
	path := "/v1/supplier/purchase-orders/" + num
	if r := e.call(http.MethodPost, path+"/acknowledgements", sup2Key, ackBody("ACK-1", "2026-03-06", 3)); r.status != http.StatusAccepted {
		t.Fatalf("ack: %d %s", r.status, r.raw)
	}
	before := e.outboxLen()

	ps.arm()
	first := make(chan supResp, 1)
	go func() {
		first <- e.call(http.MethodPost, path+"/shipping-notices", sup2Key, asnBody("ASN-A", "2026-03-02", "2026-03-04", 3))
	}()
	<-ps.reached // ASN-A has read the pending documents and waits
	second := e.call(http.MethodPost, path+"/shipping-notices", sup2Key, asnBody("ASN-B", "2026-03-02", "2026-03-04", 3))
	close(ps.release)
	a := <-first

	if second.status != http.StatusAccepted {
		t.Errorf("ASN-B (checked and accepted alone): %d %s, want 202", second.status, second.raw)
	}
	if a.status != http.StatusConflict {
		t.Errorf("ASN-A (checked against the state before ASN-B): %d %s, want 409: nothing left to ship", a.status, a.raw)
	}
	if got := e.outboxLen() - before; got != 1 {
		t.Errorf("outbox grew by %d, want 1 (one shipping notice)", got)
	}
}

// TestSupplierIsolationREST: SUP-1 reaches none of SUP-2's purchase orders
// or documents — every endpoint answers 404, as for something that does not
// exist — and lists none of them.
func TestSupplierIsolationREST(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_iso")
	for _, c := range []struct {
		path string
		body any
	}{
		{"purchase-orders/" + num + "/acknowledgements", ackBody("ACK-1", "2026-03-06", 0)},
		{"purchase-orders/" + num + "/shipping-notices", asnBody("ASN-1", "2026-03-02", "2026-03-04", 5)},
		{"purchase-orders/" + num + "/invoices", invoiceBody("INV-1", "ASN-1", 5, "205.00", "194.75")},
		{"stock-advices", map[string]any{"id": "STK-1", "as_of": "2026-03-02T08:00:00Z",
			"items": []any{map[string]any{"sku": "SKU-1004", "available": 3, "unit": "EA", "lead_time_days": 2}}}},
	} {
		if r := e.call(http.MethodPost, "/v1/supplier/"+c.path, sup2Key, c.body); r.status != http.StatusAccepted {
			t.Fatalf("SUP-2 POST %s: %d %s", c.path, r.status, r.raw)
		}
	}
	// SUP-1 against SUP-2's purchase order and documents.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "purchase-orders/" + num, nil},
		{http.MethodPost, "purchase-orders/" + num + "/acknowledgements", map[string]any{"id": "ACK-9", "date": "2026-03-02",
			"lines": []any{map[string]any{"line_number": 1, "status": "accepted", "promised_date": "2026-03-06"}}}},
		{http.MethodPost, "purchase-orders/" + num + "/shipping-notices", asnBody("ASN-9", "2026-03-02", "2026-03-04", 1)},
		{http.MethodPost, "purchase-orders/" + num + "/invoices", invoiceBody("INV-9", "ASN-1", 1, "205.00", "38.95")},
		{http.MethodGet, "acknowledgements/ACK-1", nil},
		{http.MethodGet, "shipping-notices/ASN-1", nil},
		{http.MethodGet, "invoices/INV-1", nil},
		{http.MethodGet, "stock-advices/STK-1", nil},
	} {
		r := e.call(c.method, "/v1/supplier/"+c.path, sup1Key, c.body)
		if r.status != http.StatusNotFound || r.body["code"] != "not_found" {
			t.Errorf("SUP-1 %s %s: %d %s, want 404", c.method, c.path, r.status, r.raw)
		}
		// The same request for something that does not exist answers alike.
		ghost := strings.NewReplacer(num, "PO-999999", "ACK-1", "ACK-404", "ASN-1", "ASN-404", "INV-1", "INV-404", "STK-1", "STK-404").Replace(c.path)
		if g := e.call(c.method, "/v1/supplier/"+ghost, sup1Key, c.body); g.status != r.status || g.body["detail"] != r.body["detail"] {
			t.Errorf("SUP-1 %s %s answers %d %v, but a missing one %d %v: the difference leaks", c.method, c.path, r.status, r.body["detail"], g.status, g.body["detail"])
		}
	}
	for _, path := range []string{"purchase-orders", "acknowledgements", "shipping-notices", "invoices", "stock-advices"} {
		r := e.call(http.MethodGet, "/v1/supplier/"+path, sup1Key, nil)
		if r.status != http.StatusOK || r.body["total"] != 0.0 {
			t.Errorf("SUP-1 GET %s: %d %s, want an empty list", path, r.status, r.raw)
		}
		r = e.call(http.MethodGet, "/v1/supplier/"+path, sup2Key, nil)
		if r.status != http.StatusOK || r.body["total"] != 1.0 {
			t.Errorf("SUP-2 GET %s: %d %s, want its one document", path, r.status, r.raw)
		}
	}
	// Neither shops nor admins are suppliers.
	for _, key := range []string{shopKey, "demo-admin-token"} {
		if r := e.call(http.MethodGet, "/v1/supplier/purchase-orders", key, nil); r.status != http.StatusForbidden {
			t.Errorf("key %s on the supplier API: %d, want 403", key, r.status)
		}
	}
	if r := e.call(http.MethodGet, "/v1/catalog/items", sup1Key, nil); r.status != http.StatusForbidden {
		t.Errorf("supplier key on the catalog: %d, want 403", r.status)
	}
}

// TestSupplierHMAC: a signed request works without an API key; a tampered
// body, a stale or future timestamp, a replayed signature, a wrong secret
// and mismatched key and signature are each refused with 401 and a reason.
func TestSupplierHMAC(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true, requireSignature: true})
	num := e.issuedPO("ord_sig")
	const id, secret = "demo-supplier-2", "demo-supplier-secret-2"
	path := "/v1/supplier/purchase-orders/" + num + "/acknowledgements"
	body, _ := json.Marshal(ackBody("ACK-1", "2026-03-06", 0))
	now := e.clk.Now()

	if r := e.call(http.MethodGet, "/v1/supplier/purchase-orders", sup2Key, nil); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "requires signed") {
		t.Errorf("Bearer only while signatures are required: %d %s, want 401", r.status, r.raw)
	}
	get := "/v1/supplier/purchase-orders?status=issued"
	if r := e.call(http.MethodGet, get, "", nil, e.signed(id, secret, http.MethodGet, get, nil, now)...); r.status != http.StatusOK || r.body["total"] != 1.0 {
		t.Fatalf("signed GET: %d %s", r.status, r.raw)
	}
	cases := []struct {
		name string
		key  string
		body []byte
		hdr  []string
		want string
	}{
		{"tampered body", "", bytes.Replace(body, []byte("2026-03-06"), []byte("2026-03-07"), 1), e.signed(id, secret, http.MethodPost, path, body, now), "does not match"},
		{"signed for another path", "", body, e.signed(id, secret, http.MethodPost, path+"x", body, now), "does not match"},
		{"stale timestamp", "", body, e.signed(id, secret, http.MethodPost, path, body, now.Add(-6*time.Minute)), "outside the allowed window"},
		{"future timestamp", "", body, e.signed(id, secret, http.MethodPost, path, body, now.Add(6*time.Minute)), "outside the allowed window"},
		{"wrong secret", "", body, e.signed(id, "guess", http.MethodPost, path, body, now), "does not match"},
		{"unknown key id", "", body, e.signed("nobody", secret, http.MethodPost, path, body, now), "unknown signing key"},
		{"a signature without its timestamp", "", body, []string{HeaderKeyID, id, HeaderSignature, "v1=00"}, "needs all of"},
		{"key of another supplier", sup1Key, body, e.signed(id, secret, http.MethodPost, path, body, now), "different clients"},
	}
	for _, c := range cases {
		r := e.call(http.MethodPost, path, c.key, string(c.body), c.hdr...)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.raw, c.want) || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s, want 401 saying %q", c.name, r.status, r.raw, c.want)
		}
	}
	if n := e.outboxLen(); n != 0 {
		t.Fatalf("refused requests stored %d outbox entries", n)
	}
	good := e.signed(id, secret, http.MethodPost, path, body, now.Add(-4*time.Minute))
	if r := e.call(http.MethodPost, path, sup2Key, string(body), good...); r.status != http.StatusAccepted {
		t.Fatalf("signed POST (4 minutes old, with the matching key): %d %s", r.status, r.raw)
	}
	if r := e.call(http.MethodPost, path, "", string(body), good...); r.status != http.StatusUnauthorized || !strings.Contains(r.raw, "used before") {
		t.Errorf("replayed signature: %d %s, want 401", r.status, r.raw)
	}
}

// TestSupplierWritesAreIdempotent: the same document again is the same
// 202 with nothing new stored; other content under the same id is 422.
func TestSupplierWritesAreIdempotent(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	num := e.issuedPO("ord_idem")
	path := "/v1/supplier/purchase-orders/" + num + "/acknowledgements"
	first := e.call(http.MethodPost, path, sup2Key, ackBody("ACK-1", "2026-03-06", 0))
	if first.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	// Formatting is not content: keys in another order, same values.
	again := e.call(http.MethodPost, path, sup2Key, `{"lines":[{"promised_date":"2026-03-06","status":"accepted","line_number":1}],"date":"2026-03-02","id":"ACK-1"}`)
	if again.status != http.StatusAccepted || again.header.Get("Idempotent-Replayed") != "true" || again.body["accepted_at"] != first.body["accepted_at"] {
		t.Errorf("repeat: %d %s (replayed %q), want the first 202 again", again.status, again.raw, again.header.Get("Idempotent-Replayed"))
	}
	if n := e.outboxLen(); n != 1 {
		t.Errorf("outbox holds %d entries, want 1", n)
	}
	other := e.call(http.MethodPost, path, sup2Key, ackBody("ACK-1", "2026-03-07", 0))
	if other.status != http.StatusUnprocessableEntity || other.body["code"] != "idempotency_mismatch" {
		t.Errorf("same id, other content: %d %s, want 422 idempotency_mismatch", other.status, other.raw)
	}
	// Another supplier may use the same document number for its own.
	if r := e.call(http.MethodGet, "/v1/supplier/acknowledgements/ACK-1", sup1Key, nil); r.status != http.StatusNotFound {
		t.Errorf("SUP-1 reads SUP-2's ACK-1: %d", r.status)
	}
}

// TestSupplierWritesWaitWhileV2IsPaused: during a back-out (v2 paused and
// its interface down) documents are still accepted with 202, checked
// against the last copy of the purchase order; v1 acknowledges them unseen,
// v2 delivers them when it is resumed.
func TestSupplierWritesWaitWhileV2IsPaused(t *testing.T) {
	e := newSupEnv(t)
	num := e.issuedPO("ord_pause")
	if r := e.call(http.MethodGet, "/v1/supplier/purchase-orders/"+num, sup2Key, nil); r.status != http.StatusOK {
		t.Fatalf("read before the back-out: %d %s", r.status, r.raw)
	}
	e.plan.v2Paused.Store(true)
	if err := e.sim.SetFaults(erpsim.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Hour) // the cached copy is long stale
	r := e.call(http.MethodGet, "/v1/supplier/purchase-orders/"+num, sup2Key, nil)
	if r.status != http.StatusOK || r.header.Get("X-Erpgate-Stale") != "true" {
		t.Fatalf("read while paused: %d %s (stale %q), want the last copy", r.status, r.raw, r.header.Get("X-Erpgate-Stale"))
	}
	for _, c := range []struct {
		path string
		body any
	}{
		{"acknowledgements", ackBody("ACK-1", "2026-03-06", 0)},
		{"shipping-notices", asnBody("ASN-1", "2026-03-02", "2026-03-04", 5)},
	} {
		if r := e.call(http.MethodPost, "/v1/supplier/purchase-orders/"+num+"/"+c.path, sup2Key, c.body); r.status != http.StatusAccepted {
			t.Fatalf("%s while paused: %d %s", c.path, r.status, r.raw)
		}
	}
	// v1 has seen both entries and acknowledged them without a call; v2
	// has not consumed them.
	waitFor(t, "v1's group to acknowledge both documents", func() bool {
		ctx := context.Background()
		last, err := e.rdb.XRevRangeN(ctx, "outbox:{p0.0}", "+", "-", 1).Result()
		if err != nil || len(last) != 1 {
			return false
		}
		gs, err := e.rdb.XInfoGroups(ctx, "outbox:{p0.0}").Result()
		if err != nil {
			return false
		}
		for _, g := range gs {
			if g.Name == "erp-v1" {
				return g.Pending == 0 && g.LastDeliveredID == last[0].ID
			}
		}
		return false
	})
	if err := e.sim.SetFaults(erpsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // ample time for a wrongly active v2 worker
	if po, _ := e.sim.PurchaseOrder(num); po.Status != "issued" {
		t.Fatalf("the ERP's purchase order is %s while v2 is paused, want issued", po.Status)
	}
	if s := e.docState(sup2Key, "acknowledgements", "ACK-1"); s != "accepted" {
		t.Errorf("acknowledgement while paused: %s, want accepted", s)
	}
	e.plan.v2Paused.Store(false)
	waitFor(t, "delivery after the resume", func() bool {
		po, _ := e.sim.PurchaseOrder(num)
		return po.Status == "shipped"
	})
	waitFor(t, "both documents recorded as delivered", func() bool {
		return e.docState(sup2Key, "acknowledgements", "ACK-1") == "delivered" && e.docState(sup2Key, "shipping-notices", "ASN-1") == "delivered"
	})
}
