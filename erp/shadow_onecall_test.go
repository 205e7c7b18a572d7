package erp_test

import (
	"context"
	"fmt"
	"testing"

	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
)

// rigStore is the ShadowStore the shadow rig gives its Shadow: the
// in-memory store itself (the three-call path), or, in
// TestShadowOneCallStore, a ShadowResultStore on top of it.
var rigStore = func(t *testing.T, m *memShadowStore) erp.ShadowStore { return m }

// oneCallStore is an erp.ShadowResultStore on a memShadowStore with the
// Redis script's semantics: it compares projections as the script does. It
// fails the test when Shadow falls back to the three calls.
type oneCallStore struct {
	t *testing.T
	m *memShadowStore
}

func (s oneCallStore) RecordAnswer(ctx context.Context, id, target string, a erp.ShadowAnswer, other string) (*erp.ShadowAnswer, error) {
	s.t.Errorf("RecordAnswer called on a ShadowResultStore")
	return s.m.RecordAnswer(ctx, id, target, a, other)
}

func (s oneCallStore) Window(ctx context.Context, rev int64, kind string, bad bool, size int) (int, int, error) {
	s.t.Errorf("Window called on a ShadowResultStore")
	return s.m.Window(ctx, rev, kind, bad, size)
}

func (s oneCallStore) AddMismatch(ctx context.Context, x erp.ShadowMismatch) error {
	return s.m.AddMismatch(ctx, x)
}

func (s oneCallStore) RecordResult(ctx context.Context, r erp.ShadowResult) (erp.ShadowOutcome, error) {
	var out erp.ShadowOutcome
	if r.Results != nil {
		n, bads, _ := s.m.Window(ctx, r.Revision, erp.WindowResults, *r.Results, max(r.WindowSize, 1))
		out.Results = &erp.WindowCount{N: n, Bad: bads}
	}
	if r.Answer == nil {
		return out, nil
	}
	theirs, _ := s.m.RecordAnswer(ctx, r.OrderID, r.Target, *r.Answer, r.Other)
	out.Theirs = theirs
	if theirs != nil && r.Comparisons {
		n, bads, _ := s.m.Window(ctx, r.Revision, erp.WindowComparisons, projectionsDiffer(erp.ShadowProjection(*r.Answer), erp.ShadowProjection(*theirs)), max(r.WindowSize, 1))
		out.Comparisons = &erp.WindowCount{N: n, Bad: bads}
	}
	return out, nil
}

// projectionsDiffer is the script's differ.
func projectionsDiffer(a, b [5]string) bool {
	if a[0] != b[0] {
		return true
	}
	if a[0] == erp.StateRejected {
		return a[1] != b[1]
	}
	for i := 2; i < 5; i++ {
		if a[i] != "" && b[i] != "" && a[i] != b[i] {
			return true
		}
	}
	return false
}

// TestShadowOneCallStore runs the Shadow scenarios again on a
// ShadowResultStore: the comparison, the metrics, the mismatch sample and
// both back-out rules behave the same with one call per result.
func TestShadowOneCallStore(t *testing.T) {
	defer func(f func(*testing.T, *memShadowStore) erp.ShadowStore) { rigStore = f }(rigStore)
	rigStore = func(t *testing.T, m *memShadowStore) erp.ShadowStore { return oneCallStore{t: t, m: m} }
	for name, f := range map[string]func(*testing.T){
		"ComparesTotalsOnce":        TestShadowComparesTotalsOnce,
		"AcceptanceMismatch":        TestShadowAcceptanceMismatch,
		"OffTouchesNothing":         TestShadowOffTouchesNothing,
		"PendingAndDeadNotCompared": TestShadowPendingAndDeadAreNotCompared,
		"BackoutOnFailureRatio":     TestAutoBackoutOnFailureRatio,
		"BackoutOnMismatches":       TestAutoBackoutOnMismatches,
	} {
		t.Run(name, f)
	}
}

// TestShadowProjectionMatchesCompareAnswers holds the projection rules to
// CompareAnswers.
func TestShadowProjectionMatchesCompareAnswers(t *testing.T) {
	answers := []erp.ShadowAnswer{
		{State: erp.StateCreated},
		{State: erp.StateCreated, Total: dec("1.00"), Status: "confirmed"},
		{State: erp.StateCreated, Total: dec("1.0"), LineCount: new(int)},
		{State: erp.StateCreated, Total: dec("2.00"), Status: "backordered"},
		{State: erp.StateRejected, Reason: "a"},
		{State: erp.StateRejected, Reason: "b", Total: dec("1.00")},
		{State: erp.StateRejected},
	}
	for _, a := range answers {
		for _, b := range answers {
			if got, want := projectionsDiffer(erp.ShadowProjection(a), erp.ShadowProjection(b)), len(erp.CompareAnswers(a, b)) > 0; got != want {
				t.Errorf("%+v / %+v: projections differ %v, CompareAnswers %v", a, b, got, want)
			}
		}
	}
}

// threeCalls hides RecordResult of a ShadowResultStore, so Shadow uses the
// three calls of ShadowStore.
type threeCalls struct{ erp.ShadowStore }

// BenchmarkShadowOnResult is the hook of both targets' results for one
// order (shadow comparison and the back-out rule on) against a real Redis:
// one call per result, or the three calls of ShadowStore.
func BenchmarkShadowOnResult(b *testing.B) {
	rdb := redistest.Universal(b)
	ctx := context.Background()
	st := store.New(rdb, store.Options{Partitions: 1})
	if err := st.Init(ctx); err != nil {
		b.Fatal(err)
	}
	rel := st.Releases(store.ReleaseOptions{})
	if err := rel.Load(ctx); err != nil {
		b.Fatal(err)
	}
	p := erp.DefaultReleasePlan()
	p.AutoBackout.Enabled = true
	p.AutoBackout.FailureRatio, p.AutoBackout.Mismatches = 0, 0 // observe, never back out
	view := erp.NewPlanView(p)
	for name, s := range map[string]erp.ShadowStore{"one-call": rel, "three-calls": threeCalls{rel}} {
		b.Run(name, func(b *testing.B) {
			sh, err := erp.NewShadow(erp.ShadowConfig{Plan: func() *erp.PlanView { return view }, Store: s})
			if err != nil {
				b.Fatal(err)
			}
			o := &order.Order{ShopID: "shop"}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				o.ID = fmt.Sprintf("ord_bench_%s_%d", name, i)
				sh.OnResult(ctx, erp.V1, o, erp.Result{State: erp.StateCreated, ERPOrderNumber: "V1-1", ERPStatus: "confirmed"}, false)
				sh.OnResult(ctx, erp.V2, o, erp.Result{State: erp.StateCreated, ERPOrderNumber: "SO-1", ERPStatus: "confirmed"}, false)
			}
		})
	}
}
