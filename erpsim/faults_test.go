package erpsim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/soap/erpv2ws"
)

func putFaults(t *testing.T, url, body string) (int, erpsim.Faults) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var f erpsim.Faults
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, f
}

func TestDownRefusesWithServiceUnavailable(t *testing.T) {
	sim, srv, c := newSim(t, erpsim.Config{Faults: erpsim.Faults{Down: true}})
	_, err := create(t.Context(), c, salesOrder("ord_down"))
	var he *gsoap.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("create while down: %v, want HTTP 503", err)
	}
	res, err := http.Get(srv.URL + "/erp/v2?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("WSDL while down: status %d, want 503", res.StatusCode)
	}
	// The control plane keeps working while the ERP is down.
	if got := listOrders(t, srv, ""); len(got) != 0 {
		t.Errorf("orders while down = %v, want none", got)
	}

	if code, f := putFaults(t, srv.URL+"/sim/faults", `{"down":false}`); code != http.StatusOK || f.Down {
		t.Fatalf("PUT down=false: %d %+v", code, f)
	}
	if _, err := create(t.Context(), c, salesOrder("ord_down")); err != nil {
		t.Fatalf("create after recovery: %v", err)
	}
	if n := sim.OrderCount("v2"); n != 1 {
		t.Errorf("orders = %d, want 1", n)
	}
}

func TestErrorRateInjectsBusyFaults(t *testing.T) {
	// Rand always draws 0.5: a rate above it always fails, below never.
	sim, _, c := newSim(t, erpsim.Config{Rand: func() float64 { return 0.5 }, Faults: erpsim.Faults{ErrorRate: 0.6}})
	_, err := create(t.Context(), c, salesOrder("ord_busy"))
	f := faultOf(t, err)
	if f.Code != "soap:Server" || *f.Detail.ErrorCode != erpv2ws.ErrorCodeSERVICE_BUSY {
		t.Errorf("fault = %s %s, want soap:Server SERVICE_BUSY", f.Code, *f.Detail.ErrorCode)
	}
	if n := sim.OrderCount("v2"); n != 0 {
		t.Errorf("a busy refusal stored %d orders, want 0", n)
	}
	if err := sim.SetFaults(erpsim.Faults{ErrorRate: 0.4}); err != nil {
		t.Fatal(err)
	}
	if _, err := create(t.Context(), c, salesOrder("ord_busy")); err != nil {
		t.Errorf("create with error rate below the draw: %v", err)
	}
}

func TestFaultCodeInjectsThatFault(t *testing.T) {
	sim, srv, c := newSim(t, erpsim.Config{})
	if code, f := putFaults(t, srv.URL+"/sim/faults", `{"fault_code":"INVALID_ORDER","fault_message":"ORDHDR locked"}`); code != http.StatusOK || f.FaultCode != "INVALID_ORDER" {
		t.Fatalf("PUT fault_code: %d %+v", code, f)
	}
	f := faultOf(t, func() error { _, err := create(t.Context(), c, salesOrder("ord_fc")); return err }())
	if f.Code != "soap:Client" || *f.Detail.ErrorCode != erpv2ws.ErrorCodeINVALID_ORDER || f.Detail.Message != "ORDHDR locked" {
		t.Errorf("fault = %s %s %q, want soap:Client INVALID_ORDER \"ORDHDR locked\"", f.Code, *f.Detail.ErrorCode, f.Detail.Message)
	}
	if err := sim.SetFaults(erpsim.Faults{FaultCode: "SERVICE_UNAVAILABLE"}); err != nil {
		t.Fatal(err)
	}
	f = faultOf(t, func() error { _, err := create(t.Context(), c, salesOrder("ord_fc")); return err }())
	if f.Code != "soap:Server" || *f.Detail.ErrorCode != erpv2ws.ErrorCodeSERVICE_UNAVAILABLE {
		t.Errorf("fault = %s %s, want soap:Server SERVICE_UNAVAILABLE", f.Code, *f.Detail.ErrorCode)
	}
	if n := sim.OrderCount("v2"); n != 0 {
		t.Errorf("an injected fault stored %d orders, want 0", n)
	}
	for body, want := range map[string]int{
		`{"fault_code":"invalid order"}`:                                           http.StatusUnprocessableEntity,
		`{"fault_code":"` + strings.Repeat("A", 65) + `"}`:                         http.StatusUnprocessableEntity,
		`{"fault_code":"X","fault_message":"` + strings.Repeat("x", 70<<10) + `"}`: http.StatusBadRequest, // beyond the body limit
	} {
		if code, _ := putFaults(t, srv.URL+"/sim/faults", body); code != want {
			t.Errorf("PUT %.60s: status %d, want %d", body, code, want)
		}
	}
	if err := sim.SetFaults(erpsim.Faults{FaultCode: "X", FaultMessage: strings.Repeat("x", erpsim.MaxFaultMessage+1)}); err == nil {
		t.Error("SetFaults with a message beyond MaxFaultMessage succeeded")
	}
}

func TestLostReplyCreatesButCutsTheConnection(t *testing.T) {
	sim, _, c := newSim(t, erpsim.Config{Faults: erpsim.Faults{LostReplyRate: 1}})
	_, err := create(t.Context(), c, salesOrder("ord_lost"))
	var he *gsoap.HTTPError
	if err == nil || errors.As(err, &he) {
		t.Fatalf("create with a lost reply = %v, want a connection error", err)
	}
	if n := sim.OrderCount("v2"); n != 1 {
		t.Fatalf("orders = %d, want 1: the ERP did the work", n)
	}
	if err := sim.SetFaults(erpsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	res, err := create(t.Context(), c, salesOrder("ord_lost"))
	if err != nil || !res.AlreadyExists {
		t.Errorf("retry after a lost reply = %+v, %v; want AlreadyExists", res, err)
	}
}

func TestPerVersionFaults(t *testing.T) {
	sim, srv, c := newSim(t, erpsim.Config{})
	if code, f := putFaults(t, srv.URL+"/sim/faults?version=v2", `{"down":true,"latency_ms":5}`); code != http.StatusOK || !f.Down || f.LatencyMS != 5 {
		t.Fatalf("PUT ?version=v2: %d %+v", code, f)
	}
	if got := sim.Faults(); got.Down {
		t.Errorf("global faults = %+v after a per-version PUT, want untouched", got)
	}
	if _, err := create(t.Context(), c, salesOrder("ord_pv")); err == nil {
		t.Error("create on a downed v2 succeeded")
	}
	// A global setting replaces per-version ones.
	if code, _ := putFaults(t, srv.URL+"/sim/faults", `{"latency_ms":0}`); code != http.StatusOK {
		t.Fatalf("PUT global: %d", code)
	}
	if f, err := sim.VersionFaults("v2"); err != nil || f.Down {
		t.Errorf("v2 faults after global PUT = %+v, %v; want not down", f, err)
	}
	if _, err := sim.VersionFaults("v9"); !errors.Is(err, erpsim.ErrUnknownVersion) {
		t.Errorf("VersionFaults(v9) = %v, want ErrUnknownVersion", err)
	}
	if code, _ := putFaults(t, srv.URL+"/sim/faults?version=v9", `{"down":true}`); code != http.StatusBadRequest {
		t.Errorf("PUT ?version=v9: status %d, want 400", code)
	}
}

func TestPutFaultsMergesAndValidates(t *testing.T) {
	sim, srv, _ := newSim(t, erpsim.Config{Faults: erpsim.Faults{LatencyMS: 20, ErrorRate: 0.1}})
	code, f := putFaults(t, srv.URL+"/sim/faults", `{"down":true}`)
	if want := (erpsim.Faults{LatencyMS: 20, ErrorRate: 0.1, Down: true}); code != http.StatusOK || f != want {
		t.Errorf("PUT {down:true} = %d %+v, want 200 %+v (other fields kept)", code, f, want)
	}
	for body, want := range map[string]int{
		`{"error_rate":1.5}`:     http.StatusUnprocessableEntity,
		`{"lost_reply_rate":-1}`: http.StatusUnprocessableEntity,
		`{"latency_ms":999999}`:  http.StatusUnprocessableEntity,
		`{"latency":5}`:          http.StatusBadRequest,
		`not json`:               http.StatusBadRequest,
		`{"error_rate":"lots"}`:  http.StatusBadRequest,
	} {
		if code, _ := putFaults(t, srv.URL+"/sim/faults", body); code != want {
			t.Errorf("PUT %s: status %d, want %d", body, code, want)
		}
	}
	if got, want := sim.Faults(), (erpsim.Faults{LatencyMS: 20, ErrorRate: 0.1, Down: true}); got != want {
		t.Errorf("faults after refused PUTs = %+v, want %+v", got, want)
	}
	res, err := http.Get(srv.URL + "/sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got erpsim.Faults
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || !got.Down {
		t.Errorf("GET /sim/faults = %+v, %v; want down", got, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, cfg := range map[string]erpsim.Config{
		"negative max": {MaxOrders: -1},
		"bad rate":     {Faults: erpsim.Faults{ErrorRate: 2}},
		"repeated sku": {Catalog: []erpsim.Product{{SKU: "A"}, {SKU: "A"}}},
		"empty sku":    {Catalog: []erpsim.Product{{SKU: ""}}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want an error", name)
		}
	}
	if err := (erpsim.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}
