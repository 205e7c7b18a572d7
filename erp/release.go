package erp

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
	"erpgate/manifest"
	"erpgate/order"
)

// The release plan.
//
// A ReleasePlan is the document operators edit (through the admin API, kept
// in Redis by store.Releases); a PlanView is the compiled, read-only form the
// delivery workers consult on every loop (erp.Plan). Every change gets a new
// revision and records who made it, when and why.
//
// Stage 1 (the shop's read side through the new interface) moves no order
// data through v2: in stage 1 the v2 target must be paused and can be
// authoritative for nobody. Validate refuses such a plan rather than
// silently ignoring a setting, and PlanView treats v2 as paused in stage 1
// even for a plan that somehow bypassed Validate. Every message on the outbox
// today is order traffic (order.create), so "paused for orders" and "paused"
// are the same thing: v2's messages wait in its consumer group until stage 2.

// Target states in a release plan.
const (
	TargetActive = "active" // the target's workers consume its consumer group
	TargetPaused = "paused" // its messages wait in its consumer group
)

// Rollout stages.
const (
	Stage1 = 1 // catalog/read side through the new interface; no order traffic to v2
	Stage2 = 2 // web orders go to the ERP through v2 as well
)

// DefaultCohort is the cohort name of every order no cohort matches, as used
// in the erpgate_release_authoritative metric.
const DefaultCohort = "default"

// Limits of a release plan.
const (
	MaxCohorts          = 20
	MaxPilotCustomers   = 10000 // customer ids over all cohorts
	MaxCohortNameLen    = 40    // [a-z0-9_-]
	MaxReasonLen        = 500
	MaxActorLen         = 100
	MaxBackoutWindow    = 10000
	MinBackoutWindow    = 10
	percentBuckets      = 100
	cohortNameAlphabet  = "abcdefghijklmnopqrstuvwxyz0123456789_-"
	customerIDAlphabet  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
	bucketHashNamespace = "erpgate-release\x00"
)

// KnownTargets are the targets a release plan speaks about.
var KnownTargets = []string{V1, V2}

// ReleasePlan is the release plan document. Its JSON form is what the admin
// API shows and takes and what Redis keeps.
type ReleasePlan struct {
	// Revision increases by one with every change; 0 is the built-in
	// default that a fresh system starts with.
	Revision int64 `json:"revision"`
	// Stage is the rollout stage, Stage1 or Stage2.
	Stage int `json:"stage"`
	// Targets says, for every known target, TargetActive or TargetPaused.
	Targets map[string]string `json:"targets"`
	// Authoritative is the target whose answers (ERP order number, status)
	// shops and customers see, for every order no cohort matches.
	Authoritative string `json:"authoritative"`
	// Cohorts give some customers a different authoritative target. The
	// first cohort that matches an order decides.
	Cohorts []Cohort `json:"cohorts"`
	// Shadow turns on the comparison of v1's and v2's answers for the same
	// order.
	Shadow bool `json:"shadow"`
	// AutoBackout is the rule that backs out to v1 by itself.
	AutoBackout AutoBackout `json:"auto_backout"`
	// Acceptance are the approval gates of widening changes (acceptance.go).
	Acceptance Acceptance `json:"acceptance"`
	// Live is the gateway release version in force ("" when not tracked),
	// and BackoutTarget the version to go back to; both name manifests of
	// the library of releases (store.Manifests).
	Live          string `json:"live,omitempty"`
	BackoutTarget string `json:"backout_target,omitempty"`

	// Who changed the plan to this revision, why and when. Set by the store
	// on every change; read-only for clients.
	Actor     string    `json:"actor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
}

// Cohort is a group of customers with their own authoritative target: either
// a list of pilot customers (by customer id) or a stable percentage of all
// customers, never both.
type Cohort struct {
	// Name labels the cohort in metrics and history: 1–40 of [a-z0-9_-],
	// unique, not "default".
	Name string `json:"name"`
	// Customers are customer ids (order.customer.id).
	Customers []string `json:"customers,omitempty"`
	// Percent (0–100) selects that share of customers by a stable hash of
	// the customer id (orders without one: of shop and external id). The
	// hash is the same for every cohort and revision, so raising a
	// percentage only adds customers, it never reshuffles them.
	Percent *int `json:"percent,omitempty"`
	// Authoritative is the cohort's authoritative target.
	Authoritative string `json:"authoritative"`
}

// AutoBackout is the automatic back-out rule. When enabled, the gateway
// keeps two sliding windows per plan revision, shared by every instance: the
// last Window results v2 recorded (a failure is a transient failure that will
// be retried, or a dead letter), and the last Window shadow comparisons. It
// backs out (v1 authoritative, v2 paused; actor "auto") when, with at least
// MinSample results in the window, the share of failures reaches
// FailureRatio, or when the mismatching comparisons reach Mismatches. A zero
// threshold is not used. A new revision starts empty windows.
type AutoBackout struct {
	Enabled      bool    `json:"enabled"`
	Window       int     `json:"window"`        // MinBackoutWindow..MaxBackoutWindow
	MinSample    int     `json:"min_sample"`    // 1..Window
	FailureRatio float64 `json:"failure_ratio"` // 0 (unused) or (0, 1]
	Mismatches   int     `json:"mismatches"`    // 0 (unused) or 1..Window
}

// DefaultReleasePlan returns the plan a fresh system starts with: stage 2,
// v2 authoritative, v1 active beside it, shadow comparison on, the automatic
// back-out rule filled in but off.
func DefaultReleasePlan() ReleasePlan {
	return ReleasePlan{
		Stage:         Stage2,
		Targets:       map[string]string{V1: TargetActive, V2: TargetActive},
		Authoritative: V2,
		Cohorts:       []Cohort{},
		Shadow:        true,
		AutoBackout:   AutoBackout{Window: 100, MinSample: 20, FailureRatio: 0.5, Mismatches: 5},
		Reason:        "built-in default: v2 authoritative, v1 active beside it",
	}
}

// Clone returns a deep copy of p.
func (p ReleasePlan) Clone() ReleasePlan {
	c := p
	c.Targets = make(map[string]string, len(p.Targets))
	for k, v := range p.Targets {
		c.Targets[k] = v
	}
	c.Cohorts = make([]Cohort, len(p.Cohorts))
	for i, co := range p.Cohorts {
		co.Customers = slices.Clone(co.Customers)
		if co.Percent != nil {
			n := *co.Percent
			co.Percent = &n
		}
		c.Cohorts[i] = co
	}
	c.Acceptance.Roles = slices.Clone(p.Acceptance.Roles)
	return c
}

// BackedOut returns p backed out: v1 active and authoritative for everyone
// (cohorts removed: they only exist to differ from the default), v2 paused.
// Stage, shadow and the automatic rule stay. Revision and change fields are
// left to the store.
func (p ReleasePlan) BackedOut() ReleasePlan {
	c := p.Clone()
	c.Targets[V1] = TargetActive
	c.Targets[V2] = TargetPaused
	c.Authoritative = V1
	c.Cohorts = []Cohort{}
	return c
}

// IsBackedOut reports whether p is already what BackedOut makes of it.
func (p ReleasePlan) IsBackedOut() bool {
	return p.Targets[V1] == TargetActive && p.Targets[V2] == TargetPaused &&
		p.Authoritative == V1 && len(p.Cohorts) == 0
}

// Promoted returns p promoted: stage 2, v2 active and authoritative for
// everyone (cohorts removed). v1 keeps its state, so by default it stays
// beside v2.
func (p ReleasePlan) Promoted() ReleasePlan {
	c := p.Clone()
	c.Stage = Stage2
	c.Targets[V2] = TargetActive
	c.Authoritative = V2
	c.Cohorts = []Cohort{}
	return c
}

// IsPromoted reports whether p is already what Promoted makes of it.
func (p ReleasePlan) IsPromoted() bool {
	return p.Stage == Stage2 && p.Targets[V2] == TargetActive && p.Authoritative == V2 && len(p.Cohorts) == 0
}

// AuthoritativeTargets returns the targets that are authoritative for
// somebody under p (the default and every cohort's), sorted.
func (p ReleasePlan) AuthoritativeTargets() []string {
	out := []string{p.Authoritative}
	for _, c := range p.Cohorts {
		out = append(out, c.Authoritative)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate reports every problem of p at once with its field path.
// Malformed values (unknown target, out-of-range numbers, bad names) are
// erpgate.Invalid; a well-formed plan whose settings contradict each other
// (an authoritative target that is paused, v2 order traffic in stage 1, a
// customer in two cohorts) is erpgate.Unprocessable.
func (p ReleasePlan) Validate() error {
	var v planProblems
	switch p.Stage {
	case Stage1, Stage2:
	default:
		v.invalid("stage", "must be 1 (read side through the new interface) or 2 (orders through v2)")
	}

	for _, t := range slices.Sorted(maps.Keys(p.Targets)) {
		if !slices.Contains(KnownTargets, t) {
			v.invalid("targets."+t, "unknown target; the targets are "+strings.Join(KnownTargets, ", "))
		}
	}
	for _, t := range KnownTargets {
		switch s, ok := p.Targets[t]; {
		case !ok:
			v.invalid("targets."+t, "required: active or paused")
		case s != TargetActive && s != TargetPaused:
			v.invalid("targets."+t, fmt.Sprintf("must be active or paused, not %q", s))
		}
	}
	if p.Stage == Stage1 && p.Targets[V2] == TargetActive {
		v.unprocessable("targets.v2", "must be paused in stage 1: v2 takes no order traffic before stage 2 (its messages wait in its group)")
	}

	p.checkAuthority(&v, "authoritative", p.Authoritative)

	if len(p.Cohorts) > MaxCohorts {
		v.invalid("cohorts", fmt.Sprintf("at most %d cohorts", MaxCohorts))
	}
	names := map[string]int{}
	owner := map[string]string{} // customer id → cohort name
	customers := 0
	for i, c := range p.Cohorts {
		if i >= MaxCohorts {
			break
		}
		at := fmt.Sprintf("cohorts[%d]", i)
		switch {
		case c.Name == "":
			v.invalid(at+".name", "required")
		case len(c.Name) > MaxCohortNameLen || strings.Trim(c.Name, cohortNameAlphabet) != "":
			v.invalid(at+".name", fmt.Sprintf("1–%d of a-z, 0-9, _ and -", MaxCohortNameLen))
		case c.Name == DefaultCohort:
			v.invalid(at+".name", `"default" names the orders no cohort matches`)
		default:
			if j, dup := names[c.Name]; dup {
				v.invalid(at+".name", fmt.Sprintf("same name as cohorts[%d]", j))
			} else {
				names[c.Name] = i
			}
		}
		switch {
		case c.Percent == nil && len(c.Customers) == 0:
			v.invalid(at, "needs either customers (pilot customer ids) or percent")
		case c.Percent != nil && len(c.Customers) > 0:
			v.invalid(at, "has both customers and percent; a cohort is one or the other")
		case c.Percent != nil && (*c.Percent < 0 || *c.Percent > 100):
			v.invalid(at+".percent", "must be between 0 and 100")
		}
		for j, id := range c.Customers {
			customers++
			if customers > MaxPilotCustomers {
				v.invalid(at+".customers", fmt.Sprintf("at most %d customer ids over all cohorts", MaxPilotCustomers))
				break
			}
			cat := fmt.Sprintf("%s.customers[%d]", at, j)
			if id == "" || len(id) > order.MaxCustomerIDLen || strings.Trim(id, customerIDAlphabet) != "" {
				v.invalid(cat, fmt.Sprintf("a customer id is 1–%d of A-Z, a-z, 0-9, '.', '_', ':' and '-'", order.MaxCustomerIDLen))
				continue
			}
			if prev, dup := owner[id]; dup {
				v.unprocessable(cat, fmt.Sprintf("customer %s is already in cohort %q", id, prev))
				continue
			}
			owner[id] = c.Name
		}
		p.checkAuthority(&v, at+".authoritative", c.Authoritative)
	}

	a := p.AutoBackout
	if a.Window < MinBackoutWindow || a.Window > MaxBackoutWindow {
		v.invalid("auto_backout.window", fmt.Sprintf("must be between %d and %d results", MinBackoutWindow, MaxBackoutWindow))
	}
	if a.MinSample < 1 || a.MinSample > max(a.Window, 1) {
		v.invalid("auto_backout.min_sample", "must be between 1 and window")
	}
	if math.IsNaN(a.FailureRatio) || a.FailureRatio < 0 || a.FailureRatio > 1 {
		v.invalid("auto_backout.failure_ratio", "must be between 0 (not used) and 1")
	}
	if a.Mismatches < 0 || a.Mismatches > max(a.Window, 0) {
		v.invalid("auto_backout.mismatches", "must be between 0 (not used) and window")
	}
	if a.Enabled && a.FailureRatio == 0 && a.Mismatches == 0 {
		v.unprocessable("auto_backout", "enabled but neither failure_ratio nor mismatches is set")
	}
	p.Acceptance.validate(&v)
	for _, f := range []struct{ field, version string }{{"live", p.Live}, {"backout_target", p.BackoutTarget}} {
		if f.version != "" && !manifest.ValidVersion(f.version) {
			v.invalid(f.field, fmt.Sprintf("a release version is 1–%d of A-Z, a-z, 0-9, '.', '_', '+' and '-'", manifest.MaxVersionLen))
		}
	}
	return v.err()
}

// checkAuthority checks that target may be authoritative under p.
func (p ReleasePlan) checkAuthority(v *planProblems, field, target string) {
	switch {
	case target == "":
		v.invalid(field, "required: "+strings.Join(KnownTargets, " or "))
	case !slices.Contains(KnownTargets, target):
		v.invalid(field, fmt.Sprintf("unknown target %q; the targets are %s", target, strings.Join(KnownTargets, ", ")))
	case p.Stage == Stage1 && target == V2:
		v.unprocessable(field, "v2 cannot be authoritative in stage 1: it takes no order traffic before stage 2")
	case p.Targets[target] == TargetPaused:
		v.unprocessable(field, fmt.Sprintf("target %s is paused; an authoritative target must be active", target))
	}
}

// planProblems collects validation findings.
type planProblems struct {
	problems  []erpgate.Problem
	malformed bool // some finding is a malformed value, not only a contradiction
}

func (v *planProblems) invalid(field, msg string) {
	v.malformed = true
	v.problems = append(v.problems, erpgate.Problem{Field: field, Message: msg})
}

// text checks a required free text of at most n bytes of UTF-8.
func (v *planProblems) text(field, s string, n int, required string) {
	switch {
	case strings.TrimSpace(s) == "":
		v.invalid(field, required)
	case len(s) > n || !utf8.ValidString(s):
		v.invalid(field, fmt.Sprintf("at most %d bytes of UTF-8", n))
	}
}

// actor checks who makes a change or an approval.
func (v *planProblems) actor(s string) {
	if strings.TrimSpace(s) == "" || len(s) > MaxActorLen || !utf8.ValidString(s) {
		v.invalid("actor", fmt.Sprintf("1–%d bytes of UTF-8", MaxActorLen))
	}
}

func (v *planProblems) unprocessable(field, msg string) {
	v.problems = append(v.problems, erpgate.Problem{Field: field, Message: msg})
}

func (v *planProblems) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	n := fmt.Sprintf("%d problem(s)", len(v.problems))
	if v.malformed {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "the release plan is invalid: " + n, Problems: v.problems}
	}
	return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the release plan contradicts itself: " + n, Problems: v.problems}
}

// Change says who changes the release plan and why.
type Change struct {
	Actor  string    // authenticated client (plus the person, if known); "auto" for the automatic back-out
	Reason string    // required, at most MaxReasonLen bytes
	At     time.Time // when; the store's clock if zero
}

// Validate reports a missing or over-long reason or actor
// (erpgate.Invalid, fields "reason" and "actor").
func (c Change) Validate() error {
	var v planProblems
	v.text("reason", c.Reason, MaxReasonLen, "required: say why the release plan changes")
	v.actor(c.Actor)
	if len(v.problems) == 0 {
		return nil
	}
	return &erpgate.Error{Code: erpgate.Invalid, Message: "the change record is invalid", Problems: v.problems}
}

// Actions recorded in the change history.
const (
	ActionSet     = "set"     // PUT of a whole plan
	ActionBackout = "backout" // v1 authoritative, v2 paused (manual or automatic)
	ActionPromote = "promote" // v2 authoritative and active, stage 2
	ActionApprove = "approve" // an approval of the revision (the plan is unchanged)
)

// ReleaseChange is one entry of the change history: the plan as it became
// at Revision, and who changed it, when, why and how.
type ReleaseChange struct {
	Revision int64       `json:"revision"`
	Action   string      `json:"action"`
	Actor    string      `json:"actor"`
	Reason   string      `json:"reason"`
	At       time.Time   `json:"at"`
	Plan     ReleasePlan `json:"plan"`
	// Approval is the approval an "approve" entry records (Revision is
	// then the revision approved, Plan the plan at it).
	Approval *Approval `json:"approval,omitempty"`
	// Approvals are those a gated change relied on.
	Approvals []Approval `json:"approvals,omitempty"`
}

// PlanView is a compiled, immutable release plan: what the delivery workers
// obey. It implements Plan; every method is a few map lookups and at most
// one FNV hash, cheap enough for every worker loop.
type PlanView struct {
	plan      ReleasePlan
	active    map[string]bool
	customers map[string]int // pilot customer id → cohort index
}

var _ Plan = (*PlanView)(nil)

// NewPlanView compiles p (which should have passed Validate; a plan that did
// not is still read safely: unknown targets are paused, and in stage 1 v2 is
// paused).
func NewPlanView(p ReleasePlan) *PlanView {
	v := &PlanView{plan: p.Clone(), active: map[string]bool{}, customers: map[string]int{}}
	for _, t := range KnownTargets {
		v.active[t] = p.Targets[t] == TargetActive && (t != V2 || p.Stage >= Stage2)
	}
	for i, c := range p.Cohorts {
		for _, id := range c.Customers {
			if _, dup := v.customers[id]; !dup {
				v.customers[id] = i
			}
		}
	}
	return v
}

// Plan returns a copy of the plan v was compiled from.
func (v *PlanView) Plan() ReleasePlan { return v.plan.Clone() }

// Revision returns the plan's revision.
func (v *PlanView) Revision() int64 { return v.plan.Revision }

// Shadow reports whether shadow comparison is on.
func (v *PlanView) Shadow() bool { return v.plan.Shadow }

// AutoBackout returns the automatic back-out rule.
func (v *PlanView) AutoBackout() AutoBackout { return v.plan.AutoBackout }

// Active reports whether target consumes the outbox (in stage 1 v2 never
// does).
func (v *PlanView) Active(target string) bool { return v.active[target] }

// Authoritative returns the authoritative target for o: that of the first
// cohort o belongs to, else the default. A nil order gets the default.
func (v *PlanView) Authoritative(o *order.Order) string {
	if i := v.cohort(o); i >= 0 {
		return v.plan.Cohorts[i].Authoritative
	}
	return v.plan.Authoritative
}

// Cohort returns the name of the first cohort o belongs to, or
// DefaultCohort.
func (v *PlanView) Cohort(o *order.Order) string {
	if i := v.cohort(o); i >= 0 {
		return v.plan.Cohorts[i].Name
	}
	return DefaultCohort
}

func (v *PlanView) cohort(o *order.Order) int {
	if o == nil || len(v.plan.Cohorts) == 0 {
		return -1
	}
	pilot := -1
	if o.Customer.ID != "" {
		if i, ok := v.customers[o.Customer.ID]; ok {
			pilot = i
		}
	}
	b := -1
	for i, c := range v.plan.Cohorts {
		if c.Percent == nil {
			if i == pilot {
				return i
			}
			continue
		}
		if b < 0 {
			b = Bucket(o)
		}
		if b < *c.Percent {
			return i
		}
	}
	return -1
}

// Bucket returns o's percentage bucket, 0–99: an FNV-1a hash of the
// customer id, or of shop and external id for an order without one. A cohort
// of Percent p holds the orders with Bucket < p.
func Bucket(o *order.Order) int {
	h := fnv.New64a()
	h.Write([]byte(bucketHashNamespace))
	if o.Customer.ID != "" {
		h.Write([]byte("c\x00" + o.Customer.ID))
	} else {
		h.Write([]byte("o\x00" + o.ShopID + "\x00" + o.ExternalID))
	}
	return int(h.Sum64() % percentBuckets)
}

// Reauthorize returns a hook that corrects the authoritative flag of a
// final result (created, rejected, dead) recorded under a plan that changed
// while the ERP call was under way: when plan now makes target
// authoritative for the order, it records the result again as authoritative
// (so the order's status follows the new plan) and passes authoritative=true
// on to next. Errors are logged; the result itself is already stored.
func Reauthorize(plan Plan, orders Orders, log *slog.Logger, next ResultHook) ResultHook {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, target string, o *order.Order, r Result, auth bool) {
		if !auth && r.State != StatePending && plan.Authoritative(o) == target {
			if err := orders.SetResult(ctx, o.ID, target, r, true); err != nil {
				log.WarnContext(ctx, "release: could not re-record result as authoritative", "order", o.ID, "target", target, "err", err)
			} else {
				auth = true
			}
		}
		if next != nil {
			next(ctx, target, o, r, auth)
		}
	}
}

// ChainHooks returns a hook calling every non-nil hook in order.
func ChainHooks(hooks ...ResultHook) ResultHook {
	hooks = slices.DeleteFunc(slices.Clone(hooks), func(h ResultHook) bool { return h == nil })
	return func(ctx context.Context, target string, o *order.Order, r Result, auth bool) {
		for _, h := range hooks {
			h(ctx, target, o, r, auth)
		}
	}
}

// ReleaseMetrics are the release-plan metrics of the catalogue. A nil
// *ReleaseMetrics records nothing.
type ReleaseMetrics struct {
	revision      prometheus.Gauge
	authoritative *prometheus.GaugeVec
	mismatches    *prometheus.CounterVec
	backouts      *prometheus.CounterVec
	approvals     prometheus.Counter
	refusals      *prometheus.CounterVec
}

// GateManifest is the gate label of a change refused for want of a stored
// manifest (erpgate_release_gate_refusals_total).
const GateManifest = "manifest"

// Shadow comparison fields (the field label of
// erpgate_release_shadow_mismatches_total).
const (
	FieldAcceptance = "acceptance" // created by one, rejected by the other
	FieldTotal      = "total"      // order total as each ERP computed it
	FieldLineCount  = "line_count" // lines each ERP booked
	FieldStatus     = "status"     // ERP status word (common vocabulary)
	FieldReason     = "reason"     // both rejected, for different reasons
)

// ShadowFields lists every comparison field.
var ShadowFields = []string{FieldAcceptance, FieldTotal, FieldLineCount, FieldStatus, FieldReason}

// Back-out triggers (the trigger label of erpgate_release_backouts_total).
const (
	TriggerManual = "manual"
	TriggerAuto   = "auto"
)

// NewReleaseMetrics returns the release metrics, not yet registered.
func NewReleaseMetrics() *ReleaseMetrics {
	m := &ReleaseMetrics{
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "erpgate_release_revision",
			Help: "Revision of the release plan this instance obeys.",
		}),
		authoritative: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erpgate_release_authoritative",
			Help: "1 for the authoritative ERP target of each cohort of the release plan (cohort \"default\": everyone else), 0 for the others.",
		}, []string{"cohort", "target"}),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_release_shadow_mismatches_total",
			Help: "Orders whose v1 and v2 answers differ in the shadow comparison, by field.",
		}, []string{"field"}),
		backouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_release_backouts_total",
			Help: "Back-outs to v1 performed by this instance, by trigger (manual, auto).",
		}, []string{"trigger"}),
	}
	for _, f := range ShadowFields {
		m.mismatches.WithLabelValues(f)
	}
	m.backouts.WithLabelValues(TriggerManual)
	m.backouts.WithLabelValues(TriggerAuto)
	m.approvals = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "erpgate_release_approvals_total",
		Help: "Approvals of release plan revisions recorded through this instance.",
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_release_gate_refusals_total",
		Help: "Release plan changes refused by this instance for want of approvals or a manifest, by gate (stage2, widening, manifest).",
	}, []string{"gate"})
	for _, g := range []string{GateStage2, GateWidening, GateManifest} {
		m.refusals.WithLabelValues(g)
	}
	return m
}

// Register registers every release metric with reg (all or none).
func (m *ReleaseMetrics) Register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.revision, m.authoritative, m.mismatches, m.backouts, m.approvals, m.refusals}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, r := range cs[:i] {
				reg.Unregister(r)
			}
			return err
		}
	}
	return nil
}

// Observe sets the revision and authoritative gauges from v.
func (m *ReleaseMetrics) Observe(v *PlanView) {
	if m == nil || v == nil {
		return
	}
	m.revision.Set(float64(v.plan.Revision))
	m.authoritative.Reset()
	set := func(cohort, auth string) {
		for _, t := range KnownTargets {
			val := 0.0
			if t == auth {
				val = 1
			}
			m.authoritative.WithLabelValues(cohort, t).Set(val)
		}
	}
	set(DefaultCohort, v.plan.Authoritative)
	for _, c := range v.plan.Cohorts {
		set(c.Name, c.Authoritative)
	}
}

// Mismatch counts one mismatching order per differing field.
func (m *ReleaseMetrics) Mismatch(fields ...string) {
	if m == nil {
		return
	}
	for _, f := range fields {
		m.mismatches.WithLabelValues(f).Inc()
	}
}

// Backout counts one back-out by trigger (TriggerManual, TriggerAuto).
func (m *ReleaseMetrics) Backout(trigger string) {
	if m == nil {
		return
	}
	m.backouts.WithLabelValues(trigger).Inc()
}

// Approved counts one recorded approval.
func (m *ReleaseMetrics) Approved() {
	if m == nil {
		return
	}
	m.approvals.Inc()
}

// GateRefused counts one change refused at gate (GateStage2, GateWidening,
// GateManifest).
func (m *ReleaseMetrics) GateRefused(gate string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(gate).Inc()
}
