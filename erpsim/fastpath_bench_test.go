package erpsim_test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"

	gsoap "github.com/hooklift/gowsdl/soap"

	"erpgate/erpsim"
	"erpgate/soap/erpv1ws"
	"erpgate/soap/erpv2ws"
)

// gowsdlEnvelope marshals req as gowsdl's client does — and as the
// gateway's adapters write it by hand, byte for byte (their property
// tests hold them to this).
func gowsdlEnvelope(tb testing.TB, req any) []byte {
	tb.Helper()
	b, err := xml.Marshal(&gsoap.SOAPEnvelope{XmlNS: gsoap.XmlNsSoapEnv, Body: gsoap.SOAPBody{Content: req}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// refDigits is the placeholder the benchmarks overwrite with a counter, so
// every iteration creates a new order.
const refDigits = "000000000000"

// benchCreate posts the envelope tmpl to path b.N times through ServeHTTP,
// each time with a new reference written over refDigits: once read by
// ReadRequest and Decode (strict), once by the fast path.
func benchCreate(b *testing.B, path, action string, tmpl []byte) {
	for _, strict := range []bool{true, false} {
		name := "fast"
		if strict {
			name = "strict"
		}
		b.Run(name, func(b *testing.B) {
			sim := erpsim.New(erpsim.Config{MaxOrders: 10_000_000})
			if strict {
				erpsim.StrictOnly(sim)
			}
			benchPosts(b, sim, path, action, tmpl)
		})
	}
}

func benchPosts(b *testing.B, sim *erpsim.Sim, path, action string, tmpl []byte) {
	at := bytes.Index(tmpl, []byte(refDigits))
	if at < 0 {
		b.Fatal("no reference placeholder in the envelope")
	}
	env := bytes.Clone(tmpl)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for i := 0; b.Loop(); i++ {
		n := strconv.AppendInt(nil, int64(i), 10)
		copy(env[at+len(refDigits)-len(n):at+len(refDigits)], n)
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(env))
		r.Header.Set("Content-Type", `text/xml; charset="utf-8"`)
		r.Header.Set("SOAPAction", action)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used (user and system, all
// threads: the garbage collector's too), in nanoseconds. Wall time per op
// hides the collector's work on the other core.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCreateV2 is the v2 create of a delivery, as the gateway sends
// it, through the simulator's handler.
func BenchmarkCreateV2(b *testing.B) {
	tmpl := gowsdlEnvelope(b, &erpv2ws.CreateSalesOrder{SalesOrder: salesOrder("ord_" + refDigits)})
	benchCreate(b, "/erp/v2", "urn:erpgate:erp:v2/CreateSalesOrder", tmpl)
}

// BenchmarkCreateV1 is the v1 create of a delivery.
func BenchmarkCreateV1(b *testing.B) {
	tmpl := gowsdlEnvelope(b, &erpv1ws.CreateOrder{Order: v1Order("ord_" + refDigits)})
	benchCreate(b, "/erp/v1", "urn:erpgate:erp:v1/CreateOrder", tmpl)
}

// BenchmarkFindV1 is the v1 lookup the adapter sends before each create
// (of an order not held yet).
func BenchmarkFindV1(b *testing.B) {
	tmpl := gowsdlEnvelope(b, &erpv1ws.FindOrderByReference{Reference: "ord_" + refDigits})
	benchCreate(b, "/erp/v1", "urn:erpgate:erp:v1/FindOrderByReference", tmpl)
}
