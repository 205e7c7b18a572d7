package erpsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"erpgate/erpsim"
)

// getOrders reads /sim/orders with query and returns the status, the
// cursor header and the decoded elements (as generic maps, to see exactly
// which fields are there).
func getOrders(t *testing.T, srv *httptest.Server, query string) (int, string, []map[string]any) {
	t.Helper()
	res, err := http.Get(srv.URL + "/sim/orders" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []map[string]any
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, res.Header.Get(erpsim.OrdersCursorHeader), out
}

func refs(list []map[string]any) []string {
	var out []string
	for _, o := range list {
		out = append(out, o["external_ref"].(string))
	}
	return out
}

// A reader polling with the cursor sees every order exactly once, only the
// new ones each time, and learns when the orders were reset under it.
func TestListOrdersCursor(t *testing.T) {
	sim, srv, c := newSim(t, erpsim.Config{})
	ctx := t.Context()
	for i := range 3 {
		if _, err := create(ctx, c, salesOrder("ord_c"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	code, next, all := getOrders(t, srv, "?version=v2")
	if code != 200 || next != "3" || len(all) != 3 {
		t.Fatalf("first read: status %d, cursor %q, %d orders; want 200, \"3\", 3", code, next, len(all))
	}
	// A repeated create of a known order adds no element after the cursor.
	if _, err := create(ctx, c, salesOrder("ord_c0")); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"ord_c3", "ord_c4"} {
		if _, err := create(ctx, c, salesOrder(ref)); err != nil {
			t.Fatal(err)
		}
	}
	code, next, newer := getOrders(t, srv, "?version=v2&after=3")
	if got := refs(newer); code != 200 || next != "5" || len(got) != 2 || got[0] != "ord_c3" || got[1] != "ord_c4" {
		t.Fatalf("read after 3: status %d, cursor %q, refs %v; want 200, \"5\", [ord_c3 ord_c4]", code, next, got)
	}
	if _, ok := newer[0]["status"]; !ok {
		t.Errorf("full element %v lacks status", newer[0])
	}
	code, next, none := getOrders(t, srv, "?version=v2&after=5")
	if code != 200 || next != "5" || len(none) != 0 {
		t.Errorf("read at the end: status %d, cursor %q, %d orders; want 200, \"5\", none", code, next, len(none))
	}

	// fields=core: the four stable fields, nothing else.
	code, _, core := getOrders(t, srv, "?version=v2&fields=core")
	if code != 200 || len(core) != 5 {
		t.Fatalf("core read: status %d, %d orders; want 200, 5", code, len(core))
	}
	if len(core[0]) != 4 || core[0]["version"] != "v2" || core[0]["external_ref"] != "ord_c0" || core[0]["create_calls"] != float64(2) || core[0]["erp_order_number"] == "" {
		t.Errorf("core element = %v, want version, external_ref ord_c0, erp_order_number and create_calls 2 only", core[0])
	}

	for _, q := range []string{"?after=1", "?version=v2&after=-1", "?version=v2&after=x", "?version=v2&external_ref=ord_c1&after=0", "?fields=all"} {
		if code, _, _ := getOrders(t, srv, q); code != http.StatusBadRequest {
			t.Errorf("GET /sim/orders%s: status %d, want 400", q, code)
		}
	}
	if code, _, _ := getOrders(t, srv, "?version=v2&after=6"); code != http.StatusConflict {
		t.Errorf("cursor beyond the orders: status %d, want 409", code)
	}
	if err := sim.Reset("v2"); err != nil {
		t.Fatal(err)
	}
	if code, next, _ := getOrders(t, srv, "?version=v2&after=5"); code != http.StatusConflict || next != "0" {
		t.Errorf("cursor after a reset: status %d, cursor %q; want 409, \"0\"", code, next)
	}
	// The old forms still work.
	if code, _, list := getOrders(t, srv, ""); code != 200 || len(list) != 0 {
		t.Errorf("GET /sim/orders: status %d, %d orders; want 200, 0", code, len(list))
	}
}
