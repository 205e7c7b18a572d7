package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// relT0 is the fixed clock of the release tests.
var relT0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

// relEach runs f on miniredis and, when available, on the real Redis.
func relEach(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("mini", func(t *testing.T) { c, _ := redistest.Mini(t); f(t, c) })
	t.Run("real", func(t *testing.T) { f(t, redistest.Universal(t)) })
}

func relStore(t *testing.T, rdb redis.UniversalClient) *store.Store {
	t.Helper()
	s := store.New(rdb, store.Options{Now: func() time.Time { return relT0 }, Partitions: 1})
	if err := s.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return s
}

func relReleases(t *testing.T, rdb redis.UniversalClient, opt store.ReleaseOptions) (*store.Store, *store.Releases) {
	t.Helper()
	s := relStore(t, rdb)
	r := s.Releases(opt)
	if err := r.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s, r
}

func relChange(reason string) erp.Change { return erp.Change{Actor: "ops/alice", Reason: reason} }

func rev(n int64) *int64 { return &n }

// relAccept stores orders ord_<prefix>0.. and returns their ids.
func relAccept(t *testing.T, s *store.Store, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("ord_%s%d", prefix, i)
		o := &order.Order{
			ID: id, ShopID: "shop", ExternalID: fmt.Sprintf("%s-%d", prefix, i), CreatedAt: relT0,
			Customer:        order.Customer{ID: fmt.Sprint("C-", i), Name: "N", Email: "n@example.com"},
			ShippingAddress: order.Address{Name: "N", Line1: "L", City: "C", PostalCode: "1", Country: "DE"},
			Currency:        "EUR",
			Lines:           []order.Line{{SKU: "SKU-1001", Quantity: 1, UnitPrice: order.MustDecimal("1.00")}},
			Shipping:        order.Shipping{Method: "std", Price: order.MustDecimal("0")},
		}
		ev := tracking.Event{Time: relT0, Type: tracking.TypeAccepted, Source: tracking.SourceGateway, Summary: "accepted"}
		if _, err := s.Accept(context.Background(), store.Intake{Order: o, Fingerprint: "fp-" + id, Token: "tok", Event: ev.Encode()}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// releaseKeys digests every release:* key, to prove a refused change wrote
// nothing.
func releaseKeys(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	ctx := context.Background()
	keys := redistest.Keys(t, rdb, "{release}:*")
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		switch rdb.Type(ctx, k).Val() {
		case "string":
			fmt.Fprintf(&b, "%s=%s\n", k, rdb.Get(ctx, k).Val())
		case "stream":
			fmt.Fprintf(&b, "%s=%d\n", k, rdb.XLen(ctx, k).Val())
		default:
			fmt.Fprintf(&b, "%s\n", k)
		}
	}
	return b.String()
}

func TestReleaseCurrentIsDefaultOnAFreshRedis(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		p, err := r.Current(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Revision != 0 || p.Authoritative != erp.V2 || p.Targets[erp.V1] != erp.TargetActive || p.Stage != erp.Stage2 {
			t.Errorf("fresh plan: got %+v, want the default", p)
		}
		if r.Applied() != 0 || r.Authoritative(nil) != erp.V2 || !r.Active(erp.V1) || !r.Active(erp.V2) {
			t.Error("cached plan is not the default")
		}
		h, err := r.History(context.Background(), 0, 10)
		if err != nil || len(h) != 0 {
			t.Errorf("history: got %v %v, want empty", h, err)
		}
	})
}

// TestReleaseSetCompareAndSetAndHistory: every change gets the next
// revision and a history entry with who, when and why; a stale expected
// revision is a Conflict that writes nothing.
func TestReleaseSetCompareAndSetAndHistory(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		canary := erp.DefaultReleasePlan()
		canary.Authoritative = erp.V1
		pct := 10
		canary.Cohorts = []erp.Cohort{{Name: "canary", Percent: &pct, Authoritative: erp.V2}}
		p1, err := r.Set(ctx, canary, nil, relChange("canary 10%"))
		if err != nil {
			t.Fatal(err)
		}
		if p1.Revision != 1 || p1.Actor != "ops/alice" || p1.Reason != "canary 10%" || !p1.ChangedAt.Equal(relT0) {
			t.Errorf("revision 1: got rev %d actor %q reason %q at %v", p1.Revision, p1.Actor, p1.Reason, p1.ChangedAt)
		}
		if r.Applied() != 1 {
			t.Errorf("the changing instance obeys revision %d, want 1 at once", r.Applied())
		}
		p2, err := r.Set(ctx, erp.DefaultReleasePlan(), rev(1), relChange("full v2"))
		if err != nil || p2.Revision != 2 {
			t.Fatalf("CAS set on revision 1: got %d %v, want revision 2", p2.Revision, err)
		}
		before := releaseKeys(t, rdb)
		_, err = r.Set(ctx, canary, rev(1), relChange("stale"))
		if code(err) != erpgate.Conflict {
			t.Fatalf("stale set: got %v, want conflict", err)
		}
		if ps := erpgate.ErrorProblems(err); len(ps) != 1 || ps[0].Field != "expected_revision" {
			t.Errorf("conflict problems: got %v", ps)
		}
		if after := releaseKeys(t, rdb); after != before {
			t.Errorf("a refused change wrote:\n%s\nwas\n%s", after, before)
		}
		cur, _ := r.Current(ctx)
		if cur.Revision != 2 || len(cur.Cohorts) != 0 {
			t.Errorf("current: got revision %d cohorts %v, want 2 and none", cur.Revision, cur.Cohorts)
		}

		h, err := r.History(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Revision != 2 || h[1].Revision != 1 {
			t.Fatalf("history: got %+v, want revisions 2, 1", h)
		}
		if h[1].Action != erp.ActionSet || h[1].Actor != "ops/alice" || h[1].Reason != "canary 10%" ||
			!h[1].At.Equal(relT0) || len(h[1].Plan.Cohorts) != 1 || h[1].Plan.Revision != 1 {
			t.Errorf("history entry 1: got %+v", h[1])
		}
		if older, _ := r.History(ctx, 2, 10); len(older) != 1 || older[0].Revision != 1 {
			t.Errorf("history before 2: got %+v, want revision 1", older)
		}
		if one, _ := r.History(ctx, 0, 1); len(one) != 1 || one[0].Revision != 2 {
			t.Errorf("history limit 1: got %+v", one)
		}
	})
}

func TestReleaseSetRefusesInvalidChanges(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		before := releaseKeys(t, rdb)
		bad := erp.DefaultReleasePlan()
		bad.Targets[erp.V2] = erp.TargetPaused // authoritative v2 paused
		if _, err := r.Set(ctx, bad, nil, relChange("x")); code(err) != erpgate.Unprocessable {
			t.Errorf("contradictory plan: got %v, want unprocessable", err)
		}
		if _, err := r.Set(ctx, erp.DefaultReleasePlan(), nil, erp.Change{Actor: "a"}); code(err) != erpgate.Invalid {
			t.Errorf("no reason: got %v, want invalid", err)
		}
		if _, _, err := r.Backout(ctx, erp.Change{Actor: "a", Reason: ""}); code(err) != erpgate.Invalid {
			t.Errorf("backout without reason: got %v, want invalid", err)
		}
		if after := releaseKeys(t, rdb); after != before {
			t.Errorf("refused changes wrote:\n%s", after)
		}
	})
}

func TestReleaseBackoutAndPromote(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		m := erp.NewReleaseMetrics()
		if err := m.Register(reg); err != nil {
			t.Fatal(err)
		}
		_, r := relReleases(t, rdb, store.ReleaseOptions{Metrics: m})
		// Before any change the gauges show the built-in plan (v2 leads).
		fresh := `
# HELP erpgate_release_authoritative 1 for the authoritative ERP target of each cohort of the release plan (cohort "default": everyone else), 0 for the others.
# TYPE erpgate_release_authoritative gauge
erpgate_release_authoritative{cohort="default",target="v1"} 0
erpgate_release_authoritative{cohort="default",target="v2"} 1
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(fresh), "erpgate_release_authoritative"); err != nil {
			t.Errorf("before any change: %v", err)
		}
		p, changed, err := r.Backout(ctx, relChange("v2 misbehaves"))
		if err != nil || !changed {
			t.Fatalf("backout: got changed %v err %v", changed, err)
		}
		if !p.IsBackedOut() || p.Revision != 1 || r.Active(erp.V2) || r.Authoritative(nil) != erp.V1 {
			t.Errorf("after backout: plan %+v, cached v2 active %v", p, r.Active(erp.V2))
		}
		p, changed, err = r.Backout(ctx, relChange("again"))
		if err != nil || changed || p.Revision != 1 {
			t.Errorf("second backout: got changed %v revision %d err %v, want a no-op", changed, p.Revision, err)
		}
		// The automatic back-out acts only on the revision it judged.
		if ok, err := r.AutoBackout(ctx, 1, "rule"); err != nil || ok {
			t.Errorf("auto back-out of a backed-out plan: got %v %v, want false", ok, err)
		}
		res, err := r.Promote(ctx, relChange("v2 fixed"), store.PromoteOptions{})
		if err != nil || !res.Changed || !res.Plan.IsPromoted() || res.Plan.Revision != 2 || res.Skip != nil {
			t.Fatalf("promote: got %+v %v", res, err)
		}
		if ok, err := r.AutoBackout(ctx, 1, "stale rule"); err != nil || ok {
			t.Errorf("auto back-out for an old revision: got %v %v, want false", ok, err)
		}
		ok, err := r.AutoBackout(ctx, 2, "v2 failure ratio 10/10")
		if err != nil || !ok {
			t.Fatalf("auto back-out: got %v %v, want true", ok, err)
		}
		h, _ := r.History(ctx, 0, 1)
		if h[0].Actor != "auto" || h[0].Action != erp.ActionBackout || !strings.Contains(h[0].Reason, "failure ratio") {
			t.Errorf("auto back-out history: got %+v", h[0])
		}
		want := `
# HELP erpgate_release_backouts_total Back-outs to v1 performed by this instance, by trigger (manual, auto).
# TYPE erpgate_release_backouts_total counter
erpgate_release_backouts_total{trigger="auto"} 1
erpgate_release_backouts_total{trigger="manual"} 1
# HELP erpgate_release_revision Revision of the release plan this instance obeys.
# TYPE erpgate_release_revision gauge
erpgate_release_revision 3
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpgate_release_backouts_total", "erpgate_release_revision"); err != nil {
			t.Error(err)
		}
	})
}

// TestReleaseConcurrentChanges: changes racing from many goroutines each get
// their own revision and history entry; with an expected revision exactly
// one of the racers wins.
func TestReleaseConcurrentChanges(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := relStore(t, rdb)
		const workers, each = 6, 4
		var wg sync.WaitGroup
		for w := range workers {
			r := s.Releases(store.ReleaseOptions{}) // one per "instance"
			wg.Go(func() {
				for i := range each {
					if _, err := r.Set(ctx, erp.DefaultReleasePlan(), nil, relChange(fmt.Sprintf("w%d-%d", w, i))); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		r := s.Releases(store.ReleaseOptions{})
		h, err := r.History(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != workers*each {
			t.Fatalf("history: got %d entries, want %d", len(h), workers*each)
		}
		for i, c := range h {
			if want := int64(workers*each - i); c.Revision != want {
				t.Fatalf("history[%d]: revision %d, want %d", i, c.Revision, want)
			}
		}
		var wins sync.WaitGroup
		var mu sync.Mutex
		won, conflicts := 0, 0
		for range workers {
			wins.Go(func() {
				_, err := r.Set(ctx, erp.DefaultReleasePlan(), rev(workers*each), relChange("race"))
				mu.Lock()
				defer mu.Unlock()
				switch code(err) {
				case "":
					won++
				case erpgate.Conflict:
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wins.Wait()
		if won != 1 || conflicts != workers-1 {
			t.Errorf("CAS race: %d won, %d conflicts; want 1 and %d", won, conflicts, workers-1)
		}
	})
}

// TestReleaseWatcherFollowsChanges: another instance's Run picks up a change
// within its poll interval (bounded wait, not a timing assertion) and keeps
// the last good plan when the stored one is corrupt.
func TestReleaseWatcherFollowsChanges(t *testing.T) {
	if store.ReleasePollInterval > 500*time.Millisecond {
		t.Fatalf("ReleasePollInterval %v: a change must reach every instance well within a second", store.ReleasePollInterval)
	}
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, a := relReleases(t, rdb, store.ReleaseOptions{})
		_, b := relReleases(t, rdb, store.ReleaseOptions{Poll: 10 * time.Millisecond})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- b.Run(rctx) }()
		defer func() { cancel(); <-done }()

		if _, _, err := a.Backout(ctx, relChange("drill")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "instance b obeys revision 1", func() bool { return b.Applied() == 1 })
		if b.Active(erp.V2) || b.Authoritative(nil) != erp.V1 {
			t.Error("instance b does not obey the back-out")
		}

		// A plan that does not decode is not applied; the last one stays.
		rdb.Set(ctx, "{release}:plan", `{"revision":2,"stage":`, 0)
		rdb.Set(ctx, "{release}:rev", "2", 0)
		if err := b.Refresh(ctx); code(err) != erpgate.Internal {
			t.Errorf("refresh of an undecodable stored plan: got %v, want internal", err)
		}
		if b.Applied() != 1 || b.Active(erp.V2) {
			t.Errorf("after a corrupt plan: applied %d, v2 active %v; want the last one", b.Applied(), b.Active(erp.V2))
		}
		// One that decodes but breaks the rules is obeyed as far as safe
		// (every instance obeys the same document): stage 9 with an
		// unknown target "v3", which stays paused.
		rdb.Set(ctx, "{release}:plan", `{"revision":3,"stage":9,"targets":{"v1":"active","v2":"paused","v3":"active"},"authoritative":"v1"}`, 0)
		rdb.Set(ctx, "{release}:rev", "3", 0)
		if err := b.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if b.Applied() != 3 || b.Active(erp.V2) || !b.Active(erp.V1) || b.Active("v3") || b.Authoritative(nil) != erp.V1 {
			t.Errorf("invalid stored plan: applied %d v1 %v v2 %v", b.Applied(), b.Active(erp.V1), b.Active(erp.V2))
		}
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestShadowStoreRecordAnswerPairsOnce(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		total := order.MustDecimal("12.34")
		lines := 2
		v1 := erp.ShadowAnswer{State: erp.StateCreated, ERPOrderNumber: "V1-1", Total: &total, LineCount: &lines}
		v2 := erp.ShadowAnswer{State: erp.StateCreated, ERPOrderNumber: "SO-1"}
		for i, step := range []struct {
			target, other string
			a             erp.ShadowAnswer
			want          *erp.ShadowAnswer
		}{
			{erp.V1, erp.V2, v1, nil},
			{erp.V1, erp.V2, v1, nil}, // a repeat still waits
			{erp.V2, erp.V1, v2, &v1}, // the pair meets once
			{erp.V1, erp.V2, v1, nil}, // and never again
			{erp.V2, erp.V1, v2, nil},
		} {
			got, err := r.RecordAnswer(ctx, "ord_x", step.target, step.a, step.other)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (step.want == nil) || got != nil && (got.ERPOrderNumber != step.want.ERPOrderNumber || got.Total.String() != "12.34" || *got.LineCount != 2) {
				t.Errorf("step %d: got %+v, want %+v", i, got, step.want)
			}
		}
		if ttl := rdb.PTTL(ctx, "{release}:shadow:o:ord_x").Val(); ttl <= 0 || ttl > 25*time.Hour {
			t.Errorf("compared pair ttl: got %v, want ≤ 1 day", ttl)
		}
		if _, err := r.RecordAnswer(ctx, "ord_y", erp.V2, v2, erp.V1); err != nil {
			t.Fatal(err)
		}
		if ttl := rdb.PTTL(ctx, "{release}:shadow:o:ord_y").Val(); ttl < 6*24*time.Hour {
			t.Errorf("waiting answer ttl: got %v, want about 7 days", ttl)
		}
	})
}

func TestShadowStoreWindowSlides(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		var n, bads int
		var err error
		for _, bad := range []bool{true, false, true, false, false} {
			if n, bads, err = r.Window(ctx, 3, erp.WindowResults, bad, 3); err != nil {
				t.Fatal(err)
			}
		}
		if n != 3 || bads != 1 {
			t.Errorf("window of 3 after 1,0,1,0,0: got n %d bad %d, want 3 and 1", n, bads)
		}
		if n, bads, _ = r.Window(ctx, 4, erp.WindowResults, true, 3); n != 1 || bads != 1 {
			t.Errorf("a new revision starts a new window: got %d %d", n, bads)
		}
		if n, bads, _ = r.Window(ctx, 3, erp.WindowComparisons, false, 3); n != 1 || bads != 0 {
			t.Errorf("comparisons are a window of their own: got %d %d", n, bads)
		}
		if _, _, err := r.Window(ctx, 3, "other", false, 3); code(err) != erpgate.Internal {
			t.Errorf("unknown window: got %v", err)
		}
	})
}

func TestShadowStoreMismatchSampleIsBounded(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		_, r := relReleases(t, rdb, store.ReleaseOptions{})
		for i := range 105 {
			m := erp.ShadowMismatch{OrderID: fmt.Sprint("ord_", i), Fields: []string{erp.FieldTotal}, At: relT0,
				Answers: map[string]erp.ShadowAnswer{erp.V1: {State: erp.StateCreated}}}
			if err := r.AddMismatch(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := r.Mismatches(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 100 || ms[0].OrderID != "ord_104" || ms[99].OrderID != "ord_5" {
			t.Errorf("sample: got %d, first %s, last %s; want 100 newest first", len(ms), ms[0].OrderID, ms[len(ms)-1].OrderID)
		}
		if few, _ := r.Mismatches(ctx, 3); len(few) != 3 {
			t.Errorf("limit 3: got %d", len(few))
		}
	})
}

// TestSkipDelivered: v2's group skips exactly the orders v1 created, wherever
// their entries are (pending or not yet delivered); the kept ones are due at
// once, uncharged; replays follow their target.
func TestSkipDelivered(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s, r := relReleases(t, rdb, store.ReleaseOptions{})
		ids := relAccept(t, s, "skip", 6)
		ob := s.Outbox()
		for _, id := range ids[:3] { // v1 holds orders 0, 1, 2
			if err := s.SetResult(ctx, id, erp.V1, erp.Result{State: erp.StateCreated, ERPOrderNumber: "V1-" + id}, false); err != nil {
				t.Fatal(err)
			}
		}
		// Order 5: v1 rejected it; v1 does not hold it.
		if err := s.SetResult(ctx, ids[5], erp.V1, erp.Result{State: erp.StateRejected, Reason: "no"}, false); err != nil {
			t.Fatal(err)
		}
		// v2 had read orders 0 and 1 before it was paused; 1 is parked for a retry.
		got, err := ob.Read(ctx, erp.V2, "w1", 0, 2, time.Millisecond)
		if err != nil || len(got) != 2 {
			t.Fatalf("read: %v %v", got, err)
		}
		if err := ob.Defer(ctx, erp.V2, erp.Message{ID: got[1].ID}, relT0.Add(time.Hour), 1); err != nil {
			t.Fatal(err)
		}
		// Replays: order 3 for v1 only (v2 acks it unseen), order 0 for v2 (the operator wants it there).
		replayV1 := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "outbox:{p0.0}", Values: []any{"type", erp.TypeOrderCreate, "id", ids[3], "only", erp.V1}}).Val()
		replayV2 := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "outbox:{p0.0}", Values: []any{"type", erp.TypeOrderCreate, "id", ids[0], "only", erp.V2}}).Val()

		rep, err := r.SkipDelivered(ctx, erp.V2, erp.V1)
		if err != nil {
			t.Fatal(err)
		}
		// Skipped: 0 (pending), 1 (parked), 2 (undelivered), the v1 replay. Kept: 3, 4, 5, the v2 replay.
		if rep.Skipped != 4 || rep.Kept != 4 {
			t.Errorf("report: got %+v, want 4 skipped, 4 kept", rep)
		}
		if more, _ := ob.Read(ctx, erp.V2, "w2", 0, 10, time.Millisecond); len(more) != 0 {
			t.Errorf("entries left undelivered in v2's group: %v", more)
		}
		due, err := ob.Due(ctx, erp.V2, "w2", 0, relT0.Add(2*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		var dueOrders []string
		sawReplay := false
		for _, m := range due {
			sawReplay = sawReplay || m.ID == replayV2
			dueOrders = append(dueOrders, m.OrderID)
			if m.Deliveries != 1 {
				t.Errorf("kept entry %s: deliveries %d, want 1 (skipping charges nothing)", m.ID, m.Deliveries)
			}
			if m.ID == replayV1 {
				t.Error("the v1-only replay is still due for v2")
			}
		}
		slices.Sort(dueOrders)
		if want := []string{ids[0], ids[3], ids[4], ids[5]}; !slices.Equal(dueOrders, want) {
			t.Errorf("due for v2: got %v, want %v (the v2 replay of order 0, then 3, 4, 5)", dueOrders, want)
		}
		if !sawReplay {
			t.Error("the v2 replay is not due for v2")
		}
		// v1's group is untouched.
		if v1, _ := ob.Read(ctx, erp.V1, "x", 0, 20, time.Millisecond); len(v1) != 8 {
			t.Errorf("v1 group: got %d entries, want all 8", len(v1))
		}
	})
}

// TestReconcileAfterBackout: orders v1 created while v2 was authoritative
// and v2 had not answered show v1's answer once the plan backs out, and the
// hook hears about each once.
func TestReconcileAfterBackout(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		var mu sync.Mutex
		var heard []string
		hook := func(_ context.Context, target string, o *order.Order, res erp.Result, auth bool) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, fmt.Sprintf("%s %s %s %v", o.ID, target, res.State, auth))
		}
		s, r := relReleases(t, rdb, store.ReleaseOptions{Hook: hook})
		ids := relAccept(t, s, "rec", 4)
		ob := s.Outbox()
		// v2 (authoritative) answered order 0 and acknowledged it.
		v2read, _ := ob.Read(ctx, erp.V2, "w", 0, 1, time.Millisecond)
		s.SetResult(ctx, ids[0], erp.V2, erp.Result{State: erp.StateCreated, ERPOrderNumber: "SO-0"}, true)
		ob.Ack(ctx, erp.V2, 0, v2read[0].ID)
		// v1 (beside it) answered 0, 1, 2; order 3 nobody has.
		s.SetResult(ctx, ids[0], erp.V1, erp.Result{State: erp.StateCreated, ERPOrderNumber: "V1-0"}, false)
		s.SetResult(ctx, ids[1], erp.V1, erp.Result{State: erp.StateCreated, ERPOrderNumber: "V1-1"}, false)
		s.SetResult(ctx, ids[2], erp.V1, erp.Result{State: erp.StateRejected, Reason: "SKU-1001 is not sold"}, false)

		p, _, err := r.Backout(ctx, relChange("drill"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.Reconcile(ctx, erp.NewPlanView(p), erp.V2)
		if err != nil || n != 2 {
			t.Fatalf("reconcile: got %d %v, want 2 orders", n, err)
		}
		for _, c := range []struct{ id, status, reason string }{
			{ids[0], store.StatusReceived, ""}, // v2's answer; v2 had finished it
			{ids[1], store.StatusReceived, ""},
			{ids[2], store.StatusRejected, "SKU-1001 is not sold"},
			{ids[3], store.StatusAccepted, ""},
		} {
			rec, err := s.Order(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != c.status || rec.Reason != c.reason {
				t.Errorf("%s: got status %q reason %q, want %q %q", c.id, rec.Status, rec.Reason, c.status, c.reason)
			}
		}
		want := []string{ids[1] + " v1 created true", ids[2] + " v1 rejected true"}
		slices.Sort(heard)
		if !slices.Equal(heard, want) {
			t.Errorf("hook heard %v, want %v", heard, want)
		}
		if n, err := r.Reconcile(ctx, erp.NewPlanView(p), erp.V2); err != nil || n != 0 {
			t.Errorf("second reconcile: got %d %v, want 0", n, err)
		}
	})
}

// TestReconcileRunsAfterAChangeOfAuthority: Run reconciles by itself after a
// back-out made on this instance.
func TestReconcileRunsAfterAChangeOfAuthority(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s, r := relReleases(t, rdb, store.ReleaseOptions{Poll: 10 * time.Millisecond, ReconcileDelay: 10 * time.Millisecond})
		ids := relAccept(t, s, "auto", 1)
		s.SetResult(ctx, ids[0], erp.V1, erp.Result{State: erp.StateCreated, ERPOrderNumber: "V1-0"}, false)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		defer func() { cancel(); <-done }()
		if _, _, err := r.Backout(ctx, relChange("drill")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "order status follows v1", func() bool {
			rec, err := s.Order(ctx, ids[0])
			return err == nil && rec.Status == store.StatusReceived
		})
	})
}

func TestPromoteSkippingWhatV1Holds(t *testing.T) {
	relEach(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s, r := relReleases(t, rdb, store.ReleaseOptions{})
		if _, _, err := r.Backout(ctx, relChange("drill")); err != nil {
			t.Fatal(err)
		}
		ids := relAccept(t, s, "prom", 3)
		s.SetResult(ctx, ids[0], erp.V1, erp.Result{State: erp.StateCreated}, true)
		res, err := r.Promote(ctx, relChange("back to v2, skip"), store.PromoteOptions{SkipDeliveredByV1: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || !res.Plan.IsPromoted() || res.Skip == nil || res.Skip.Skipped != 1 || res.Skip.Kept != 2 {
			t.Errorf("promote: got changed %v plan %+v skip %+v", res.Changed, res.Plan, res.Skip)
		}
		if h, _ := r.History(ctx, 0, 1); h[0].Action != erp.ActionPromote {
			t.Errorf("history: got %+v", h[0])
		}
	})
}
