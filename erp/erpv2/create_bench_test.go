package erpv2_test

import (
	"testing"

	"erpgate/erp"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv2"
)

// BenchmarkCreateOrderCPU: one delivery of a typical order to the
// in-process simulator (see erptest.BenchmarkCreateOrderCPU).
func BenchmarkCreateOrderCPU(b *testing.B) {
	erptest.BenchmarkCreateOrderCPU(b, func(simURL string) (erp.Adapter, error) {
		return erpv2.New(erpv2.Config{URL: simURL + "/erp/v2"})
	})
}
