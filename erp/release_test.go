package erp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"erpgate"
	"erpgate/erp"
	"erpgate/order"
)

func intp(n int) *int { return &n }

func TestDefaultReleasePlan(t *testing.T) {
	p := erp.DefaultReleasePlan()
	if err := p.Validate(); err != nil {
		t.Fatalf("default plan invalid: %v", err)
	}
	v := erp.NewPlanView(p)
	if got := v.Authoritative(relOrder("C-1")); got != erp.V2 {
		t.Errorf("authoritative: got %q, want v2", got)
	}
	if !v.Active(erp.V1) || !v.Active(erp.V2) {
		t.Errorf("active v1=%v v2=%v, want both", v.Active(erp.V1), v.Active(erp.V2))
	}
	if p.Stage != erp.Stage2 || !p.Shadow || p.AutoBackout.Enabled || p.Revision != 0 {
		t.Errorf("default: got stage %d shadow %v auto %v revision %d, want 2 true false 0", p.Stage, p.Shadow, p.AutoBackout.Enabled, p.Revision)
	}
}

func relOrder(customer string) *order.Order {
	return &order.Order{ID: "ord_" + customer, ShopID: "shop", ExternalID: "X-" + customer, Customer: order.Customer{ID: customer}}
}

// TestReleasePlanValidate proves every rule reports its field path and the
// right code: Invalid for malformed values, Unprocessable for plans that
// contradict themselves.
func TestReleasePlanValidate(t *testing.T) {
	base := erp.DefaultReleasePlan
	many := make([]string, erp.MaxPilotCustomers+1)
	for i := range many {
		many[i] = fmt.Sprintf("C-%d", i)
	}
	tests := []struct {
		name   string
		edit   func(p *erp.ReleasePlan)
		code   string
		fields []string
	}{
		{"stage 0", func(p *erp.ReleasePlan) { p.Stage = 0 }, erpgate.Invalid, []string{"stage"}},
		{"stage 3", func(p *erp.ReleasePlan) { p.Stage = 3 }, erpgate.Invalid, []string{"stage"}},
		{"unknown target", func(p *erp.ReleasePlan) { p.Targets["v3"] = erp.TargetActive }, erpgate.Invalid, []string{"targets.v3"}},
		{"missing target", func(p *erp.ReleasePlan) { delete(p.Targets, erp.V1) }, erpgate.Invalid, []string{"targets.v1"}},
		{"bad target state", func(p *erp.ReleasePlan) { p.Targets[erp.V1] = "on" }, erpgate.Invalid, []string{"targets.v1"}},
		{"unknown authoritative", func(p *erp.ReleasePlan) { p.Authoritative = "v9" }, erpgate.Invalid, []string{"authoritative"}},
		{"no authoritative", func(p *erp.ReleasePlan) { p.Authoritative = "" }, erpgate.Invalid, []string{"authoritative"}},
		{"authoritative paused", func(p *erp.ReleasePlan) { p.Targets[erp.V2] = erp.TargetPaused }, erpgate.Unprocessable, []string{"authoritative"}},
		{"stage 1 with v2 active", func(p *erp.ReleasePlan) { p.Stage = erp.Stage1; p.Authoritative = erp.V1 }, erpgate.Unprocessable, []string{"targets.v2"}},
		{"stage 1 with v2 authoritative", func(p *erp.ReleasePlan) { p.Stage = erp.Stage1; p.Targets[erp.V2] = erp.TargetPaused },
			erpgate.Unprocessable, []string{"authoritative"}},
		{"stage 1 cohort on v2", func(p *erp.ReleasePlan) {
			*p = p.BackedOut()
			p.Stage = erp.Stage1
			p.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: erp.V2}}
		}, erpgate.Unprocessable, []string{"cohorts[0].authoritative"}},
		{"cohort on a paused target", func(p *erp.ReleasePlan) {
			*p = p.BackedOut()
			p.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: erp.V2}}
		}, erpgate.Unprocessable, []string{"cohorts[0].authoritative"}},
		{"percent 101", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "canary", Percent: intp(101), Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0].percent"}},
		{"percent -1", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "canary", Percent: intp(-1), Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0].percent"}},
		{"cohort with neither", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "empty", Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0]"}},
		{"cohort with both", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "both", Customers: []string{"C-1"}, Percent: intp(5), Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0]"}},
		{"cohort names", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{
				{Name: "", Percent: intp(1), Authoritative: erp.V1},
				{Name: "Pilot!", Percent: intp(1), Authoritative: erp.V1},
				{Name: "default", Percent: intp(1), Authoritative: erp.V1},
				{Name: "a", Percent: intp(1), Authoritative: erp.V1},
				{Name: "a", Percent: intp(1), Authoritative: erp.V1},
			}
		}, erpgate.Invalid, []string{"cohorts[0].name", "cohorts[1].name", "cohorts[2].name", "cohorts[4].name"}},
		{"customer twice", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{
				{Name: "a", Customers: []string{"C-1", "C-2"}, Authoritative: erp.V1},
				{Name: "b", Customers: []string{"C-2"}, Authoritative: erp.V2},
			}
		}, erpgate.Unprocessable, []string{"cohorts[1].customers[0]"}},
		{"bad customer id", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "a", Customers: []string{"ok", "", "has space", strings.Repeat("x", 65)}, Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0].customers[1]", "cohorts[0].customers[2]", "cohorts[0].customers[3]"}},
		{"too many cohorts", func(p *erp.ReleasePlan) {
			for i := range erp.MaxCohorts + 1 {
				p.Cohorts = append(p.Cohorts, erp.Cohort{Name: fmt.Sprintf("c%d", i), Percent: intp(1), Authoritative: erp.V1})
			}
		}, erpgate.Invalid, []string{"cohorts"}},
		{"too many customers", func(p *erp.ReleasePlan) {
			p.Cohorts = []erp.Cohort{{Name: "big", Customers: many, Authoritative: erp.V1}}
		}, erpgate.Invalid, []string{"cohorts[0].customers"}},
		{"window", func(p *erp.ReleasePlan) { p.AutoBackout.Window = 5 }, erpgate.Invalid, []string{"auto_backout.window", "auto_backout.min_sample"}},
		{"min sample", func(p *erp.ReleasePlan) { p.AutoBackout.MinSample = 0 }, erpgate.Invalid, []string{"auto_backout.min_sample"}},
		{"failure ratio", func(p *erp.ReleasePlan) { p.AutoBackout.FailureRatio = 1.5 }, erpgate.Invalid, []string{"auto_backout.failure_ratio"}},
		{"mismatches", func(p *erp.ReleasePlan) { p.AutoBackout.Mismatches = -1 }, erpgate.Invalid, []string{"auto_backout.mismatches"}},
		{"rule without threshold", func(p *erp.ReleasePlan) {
			p.AutoBackout = erp.AutoBackout{Enabled: true, Window: 100, MinSample: 10}
		}, erpgate.Unprocessable, []string{"auto_backout"}},
		{"malformed wins over contradiction", func(p *erp.ReleasePlan) {
			p.Stage = 7
			p.Targets[erp.V2] = erp.TargetPaused
		}, erpgate.Invalid, []string{"stage", "authoritative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.edit(&p)
			err := p.Validate()
			if got := erpgate.ErrorCode(err); got != tt.code {
				t.Fatalf("code: got %q (%v), want %q", got, err, tt.code)
			}
			var fields []string
			for _, pr := range erpgate.ErrorProblems(err) {
				fields = append(fields, pr.Field)
				if pr.Message == "" {
					t.Errorf("problem %s has no message", pr.Field)
				}
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("fields: got %v, want %v", fields, tt.fields)
			}
		})
	}
}

func TestReleasePlanValidAlternatives(t *testing.T) {
	for name, p := range map[string]erp.ReleasePlan{
		"backed out":        erp.DefaultReleasePlan().BackedOut(),
		"backed out stage1": func() erp.ReleasePlan { p := erp.DefaultReleasePlan().BackedOut(); p.Stage = erp.Stage1; return p }(),
		"promoted":          erp.DefaultReleasePlan().BackedOut().Promoted(),
		"canary": func() erp.ReleasePlan {
			p := erp.DefaultReleasePlan()
			p.Authoritative = erp.V1
			p.Cohorts = []erp.Cohort{
				{Name: "vip", Customers: []string{"C-9"}, Authoritative: erp.V1},
				{Name: "pilot", Customers: []string{"C-1", "C-2"}, Authoritative: erp.V2},
				{Name: "canary-10", Percent: intp(10), Authoritative: erp.V2},
			}
			p.AutoBackout.Enabled = true
			return p
		}(),
		"v1 paused": func() erp.ReleasePlan { p := erp.DefaultReleasePlan(); p.Targets[erp.V1] = erp.TargetPaused; return p }(),
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBackedOutAndPromoted(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: erp.V2}}
	b := p.BackedOut()
	if !b.IsBackedOut() || b.Targets[erp.V2] != erp.TargetPaused || b.Authoritative != erp.V1 || len(b.Cohorts) != 0 {
		t.Errorf("BackedOut: got %+v", b)
	}
	if len(p.Cohorts) != 1 || p.Targets[erp.V2] != erp.TargetActive {
		t.Error("BackedOut changed its receiver")
	}
	if p.IsBackedOut() {
		t.Error("default plan reports backed out")
	}
	b.Stage = erp.Stage1
	pr := b.Promoted()
	if !pr.IsPromoted() || pr.Stage != erp.Stage2 || pr.Targets[erp.V1] != erp.TargetActive || pr.Authoritative != erp.V2 {
		t.Errorf("Promoted: got %+v", pr)
	}
	if err := pr.Validate(); err != nil {
		t.Errorf("promoted plan invalid: %v", err)
	}
}

func TestPlanViewCohorts(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.Authoritative = erp.V1
	p.Cohorts = []erp.Cohort{
		{Name: "vip", Customers: []string{"C-VIP"}, Authoritative: erp.V1},
		{Name: "pilot", Customers: []string{"C-P1", "C-P2"}, Authoritative: erp.V2},
		{Name: "everyone", Percent: intp(100), Authoritative: erp.V2},
	}
	v := erp.NewPlanView(p)
	for _, tt := range []struct {
		o          *order.Order
		auth, name string
	}{
		{relOrder("C-VIP"), erp.V1, "vip"}, // first match wins over the 100% cohort
		{relOrder("C-P2"), erp.V2, "pilot"},
		{relOrder("C-other"), erp.V2, "everyone"},
		{nil, erp.V1, erp.DefaultCohort},
	} {
		if got := v.Authoritative(tt.o); got != tt.auth {
			t.Errorf("Authoritative(%v): got %q, want %q", tt.o, got, tt.auth)
		}
		if got := v.Cohort(tt.o); got != tt.name {
			t.Errorf("Cohort(%v): got %q, want %q", tt.o, got, tt.name)
		}
	}
	if v.Active("v3") {
		t.Error("unknown target active")
	}
	p.Targets["v3"] = erp.TargetActive // a plan that bypassed Validate
	if erp.NewPlanView(p).Active("v3") {
		t.Error("unknown target named active in the plan is active, want paused")
	}
	// The view is a snapshot: editing the plan afterwards changes nothing.
	p.Cohorts[1].Authoritative = erp.V1
	if got := v.Authoritative(relOrder("C-P1")); got != erp.V2 {
		t.Errorf("view changed with its source plan: got %q", got)
	}
}

// TestPercentCohortIsStableAndMonotonic: the same customer always lands in
// the same bucket, a percentage holds about that share, and raising it only
// adds customers.
func TestPercentCohortIsStableAndMonotonic(t *testing.T) {
	view := func(pct int) *erp.PlanView {
		p := erp.DefaultReleasePlan()
		p.Authoritative = erp.V1
		p.Cohorts = []erp.Cohort{{Name: "canary", Percent: intp(pct), Authoritative: erp.V2}}
		return erp.NewPlanView(p)
	}
	v10, v30, v0 := view(10), view(30), view(0)
	const n = 20000
	in10, in30 := 0, 0
	for i := range n {
		o := relOrder(fmt.Sprintf("CUST-%d", i))
		a10, a30 := v10.Authoritative(o) == erp.V2, v30.Authoritative(o) == erp.V2
		if a10 {
			in10++
		}
		if a30 {
			in30++
		}
		if a10 && !a30 {
			t.Fatalf("customer %s in the 10%% cohort but not in the 30%% one", o.Customer.ID)
		}
		if v0.Authoritative(o) != erp.V1 {
			t.Fatalf("0%% cohort holds %s", o.Customer.ID)
		}
		if b := erp.Bucket(o); b != erp.Bucket(relOrder(o.Customer.ID)) || b < 0 || b > 99 {
			t.Fatalf("bucket of %s: %d, not stable or out of range", o.Customer.ID, b)
		}
	}
	for _, c := range []struct{ got, pct int }{{in10, 10}, {in30, 30}} {
		share := float64(c.got) / n * 100
		if share < float64(c.pct)-2 || share > float64(c.pct)+2 {
			t.Errorf("%d%% cohort holds %.1f%% of customers", c.pct, share)
		}
	}
	// Orders without a customer id hash by shop and external id.
	a := &order.Order{ShopID: "s", ExternalID: "E-1"}
	b := &order.Order{ShopID: "s", ExternalID: "E-1", ID: "other"}
	if erp.Bucket(a) != erp.Bucket(b) {
		t.Error("bucket of an anonymous order depends on more than shop and external id")
	}
}

func TestPlanViewStage1PausesV2(t *testing.T) {
	// A plan that bypassed Validate: stage 1 with v2 active.
	p := erp.DefaultReleasePlan()
	p.Stage = erp.Stage1
	v := erp.NewPlanView(p)
	if v.Active(erp.V2) {
		t.Error("v2 active in stage 1, want paused for order traffic")
	}
	if !v.Active(erp.V1) {
		t.Error("v1 paused in stage 1")
	}
}

func TestReleasePlanJSONRoundTrip(t *testing.T) {
	p := erp.DefaultReleasePlan()
	p.Cohorts = []erp.Cohort{{Name: "c", Percent: intp(0), Authoritative: erp.V2}, {Name: "p", Customers: []string{"C-1"}, Authoritative: erp.V1}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q erp.ReleasePlan
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if q.Cohorts[0].Percent == nil || *q.Cohorts[0].Percent != 0 {
		t.Errorf("percent 0 lost in JSON: %s", b)
	}
	if !reflect.DeepEqual(q, p) {
		t.Errorf("round trip: got %+v, want %+v", q, p)
	}
}

func TestChangeValidate(t *testing.T) {
	for _, tt := range []struct {
		ch    erp.Change
		field string
	}{
		{erp.Change{Actor: "a", Reason: "why"}, ""},
		{erp.Change{Actor: "a", Reason: "  "}, "reason"},
		{erp.Change{Actor: "a", Reason: strings.Repeat("x", erp.MaxReasonLen+1)}, "reason"},
		{erp.Change{Actor: "", Reason: "why"}, "actor"},
	} {
		err := tt.ch.Validate()
		var got string
		if ps := erpgate.ErrorProblems(err); len(ps) > 0 {
			got = ps[0].Field
		}
		if got != tt.field {
			t.Errorf("Validate(%+v): got field %q (%v), want %q", tt.ch, got, err, tt.field)
		}
	}
}

// relOrders records SetResult calls.
type relOrders struct {
	mu    sync.Mutex
	calls []string
}

func (r *relOrders) LoadOrder(context.Context, string) (*order.Order, error) { return nil, nil }
func (r *relOrders) SetResult(_ context.Context, id, target string, res erp.Result, auth bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s %s %s %v", id, target, res.State, auth))
	return nil
}

// TestReauthorize: a result recorded as not authoritative under the old plan
// is recorded again as authoritative when the plan now says so, and the next
// hook hears authoritative=true; pending results and unchanged authority
// pass through untouched.
func TestReauthorize(t *testing.T) {
	backedOut := erp.NewPlanView(erp.DefaultReleasePlan().BackedOut())
	orders := &relOrders{}
	var seen []string
	hook := erp.Reauthorize(backedOut, orders, nil, func(_ context.Context, target string, o *order.Order, r erp.Result, auth bool) {
		seen = append(seen, fmt.Sprintf("%s %s %v", target, r.State, auth))
	})
	o := relOrder("C-1")
	ctx := context.Background()
	hook(ctx, erp.V1, o, erp.Result{State: erp.StateCreated}, false) // v1 became authoritative meanwhile
	hook(ctx, erp.V1, o, erp.Result{State: erp.StatePending}, false) // pending never sets a status
	hook(ctx, erp.V2, o, erp.Result{State: erp.StateCreated}, false) // v2 is not authoritative
	hook(ctx, erp.V1, o, erp.Result{State: erp.StateRejected}, true) // already authoritative
	if want := []string{"ord_C-1 v1 created true"}; !slices.Equal(orders.calls, want) {
		t.Errorf("SetResult calls: got %v, want %v", orders.calls, want)
	}
	want := []string{"v1 created true", "v1 pending false", "v2 created false", "v1 rejected true"}
	if !slices.Equal(seen, want) {
		t.Errorf("next hook saw %v, want %v", seen, want)
	}
}

func TestChainHooks(t *testing.T) {
	var got []int
	h := erp.ChainHooks(
		func(context.Context, string, *order.Order, erp.Result, bool) { got = append(got, 1) },
		nil,
		func(context.Context, string, *order.Order, erp.Result, bool) { got = append(got, 2) },
	)
	h(context.Background(), erp.V1, nil, erp.Result{}, false)
	if !slices.Equal(got, []int{1, 2}) {
		t.Errorf("got %v, want [1 2]", got)
	}
}

func TestReleaseMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := erp.NewReleaseMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	p := erp.DefaultReleasePlan()
	p.Revision = 7
	p.Authoritative = erp.V1
	p.Cohorts = []erp.Cohort{{Name: "pilot", Customers: []string{"C-1"}, Authoritative: erp.V2}}
	m.Observe(erp.NewPlanView(p))
	m.Mismatch(erp.FieldTotal, erp.FieldStatus)
	m.Backout(erp.TriggerAuto)
	want := `
# HELP erpgate_release_authoritative 1 for the authoritative ERP target of each cohort of the release plan (cohort "default": everyone else), 0 for the others.
# TYPE erpgate_release_authoritative gauge
erpgate_release_authoritative{cohort="default",target="v1"} 1
erpgate_release_authoritative{cohort="default",target="v2"} 0
erpgate_release_authoritative{cohort="pilot",target="v1"} 0
erpgate_release_authoritative{cohort="pilot",target="v2"} 1
# HELP erpgate_release_revision Revision of the release plan this instance obeys.
# TYPE erpgate_release_revision gauge
erpgate_release_revision 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpgate_release_authoritative", "erpgate_release_revision"); err != nil {
		t.Error(err)
	}
	wantBackouts := `
# HELP erpgate_release_backouts_total Back-outs to v1 performed by this instance, by trigger (manual, auto).
# TYPE erpgate_release_backouts_total counter
erpgate_release_backouts_total{trigger="auto"} 1
erpgate_release_backouts_total{trigger="manual"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantBackouts), "erpgate_release_backouts_total"); err != nil {
		t.Error(err)
	}
	// A back-out clears the pilot cohort's series.
	m.Observe(erp.NewPlanView(erp.DefaultReleasePlan().BackedOut()))
	if n := testutil.CollectAndCount(reg, "erpgate_release_authoritative"); n != 2 {
		t.Errorf("authoritative series after back-out: got %d, want 2", n)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("metric lint: %v %v", probs, err)
	}
	var nilMetrics *erp.ReleaseMetrics
	nilMetrics.Observe(erp.NewPlanView(p)) // must not panic
	nilMetrics.Backout(erp.TriggerManual)
}

func BenchmarkPlanViewAuthoritative(b *testing.B) {
	p := erp.DefaultReleasePlan()
	p.Authoritative = erp.V1
	customers := make([]string, 1000)
	for i := range customers {
		customers[i] = fmt.Sprintf("C-%d", i)
	}
	p.Cohorts = []erp.Cohort{
		{Name: "pilot", Customers: customers, Authoritative: erp.V2},
		{Name: "canary", Percent: intp(20), Authoritative: erp.V2},
	}
	v := erp.NewPlanView(p)
	o := relOrder("C-not-a-pilot")
	b.ReportAllocs()
	for b.Loop() {
		v.Authoritative(o)
		v.Active(erp.V2)
	}
}
