package erpv1_test

import (
	"context"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"erpgate/erp/erpsim"
	"erpgate/erp/erptest"
	"erpgate/erp/erpv1"
)

// BenchmarkCreateOrderCPU is one delivery of a typical order (erptest.Order)
// to the in-process simulator over HTTP, serially: its ns/op and cpu-µs/op
// (user+system time of the whole process, simulator included) are the
// adapter's share of a delivery plus the simulator's.
func BenchmarkCreateOrderCPU(b *testing.B) {
	sim := erpsim.New(erpsim.Config{})
	a, _, _ := newAdapterB(b, sim)
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		o := erptest.Order()
		if _, err := a.CreateOrder(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

func newAdapterB(b *testing.B, sim *erpsim.Sim) (*erpv1.Adapter, *erpsim.Sim, string) {
	b.Helper()
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	a, err := erpv1.New(erpv1.Config{URL: srv.URL + "/erp/v1"})
	if err != nil {
		b.Fatal(err)
	}
	return a, sim, srv.URL
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
