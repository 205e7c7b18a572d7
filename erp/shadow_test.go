package erp_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/internal/redistest"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

func dec(s string) *order.Decimal { d := order.MustDecimal(s); return &d }

func TestCompareAnswers(t *testing.T) {
	created := func(total string, lines int, status string) erp.ShadowAnswer {
		a := erp.ShadowAnswer{State: erp.StateCreated, Status: status}
		if total != "" {
			a.Total, a.LineCount = dec(total), &lines
		}
		return a
	}
	rejected := func(reason string) erp.ShadowAnswer {
		return erp.ShadowAnswer{State: erp.StateRejected, Reason: reason}
	}
	for _, tt := range []struct {
		name string
		a, b erp.ShadowAnswer
		want []string
	}{
		{"same", created("10.00", 2, "confirmed"), created("10.00", 2, "confirmed"), nil},
		{"total", created("10.00", 2, "confirmed"), created("10.01", 2, "confirmed"), []string{erp.FieldTotal}},
		{"lines and status", created("10.00", 2, "confirmed"), created("10.00", 3, "backordered"), []string{erp.FieldLineCount, erp.FieldStatus}},
		{"unknown facts are not compared", created("", 0, ""), created("99.00", 9, "confirmed"), nil},
		{"acceptance alone", created("10.00", 2, "confirmed"), rejected("SKU-1 is not sold"), []string{erp.FieldAcceptance}},
		{"both rejected alike", rejected("x"), rejected("x"), nil},
		{"both rejected differently", rejected("x"), rejected("y"), []string{erp.FieldReason}},
	} {
		if got := erp.CompareAnswers(tt.a, tt.b); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	rule := erp.AutoBackout{Enabled: true, Window: 100, MinSample: 10, FailureRatio: 0.5, Mismatches: 3}
	for _, tt := range []struct {
		rule    erp.AutoBackout
		kind    string
		n, bads int
		want    bool
	}{
		{rule, erp.WindowResults, 10, 5, true},
		{rule, erp.WindowResults, 10, 4, false},
		{rule, erp.WindowResults, 9, 9, false}, // below the minimum sample
		{rule, erp.WindowComparisons, 3, 3, true},
		{rule, erp.WindowComparisons, 50, 2, false},
		{erp.AutoBackout{Enabled: false, Window: 100, MinSample: 1, FailureRatio: 0.1}, erp.WindowResults, 10, 10, false},
		{erp.AutoBackout{Enabled: true, Window: 100, MinSample: 1, Mismatches: 1}, erp.WindowResults, 10, 10, false}, // ratio not used
		{erp.AutoBackout{Enabled: true, Window: 100, MinSample: 1, FailureRatio: 0.1}, erp.WindowComparisons, 10, 10, false},
	} {
		if got := erp.Evaluate(tt.rule, tt.kind, tt.n, tt.bads) != ""; got != tt.want {
			t.Errorf("Evaluate(%+v, %s, %d, %d): got %v, want %v", tt.rule, tt.kind, tt.n, tt.bads, got, tt.want)
		}
	}
}

// memShadowStore is an in-memory erp.ShadowStore with the semantics of the
// Redis one.
type memShadowStore struct {
	mu         sync.Mutex
	answers    map[string]map[string]erp.ShadowAnswer
	done       map[string]bool
	mismatches []erp.ShadowMismatch
	windows    map[string][]bool
}

func newMemShadowStore() *memShadowStore {
	return &memShadowStore{answers: map[string]map[string]erp.ShadowAnswer{}, done: map[string]bool{}, windows: map[string][]bool{}}
}

func (m *memShadowStore) RecordAnswer(_ context.Context, id, target string, a erp.ShadowAnswer, other string) (*erp.ShadowAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[id] {
		return nil, nil
	}
	if m.answers[id] == nil {
		m.answers[id] = map[string]erp.ShadowAnswer{}
	}
	m.answers[id][target] = a
	o, ok := m.answers[id][other]
	if !ok {
		return nil, nil
	}
	m.done[id] = true
	return &o, nil
}

func (m *memShadowStore) AddMismatch(_ context.Context, x erp.ShadowMismatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mismatches = append(m.mismatches, x)
	return nil
}

func (m *memShadowStore) Window(_ context.Context, rev int64, kind string, bad bool, size int) (int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := fmt.Sprint(rev, kind)
	w := append(m.windows[k], bad)
	if len(w) > size {
		w = w[len(w)-size:]
	}
	m.windows[k] = w
	bads := 0
	for _, b := range w {
		if b {
			bads++
		}
	}
	return len(w), bads, nil
}

// shadowRig is a Shadow on a settable plan with recorded back-outs.
type shadowRig struct {
	sh       *erp.Shadow
	st       *memShadowStore
	plan     atomic.Pointer[erp.PlanView]
	backouts atomic.Int32
	reg      *prometheus.Registry
}

func newShadowRig(t *testing.T, p erp.ReleasePlan) *shadowRig {
	t.Helper()
	r := &shadowRig{st: newMemShadowStore(), reg: prometheus.NewRegistry()}
	r.plan.Store(erp.NewPlanView(p))
	m := erp.NewReleaseMetrics()
	if err := m.Register(r.reg); err != nil {
		t.Fatal(err)
	}
	sh, err := erp.NewShadow(erp.ShadowConfig{
		Plan: r.plan.Load, Store: rigStore(t, r.st), Metrics: m,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		Backout: func(_ context.Context, rev int64, reason string) (bool, error) {
			if rev != r.plan.Load().Revision() {
				return false, nil
			}
			r.backouts.Add(1)
			bp := r.plan.Load().Plan().BackedOut()
			bp.Revision = rev + 1
			r.plan.Store(erp.NewPlanView(bp))
			return true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sh = sh
	return r
}

// confirmingAdapter confirms every order with a fixed total and line count.
type confirmingAdapter struct {
	target string
	total  string
	lines  int
}

func (a confirmingAdapter) Target() string { return a.target }
func (a confirmingAdapter) CreateOrder(_ context.Context, o *order.Order) (erp.Confirmation, error) {
	return erp.Confirmation{ERPOrderNumber: a.target + "-" + o.ID, Status: "confirmed", Total: order.MustDecimal(a.total), LineCount: a.lines}, nil
}
func (a confirmingAdapter) OrderStatus(context.Context, string) (erp.Status, error) {
	return erp.Status{}, nil
}

// deliver runs one delivery the way the worker does: adapter call, then hook.
func (r *shadowRig) deliver(t *testing.T, a erp.Adapter, o *order.Order) {
	t.Helper()
	c, err := r.sh.Adapter(a).CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	r.sh.OnResult(context.Background(), a.Target(), o, erp.Result{State: erp.StateCreated, ERPOrderNumber: c.ERPOrderNumber, ERPStatus: c.Status}, false)
}

// TestShadowComparesTotalsOnce: answers of both targets meet once per
// order, in either order; a differing total is counted by field and kept
// with both answers; a repeated hook call does not count again.
func TestShadowComparesTotalsOnce(t *testing.T) {
	r := newShadowRig(t, erp.DefaultReleasePlan())
	v1 := confirmingAdapter{target: erp.V1, total: "10.00", lines: 2}
	v2same := confirmingAdapter{target: erp.V2, total: "10.00", lines: 2}
	v2diff := confirmingAdapter{target: erp.V2, total: "10.05", lines: 2}

	a, b := relOrder("A"), relOrder("B")
	r.deliver(t, v1, a)
	r.deliver(t, v2same, a)
	r.deliver(t, v2diff, b) // v2 first this time
	r.deliver(t, v1, b)
	r.deliver(t, v1, b) // at-least-once: the hook runs again

	if len(r.st.mismatches) != 1 {
		t.Fatalf("mismatches kept: got %d, want 1 (%+v)", len(r.st.mismatches), r.st.mismatches)
	}
	m := r.st.mismatches[0]
	if m.OrderID != b.ID || !slices.Equal(m.Fields, []string{erp.FieldTotal}) || m.ExternalID != b.ExternalID {
		t.Errorf("mismatch: got %+v", m)
	}
	if got := m.Answers[erp.V2].Total; got == nil || got.String() != "10.05" {
		t.Errorf("v2 answer total: got %v, want 10.05", got)
	}
	if got := m.Answers[erp.V1].ERPOrderNumber; got != "v1-"+b.ID {
		t.Errorf("v1 answer number: got %q", got)
	}
	want := `
# HELP erpgate_release_shadow_mismatches_total Orders whose v1 and v2 answers differ in the shadow comparison, by field.
# TYPE erpgate_release_shadow_mismatches_total counter
erpgate_release_shadow_mismatches_total{field="acceptance"} 0
erpgate_release_shadow_mismatches_total{field="line_count"} 0
erpgate_release_shadow_mismatches_total{field="reason"} 0
erpgate_release_shadow_mismatches_total{field="status"} 0
erpgate_release_shadow_mismatches_total{field="total"} 1
`
	if err := testutil.GatherAndCompare(r.reg, strings.NewReader(want), "erpgate_release_shadow_mismatches_total"); err != nil {
		t.Error(err)
	}
}

func TestShadowAcceptanceMismatch(t *testing.T) {
	r := newShadowRig(t, erp.DefaultReleasePlan())
	o := relOrder("A")
	r.deliver(t, confirmingAdapter{target: erp.V1, total: "1.00", lines: 1}, o)
	r.sh.OnResult(context.Background(), erp.V2, o, erp.Result{State: erp.StateRejected, Reason: "SKU-1 is not sold"}, true)
	if len(r.st.mismatches) != 1 || !slices.Equal(r.st.mismatches[0].Fields, []string{erp.FieldAcceptance}) {
		t.Fatalf("mismatches: got %+v, want one acceptance mismatch", r.st.mismatches)
	}
	if got := r.st.mismatches[0].Answers[erp.V2].Reason; got != "SKU-1 is not sold" {
		t.Errorf("v2 reason kept: got %q", got)
	}
}

// TestShadowOffTouchesNothing: with shadow off and no rule, the hook costs
// no store call and the adapter keeps nothing.
func TestShadowOffTouchesNothing(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.Shadow = false
	r := newShadowRig(t, p)
	o := relOrder("A")
	r.deliver(t, confirmingAdapter{target: erp.V1, total: "1.00", lines: 1}, o)
	r.deliver(t, confirmingAdapter{target: erp.V2, total: "2.00", lines: 1}, o)
	if len(r.st.answers) != 0 || len(r.st.windows) != 0 || len(r.st.mismatches) != 0 {
		t.Errorf("store touched with shadow off: %+v %+v", r.st.answers, r.st.windows)
	}
}

// TestShadowPendingAndDeadAreNotCompared: only final business answers meet.
func TestShadowPendingAndDeadAreNotCompared(t *testing.T) {
	r := newShadowRig(t, erp.DefaultReleasePlan())
	o := relOrder("A")
	r.sh.OnResult(context.Background(), erp.V2, o, erp.Result{State: erp.StatePending}, true)
	r.sh.OnResult(context.Background(), erp.V2, o, erp.Result{State: erp.StateDead}, true)
	if len(r.st.answers) != 0 {
		t.Errorf("answers recorded for pending/dead: %+v", r.st.answers)
	}
}

// TestAutoBackoutOnFailureRatio: v2 failures (retries, dead letters) over
// the minimum sample trigger exactly one back-out; after it the rule does not
// fire again for the old revision.
func TestAutoBackoutOnFailureRatio(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.Revision = 4
	p.AutoBackout = erp.AutoBackout{Enabled: true, Window: 20, MinSample: 10, FailureRatio: 0.5}
	r := newShadowRig(t, p)
	ctx := context.Background()
	o := relOrder("A")
	for i := range 9 {
		state := erp.StatePending
		if i%3 == 0 {
			state = erp.StateDead
		}
		r.sh.OnResult(ctx, erp.V2, o, erp.Result{State: state}, true)
	}
	if n := r.backouts.Load(); n != 0 {
		t.Fatalf("backed out below the minimum sample: %d", n)
	}
	// v1's failures do not count.
	r.sh.OnResult(ctx, erp.V1, o, erp.Result{State: erp.StatePending}, false)
	if n := r.backouts.Load(); n != 0 {
		t.Fatalf("v1 failure counted toward v2's rule")
	}
	r.sh.OnResult(ctx, erp.V2, o, erp.Result{State: erp.StatePending}, true)
	if n := r.backouts.Load(); n != 1 {
		t.Fatalf("back-outs after 10/10 failures: got %d, want 1", n)
	}
	if !r.plan.Load().Plan().IsBackedOut() {
		t.Error("plan not backed out")
	}
	// v2 is paused now: no more observations, no second back-out.
	for range 20 {
		r.sh.OnResult(ctx, erp.V2, o, erp.Result{State: erp.StateDead}, true)
	}
	if n := r.backouts.Load(); n != 1 {
		t.Errorf("back-outs: got %d, want 1", n)
	}
}

func TestAutoBackoutOnMismatches(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.AutoBackout = erp.AutoBackout{Enabled: true, Window: 50, MinSample: 50, Mismatches: 3}
	r := newShadowRig(t, p)
	v1 := confirmingAdapter{target: erp.V1, total: "10.00", lines: 2}
	v2 := confirmingAdapter{target: erp.V2, total: "10.00", lines: 3}
	for i := range 3 {
		o := relOrder(fmt.Sprint("M", i))
		r.deliver(t, v1, o)
		if r.backouts.Load() != 0 {
			t.Fatalf("backed out after %d mismatches", i)
		}
		r.deliver(t, v2, o)
	}
	if n := r.backouts.Load(); n != 1 {
		t.Errorf("back-outs after 3 mismatches: got %d, want 1", n)
	}
}

// TestShadowThroughDispatcher wires Shadow as cmd/gateway does, on the real
// store (miniredis, and the real Redis when available): the delivery workers
// deliver to both fakes, v2 books a different total for some orders, and
// exactly those orders end up in the kept sample.
func TestShadowThroughDispatcher(t *testing.T) {
	for _, b := range []struct {
		name string
		rdb  func(t *testing.T) redis.UniversalClient
	}{
		{"mini", func(t *testing.T) redis.UniversalClient { c, _ := redistest.Mini(t); return c }},
		{"real", func(t *testing.T) redis.UniversalClient { return redistest.Universal(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.rdb(t)
			ctx := context.Background()
			st := store.New(rdb, store.Options{Partitions: 1})
			if err := st.Init(ctx); err != nil {
				t.Fatal(err)
			}
			rel := st.Releases(store.ReleaseOptions{})
			if err := rel.Load(ctx); err != nil {
				t.Fatal(err)
			}
			sh, err := erp.NewShadow(erp.ShadowConfig{Plan: rel.View, Store: rel, Backout: rel.AutoBackout})
			if err != nil {
				t.Fatal(err)
			}
			v1 := erpfake.New(erpfake.Config{Target: erp.V1, NumberPrefix: "V1-"})
			v2 := &totalSkewer{Adapter: erpfake.New(erpfake.Config{Target: erp.V2}), skew: map[string]bool{}}
			var ids []string
			for i := range 6 {
				o := &order.Order{
					ID: fmt.Sprintf("ord_shadow%d", i), ShopID: "shop", ExternalID: fmt.Sprint("S-", i), CreatedAt: time.Now(),
					Customer:        order.Customer{ID: "C-1", Name: "A", Email: "a@example.com"},
					ShippingAddress: order.Address{Name: "A", Line1: "L", City: "C", PostalCode: "1", Country: "DE"},
					Currency:        "EUR",
					Lines:           []order.Line{{SKU: "SKU-1001", Quantity: 1, UnitPrice: order.MustDecimal("2.50")}},
					Shipping:        order.Shipping{Method: "std", Price: order.MustDecimal("1.00")},
				}
				if i%3 == 0 {
					v2.skew[o.ID] = true
				}
				ev := tracking.Event{Time: time.Now(), Type: tracking.TypeAccepted, Source: tracking.SourceGateway, Summary: "accepted"}
				if _, err := st.Accept(ctx, store.Intake{Order: o, Fingerprint: "fp" + o.ID, Token: "t", Event: ev.Encode()}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, o.ID)
			}
			d := erp.NewDispatcher(erp.DispatcherConfig{
				Outbox: st.Outbox(), Orders: st, Plan: rel,
				Adapters: map[string]erp.Adapter{erp.V1: sh.Adapter(v1), erp.V2: sh.Adapter(v2)},
				OnResult: erp.Reauthorize(rel, st, nil, sh.OnResult),
				Block:    20 * time.Millisecond, Poll: 10 * time.Millisecond,
			})
			dctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(dctx) }()
			defer func() { cancel(); <-done }()

			deadline := time.Now().Add(20 * time.Second)
			var ms []erp.ShadowMismatch
			for time.Now().Before(deadline) {
				if ms, err = rel.Mismatches(ctx, 100); err != nil {
					t.Fatal(err)
				}
				if len(ms) >= 2 && allDelivered(t, st, ids) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // a third mismatch would show now
			ms, _ = rel.Mismatches(ctx, 100)
			var got []string
			for _, m := range ms {
				if !slices.Equal(m.Fields, []string{erp.FieldTotal}) {
					t.Errorf("mismatch fields of %s: got %v, want [total]", m.OrderID, m.Fields)
				}
				got = append(got, m.OrderID)
			}
			slices.Sort(got)
			if want := []string{ids[0], ids[3]}; !slices.Equal(got, want) {
				t.Errorf("mismatching orders: got %v, want %v", got, want)
			}
		})
	}
}

// totalSkewer books a different total for the orders in skew.
type totalSkewer struct {
	erp.Adapter
	skew map[string]bool
}

func (s *totalSkewer) CreateOrder(ctx context.Context, o *order.Order) (erp.Confirmation, error) {
	c, err := s.Adapter.CreateOrder(ctx, o)
	if err == nil && s.skew[o.ID] {
		c.Total = c.Total.Add(order.MustDecimal("0.01"))
	}
	return c, err
}

func allDelivered(t *testing.T, st *store.Store, ids []string) bool {
	t.Helper()
	for _, id := range ids {
		rec, err := st.Order(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Results[erp.V1].State != erp.StateCreated || rec.Results[erp.V2].State != erp.StateCreated {
			return false
		}
	}
	return true
}
