package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
)

// drillOrderBody is an order with every optional field set (customer id and
// phone, line2, region, billing address, line descriptions and discounts,
// requested delivery date, notes), so that a lost field anywhere on the way
// through v1 or v2 shows.
func drillOrderBody(ext, customer string, i int) string {
	date := time.Now().AddDate(0, 0, 20+i%10).Format(time.DateOnly)
	return fmt.Sprintf(`{"external_id":%q,
	 "customer":{"id":%q,"name":"Zoë Müller-%d","email":"zoe%d@example.com","phone":"+49 30 1234%02d"},
	 "shipping_address":{"name":"Zoë Müller","line1":"Hauptstraße %d","line2":"2. OG, Hinterhaus","city":"Berlin","postal_code":"10115","region":"BE","country":"DE"},
	 "billing_address":{"name":"Müller & Söhne GmbH","line1":"Allee 5","line2":"Buchhaltung","city":"Hamburg","postal_code":"20095","region":"HH","country":"DE"},
	 "currency":"EUR",
	 "lines":[{"sku":"SKU-1001","description":"Espresso cups — set of 6","quantity":%d,"unit_price":"24.90","discount":"1.15"},
	          {"sku":"SKU-1012","description":"Pour-over dripper","quantity":1,"unit_price":"22.00","discount":"0.50"}],
	 "shipping":{"method":"express","price":"6.95"},
	 "requested_delivery_date":%q,
	 "notes":"Bitte beim Nachbarn abgeben; ring twice ☕ #%d"}`, ext, customer, i, i, i%100, i+1, 1+i%3, date, i)
}

// canonical decodes an order body as the shop sent it, for comparison with
// what GET /v1/orders/{id} returns.
func canonical(t *testing.T, body []byte) order.Order {
	t.Helper()
	var o order.Order
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	o.ID, o.ShopID, o.CreatedAt = "", "", time.Time{}
	return o
}

// orderView is GET /v1/orders/{id}.
type orderView struct {
	Status string          `json:"status"`
	Order  json.RawMessage `json:"order"`
	ERP    map[string]struct {
		State          string `json:"state"`
		ERPOrderNumber string `json:"erp_order_number"`
	} `json:"erp"`
}

// adminCall calls the release admin API with the demo admin token.
func adminCall(t *testing.T, method, url, body string, v any) int {
	t.Helper()
	return callJSON(t, method, url, "demo-admin-token", body, v)
}

type releaseState struct {
	Revision        int64             `json:"revision"`
	AppliedRevision int64             `json:"applied_revision"`
	Authoritative   string            `json:"authoritative"`
	Targets         map[string]string `json:"targets"`
}

// runCLI runs `gateway release ...` through run().
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"gateway", "release"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// simHolds returns, per external ref, how many orders version holds.
func simHolds(t *testing.T, sim, version string) map[string]int {
	t.Helper()
	var held []simOrder
	if code := getJSON(t, sim+"/sim/orders?version="+version, "", &held); code != 200 {
		t.Fatalf("sim orders: %d", code)
	}
	n := map[string]int{}
	for _, o := range held {
		n[o.ExternalRef]++
	}
	return n
}

// drillRedisArgs points run() at the private database of the real test Redis.
func drillRedisArgs(t *testing.T) []string {
	t.Helper()
	rdb := redistest.Universal(t)
	args := []string{"--redis-url", redistest.URL(t, rdb)}
	if info, err := rdb.Info(context.Background(), "persistence").Result(); err != nil || !strings.Contains(info, "aof_enabled:1") {
		args = append(args, "--allow-volatile-redis")
	}
	return args
}

// TestBackoutDrill is the back-out drill of the release plan, against the
// real Redis and two gateway instances sharing it (and one ERP simulator):
// orders flow with v2 authoritative and v1 beside it; mid-load the plan
// backs out; the second instance obeys within its poll interval; more orders
// flow (v1 only); v2 is promoted again and catches up. Afterwards every
// acknowledged order is in v1 exactly once and in v2 exactly once, reads
// back with every field as posted, and shows the ERP's answer.
func TestBackoutDrill(t *testing.T) {
	if store.ReleasePollInterval >= time.Second {
		t.Fatalf("ReleasePollInterval is %v: a back-out would not reach every instance within a second", store.ReleasePollInterval)
	}
	redisArgs := drillRedisArgs(t)
	fast := []string{"--erp-backoff-max", "500ms", "--erp-breaker-open", "300ms"}
	gwA, logsA, _ := startRun(t, append(redisArgs, fast...)...)
	sim := logsA.wait(t, "EMBEDDED ERP SIMULATOR")
	// Instance B uses A's simulator: one ERP, two gateways.
	gwB, _, _ := startRun(t, append(append(redisArgs, fast...), "--erp-v1-url", sim+"/erp/v1", "--erp-v2-url", sim+"/erp/v2")...)

	var st releaseState
	if code := adminCall(t, http.MethodGet, gwB+"/admin/release", "", &st); code != 200 || st.Revision != 0 || st.Authoritative != "v2" || st.Targets["v1"] != "active" {
		t.Fatalf("initial plan on B: %d %+v, want revision 0, v2 authoritative, v1 active", code, st)
	}

	// v2 is slower than v1, so at the back-out v1 holds orders that v2 has
	// not answered yet: their status must follow v1 once it is authoritative.
	putJSON(t, sim+"/sim/faults?version=v2", `{"latency_ms":150}`)

	var mu sync.Mutex
	posted := map[string][]byte{} // order id → body as posted
	var ids []string
	postOrder := func(gw string, i int) {
		body := drillOrderBody(fmt.Sprintf("DRILL-%03d", i), fmt.Sprintf("C-%d", i%7), i)
		resp, m := post(t, gw+"/v1/orders", "demo-shop-key", body)
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("order %d: got %d %v, want 202", i, resp.StatusCode, m)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		id := m["id"].(string)
		posted[id] = []byte(body)
		ids = append(ids, id)
	}

	// Phase 1 and 2: load, with the back-out in the middle of it.
	acked := make(chan int, 40)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := range 24 {
			postOrder([]string{gwA, gwB}[i%2], i)
			acked <- i
			time.Sleep(15 * time.Millisecond)
		}
	}()
	for i := range acked {
		if i == 11 {
			break
		}
	}
	var bo struct {
		Changed bool         `json:"changed"`
		Plan    releaseState `json:"plan"`
	}
	if code := adminCall(t, http.MethodPost, gwA+"/admin/release/backout", `{"reason":"drill: v2 misbehaves"}`, &bo); code != 200 || !bo.Changed || bo.Plan.Revision != 1 {
		t.Fatalf("backout: %d %+v", code, bo)
	}
	switched := time.Now()
	// The second instance obeys within its poll interval (bounded wait:
	// one second plus slack for a loaded test machine).
	for {
		adminCall(t, http.MethodGet, gwB+"/admin/release", "", &st)
		if st.AppliedRevision == 1 {
			break
		}
		if time.Since(switched) > time.Second+4*time.Second {
			t.Fatalf("instance B still obeys revision %d %v after the back-out", st.AppliedRevision, time.Since(switched))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("instance B obeyed the back-out after %v (poll interval %v)", time.Since(switched).Round(time.Millisecond), store.ReleasePollInterval)
	if st.Targets["v2"] != "paused" || st.Authoritative != "v1" {
		t.Errorf("plan on B after back-out: %+v", st)
	}
	<-loadDone

	// Phase 3: orders after the back-out reached every instance: v1 only.
	mu.Lock()
	before := len(ids)
	mu.Unlock()
	for i := 100; i < 110; i++ {
		postOrder([]string{gwA, gwB}[i%2], i)
	}
	mu.Lock()
	after := slices.Clone(ids[before:])
	all := slices.Clone(ids)
	mu.Unlock()
	waitDelivered(t, sim, all, "v1")
	v2 := simHolds(t, sim, "v2")
	for _, id := range after {
		if v2[id] != 0 {
			t.Errorf("v2 holds %s, accepted after the back-out took effect", id)
		}
	}
	for ref, n := range v2 {
		if n != 1 {
			t.Errorf("v2 holds %s %d times", ref, n)
		}
	}
	t.Logf("before re-promotion: v1 holds %d orders, v2 %d of %d", len(all), len(v2), len(all))
	// With v1 authoritative every order shows v1's answer, also those v1
	// created while v2 was still authoritative (reconciled).
	waitStatus(t, gwA, all, "erp_received")

	putJSON(t, sim+"/sim/faults?version=v2", `{"latency_ms":0}`)

	// The CLI on instance B shows the backed-out plan, then promotes v2
	// again (catch-up from where it stopped).
	out, _, err := runCLI(t, "status", "--url", gwB)
	if err != nil || !strings.Contains(out, "v1 active, v2 paused") || !strings.Contains(out, "drill: v2 misbehaves") {
		t.Errorf("release status: %v\n%s", err, out)
	}
	out, errOut, err := runCLI(t, "promote", "--url", gwB, "--reason", "drill: v2 fixed")
	if err != nil || !strings.Contains(out, "promote done: revision 2") {
		t.Fatalf("release promote: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "demo admin token") {
		t.Errorf("no warning about the demo token: %q", errOut)
	}

	// v2 catches up: every order exactly once in both ERPs.
	waitDelivered(t, sim, all, "v1", "v2")
	waitStatus(t, gwA, all, "erp_received")
	for _, id := range all {
		var v orderView
		if code := getJSON(t, gwB+"/v1/orders/"+id, "demo-shop-key", &v); code != 200 {
			t.Fatalf("GET order %s: %d", id, code)
		}
		if got, want := canonical(t, v.Order), canonical(t, posted[id]); !reflect.DeepEqual(got, want) {
			t.Errorf("order %s read back:\n got %+v\nwant %+v", id, got, want)
		}
		if v.ERP["v1"].State != "created" || v.ERP["v2"].State != "created" || !strings.HasPrefix(v.ERP["v1"].ERPOrderNumber, "V1-") {
			t.Errorf("order %s ERP answers: %+v", id, v.ERP)
		}
	}

	out, _, err = runCLI(t, "history", "--url", gwA)
	if err != nil || !strings.Contains(out, "promote  by demo-admin") || !strings.Contains(out, "backout  by demo-admin") {
		t.Errorf("release history: %v\n%s", err, out)
	}
	scrape := getText(t, gwA+"/metrics")
	for _, want := range []string{`erpgate_release_backouts_total{trigger="manual"} 1`, "erpgate_release_revision 2",
		`erpgate_release_authoritative{cohort="default",target="v2"} 1`} {
		if !strings.Contains(scrape, want) {
			t.Errorf("metrics of A lack %s", want)
		}
	}
}

// waitStatus waits until every order shows status.
func waitStatus(t *testing.T, gw string, ids []string, status string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var wrong []string
		for _, id := range ids {
			var v orderView
			getJSON(t, gw+"/v1/orders/"+id, "demo-shop-key", &v)
			if v.Status != status {
				wrong = append(wrong, id+": "+v.Status)
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders not %s within 60s: %v", len(wrong), status, wrong[:min(len(wrong), 10)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// deliveredEvents returns the details of the erp_received events of an
// order's timeline, waiting a while for the first (the timeline event is
// written just after the status).
func deliveredEvents(t *testing.T, gw, id string) []map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var tr struct {
			Events []struct {
				Type    string            `json:"type"`
				Details map[string]string `json:"details"`
			} `json:"events"`
		}
		getJSON(t, gw+"/v1/tracking/"+id, "demo-shop-key", &tr)
		var out []map[string]string
		for _, e := range tr.Events {
			if e.Type == "erp_received" {
				out = append(out, e.Details)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCanaryPilotCustomersSeeV2 sets a canary plan with the CLI (v1
// authoritative, pilot customers on v2) and shows, by taking one ERP down at
// a time, that a pilot customer's order carries v2's answer and everybody
// else's v1's.
func TestCanaryPilotCustomersSeeV2(t *testing.T) {
	gw, logs, _ := startRun(t, "--erp-backoff-max", "500ms", "--erp-breaker-open", "300ms")
	sim := logs.wait(t, "EMBEDDED ERP SIMULATOR")
	plan := `{"stage":2,"targets":{"v1":"active","v2":"active"},"authoritative":"v1",
	 "cohorts":[{"name":"pilot","customers":["C-PILOT","C-PILOT-2"],"authoritative":"v2"}],
	 "shadow":true,"auto_backout":{"enabled":false,"window":100,"min_sample":20,"failure_ratio":0.5,"mismatches":5}}`
	file := filepath.Join(t.TempDir(), "canary.json")
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "set", file, "--url", gw, "--reason", "canary: pilot customers on v2")
	if err != nil || !strings.Contains(out, "cohort pilot") || !strings.Contains(out, "revision 1") {
		t.Fatalf("release set: %v\n%s", err, out)
	}

	postCanary := func(ext, customer string) string {
		resp, m := post(t, gw+"/v1/orders", "demo-shop-key", drillOrderBody(ext, customer, 1))
		if resp.StatusCode != 202 {
			t.Fatalf("POST %s: %d %v", ext, resp.StatusCode, m)
		}
		return m["id"].(string)
	}
	view := func(id string) orderView {
		var v orderView
		getJSON(t, gw+"/v1/orders/"+id, "demo-shop-key", &v)
		return v
	}
	waitView := func(id, what string, ok func(v orderView) bool) orderView {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			v := view(id)
			if ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s: %s not within 30s: %+v", id, what, v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	created := func(target string) func(v orderView) bool {
		return func(v orderView) bool { return v.ERP[target].State == "created" }
	}

	// v1 down: only v2 answers. The pilot's order shows v2's answer; the
	// other order waits for v1, although v2 has answered it too.
	putJSON(t, sim+"/sim/faults?version=v1", `{"down":true}`)
	pilot, other := postCanary("CANARY-1", "C-PILOT"), postCanary("CANARY-2", "C-OTHER")
	v := waitView(pilot, "status from v2", func(v orderView) bool { return v.Status == "erp_received" })
	if v.ERP["v2"].State != "created" || v.ERP["v1"].State == "created" {
		t.Errorf("pilot order: status %s with answers %+v; want v2's answer while v1 is down", v.Status, v.ERP)
	}
	if ev := deliveredEvents(t, gw, pilot); len(ev) != 1 || ev[0]["target"] != "v2" || ev[0]["erp_order_number"] != v.ERP["v2"].ERPOrderNumber {
		t.Errorf("pilot timeline: got %v, want one delivered event with v2's number", ev)
	}
	v = waitView(other, "v2 answer recorded", created("v2"))
	if v.Status != "accepted" {
		t.Errorf("other order: status %q with only v2's answer, want accepted (v1 is its authority)", v.Status)
	}
	putJSON(t, sim+"/sim/faults?version=v1", `{"down":false}`)
	v = waitView(other, "status from v1", func(v orderView) bool { return v.Status == "erp_received" })
	if ev := deliveredEvents(t, gw, other); len(ev) != 1 || ev[0]["target"] != "v1" || !strings.HasPrefix(ev[0]["erp_order_number"], "V1-") {
		t.Errorf("other timeline: got %v, want one delivered event with v1's number", ev)
	}

	// And the other way round: v2 down.
	putJSON(t, sim+"/sim/faults?version=v2", `{"down":true}`)
	pilot2, other2 := postCanary("CANARY-3", "C-PILOT-2"), postCanary("CANARY-4", "C-ELSE")
	waitView(other2, "status from v1", func(v orderView) bool { return v.Status == "erp_received" && v.ERP["v1"].State == "created" })
	v = waitView(pilot2, "v1 answer recorded", created("v1"))
	if v.Status != "accepted" {
		t.Errorf("pilot order with only v1's answer: status %q, want accepted (v2 is its authority)", v.Status)
	}
	putJSON(t, sim+"/sim/faults?version=v2", `{"down":false}`)
	waitView(pilot2, "status from v2", func(v orderView) bool { return v.Status == "erp_received" })

	scrape := getText(t, gw+"/metrics")
	for _, want := range []string{`erpgate_release_authoritative{cohort="pilot",target="v2"} 1`,
		`erpgate_release_authoritative{cohort="default",target="v1"} 1`, "erpgate_release_revision 1"} {
		if !strings.Contains(scrape, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
