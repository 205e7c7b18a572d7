package store

// The release plan in Redis.
//
// # Key layout
//
//	release:plan                  string: JSON of the current erp.ReleasePlan; absent = the
//	                              built-in default (erp.DefaultReleasePlan, revision 0)
//	release:rev                   string: its revision; what every instance polls
//	release:history               stream, one entry per change: rev, action, actor, reason,
//	                              at (unix ms), plan (JSON); the last ~10000 are kept
//	release:shadow:o:<orderID>    hash: <target> → JSON erp.ShadowAnswer until both targets
//	                              answered, then only "_done"; expires 7 days after the last
//	                              answer (1 day once compared)
//	release:shadow:sample         list: the last 100 erp.ShadowMismatch (JSON), newest first
//	release:win:<rev>:<kind>      list of "0"/"1" (good/bad) observations of the automatic
//	                              back-out rule, and release:win:<rev>:<kind>:n (hash: counts);
//	                              expire a day after the last observation
//
// A change is one Lua step that checks the revision it was built on
// (compare-and-set), writes plan and revision and appends the history entry,
// so two concurrent changes never both win and the history never misses one.
// Every instance polls release:rev (a few bytes) every ReleasePollInterval and
// loads the plan only when it changed: a change takes effect everywhere
// within that interval, well under a second.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/manifest"
	"erpgate/order"
)

// ReleasePollInterval is how often every instance checks the plan's revision
// by default. It bounds how long a change (a back-out) takes to reach every
// gateway instance, and must stay well under one second.
const ReleasePollInterval = 200 * time.Millisecond

// Limits and lifetimes of the release keys.
const (
	releaseHistoryMax = 10000
	shadowSampleSize  = 100
	shadowWaitTTL     = 7 * 24 * time.Hour
	shadowDoneTTL     = 24 * time.Hour
	windowTTL         = 24 * time.Hour
	relMaxReconcile   = 100000 // outbox entries Reconcile looks at per target
	relScanPage       = 500
)

const (
	releasePlanKey    = "{release}:plan"
	releaseRevKey     = "{release}:rev"
	releaseHistoryKey = "{release}:history"
	shadowSampleKey   = "{release}:shadow:sample"
)

func shadowKey(orderID string) string { return "{release}:shadow:o:" + orderID }
func windowKey(rev int64, kind string) string {
	return "{release}:win:" + strconv.FormatInt(rev, 10) + ":" + kind
}

// ReleaseOptions configures Releases. Zero values take the defaults.
type ReleaseOptions struct {
	Metrics *erp.ReleaseMetrics // optional
	Logger  *slog.Logger        // default: the store's
	// Poll is how often Run checks for a new revision; default
	// ReleasePollInterval, at most one second.
	Poll time.Duration
	// Hook is told about every result Reconcile re-records as authoritative
	// (for instance the tracking timeline's hook), as the delivery workers
	// would have told it.
	Hook erp.ResultHook
	// ReconcileDelay is how long after a change of authority Reconcile runs,
	// so that every instance obeys the new plan first; default 3×Poll.
	ReconcileDelay time.Duration
}

// Releases is the release plan in Redis: the current plan with its
// revision, compare-and-set changes, the change history, the cached plan
// every delivery worker reads (erp.Plan), and the shared state of the shadow
// comparison (erp.ShadowStore). It is safe for concurrent use.
type Releases struct {
	s    *Store
	opt  ReleaseOptions
	log  *slog.Logger
	view atomic.Pointer[erp.PlanView]
	jobs chan []string // targets whose backlog Reconcile should look at

	mu         sync.Mutex
	refreshErr bool // last refresh failed (log once per streak)
}

var (
	_ erp.Plan        = (*Releases)(nil)
	_ erp.ShadowStore = (*Releases)(nil)
)

// Releases returns the release plan store on s's Redis. Until Load
// succeeds, its cached plan is the built-in default.
func (s *Store) Releases(opt ReleaseOptions) *Releases {
	if opt.Poll <= 0 || opt.Poll > time.Second {
		opt.Poll = ReleasePollInterval
	}
	if opt.ReconcileDelay <= 0 {
		opt.ReconcileDelay = 3 * opt.Poll
	}
	log := opt.Logger
	if log == nil {
		log = s.log
	}
	r := &Releases{s: s, opt: opt, log: log, jobs: make(chan []string, 16)}
	v := erp.NewPlanView(erp.DefaultReleasePlan())
	r.view.Store(v)
	// The gauges show the built-in plan until a stored one is loaded (on a
	// fresh Redis there is none, and no change would set them).
	opt.Metrics.Observe(v)
	return r
}

// View returns the cached plan (never nil).
func (r *Releases) View() *erp.PlanView { return r.view.Load() }

// Applied returns the revision of the cached plan: the one this instance's
// workers obey.
func (r *Releases) Applied() int64 { return r.view.Load().Revision() }

// Active implements erp.Plan from the cached plan.
func (r *Releases) Active(target string) bool { return r.view.Load().Active(target) }

// Authoritative implements erp.Plan from the cached plan.
func (r *Releases) Authoritative(o *order.Order) string { return r.view.Load().Authoritative(o) }

// Load reads the current plan into the cache. Call it once before the
// delivery workers start, so that they never run on a stale default (after a
// back-out, the default would send orders to v2).
//
// A stored plan that decodes but does not validate (written by hand, or by
// a version with other rules) is applied all the same, as erp.NewPlanView
// reads it safely, and logged as an error: every instance must obey the same
// document, and the gateway must run so that an operator can PUT a valid
// one. Errors: Unavailable; Internal for a stored plan that does not decode
// (the cache keeps what it had).
func (r *Releases) Load(ctx context.Context) error {
	p, err := r.Current(ctx)
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		r.log.Error("the stored release plan is invalid; obeying it as far as it is safe. PUT a valid plan.",
			"revision", p.Revision, "problems", erpgate.ErrorProblems(err))
	}
	r.apply(p)
	return nil
}

// Refresh reloads the plan if its revision changed (see Load).
func (r *Releases) Refresh(ctx context.Context) error {
	s, err := r.s.rdb.Get(ctx, releaseRevKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	rev, _ := strconv.ParseInt(s, 10, 64)
	if rev == r.Applied() {
		return nil
	}
	return r.Load(ctx)
}

// apply caches p unless the cache already holds a newer revision (a change
// this instance just made is applied at once, before the next poll).
func (r *Releases) apply(p erp.ReleasePlan) {
	v := erp.NewPlanView(p)
	var cur *erp.PlanView
	for {
		cur = r.view.Load()
		if cur.Revision() == p.Revision {
			return
		}
		if cur.Revision() > p.Revision && p.Revision != 0 {
			// A newer revision is cached: a poll that read an older one
			// raced with a change made here.
			return
		}
		if r.view.CompareAndSwap(cur, v) {
			break
		}
	}
	if p.Revision < cur.Revision() {
		r.log.Warn("release plan is back at the built-in default: was the Redis data lost?", "was", cur.Revision())
	}
	r.opt.Metrics.Observe(v)
	r.log.Info("release plan applied", "revision", p.Revision, "stage", p.Stage,
		"authoritative", p.Authoritative, "v1", p.Targets[erp.V1], "v2", p.Targets[erp.V2],
		"cohorts", len(p.Cohorts), "shadow", p.Shadow, "actor", p.Actor, "reason", p.Reason)
}

// Run keeps the cached plan current until ctx is done, polling the revision
// every Poll, and runs the reconciliations changes made here ask for. It
// returns nil when ctx is done; Redis failures are logged and retried.
func (r *Releases) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { r.reconcileLoop(ctx) })
	defer wg.Wait()
	t := time.NewTicker(r.opt.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := r.Refresh(ctx)
		r.mu.Lock()
		switch {
		case err != nil && ctx.Err() == nil && !r.refreshErr:
			r.log.Error("release plan refresh failed; keeping the last plan", "revision", r.Applied(), "err", err)
			r.refreshErr = true
		case err == nil && r.refreshErr:
			r.log.Info("release plan refresh works again", "revision", r.Applied())
			r.refreshErr = false
		}
		r.mu.Unlock()
	}
}

// Current returns the plan stored in Redis (the default at revision 0 if
// none was ever stored). Errors: Unavailable; Internal if it does not decode.
func (r *Releases) Current(ctx context.Context) (erp.ReleasePlan, error) {
	doc, err := r.s.rdb.Get(ctx, releasePlanKey).Result()
	if errors.Is(err, redis.Nil) {
		return erp.DefaultReleasePlan(), nil
	}
	if err != nil {
		return erp.ReleasePlan{}, unavailable(err)
	}
	var p erp.ReleasePlan
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return erp.ReleasePlan{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("stored release plan: %w", err), "internal error")
	}
	if p.Cohorts == nil {
		p.Cohorts = []erp.Cohort{}
	}
	return p, nil
}

// setPlanScript: KEYS plan, rev, history; ARGV base, newrev, json, action, actor, reason, atms, maxlen,
// approvals (JSON array of the approvals a gated change relied on, or "")
// Returns {"ok", newrev} or {"conflict", currentrev}.
var setPlanScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[2]) or '0'
if cur ~= ARGV[1] then return {'conflict', cur} end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'rev', ARGV[2], 'action', ARGV[4],
  'actor', ARGV[5], 'reason', ARGV[6], 'at', ARGV[7], 'plan', ARGV[3], 'approvals', ARGV[9])
return {'ok', ARGV[2]}
`)

// releaseChangeAttempts bounds the compare-and-set retries of one change
// that keeps losing races to other writers (plan changes are rare; a race is
// a handful of operators or instances at once).
const releaseChangeAttempts = 50

// errRelUnchanged tells change that the plan already is what was asked for.
var errRelUnchanged = errors.New("unchanged")

// change applies mutate to the current plan and stores the result as the
// next revision, retrying when another change wins the race (unless the
// caller named the revision it expects, which then is a Conflict).
func (r *Releases) change(ctx context.Context, action string, ch erp.Change, expected *int64,
	mutate func(cur erp.ReleasePlan) (erp.ReleasePlan, error)) (erp.ReleasePlan, bool, error) {
	if ch.At.IsZero() {
		ch.At = r.s.now()
	}
	if err := ch.Validate(); err != nil {
		return erp.ReleasePlan{}, false, err
	}
	for attempt := range releaseChangeAttempts {
		if attempt > 0 {
			// Another change won the race: wait a jittered moment so that
			// racing writers do not collide again in lockstep.
			select {
			case <-ctx.Done():
				return erp.ReleasePlan{}, false, erpgate.Wrap(erpgate.Unavailable, ctx.Err(), "the release plan change was cancelled")
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(2*time.Millisecond)))):
			}
		}
		cur, err := r.Current(ctx)
		if err != nil {
			return erp.ReleasePlan{}, false, err
		}
		if expected != nil && *expected != cur.Revision {
			return cur, false, releaseConflict(cur.Revision, *expected)
		}
		next, err := mutate(cur)
		if errors.Is(err, errRelUnchanged) {
			return cur, false, nil
		}
		if err != nil {
			return cur, false, err
		}
		next.Revision = cur.Revision + 1
		next.Actor, next.Reason, next.ChangedAt = ch.Actor, ch.Reason, ch.At.UTC().Truncate(time.Millisecond)
		if next.Cohorts == nil {
			next.Cohorts = []erp.Cohort{}
		}
		if err := next.Validate(); err != nil {
			return cur, false, err
		}
		used, err := r.checkGates(ctx, cur, next)
		if err != nil {
			return cur, false, err
		}
		approvals := ""
		if len(used) > 0 {
			b, _ := json.Marshal(used)
			approvals = string(b)
		}
		doc, err := json.Marshal(next)
		if err != nil {
			return cur, false, erpgate.Wrap(erpgate.Internal, err, "internal error")
		}
		res, err := setPlanScript.Run(ctx, r.s.rdb, []string{releasePlanKey, releaseRevKey, releaseHistoryKey},
			cur.Revision, next.Revision, doc, action, ch.Actor, ch.Reason, ch.At.UnixMilli(), releaseHistoryMax, approvals).StringSlice()
		if err != nil {
			return cur, false, unavailable(err)
		}
		if len(res) == 2 && res[0] == "conflict" {
			if expected != nil {
				n, _ := strconv.ParseInt(res[1], 10, 64)
				return cur, false, releaseConflict(n, *expected)
			}
			continue
		}
		r.apply(next)
		r.afterChange(cur, next)
		return next, true, nil
	}
	return erp.ReleasePlan{}, false, erpgate.Errorf(erpgate.Conflict, "the release plan is being changed by others right now; try again")
}

func releaseConflict(current, expected int64) error {
	return &erpgate.Error{
		Code:     erpgate.Conflict,
		Message:  fmt.Sprintf("the release plan is at revision %d, not %d as expected; reload it and try again", current, expected),
		Problems: []erpgate.Problem{{Field: "expected_revision", Message: fmt.Sprintf("stale: the current revision is %d", current)}},
	}
}

// Set stores p as the next revision. With expected set, the change is made
// only if the current revision is *expected. Errors: Invalid/Unprocessable
// (plan or change record, with field problems), Conflict, ApprovalRequired
// and ManifestRequired (the gates of the plan in force, release_gates.go),
// Unavailable.
func (r *Releases) Set(ctx context.Context, p erp.ReleasePlan, expected *int64, ch erp.Change) (erp.ReleasePlan, error) {
	next, _, err := r.change(ctx, erp.ActionSet, ch, expected, func(erp.ReleasePlan) (erp.ReleasePlan, error) {
		return p.Clone(), nil
	})
	return next, err
}

// Backout makes v1 authoritative for everyone and pauses v2 (see
// erp.ReleasePlan.BackedOut), in one change. If the plan is backed out
// already it changes nothing and reports false.
func (r *Releases) Backout(ctx context.Context, ch erp.Change) (erp.ReleasePlan, bool, error) {
	p, changed, err := r.change(ctx, erp.ActionBackout, ch, nil, backoutPlan)
	if changed {
		r.opt.Metrics.Backout(erp.TriggerManual)
	}
	return p, changed, err
}

// AutoBackout is the erp.BackoutFunc of the automatic rule: the same change
// as Backout, by actor "auto", made only if the plan is still at revision
// rev (a rule crossed under an older plan, or by several instances at once,
// backs out once).
func (r *Releases) AutoBackout(ctx context.Context, rev int64, reason string) (bool, error) {
	ch := erp.Change{Actor: "auto", Reason: truncateUTF8(reason, erp.MaxReasonLen)}
	_, changed, err := r.change(ctx, erp.ActionBackout, ch, nil, func(cur erp.ReleasePlan) (erp.ReleasePlan, error) {
		if cur.Revision != rev {
			return cur, errRelUnchanged
		}
		return backoutPlan(cur)
	})
	if changed {
		r.opt.Metrics.Backout(erp.TriggerAuto)
	}
	return changed, err
}

func backoutPlan(cur erp.ReleasePlan) (erp.ReleasePlan, error) {
	if cur.IsBackedOut() {
		return cur, errRelUnchanged
	}
	return cur.BackedOut(), nil
}

// PromoteOptions are the operator's choices for Promote.
type PromoteOptions struct {
	// SkipDeliveredByV1: v2 does not receive the orders v1 already created
	// while v2 was paused (they are acknowledged in v2's group unseen).
	// Default: v2 catches up from where it stopped.
	SkipDeliveredByV1 bool
	// Version, when set, is the gateway release version that goes live
	// with the promotion: the plan's Live becomes Version and its
	// BackoutTarget the version live before. With the plan's
	// acceptance.require_manifest, Version must have a stored manifest.
	Version string
}

// PromoteResult says what Promote did.
type PromoteResult struct {
	Plan    erp.ReleasePlan
	Changed bool
	Skip    *SkipReport // set when SkipDeliveredByV1 was asked for
}

// Promote makes v2 active and authoritative for everyone in stage 2 (see
// erp.ReleasePlan.Promoted). With SkipDeliveredByV1 it first acknowledges in
// v2's group the entries of orders v1 already created (SkipDelivered), while
// v2 is still paused. With Version, that version goes live (Live) and the
// one live before becomes the back-out target. Errors as Set's.
func (r *Releases) Promote(ctx context.Context, ch erp.Change, opt PromoteOptions) (PromoteResult, error) {
	if err := ch.Validate(); err != nil {
		return PromoteResult{}, err
	}
	var res PromoteResult
	if opt.Version != "" && !manifest.ValidVersion(opt.Version) {
		return res, &erpgate.Error{Code: erpgate.Invalid, Message: "invalid release version",
			Problems: []erpgate.Problem{{Field: "version", Message: fmt.Sprintf("1–%d of A-Z, a-z, 0-9, '.', '_', '+' and '-'", manifest.MaxVersionLen)}}}
	}
	if opt.SkipDeliveredByV1 {
		rep, err := r.s.outbox.SkipDelivered(ctx, erp.V2, erp.V1)
		if err != nil {
			return res, err
		}
		res.Skip = &rep
	}
	p, changed, err := r.change(ctx, erp.ActionPromote, ch, nil, func(cur erp.ReleasePlan) (erp.ReleasePlan, error) {
		if cur.IsPromoted() && (opt.Version == "" || opt.Version == cur.Live) {
			return cur, errRelUnchanged
		}
		next := cur.Promoted()
		if opt.Version != "" && opt.Version != cur.Live {
			next.Live, next.BackoutTarget = opt.Version, cur.Live
		}
		return next, nil
	})
	res.Plan, res.Changed = p, changed
	return res, err
}

// afterChange asks for a reconciliation when some target may have lost
// authority over orders it has not answered yet.
func (r *Releases) afterChange(old, next erp.ReleasePlan) {
	if old.Authoritative == next.Authoritative && sameCohorts(old.Cohorts, next.Cohorts) {
		return
	}
	losers := old.AuthoritativeTargets()
	select {
	case r.jobs <- losers:
	default:
		r.log.Warn("release: reconciliation queue full; statuses of orders in flight at the change may lag until their target answers", "targets", losers)
	}
}

func sameCohorts(a, b []erp.Cohort) bool {
	return slices.EqualFunc(a, b, func(x, y erp.Cohort) bool {
		return x.Name == y.Name && x.Authoritative == y.Authoritative && slices.Equal(x.Customers, y.Customers) &&
			(x.Percent == nil) == (y.Percent == nil) && (x.Percent == nil || *x.Percent == *y.Percent)
	})
}

func (r *Releases) reconcileLoop(ctx context.Context) {
	for {
		var targets []string
		select {
		case <-ctx.Done():
			return
		case targets = <-r.jobs:
		}
		t := time.NewTimer(r.opt.ReconcileDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := r.Refresh(ctx); err != nil {
			r.log.Warn("release: reconcile skipped: plan refresh failed", "err", err)
			continue
		}
		for _, target := range targets {
			n, err := r.Reconcile(ctx, r.View(), target)
			if err != nil && ctx.Err() == nil {
				r.log.Error("release: reconcile failed", "target", target, "err", err)
			} else if n > 0 {
				r.log.Info("release: order statuses follow the new authoritative target", "from", target, "orders", n)
			}
		}
	}
}

// Reconcile makes the status of the orders target has not finished (pending
// in or not yet delivered to its consumer group, or dead-lettered for it)
// follow view: where the order's authoritative target under view has a
// final result, that result is recorded again as authoritative and the Hook
// is told. After a back-out, this is what shows v1's answer for the orders
// v1 created while v2 was still authoritative and v2 had not answered yet.
// It looks at no more than 100000 entries and returns how many orders it
// updated.
func (r *Releases) Reconcile(ctx context.Context, view *erp.PlanView, target string) (int, error) {
	ids, err := r.s.outbox.backlogOrders(ctx, target)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		rec, err := r.s.Order(ctx, id)
		if erpgate.ErrorCode(err) == erpgate.NotFound {
			continue
		}
		if err != nil {
			return n, err
		}
		auth := view.Authoritative(&rec.Order)
		res, ok := rec.Results[auth]
		if !ok || res.State == erp.StatePending {
			continue
		}
		reason := ""
		if res.State != erp.StateCreated {
			reason = res.Reason
		}
		if rec.Status == releaseStatusFor(res.State) && rec.Reason == reason {
			continue
		}
		if err := r.s.SetResult(ctx, id, auth, res, true); err != nil {
			return n, err
		}
		n++
		if r.opt.Hook != nil {
			r.opt.Hook(ctx, auth, &rec.Order, res, true)
		}
	}
	return n, nil
}

// releaseStatusFor is the order status a target's result implies when that
// target becomes authoritative: a pending result leaves the order accepted.
func releaseStatusFor(state string) string {
	if s := statusOf(state); s != "" {
		return s
	}
	return StatusAccepted
}

// SkipDelivered is Outbox.SkipDelivered (outbox_release.go), for the
// release tools that hold a Releases.
func (r *Releases) SkipDelivered(ctx context.Context, target, holder string) (SkipReport, error) {
	return r.s.outbox.SkipDelivered(ctx, target, holder)
}
