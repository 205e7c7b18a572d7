package erpv1_test

import (
	"testing"

	"erpgate/erp"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv1"
)

// BenchmarkCreateOrderCPU: one delivery of a typical order to the
// in-process simulator (see erptest.BenchmarkCreateOrderCPU).
func BenchmarkCreateOrderCPU(b *testing.B) {
	erptest.BenchmarkCreateOrderCPU(b, func(simURL string) (erp.Adapter, error) {
		return erpv1.New(erpv1.Config{URL: simURL + "/erp/v1"})
	})
}
