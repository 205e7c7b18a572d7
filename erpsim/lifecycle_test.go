package erpsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/soap"
	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2cb"
	"erpgate/soap/erpv2ws"
)

// lcT0 is when the lifecycle tests start, on their fake clock.
var lcT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type lcClock struct {
	mu sync.Mutex
	t  time.Time
}

func newLCClock() *lcClock { return &lcClock{t: lcT0} }

func (c *lcClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *lcClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pushReceiver is a callback endpoint that records every push it gets.
type pushReceiver struct {
	URL string
	mu  sync.Mutex
	got []*erpv2cb.SalesOrderStatusChanged // every call, repeats included
	// auth holds the Authorization header of every call.
	auth []string
	// answer decides the reply to call n (1-based): 0 = a response,
	// any HTTP status = that status, -1 = a Client fault.
	answer func(n int, m *erpv2cb.SalesOrderStatusChanged) int
}

func newPushReceiver(t *testing.T, answer func(int, *erpv2cb.SalesOrderStatusChanged) int) *pushReceiver {
	t.Helper()
	rc := &pushReceiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := soap.ReadRequest(r, soap.DefaultLimits())
		if err != nil {
			soap.WriteFault(w, soap.VersionOf(r), soap.FaultFromError(err))
			return
		}
		var m erpv2cb.SalesOrderStatusChanged
		if err := req.Decode(&m); err != nil {
			soap.WriteFault(w, req.Version, soap.FaultFromError(err))
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, &m)
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		n := len(rc.got)
		rc.mu.Unlock()
		code := 0
		if rc.answer != nil {
			code = rc.answer(n, &m)
		}
		switch {
		case code == -1:
			soap.WriteFault(w, req.Version, &soap.Fault{Code: soap.FaultClient, String: "no such order", HTTPStatus: http.StatusInternalServerError})
		case code > 0:
			http.Error(w, "unavailable", code)
		default:
			out := erpv2cb.OutcomeRecorded
			_ = soap.WriteResponse(w, req.Version, &erpv2cb.SalesOrderStatusChangedResponse{EventId: m.EventId, Outcome: &out})
		}
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// calls returns a copy of every call received.
func (rc *pushReceiver) calls() []*erpv2cb.SalesOrderStatusChanged {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitPushed waits until the simulator has nothing queued and at least n
// calls were answered with a response.
func waitPushed(t *testing.T, sim *erpsim.Sim, n uint64) erpsim.CallbackInfo {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ci := sim.Callback()
		if ci.Queued == 0 && ci.Sent+ci.Failed >= n {
			return ci
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushes not done within 15s: %+v, want %d sent", ci, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// distinct returns the calls with repeats of an EventId removed, per
// external reference, in arrival order.
func distinctPushes(calls []*erpv2cb.SalesOrderStatusChanged) map[string][]*erpv2cb.SalesOrderStatusChanged {
	seen := map[string]bool{}
	out := map[string][]*erpv2cb.SalesOrderStatusChanged{}
	for _, c := range calls {
		if seen[c.EventId] {
			continue
		}
		seen[c.EventId] = true
		out[c.ExternalReference] = append(out[c.ExternalReference], c)
	}
	return out
}

func v2StatusOf(t *testing.T, c erpv2ws.SalesOrderService, ref string) *erpv2ws.GetSalesOrderStatusResponse {
	t.Helper()
	st, err := c.GetSalesOrderStatusContext(context.Background(), &erpv2ws.GetSalesOrderStatus{ExternalReference: ref})
	if err != nil {
		t.Fatalf("GetSalesOrderStatus(%s): %v", ref, err)
	}
	return st
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func lcGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func lcReadAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func manualLifecycle(step time.Duration) erpsim.LifecycleConfig {
	return erpsim.LifecycleConfig{Step: step, Manual: true}
}

func TestLifecycleRunsAnOrderInStockToDelivered(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, nil)
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL, CallbackToken: "cb-token"})
	t.Cleanup(sim.Close)
	created, err := create(t.Context(), c, salesOrder("ord_1"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after   time.Duration
		changes int
		status  string
		date    string
	}{
		{0, 0, "confirmed", "2026-03-05"},
		{4 * time.Second, 0, "confirmed", "2026-03-05"},
		{time.Second, 1, "confirmed", "2026-03-05"}, // lcT0+5s: the confirmation goes out
		{10 * time.Second, 1, "allocated", "2026-03-05"},
		{10 * time.Second, 1, "picked", "2026-03-05"},
		{10 * time.Second, 1, "shipped", "2026-03-03"},
		{10 * time.Second, 1, "delivered", "2026-03-02"},
		{24 * time.Hour, 0, "delivered", "2026-03-02"},
	}
	for i, s := range steps {
		clk.Add(s.after)
		if got := sim.Advance(); got != s.changes {
			t.Errorf("step %d: Advance = %d changes, want %d", i, got, s.changes)
		}
		st := v2StatusOf(t, c, "ord_1")
		if got := string(val(st.Status)); got != s.status {
			t.Errorf("step %d: status = %s, want %s", i, got, s.status)
		}
		if got := string(val(st.ExpectedDeliveryDate)); got != s.date {
			t.Errorf("step %d (%s): expected delivery = %s, want %s", i, s.status, got, s.date)
		}
		if s.status == "shipped" && (!slices.Contains([]string{"DHL", "UPS", "DPD"}, st.Carrier) || len(st.TrackingNumber) < 14) {
			t.Errorf("shipped with carrier %q tracking number %q, want a known carrier and a number", st.Carrier, st.TrackingNumber)
		}
	}
	if n := erpsim.LifecycleOrders(sim); n != 0 {
		t.Errorf("%d lifecycles still running after delivery, want 0", n)
	}

	waitPushed(t, sim, 5)
	got := rc.calls()
	var trail []string
	for i, m := range got {
		trail = append(trail, string(val(m.Status)))
		if m.Sequence != int32(i+1) || m.ExternalReference != "ord_1" || m.SalesOrderNumber != created.SalesOrderNumber || m.EventId == "" {
			t.Errorf("push %d = %+v, want sequence %d of ord_1 %s with an event id", i, m, i+1, created.SalesOrderNumber)
		}
		if rc.auth[i] != "Bearer cb-token" {
			t.Errorf("push %d Authorization = %q, want the callback token", i, rc.auth[i])
		}
	}
	if want := []string{"confirmed", "allocated", "picked", "shipped", "delivered"}; !slices.Equal(trail, want) {
		t.Errorf("pushed statuses = %v, want %v", trail, want)
	}
	if len(got) == 5 {
		sh := got[3]
		if sh.Carrier == "" || sh.TrackingNumber == "" || val(sh.ExpectedDeliveryDate) != "2026-03-03" || val(sh.StatusChangedAt) != "2026-03-02T09:00:35Z" {
			t.Errorf("shipped push = %+v, want carrier, tracking number, date 2026-03-03, time lcT0+35s", sh)
		}
	}
}

func TestLifecycleOffLeavesOrdersConfirmed(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, nil)
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, CallbackURL: rc.URL})
	t.Cleanup(sim.Close)
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if n := sim.Advance(); n != 0 {
		t.Errorf("Advance = %d changes with the lifecycle off, want 0", n)
	}
	if st := v2StatusOf(t, c, "ord_1"); val(st.Status) != "confirmed" || st.ExpectedDeliveryDate != nil {
		t.Errorf("status = %+v, want confirmed without a date", st)
	}
	if ci := sim.Callback(); ci.Sent != 0 || ci.Queued != 0 {
		t.Errorf("callback = %+v, want nothing pushed", ci)
	}
}

func TestBackorderWaitsForStockAndRevisesTheDate(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, nil)
	sim, srv, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL})
	t.Cleanup(sim.Close)
	var hooked []erpsim.Backorder
	var hmu sync.Mutex
	sim.OnBackorder(func(b erpsim.Backorder) {
		hmu.Lock()
		defer hmu.Unlock()
		hooked = append(hooked, b)
	})
	// SKU-1011 (stand mixer) has no stock; the order wants 2 of it and 2 of
	// SKU-1001, which is in stock.
	if _, err := create(t.Context(), c, salesOrder("ord_bo", "SKU-1001", "SKU-1011")); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	sim.Advance() // confirmation
	clk.Add(10 * time.Second)
	sim.Advance() // availability check
	st := v2StatusOf(t, c, "ord_bo")
	if val(st.Status) != "backordered" || val(st.ExpectedDeliveryDate) != "2026-03-12" {
		t.Fatalf("status = %s expected %s, want backordered with the date revised to 2026-03-12", val(st.Status), val(st.ExpectedDeliveryDate))
	}
	hmu.Lock()
	if len(hooked) != 1 || hooked[0].ExternalRef != "ord_bo" || hooked[0].Version != "v2" ||
		!slices.Equal(hooked[0].Short, []erpsim.Shortage{{SKU: "SKU-1011", Quantity: 2}}) {
		t.Errorf("OnBackorder got %+v, want one v2 backorder of ord_bo short 2 × SKU-1011", hooked)
	}
	hmu.Unlock()
	if lv := stockLevel(t, srv, "v2", "SKU-1011"); lv.OnHand != 0 || lv.Backordered != 2 {
		t.Errorf("v2 SKU-1011 stock = %+v, want 0 on hand, 2 backordered", lv)
	}
	if lv := stockLevel(t, srv, "v2", "SKU-1001"); lv.OnHand != 498 {
		t.Errorf("v2 SKU-1001 on hand = %d, want 498 (2 reserved for the waiting order)", lv.OnHand)
	}

	// Without stock nothing moves, however long it takes.
	clk.Add(30 * 24 * time.Hour)
	if n := sim.Advance(); n != 0 {
		t.Errorf("Advance moved %d orders without stock, want 0", n)
	}
	// One unit is not enough; the second completes the order.
	if err := sim.Restock("SKU-1011", 1); err != nil {
		t.Fatal(err)
	}
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "backordered" {
		t.Errorf("after 1 of 2 arrived: status %s, want backordered", got)
	}
	if err := sim.Restock("SKU-1011", 1); err != nil {
		t.Fatal(err)
	}
	st = v2StatusOf(t, c, "ord_bo")
	if val(st.Status) != "allocated" || val(st.ExpectedDeliveryDate) != "2026-04-04" {
		t.Errorf("after restock: %s expected %s, want allocated, expected 3 days after the restock (2026-04-04)", val(st.Status), val(st.ExpectedDeliveryDate))
	}
	for range 3 {
		clk.Add(10 * time.Second)
		sim.Advance()
	}
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "delivered" {
		t.Errorf("status = %s, want delivered", got)
	}
	waitPushed(t, sim, 6)
	var trail []string
	for _, m := range rc.calls() {
		trail = append(trail, string(val(m.Status)))
		if val(m.Status) == "backordered" && (len(m.ShortItem) != 1 || m.ShortItem[0].Sku != "SKU-1011" || m.ShortItem[0].QuantityShort != 2 || val(m.ExpectedDeliveryDate) != "2026-03-12") {
			t.Errorf("backordered push = %+v, want short 2 × SKU-1011 and the revised date", m)
		}
	}
	if want := []string{"confirmed", "backordered", "allocated", "picked", "shipped", "delivered"}; !slices.Equal(trail, want) {
		t.Errorf("pushed statuses = %v, want %v", trail, want)
	}
}

func stockLevel(t *testing.T, srv *httptest.Server, version, sku string) erpsim.StockLevel {
	t.Helper()
	var levels []erpsim.StockLevel
	lcGetJSON(t, srv.URL+"/sim/stock", &levels)
	for _, l := range levels {
		if l.Version == version && l.SKU == sku {
			return l
		}
	}
	t.Fatalf("no stock level for %s %s", version, sku)
	return erpsim.StockLevel{}
}

func TestBackordersAreFilledOldestFirst(t *testing.T) {
	clk := newLCClock()
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second)})
	t.Cleanup(sim.Close)
	// SKU-1017 has 2 in stock; each order wants 2.
	for _, ref := range []string{"ord_a", "ord_b", "ord_c"} {
		if _, err := create(t.Context(), c, salesOrder(ref, "SKU-1017")); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	clk.Add(20 * time.Second)
	sim.Advance()
	want := map[string]string{"ord_a": "allocated", "ord_b": "backordered", "ord_c": "backordered"}
	check := func(when string) {
		t.Helper()
		for ref, w := range want {
			if got := string(val(v2StatusOf(t, c, ref).Status)); got != w {
				t.Errorf("%s: %s is %s, want %s", when, ref, got, w)
			}
		}
	}
	check("before restock")
	if err := sim.Restock("SKU-1017", 3); err != nil { // enough for b, 1 towards c
		t.Fatal(err)
	}
	want["ord_a"], want["ord_b"] = "picked", "allocated"
	clk.Add(10 * time.Second)
	sim.Advance()
	want["ord_b"] = "picked"
	check("after restocking 3")
	if err := sim.Restock("SKU-1017", 1); err != nil {
		t.Fatal(err)
	}
	want["ord_c"] = "allocated"
	check("after restocking 1 more")
}

func TestAutoRestockCompletesABackorder(t *testing.T) {
	clk := newLCClock()
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now,
		Lifecycle: erpsim.LifecycleConfig{Step: 10 * time.Second, AutoRestock: time.Minute, Manual: true}})
	t.Cleanup(sim.Close)
	if _, err := create(t.Context(), c, salesOrder("ord_bo", "SKU-1011")); err != nil {
		t.Fatal(err)
	}
	clk.Add(15 * time.Second)
	sim.Advance()
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "backordered" {
		t.Fatalf("status = %s, want backordered", got)
	}
	clk.Add(59 * time.Second)
	sim.Advance()
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "backordered" {
		t.Errorf("59s after the backorder: %s, want still backordered", got)
	}
	clk.Add(time.Second)
	sim.Advance()
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "allocated" {
		t.Errorf("AutoRestock later: %s, want allocated", got)
	}
}

func TestV1AndV2LifecyclesAreIndependent(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, nil)
	sim, srv, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL})
	t.Cleanup(sim.Close)
	v1 := erpv1ws.NewOrderService(gsoap.NewClient(srv.URL + "/erp/v1"))
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	created, err := v1.CreateOrderContext(t.Context(), &erpv1ws.CreateOrder{Order: v1Order("ord_1")})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second) // v2 at lcT0+20s: allocated; v1 at +10s: confirmation sent
	sim.Advance()
	if got := val(v2StatusOf(t, c, "ord_1").Status); got != "allocated" {
		t.Errorf("v2 status = %s, want allocated", got)
	}
	st, err := v1.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: created.OrderNumber})
	if err != nil {
		t.Fatal(err)
	}
	if val(st.Status) != erpv1ws.OrderStatusENTERED || st.PlannedDelivery == nil {
		t.Errorf("v1 status = %+v, want ENTERED with a planned date", st)
	}
	for range 5 {
		clk.Add(10 * time.Second)
		sim.Advance()
	}
	st, err = v1.GetOrderStatusContext(t.Context(), &erpv1ws.GetOrderStatus{OrderNumber: created.OrderNumber})
	if err != nil || val(st.Status) != erpv1ws.OrderStatusDELIVERED || st.Carrier == "" {
		t.Errorf("v1 status = %+v, %v; want DELIVERED with a carrier", st, err)
	}
	waitPushed(t, sim, 5)
	for _, m := range rc.calls() {
		if strings.HasPrefix(m.SalesOrderNumber, "V1-") {
			t.Errorf("v1 order pushed: %+v (v1 is polled, never pushes)", m)
		}
	}
}

func TestSetStatusTakesOverAndPushes(t *testing.T) {
	clk := newLCClock()
	rc := newPushReceiver(t, nil)
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second), CallbackURL: rc.URL})
	t.Cleanup(sim.Close)
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	sim.Advance()
	if err := sim.SetStatus("v2", "ord_1", erpsim.OrderStatus{Status: erpsim.StatusCancelled, Reason: "customer withdrew"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetStatus("v2", "ord_1", erpsim.OrderStatus{Status: erpsim.StatusCancelled, Reason: "customer withdrew, confirmed"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if n := sim.Advance(); n != 0 {
		t.Errorf("Advance moved %d orders after SetStatus took over, want 0", n)
	}
	if got := val(v2StatusOf(t, c, "ord_1").Status); got != "cancelled" {
		t.Errorf("status = %s, want cancelled", got)
	}
	waitPushed(t, sim, 3)
	got := distinctPushes(rc.calls())["ord_1"]
	if len(got) != 3 || val(got[1].Status) != "cancelled" || got[1].Reason != "customer withdrew" || got[2].Sequence != 3 {
		t.Errorf("pushes = %+v, want confirmed and two cancellations with their reasons, sequence 1..3", got)
	}
}

func TestLifecycleDriverAppliesDueSteps(t *testing.T) {
	clk := newLCClock()
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now,
		Lifecycle: erpsim.LifecycleConfig{Step: 10 * time.Second, Tick: 5 * time.Millisecond}})
	if _, err := create(t.Context(), c, salesOrder("ord_1")); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour) // every step is due; the driver applies one per tick
	deadline := time.Now().Add(10 * time.Second)
	for val(v2StatusOf(t, c, "ord_1").Status) != "delivered" {
		if time.Now().After(deadline) {
			t.Fatalf("driver did not deliver the order within 10s; status %s", val(v2StatusOf(t, c, "ord_1").Status))
		}
		time.Sleep(5 * time.Millisecond)
	}
	sim.Close()
	sim.Close() // idempotent
	if _, err := create(t.Context(), c, salesOrder("ord_2")); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	time.Sleep(50 * time.Millisecond)
	if got := val(v2StatusOf(t, c, "ord_2").Status); got != "confirmed" {
		t.Errorf("after Close the driver still runs: ord_2 is %s", got)
	}
	if n := sim.Advance(); n == 0 {
		t.Error("Advance after Close applied nothing, want the due steps of ord_2")
	}
}

func TestLifecycleScalesToThousandsOfOrders(t *testing.T) {
	clk := newLCClock()
	sim := erpsim.New(erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second)})
	t.Cleanup(sim.Close)
	const n = 5000
	for i := range n {
		if err := erpsim.CreateDirect(sim, []string{"v1", "v2"}[i%2], fmt.Sprintf("ord_%d", i), "SKU-1020", 1); err != nil {
			t.Fatal(err)
		}
	}
	changes := 0
	for range 6 {
		clk.Add(10 * time.Second)
		changes += sim.Advance()
	}
	if changes != 5*n {
		t.Errorf("changes = %d, want %d (5 per order)", changes, 5*n)
	}
	delivered := 0
	for _, o := range sim.Orders(erpsim.Filter{}) {
		if o.Status == erpsim.StatusDelivered {
			delivered++
		}
	}
	if delivered != n || erpsim.LifecycleOrders(sim) != 0 {
		t.Errorf("%d of %d delivered, %d lifecycles left; want all delivered, none left", delivered, n, erpsim.LifecycleOrders(sim))
	}
}

func TestLifecycleAPI(t *testing.T) {
	sim, srv, _ := newSim(t, erpsim.Config{})
	t.Cleanup(sim.Close)
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{http.MethodGet, "/sim/lifecycle", "", 200, `{"step":"0s","auto_restock":"0s"}`},
		{http.MethodPut, "/sim/lifecycle", `{"step":"2s"}`, 200, `{"step":"2s","auto_restock":"0s"}`},
		{http.MethodPut, "/sim/lifecycle", `{"auto_restock":"20s"}`, 200, `{"step":"2s","auto_restock":"20s"}`},
		{http.MethodPut, "/sim/lifecycle", `{"step":"-1s"}`, 422, "between"},
		{http.MethodPut, "/sim/lifecycle", `{"step":"soon"}`, 400, "duration"},
		{http.MethodPut, "/sim/lifecycle", `{"speed":"2s"}`, 400, "unknown field"},
		{http.MethodPost, "/sim/restock", `{"sku":"SKU-1011","quantity":4}`, 204, ""},
		{http.MethodPost, "/sim/restock", `{"sku":"SKU-9999","quantity":4}`, 422, "unknown sku"},
		{http.MethodPost, "/sim/restock", `{"sku":"SKU-1011","quantity":0}`, 422, "quantity"},
		{http.MethodPut, "/sim/callback", `{"url":"ftp://x"}`, 422, "http"},
		{http.MethodPut, "/sim/callback", `{"url":"http://127.0.0.1:1/cb","token":"t"}`, 200, `"url":"http://127.0.0.1:1/cb","token_set":true`},
		{http.MethodPut, "/sim/callback", `{"url":""}`, 200, `"url":"","token_set":true`},
		{http.MethodGet, "/sim/callback", "", 200, `"queued":0`},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := lcReadAll(res)
		if res.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s = %d %s, want %d containing %s", c.method, c.path, c.body, res.StatusCode, body, c.status, c.want)
		}
	}
	if got := sim.Lifecycle(); got.Step != 2*time.Second || got.AutoRestock != 20*time.Second {
		t.Errorf("Lifecycle() = %+v, want step 2s, auto restock 20s", got)
	}
	if lv := stockLevel(t, srv, "v1", "SKU-1011"); lv.OnHand != 4 {
		t.Errorf("v1 SKU-1011 on hand = %d after restocking 4, want 4 (a receipt reaches every version)", lv.OnHand)
	}
}

func TestConfigValidatesLifecycleAndCallback(t *testing.T) {
	for _, cfg := range []erpsim.Config{
		{Lifecycle: erpsim.LifecycleConfig{Step: -time.Second}},
		{Lifecycle: erpsim.LifecycleConfig{Step: 25 * time.Hour}},
		{Lifecycle: erpsim.LifecycleConfig{AutoRestock: -time.Second}},
		{Lifecycle: erpsim.LifecycleConfig{Tick: -time.Second}},
		{CallbackURL: "/relative"},
		{CallbackURL: "mailto:erp@example.com"},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", cfg)
		}
	}
	if err := (erpsim.Config{Lifecycle: erpsim.DemoLifecycle, CallbackURL: "http://127.0.0.1:8080/erp/v2/callback"}).Validate(); err != nil {
		t.Errorf("demo config: %v", err)
	}
}

// TestBackorderHookMayRestock: the hook runs outside the simulator's locks,
// so a supplier that delivers at once (calling Restock from the hook) does
// not deadlock, and the order is allocated.
func TestBackorderHookMayRestock(t *testing.T) {
	clk := newLCClock()
	sim, _, c := newSim(t, erpsim.Config{Clock: clk.Now, Lifecycle: manualLifecycle(10 * time.Second)})
	t.Cleanup(sim.Close)
	sim.OnBackorder(func(b erpsim.Backorder) {
		for _, s := range b.Short {
			if err := sim.Restock(s.SKU, s.Quantity); err != nil {
				t.Error(err)
			}
		}
	})
	if _, err := create(t.Context(), c, salesOrder("ord_bo", "SKU-1011")); err != nil {
		t.Fatal(err)
	}
	clk.Add(15 * time.Second)
	done := make(chan struct{})
	go func() { sim.Advance(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Advance deadlocked with a hook that restocks")
	}
	if got := val(v2StatusOf(t, c, "ord_bo").Status); got != "allocated" {
		t.Errorf("status = %s, want allocated (restocked by the hook)", got)
	}
}
