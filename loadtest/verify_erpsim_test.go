package loadtest_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/loadtest"
	"erpgate/soap/erpv1ws"
)

// Verify against the real simulator (its cursor API): orders from before
// the baseline are not this run's, each acknowledged order read once per
// poll at most, and a planted loss and a planted duplicate (v1 stores a
// repeated create as a second order) are caught.
func TestVerifyAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim := erpsim.New(erpsim.Config{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	v1 := erpv1ws.NewOrderService(gsoap.NewClient(srv.URL + "/erp/v1"))
	create := func(ref string) {
		t.Helper()
		amt := erpv1ws.Amount("10.01")
		charge := erpv1ws.Amount("4.99")
		o := &erpv1ws.Order{
			Reference: ref, CustomerOrderNo: "WEB-1", CustomerName: "Anna Weber", DeliveryName: "Anna Weber",
			DeliveryAddress: "Hauptstraße 1, 10115 Berlin", DeliveryCountry: "DE", Currency: "EUR",
			ShipVia: "standard", ShippingCharge: &charge,
			Line: []*erpv1ws.OrderLine{{LineNo: 1, ItemNo: "SKU-1001", ItemText: "item", Quantity: 1, NetPrice: &amt}},
		}
		if _, err := v1.CreateOrderContext(context.Background(), &erpv1ws.CreateOrder{Order: o}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		create("ord_old" + strconv.Itoa(i))
	}
	cfg := loadtest.VerifyConfig{SimURL: srv.URL, Versions: []string{"v1"}, Timeout: 2 * time.Second, Poll: 20 * time.Millisecond}
	base, err := loadtest.Snapshot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if base.Len() != 5 {
		t.Fatalf("baseline holds %d orders, want 5", base.Len())
	}
	var acked []string
	for i := range 20 {
		ref := "ord_run" + strconv.Itoa(i)
		acked = append(acked, ref)
		if i != 7 { // planted loss
			create(ref)
		}
	}
	create("ord_run3") // planted duplicate
	v, err := loadtest.Verify(context.Background(), cfg, base, acks(acked...), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Failed || v.Lost != 1 || v.Duplicated != 1 || v.ByVersion["v1"].Present != 19 {
		t.Errorf("failed %v lost %d duplicated %d present %d (%s), want a failure with 1 lost, 1 duplicated, 19 present", v.Failed, v.Lost, v.Duplicated, v.ByVersion["v1"].Present, v.Reason)
	}
	if len(v.LostExamples) != 1 || v.LostExamples[0] != "v1/ord_run7" || len(v.DuplicatedExamples) != 1 || v.DuplicatedExamples[0] != "v1/ord_run3" {
		t.Errorf("examples lost %v duplicated %v, want v1/ord_run7 and v1/ord_run3", v.LostExamples, v.DuplicatedExamples)
	}
	// The run's 21 elements: once by cursor per poll that found them, once
	// more in the final full read after the timeout; never the old ones
	// again and never once per poll.
	if v.Polls < 3 || v.OrdersRead > 2*21 {
		t.Errorf("%d polls read %d orders, want several polls reading at most %d", v.Polls, v.OrdersRead, 2*21)
	}
}
