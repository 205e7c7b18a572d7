package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"erpgate/erpsim"
	"erpgate/supplier"
)

// TestCatalogCacheAndInvalidation: the catalog is served from the cache
// within its TTL (the ERP may even be down), a supplier's shipping notice
// makes the next read fresh at once, and after the TTL an unreachable ERP
// is answered from the last copy, marked stale.
func TestCatalogCacheAndInvalidation(t *testing.T) {
	e := newSupEnv(t)
	num := e.issuedPO("ord_cat")
	item := func() supResp {
		t.Helper()
		r := e.call(http.MethodGet, "/v1/catalog/items/SKU-1011", shopKey, nil)
		if r.status != http.StatusOK {
			t.Fatalf("catalog item: %d %s", r.status, r.raw)
		}
		return r
	}
	inbound := func(r supResp) map[string]any {
		in, _ := r.body["inbound"].([]any)
		if len(in) != 1 {
			t.Fatalf("inbound = %v, want one purchase order", r.body["inbound"])
		}
		return in[0].(map[string]any)
	}
	if in := inbound(item()); in["po_number"] != num || in["status"] != "issued" || in["quantity"] != 5.0 {
		t.Fatalf("inbound = %v, want 5 on the issued %s", in, num)
	}
	// Within the TTL the ERP is not asked: down, the answer is the same.
	if err := e.sim.SetFaults(erpsim.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	if r := item(); r.header.Get("X-Erpgate-Stale") != "" || inbound(r)["status"] != "issued" {
		t.Errorf("cached read while the ERP is down: %s (stale %q)", r.raw, r.header.Get("X-Erpgate-Stale"))
	}
	if err := e.sim.SetFaults(erpsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		body any
	}{
		{"acknowledgements", ackBody("ACK-1", "2026-03-06", 0)},
		{"shipping-notices", asnBody("ASN-1", "2026-03-02", "2026-03-05", 5)},
	} {
		if r := e.call(http.MethodPost, "/v1/supplier/purchase-orders/"+num+"/"+c.path, sup2Key, c.body); r.status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", c.path, r.status, r.raw)
		}
	}
	waitFor(t, "the shipping notice delivered", func() bool { return e.docState(sup2Key, "shipping-notices", "ASN-1") == "delivered" })
	// Still well within the TTL: the delivery invalidated the cache.
	if in := inbound(item()); in["status"] != "shipped" || in["expected_delivery"] != "2026-03-05" || in["promised_date"] != "2026-03-06" {
		t.Errorf("after the shipping notice: %v, want shipped, expected 2026-03-05, promised 2026-03-06", in)
	}
	e.clk.Add(supplier.DefaultCacheTTL + time.Second)
	if err := e.sim.SetFaults(erpsim.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	r := item()
	if r.header.Get("X-Erpgate-Stale") != "true" || inbound(r)["status"] != "shipped" {
		t.Errorf("after the TTL with the ERP down: %s (stale %q), want the last copy marked stale", r.raw, r.header.Get("X-Erpgate-Stale"))
	}
	// A page never read has no copy: the shop is told to retry.
	if r := e.call(http.MethodGet, "/v1/catalog/items?limit=5&offset=10", shopKey, nil); r.status != http.StatusServiceUnavailable || r.body["code"] != "unavailable" {
		t.Errorf("uncached page with the ERP down: %d %s, want 503 unavailable", r.status, r.raw)
	}
	if err := e.sim.SetFaults(erpsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if r := e.call(http.MethodGet, "/v1/catalog/items?limit=5&offset=10", shopKey, nil); r.status != http.StatusOK ||
		len(r.body["items"].([]any)) != 5 || r.body["next_offset"] != 15.0 || r.body["total"] != 20.0 {
		t.Errorf("catalog page: %d %s, want 5 items of 20, next at 15", r.status, r.raw)
	}
}

// TestSupplierMetricsLint: the supplier metric follows the naming rules.
func TestSupplierMetricsLint(t *testing.T) {
	e := newSupEnv(t, supOpts{noWorkers: true})
	probs, err := testutil.GatherAndLint(e.reg, "erpgate_supplier_documents_total")
	if err != nil || len(probs) != 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
	if n, err := testutil.GatherAndCount(e.reg, "erpgate_supplier_documents_total"); n != 4*9 || err != nil {
		t.Errorf("%d series, want every kind × outcome pre-created (36)", n)
	}
}
