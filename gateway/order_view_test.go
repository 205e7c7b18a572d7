package gateway

import (
	"net/http"
	"testing"

	"erpgate/erp"
	"erpgate/soap/orderws"
	"erpgate/store"
)

// getOrderView reads GET /v1/orders/{id} as the demo shop.
func (e *trackEnv) getOrderView(t *testing.T, id string) map[string]any {
	t.Helper()
	r := e.do(t, http.MethodGet, "/v1/orders/"+id, "demo-shop-key", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/orders/%s = %d %s", id, r.status, r.raw)
	}
	return r.body
}

func targetOf(t *testing.T, body map[string]any, target string) map[string]any {
	t.Helper()
	erpMap, _ := body["erp"].(map[string]any)
	v, ok := erpMap[target].(map[string]any)
	if !ok {
		t.Fatalf("erp.%s missing in %v", target, body["erp"])
	}
	return v
}

// soapGetOrderOf reads the order through the SOAP OrderService.
func (e *trackEnv) soapGetOrderOf(t *testing.T, id string) map[string]*orderws.ErpResult {
	t.Helper()
	var got orderws.GetOrderResponse
	(&soapEnv{srv: e.srv}).call(t, soapEnvelope("", soapGetOrder(id, "")), nil).ok(t, &got)
	out := map[string]*orderws.ErpResult{}
	for _, r := range got.ErpResult {
		out[r.Target] = r
	}
	return out
}

// The order answer (issue 16) says which target is authoritative, lists a
// paused target as pending instead of omitting it, and its ERP status
// follows the timeline instead of staying at the ERP's first answer — over
// REST and SOAP alike.
func TestOrderAnswerAuthorityPausedTargetsAndTimelineStatus(t *testing.T) {
	e := newTrackEnv(t)
	e.setPaused(erp.V1, true) // v2 authoritative, v1 paused
	id, _ := e.order(t, "WEB-VIEW-1")

	body := e.getOrderView(t, id)
	if body["erp_authoritative"] != erp.V2 {
		t.Errorf("erp_authoritative = %v, want v2", body["erp_authoritative"])
	}
	if _, ok := body["erp_order_number"]; ok {
		t.Errorf("erp_order_number = %v before any ERP answered, want none", body["erp_order_number"])
	}
	v1 := targetOf(t, body, erp.V1)
	if v1["state"] != erp.StatePending || v1["paused"] != true || v1["authoritative"] != false {
		t.Errorf("erp.v1 = %v, want pending, paused, not authoritative", v1)
	}
	v2 := targetOf(t, body, erp.V2)
	if v2["state"] != erp.StatePending || v2["paused"] != nil || v2["authoritative"] != true {
		t.Errorf("erp.v2 = %v, want pending (no answer yet), active, authoritative", v2)
	}
	ws := e.soapGetOrderOf(t, id)
	if r := ws[erp.V1]; r == nil || r.State != erp.StatePending || !r.Paused || r.Authoritative {
		t.Errorf("SOAP ErpResult v1 = %+v, want pending, paused, not authoritative", r)
	}
	if r := ws[erp.V2]; r == nil || !r.Authoritative || r.Paused {
		t.Errorf("SOAP ErpResult v2 = %+v, want authoritative, active", r)
	}

	// v2 creates the order; its first answer says "confirmed".
	if err := e.st.SetResult(t.Context(), id, erp.V2, store.TargetResult{State: erp.StateCreated,
		ERPOrderNumber: "SO-2V-000042", ERPStatus: "confirmed", Attempts: 1, UpdatedAt: restNow}, true); err != nil {
		t.Fatal(err)
	}
	body = e.getOrderView(t, id)
	if body["erp_order_number"] != "SO-2V-000042" || targetOf(t, body, erp.V2)["erp_status"] != "confirmed" {
		t.Errorf("after the create: erp_order_number %v, erp.v2 %v; want SO-2V-000042, confirmed", body["erp_order_number"], targetOf(t, body, erp.V2))
	}

	// The ERP pushes the order's progress; the ERP status follows it.
	c := e.client("demo-erp-callback-key")
	for i, st := range []string{"confirmed", "allocated", "shipped", "delivered"} {
		if _, err := c.SalesOrderStatusChangedContext(t.Context(), push("SO-2V-000042-"+st, id, st, int32(i+1))); err != nil {
			t.Fatalf("push %s: %v", st, err)
		}
		body = e.getOrderView(t, id)
		if got := targetOf(t, body, erp.V2)["erp_status"]; got != st {
			t.Errorf("after %s was pushed: erp.v2.erp_status = %v, want %s", st, got, st)
		}
		if got := targetOf(t, body, erp.V1)["erp_status"]; got != nil {
			t.Errorf("erp.v1.erp_status = %v: v2's events changed v1's status", got)
		}
	}
	if r := e.soapGetOrderOf(t, id)[erp.V2]; r == nil || r.ErpStatus != "delivered" || r.ErpOrderNumber != "SO-2V-000042" {
		t.Errorf("SOAP ErpResult v2 = %+v, want delivered, SO-2V-000042", r)
	}

	// A back-out: v1 authoritative, v2 paused; the answer says so.
	e.setAuthority(erp.V1)
	e.setPaused(erp.V1, false)
	e.setPaused(erp.V2, true)
	body = e.getOrderView(t, id)
	v1, v2 = targetOf(t, body, erp.V1), targetOf(t, body, erp.V2)
	if body["erp_authoritative"] != erp.V1 || v1["authoritative"] != true || v2["authoritative"] != false || v2["paused"] != true {
		t.Errorf("after a back-out: erp_authoritative %v, v1 %v, v2 %v; want v1 authoritative, v2 paused", body["erp_authoritative"], v1, v2)
	}
	if _, ok := body["erp_order_number"]; ok {
		t.Errorf("erp_order_number = %v, want none: v1 (now authoritative) has not answered", body["erp_order_number"])
	}
}
