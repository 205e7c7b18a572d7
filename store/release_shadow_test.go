package store_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/store"
)

var _ erp.ShadowResultStore = (*store.Releases)(nil)

// TestShadowStoreRecordResult checks the one-call result: the results
// window, the pairing (once), the comparison observed when the pair meets,
// and the comparison left to the caller when the other answer came without
// a projection (recorded by RecordAnswer, as an older instance does).
func TestShadowStoreRecordResult(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		total := order.MustDecimal("12.34")
		lines := 2
		v1 := erp.ShadowAnswer{State: erp.StateCreated, ERPOrderNumber: "V1-1", Total: &total, LineCount: &lines}
		v2 := erp.ShadowAnswer{State: erp.StateCreated, ERPOrderNumber: "SO-1", Total: &total, Status: "confirmed"}
		bad, good := true, false

		out, err := r.RecordResult(ctx, erp.ShadowResult{Revision: 5, WindowSize: 3, Answer: &v1, OrderID: "ord_a", Target: erp.V1, Other: erp.V2, Comparisons: true})
		if err != nil || out.Results != nil || out.Theirs != nil || out.Comparisons != nil {
			t.Fatalf("first answer: %+v, %v; want nothing observed or handed out", out, err)
		}
		out, err = r.RecordResult(ctx, erp.ShadowResult{Revision: 5, WindowSize: 3, Results: &bad, Answer: &v2, OrderID: "ord_a", Target: erp.V2, Other: erp.V1, Comparisons: true})
		if err != nil {
			t.Fatal(err)
		}
		if out.Results == nil || *out.Results != (erp.WindowCount{N: 1, Bad: 1}) {
			t.Errorf("results window: %+v, want 1 of 1 bad", out.Results)
		}
		if out.Theirs == nil || out.Theirs.ERPOrderNumber != "V1-1" || *out.Theirs.LineCount != 2 {
			t.Errorf("pair: theirs %+v, want v1's answer", out.Theirs)
		}
		if out.Comparisons == nil || *out.Comparisons != (erp.WindowCount{N: 1, Bad: 0}) {
			t.Errorf("comparisons window: %+v, want 1 observation, not bad", out.Comparisons)
		}
		out, err = r.RecordResult(ctx, erp.ShadowResult{Revision: 5, WindowSize: 3, Results: &good, Answer: &v2, OrderID: "ord_a", Target: erp.V2, Other: erp.V1, Comparisons: true})
		if err != nil || out.Theirs != nil || out.Comparisons != nil || out.Results == nil || *out.Results != (erp.WindowCount{N: 2, Bad: 1}) {
			t.Errorf("after the pair: %+v, %v; want only the results window (2, 1 bad)", out, err)
		}
		if n, bads, _ := r.Window(ctx, 5, erp.WindowResults, false, 3); n != 3 || bads != 1 {
			t.Errorf("RecordResult and Window share the results window: got %d %d, want 3 1", n, bads)
		}

		// The other answer recorded without a projection.
		if _, err := r.RecordAnswer(ctx, "ord_b", erp.V1, v1, erp.V2); err != nil {
			t.Fatal(err)
		}
		out, err = r.RecordResult(ctx, erp.ShadowResult{Revision: 5, WindowSize: 3, Answer: &v2, OrderID: "ord_b", Target: erp.V2, Other: erp.V1, Comparisons: true})
		if err != nil || out.Theirs == nil || out.Comparisons != nil {
			t.Errorf("pair with an older answer: %+v, %v; want theirs and no comparison observed", out, err)
		}
		// Only a window.
		out, err = r.RecordResult(ctx, erp.ShadowResult{Revision: 6, WindowSize: 3, Results: &bad})
		if err != nil || out.Results == nil || *out.Results != (erp.WindowCount{N: 1, Bad: 1}) || out.Theirs != nil {
			t.Errorf("window only: %+v, %v", out, err)
		}
	})
}

// TestShadowStoreComparesAsCompareAnswers holds the script's comparison of
// projections to erp.CompareAnswers over random pairs of answers.
func TestShadowStoreComparesAsCompareAnswers(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		rnd := rand.New(rand.NewPCG(1, 2))
		pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
		answer := func() erp.ShadowAnswer {
			a := erp.ShadowAnswer{State: pick(erp.StateCreated, erp.StateRejected), Status: pick("", "confirmed", "backordered", "Ünïcode \"x\" <&>"),
				Reason: pick("", "SKU-1 is not sold by us", "SKU-2 is not sold by us")}
			if rnd.IntN(3) > 0 {
				d := order.Decimal(rnd.IntN(3) * 5000)
				a.Total = &d
			}
			if rnd.IntN(3) > 0 {
				n := rnd.IntN(3)
				a.LineCount = &n
			}
			return a
		}
		n := 300
		if testing.Short() {
			n = 50
		}
		bads := 0
		for i := range n {
			a, b := answer(), answer()
			id := "ord_p" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if _, err := r.RecordResult(ctx, erp.ShadowResult{Revision: 9, WindowSize: 1, Answer: &a, OrderID: id, Target: erp.V1, Other: erp.V2, Comparisons: true}); err != nil {
				t.Fatal(err)
			}
			out, err := r.RecordResult(ctx, erp.ShadowResult{Revision: 9, WindowSize: 1, Answer: &b, OrderID: id, Target: erp.V2, Other: erp.V1, Comparisons: true})
			if err != nil || out.Comparisons == nil {
				t.Fatalf("pair %d: %+v, %v", i, out, err)
			}
			want := len(erp.CompareAnswers(a, b)) > 0
			if got := out.Comparisons.Bad == 1; got != want {
				t.Fatalf("pair %+v / %+v: script says differ=%v, CompareAnswers %v", a, b, got, want)
			}
			if want {
				bads++
			}
		}
		if bads == 0 || bads == n {
			t.Errorf("%d of %d pairs differ: the test does not cover both outcomes", bads, n)
		}
	})
}
