// Package erptest is the conformance suite every erp.Adapter must pass —
// the v1 and v2 adapters against the ERP simulator, and the in-memory fake —
// with the helpers it needs.
//
// A test of an implementation calls Run with a function that builds a fresh
// Harness: the adapter and a handle on the ERP behind it.
//
//	func TestConformance(t *testing.T) {
//		erptest.Run(t, func(t *testing.T) erptest.Harness {
//			sim := erpsim.New(erpsim.Config{})
//			srv := httptest.NewServer(sim)
//			t.Cleanup(srv.Close)
//			a, err := erpv2.New(erpv2.Config{URL: srv.URL + "/erp/v2"})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return erptest.Harness{Adapter: a, ERP: erptest.SimERP(sim, erp.V2)}
//		})
//	}
//
// The ERP must sell the demo catalog's skus SKU-1001 … SKU-1020 and must not
// sell SKU-9999.
//
// What only some interface versions can do is declared as optional
// capabilities — interfaces such as OrderFetcher that an adapter may also
// implement — never by widening erp.Adapter. The suite tests a capability
// when the adapter has it.
package erptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"erpgate/erp"
	"erpgate/erpsim"
	"erpgate/order"
	"erpgate/order/ordertest"
)

// ERP is the system behind the adapter under test, as far as the suite
// needs to see and steer it.
type ERP interface {
	// SetDown makes the ERP unreachable (true) or serves again (false).
	SetDown(down bool)
	// Holds returns how many orders the ERP holds with external reference
	// ref. Exactly-once delivery means 1, however often the order was sent.
	Holds(ref string) int
}

// FaultAnswerer is an optional capability of an ERP: answering every call
// with a fault whose typed detail carries error code code (e.g.
// "INVALID_ORDER") and message msg, until called with code "". The suite
// then checks that the adapter classifies the ERP's error codes as every
// other adapter does, and bounds the ERP's text (testFaultCodes).
type FaultAnswerer interface {
	AnswerFault(code, msg string)
}

// Harness is one adapter under test and the ERP behind it.
type Harness struct {
	Adapter erp.Adapter
	ERP     ERP
}

// OrderFetcher is an optional capability: reading back the whole order the
// ERP holds for an external reference, in canonical form (v2:
// GetSalesOrder). Errors are *erp.Error as for erp.Adapter; an unknown ref
// is KindPermanent with Code "not_found".
type OrderFetcher interface {
	FetchOrder(ctx context.Context, ref string) (*order.Order, error)
}

// Run runs the conformance suite. newHarness is called once per subtest
// and must return an adapter and ERP that share no orders with other
// subtests (a fresh simulator or fake each time).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Target", testTarget},
		{"CreateReturnsConfirmation", testCreate},
		{"RepeatCreateIsDuplicate", testRepeatCreate},
		{"DistinctOrdersGetDistinctNumbers", testDistinctNumbers},
		{"UnknownSKUIsPermanent", testUnknownSKU},
		{"ERPDownIsTransient", testDown},
		{"CanceledContextIsNotPermanent", testCanceled},
		{"StatusAfterCreate", testStatus},
		{"UnknownRefIsNotFound", testUnknownRef},
		{"LargestOrder", testLargestOrder},
		{"FetchOrderRoundTrip", testFetch},
		{"FaultCodesClassifiedAlike", testFaultCodes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newHarness(t))
		})
	}
}

// NewRef returns a fresh order id in the gateway's form: "ord_" and 26
// base32 characters.
func NewRef() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var b [26]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return "ord_" + string(b[:])
}

// Order returns a fully populated valid order (every optional field set,
// Unicode text) with a fresh ID and three lines of demo-catalog skus.
func Order() *order.Order {
	o := ordertest.ValidAt(time.Now())
	o.ID = NewRef()
	return o
}

// LargestOrder returns the largest order Validate accepts — MaxLines lines,
// every text at its maximum length in multi-byte Unicode, every optional
// field — with a fresh ID and demo-catalog skus.
func LargestOrder(seed uint64) *order.Order {
	o := ordertest.Random(mrand.New(mrand.NewPCG(seed, 1)), ordertest.Options{Max: true})
	o.ID = NewRef()
	for i := range o.Lines {
		o.Lines[i].SKU = fmt.Sprintf("SKU-%d", 1001+i%20)
	}
	return o
}

// SimERP is the ERP view of one version of an ERP simulator.
func SimERP(sim *erpsim.Sim, version string) ERP {
	return simERP{sim: sim, version: version}
}

type simERP struct {
	sim     *erpsim.Sim
	version string
}

func (s simERP) SetDown(down bool) {
	f, err := s.sim.VersionFaults(s.version)
	if err != nil {
		panic(err) // a test wired an unknown version
	}
	f.Down = down
	if err := s.sim.SetVersionFaults(s.version, f); err != nil {
		panic(err)
	}
}

func (s simERP) AnswerFault(code, msg string) {
	f, err := s.sim.VersionFaults(s.version)
	if err != nil {
		panic(err) // a test wired an unknown version
	}
	f.FaultCode, f.FaultMessage = code, msg
	if err := s.sim.SetVersionFaults(s.version, f); err != nil {
		panic(err)
	}
}

func (s simERP) Holds(ref string) int {
	return len(s.sim.Orders(erpsim.Filter{Version: s.version, ExternalRef: ref}))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// classified returns err as *erp.Error, failing the test if it is not one.
func classified(t *testing.T, err error) *erp.Error {
	t.Helper()
	var e *erp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *erp.Error", err, err)
	}
	return e
}

func testTarget(t *testing.T, h Harness) {
	if h.Adapter.Target() == "" {
		t.Error("Target() is empty")
	}
}

func testCreate(t *testing.T, h Harness) {
	o := Order()
	c, err := h.Adapter.CreateOrder(ctx(t), o)
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if c.ERPOrderNumber == "" || c.Status == "" {
		t.Errorf("confirmation %+v lacks number or status", c)
	}
	if c.Duplicate {
		t.Error("first create: Duplicate = true, want false")
	}
	if got, want := c.Total, o.Total(); got != want {
		t.Errorf("Total = %s, want %s", got, want)
	}
	if got, want := c.LineCount, len(o.Lines); got != want {
		t.Errorf("LineCount = %d, want %d", got, want)
	}
	if n := h.ERP.Holds(o.ID); n != 1 {
		t.Errorf("ERP holds %d orders for %s, want 1", n, o.ID)
	}
}

func testRepeatCreate(t *testing.T, h Harness) {
	o := Order()
	first, err := h.Adapter.CreateOrder(ctx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		again, err := h.Adapter.CreateOrder(ctx(t), o.Clone())
		if err != nil {
			t.Fatalf("repeat %d: %v", i+1, err)
		}
		if !again.Duplicate || again.ERPOrderNumber != first.ERPOrderNumber {
			t.Errorf("repeat %d = %+v, want Duplicate with number %q", i+1, again, first.ERPOrderNumber)
		}
	}
	if n := h.ERP.Holds(o.ID); n != 1 {
		t.Errorf("ERP holds %d orders for %s after three creates, want 1", n, o.ID)
	}
}

func testDistinctNumbers(t *testing.T, h Harness) {
	seen := map[string]bool{}
	for range 3 {
		c, err := h.Adapter.CreateOrder(ctx(t), Order())
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ERPOrderNumber] {
			t.Errorf("number %q given to two orders", c.ERPOrderNumber)
		}
		seen[c.ERPOrderNumber] = true
	}
}

func testUnknownSKU(t *testing.T, h Harness) {
	o := Order()
	o.Lines[1].SKU = "SKU-9999"
	_, err := h.Adapter.CreateOrder(ctx(t), o)
	if err == nil {
		t.Fatal("CreateOrder with an unknown sku succeeded")
	}
	e := classified(t, err)
	if e.Kind != erp.KindPermanent || !erp.IsPermanent(err) {
		t.Errorf("Kind = %v, want permanent", e.Kind)
	}
	if e.Code != "unknown_sku" {
		t.Errorf("Code = %q, want unknown_sku", e.Code)
	}
	if !strings.Contains(e.Reason, "SKU-9999") {
		t.Errorf("Reason %q does not name SKU-9999", e.Reason)
	}
	if n := h.ERP.Holds(o.ID); n != 0 {
		t.Errorf("ERP holds %d refused orders, want 0", n)
	}
}

func testDown(t *testing.T, h Harness) {
	o := Order()
	h.ERP.SetDown(true)
	_, err := h.Adapter.CreateOrder(ctx(t), o)
	if err == nil {
		t.Fatal("CreateOrder on a down ERP succeeded")
	}
	if e := classified(t, err); e.Kind != erp.KindTransient || erp.IsPermanent(err) {
		t.Errorf("create on a down ERP: Kind = %v, want transient", e.Kind)
	}
	_, err = h.Adapter.OrderStatus(ctx(t), o.ID)
	if e := classified(t, err); e.Kind != erp.KindTransient {
		t.Errorf("status on a down ERP: Kind = %v, want transient", e.Kind)
	}

	h.ERP.SetDown(false)
	c, err := h.Adapter.CreateOrder(ctx(t), o)
	if err != nil {
		t.Fatalf("create after the ERP came back: %v", err)
	}
	if c.Duplicate {
		t.Error("create after an outage: Duplicate = true; the failed call must not have created it")
	}
	if n := h.ERP.Holds(o.ID); n != 1 {
		t.Errorf("ERP holds %d orders, want 1", n)
	}
}

func testCanceled(t *testing.T, h Harness) {
	o := Order()
	c, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := h.Adapter.CreateOrder(c, o)
	if err == nil {
		t.Fatal("CreateOrder with a cancelled context succeeded")
	}
	if erp.IsPermanent(err) {
		t.Errorf("a cancelled call is permanent (%v): the order would be rejected for our own shutdown", err)
	}
	classified(t, err)
}

func testStatus(t *testing.T, h Harness) {
	o := Order()
	c, err := h.Adapter.CreateOrder(ctx(t), o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.Adapter.OrderStatus(ctx(t), o.ID)
	if err != nil {
		t.Fatalf("OrderStatus: %v", err)
	}
	if st.ERPOrderNumber != c.ERPOrderNumber || st.Status == "" {
		t.Errorf("status = %+v, want number %q and a status", st, c.ERPOrderNumber)
	}
}

func testUnknownRef(t *testing.T, h Harness) {
	_, err := h.Adapter.OrderStatus(ctx(t), NewRef())
	if err == nil {
		t.Fatal("OrderStatus of an unknown ref succeeded")
	}
	if e := classified(t, err); e.Kind != erp.KindPermanent || e.Code != "not_found" {
		t.Errorf("error = %v/%q, want permanent not_found", e.Kind, e.Code)
	}
}

func testLargestOrder(t *testing.T, h Harness) {
	o := LargestOrder(1)
	c, err := h.Adapter.CreateOrder(ctx(t), o)
	if err != nil {
		t.Fatalf("CreateOrder(largest valid order): %v", err)
	}
	if c.Total != o.Total() || c.LineCount != order.MaxLines {
		t.Errorf("confirmation = %s/%d lines, want %s/%d", c.Total, c.LineCount, o.Total(), order.MaxLines)
	}
	if f, ok := h.Adapter.(OrderFetcher); ok {
		got, err := f.FetchOrder(ctx(t), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := Diff(got, o); diff != "" {
			t.Errorf("largest order read back differs: %s", diff)
		}
	}
}

func testFetch(t *testing.T, h Harness) {
	f, ok := h.Adapter.(OrderFetcher)
	if !ok {
		t.Skip("adapter does not implement OrderFetcher")
	}
	o := Order()
	if _, err := h.Adapter.CreateOrder(ctx(t), o); err != nil {
		t.Fatal(err)
	}
	got, err := f.FetchOrder(ctx(t), o.ID)
	if err != nil {
		t.Fatalf("FetchOrder: %v", err)
	}
	if diff := Diff(got, o); diff != "" {
		t.Errorf("order read back differs: %s", diff)
	}
	_, err = f.FetchOrder(ctx(t), NewRef())
	if e := classified(t, err); e.Kind != erp.KindPermanent || e.Code != "not_found" {
		t.Errorf("FetchOrder(unknown) = %v/%q, want permanent not_found", e.Kind, e.Code)
	}
}

// MaxFaultErrorBytes bounds the operator's error of a classified fault,
// however long the ERP's message: the message is logged on every retry and
// stored with a dead letter, so an adapter cuts the ERP's text.
const MaxFaultErrorBytes = 2048

// testFaultCodes: the ERP's error codes mean the same whatever the
// interface version, and the ERP's own text never reaches the shop and
// reaches operators bounded, as valid UTF-8.
func testFaultCodes(t *testing.T, h Harness) {
	fa, ok := h.ERP.(FaultAnswerer)
	if !ok {
		t.Skip("ERP does not implement FaultAnswerer")
	}
	long := "RAW " + strings.Repeat("ü", 32<<10) // 64 KiB of two-byte runes
	for _, c := range []struct {
		code string
		kind erp.Kind
		want string
	}{
		{"UNKNOWN_SKU", erp.KindPermanent, "unknown_sku"},
		{"INVALID_ORDER", erp.KindPermanent, "invalid_order"},
		{"NOT_FOUND", erp.KindPermanent, "not_found"},
		{"SERVICE_BUSY", erp.KindTransient, "service_busy"},
		{"SERVICE_UNAVAILABLE", erp.KindTransient, "service_unavailable"},
		{"INVALID_REQUEST", erp.KindTransient, "invalid_request"},
		{"QUOTA_EXCEEDED", erp.KindTransient, "soap_fault"},
	} {
		t.Run(c.code, func(t *testing.T) {
			fa.AnswerFault(c.code, long)
			t.Cleanup(func() { fa.AnswerFault("", "") })
			o := Order()
			_, err := h.Adapter.CreateOrder(ctx(t), o)
			if err == nil {
				t.Fatal("CreateOrder succeeded on an ERP answering faults")
			}
			e := classified(t, err)
			if e.Kind != c.kind || e.Code != c.want {
				t.Errorf("classified as %v/%q, want %v/%q (%v)", e.Kind, e.Code, c.kind, c.want, e)
			}
			if strings.Contains(e.Reason, "RAW") || strings.Contains(e.Reason, "ü") {
				t.Errorf("Reason %.80q passes the ERP's text to the shop", e.Reason)
			}
			msg := err.Error()
			if len(msg) > MaxFaultErrorBytes || !utf8.ValidString(msg) {
				t.Errorf("error is %d bytes (valid UTF-8: %v), want at most %d, valid", len(msg), utf8.ValidString(msg), MaxFaultErrorBytes)
			}
			if !strings.Contains(msg, c.code) || !strings.Contains(msg, "RAW ü") {
				t.Errorf("error %.120q… lacks the ERP's code or the start of its message for operators", msg)
			}
			if n := h.ERP.Holds(o.ID); n != 0 {
				t.Errorf("ERP holds %d orders after a fault, want 0", n)
			}
		})
	}
}

// Diff describes the first differences between two orders, or returns ""
// when they are equal (CreatedAt compared as an instant).
func Diff(got, want *order.Order) string {
	if got == nil || want == nil {
		if got == want {
			return ""
		}
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	g, w := got.Clone(), want.Clone()
	var diffs []string
	if !g.CreatedAt.Equal(w.CreatedAt) {
		diffs = append(diffs, fmt.Sprintf("created_at: got %v, want %v", g.CreatedAt, w.CreatedAt))
	}
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if len(g.Lines) != len(w.Lines) {
		diffs = append(diffs, fmt.Sprintf("lines: got %d, want %d", len(g.Lines), len(w.Lines)))
	} else {
		for i := range g.Lines {
			if g.Lines[i] != w.Lines[i] {
				diffs = append(diffs, fmt.Sprintf("lines[%d]: got %+v, want %+v", i, g.Lines[i], w.Lines[i]))
			}
		}
	}
	g.Lines, w.Lines = nil, nil
	if (g.BillingAddress == nil) != (w.BillingAddress == nil) || (g.BillingAddress != nil && *g.BillingAddress != *w.BillingAddress) {
		diffs = append(diffs, fmt.Sprintf("billing_address: got %+v, want %+v", g.BillingAddress, w.BillingAddress))
	}
	g.BillingAddress, w.BillingAddress = nil, nil
	if !reflect.DeepEqual(g, w) {
		diffs = append(diffs, fmt.Sprintf("order: got %+v, want %+v", *g, *w))
	}
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("… %d more", len(diffs)-5))
	}
	return strings.Join(diffs, "; ")
}

// BenchmarkCreateOrderCPU benchmarks one delivery of a typical order (Order)
// to an in-process simulator over HTTP, serially. newAdapter returns the
// adapter under test for the simulator's base URL. Besides ns/op it reports
// cpu-µs/op: the user and system time of the whole process (simulator
// included), the adapter's share of a delivery plus the simulator's.
func BenchmarkCreateOrderCPU(b *testing.B, newAdapter func(simURL string) (erp.Adapter, error)) {
	srv := httptest.NewServer(erpsim.New(erpsim.Config{}))
	b.Cleanup(srv.Close)
	a, err := newAdapter(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := a.CreateOrder(ctx, Order()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PostSOAP sends one SOAP request to h (a simulator) in process and returns
// the answer's body, whatever its status.
func PostSOAP(h http.Handler, path, action string, envelope []byte) []byte {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(envelope))
	r.Header.Set("Content-Type", `text/xml; charset="utf-8"`)
	r.Header.Set("SOAPAction", action)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.Bytes()
}
