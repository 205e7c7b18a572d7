package erpv1_test

import (
	"net/http/httptest"
	"testing"

	"erpgate/erp"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv1"
	"erpgate/erpsim"
)

var _ erptest.OrderFetcher = (*erpv1.Adapter)(nil)

// TestConformance runs the shared adapter suite against v1 on the
// simulator. v1's create is not idempotent, so "repeat create is a
// duplicate and makes no second order" holds only through the adapter's
// lookup before create — which is what this proves.
func TestConformance(t *testing.T) {
	erptest.Run(t, func(t *testing.T) erptest.Harness {
		sim := erpsim.New(erpsim.Config{})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		a, err := erpv1.New(erpv1.Config{URL: srv.URL + "/erp/v1"})
		if err != nil {
			t.Fatal(err)
		}
		return erptest.Harness{Adapter: a, ERP: erptest.SimERP(sim, erp.V1)}
	})
}
