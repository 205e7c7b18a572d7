package erp

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"erpgate/order"
)

// Shadow comparison and the automatic back-out.
//
// While both targets receive orders, Shadow compares what they answered for
// the same order: acceptance (created or rejected), the order total and the
// line count each ERP booked, the ERP status word, and for two rejections
// the reason. The delivery workers record only erp.Result (no totals), so
// Shadow also wraps the adapters: the wrapper keeps each successful
// Confirmation in memory until the worker's result hook (OnResult), which
// runs right after on the same goroutine, picks it up. The final answers
// meet in the ShadowStore (Redis), so the two targets' answers are compared
// exactly once even when different gateway instances delivered them.

// ShadowAnswer is one target's final answer for an order, as compared.
// Total and LineCount are nil when not known (a result recorded without the
// ERP's confirmation at hand).
type ShadowAnswer struct {
	State          string         `json:"state"` // StateCreated or StateRejected
	ERPOrderNumber string         `json:"erp_order_number,omitempty"`
	Status         string         `json:"status,omitempty"`
	Total          *order.Decimal `json:"total,omitempty"`
	LineCount      *int           `json:"line_count,omitempty"`
	Reason         string         `json:"reason,omitempty"`
}

// ShadowMismatch is one order whose answers differ, kept for inspection.
type ShadowMismatch struct {
	OrderID    string                  `json:"order_id"`
	ShopID     string                  `json:"shop_id,omitempty"`
	ExternalID string                  `json:"external_id,omitempty"`
	Revision   int64                   `json:"revision"` // plan revision the comparison ran under
	At         time.Time               `json:"at"`
	Fields     []string                `json:"fields"`  // ShadowFields that differ
	Answers    map[string]ShadowAnswer `json:"answers"` // by target
}

// CompareAnswers returns the ShadowFields in which a and b differ. Different
// acceptance is reported alone: the other fields of a refusal mean nothing.
// Unknown totals, line counts or status words are not compared.
func CompareAnswers(a, b ShadowAnswer) []string {
	if a.State != b.State {
		return []string{FieldAcceptance}
	}
	var out []string
	if a.State == StateRejected {
		if a.Reason != b.Reason {
			out = append(out, FieldReason)
		}
		return out
	}
	if a.Total != nil && b.Total != nil && *a.Total != *b.Total {
		out = append(out, FieldTotal)
	}
	if a.LineCount != nil && b.LineCount != nil && *a.LineCount != *b.LineCount {
		out = append(out, FieldLineCount)
	}
	if a.Status != "" && b.Status != "" && a.Status != b.Status {
		out = append(out, FieldStatus)
	}
	return out
}

// Sliding windows of the automatic back-out rule.
const (
	WindowResults     = "results"     // the candidate's recorded results; bad = retry or dead
	WindowComparisons = "comparisons" // shadow comparisons; bad = mismatch
)

// ShadowStore keeps what the comparison and the back-out rule share between
// gateway instances. *store.ShadowLog implements it on Redis. Errors are
// infrastructure failures; Shadow logs them and goes on (a comparison lost
// to a Redis hiccup is a missed sample, never a lost order).
type ShadowStore interface {
	// RecordAnswer stores target's final answer for the order and returns
	// the answer other had given if it is stored too and the pair has not
	// been handed out before; each pair is handed out once, to one caller.
	RecordAnswer(ctx context.Context, orderID, target string, a ShadowAnswer, other string) (*ShadowAnswer, error)
	// AddMismatch keeps m in the bounded sample of recent mismatches.
	AddMismatch(ctx context.Context, m ShadowMismatch) error
	// Window adds one observation (bad or not) to the sliding window kind of
	// plan revision rev, keeping the last size, and returns how many
	// observations it holds and how many of them are bad.
	Window(ctx context.Context, rev int64, kind string, bad bool, size int) (n, bads int, err error)
}

// ShadowResultStore is a ShadowStore that does all a result needs in one
// round trip (*store.Releases implements it). Shadow uses it when its
// Store has it, and the three calls of ShadowStore otherwise.
type ShadowResultStore interface {
	ShadowStore
	// RecordResult does, at once, what r asks for: the observation in the
	// results window, RecordAnswer, and — when that hands out the pair and
	// r.Comparisons is set — the observation of the comparison (bad when
	// ShadowProjection of the two answers say CompareAnswers finds a
	// difference) in the comparisons window. An outcome without
	// Comparisons after a pair means the other answer came without a
	// projection (an older instance): the caller observes it with Window.
	RecordResult(ctx context.Context, r ShadowResult) (ShadowOutcome, error)
}

// ShadowResult is what RecordResult is asked to do for one result.
type ShadowResult struct {
	Revision   int64 // plan revision of the windows
	WindowSize int   // observations a window keeps

	// Results is the observation for the results window: nil for none,
	// else whether it is bad.
	Results *bool

	// Answer is the answer to record (nil: none), for OrderID by Target,
	// to be paired with the answer of Other.
	Answer                 *ShadowAnswer
	OrderID, Target, Other string
	// Comparisons asks for the comparison of a handed-out pair to be
	// observed in the comparisons window.
	Comparisons bool
}

// ShadowOutcome is what RecordResult did.
type ShadowOutcome struct {
	Results     *WindowCount  // the results window after the observation, if made
	Theirs      *ShadowAnswer // the other answer, when the pair was handed out
	Comparisons *WindowCount  // the comparisons window after the observation, if made
}

// WindowCount is how many observations a window holds and how many are bad.
type WindowCount struct{ N, Bad int }

// ShadowProjection is the part of a that CompareAnswers looks at, as
// strings ("" for unknown): state, reason, total, line count, status. Two
// answers differ, for CompareAnswers, exactly when their projections differ
// by the same rules (see the store's script and its test).
func ShadowProjection(a ShadowAnswer) [5]string {
	p := [5]string{a.State, a.Reason, "", "", a.Status}
	if a.Total != nil {
		p[2] = strconv.FormatInt(int64(*a.Total), 10)
	}
	if a.LineCount != nil {
		p[3] = strconv.Itoa(*a.LineCount)
	}
	return p
}

// BackoutFunc performs an automatic back-out if the plan is still at
// revision rev, recording reason; it reports whether it changed the plan.
type BackoutFunc func(ctx context.Context, rev int64, reason string) (bool, error)

// ShadowConfig configures a Shadow.
type ShadowConfig struct {
	Plan    func() *PlanView // the current plan (required)
	Store   ShadowStore      // required
	Backout BackoutFunc      // performs the automatic back-out; nil: the rule only logs
	Metrics *ReleaseMetrics  // optional
	Logger  *slog.Logger     // default: discard
	Now     func() time.Time // default time.Now

	Baseline  string // the old release's target; default V1
	Candidate string // the new release's target; default V2
	// MaxStash bounds the confirmations kept between the adapter call and
	// the result hook; default 10000 (far more than workers in flight).
	MaxStash int
}

// Shadow compares the baseline's and the candidate's answers and runs the
// automatic back-out rule. It is safe for concurrent use.
type Shadow struct {
	cfg       ShadowConfig
	mu        sync.Mutex
	stash     map[stashKey]Confirmation
	triggered atomic.Int64 // revision last backed out by this instance (+1; 0 = none)
}

type stashKey struct{ target, orderID string }

// NewShadow returns a Shadow for cfg with defaults applied.
func NewShadow(cfg ShadowConfig) (*Shadow, error) {
	if cfg.Plan == nil || cfg.Store == nil {
		return nil, fmt.Errorf("erp shadow: Plan and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Baseline == "" {
		cfg.Baseline = V1
	}
	if cfg.Candidate == "" {
		cfg.Candidate = V2
	}
	if cfg.MaxStash <= 0 {
		cfg.MaxStash = 10000
	}
	return &Shadow{cfg: cfg, stash: make(map[stashKey]Confirmation)}, nil
}

// Adapter wraps a so that its confirmations reach the comparison. Give the
// wrapped adapter to the Dispatcher only: the wrapper hides optional
// capabilities (such as OrderFetcher) of a.
func (s *Shadow) Adapter(a Adapter) Adapter {
	if a.Target() != s.cfg.Baseline && a.Target() != s.cfg.Candidate {
		return a
	}
	return &shadowAdapter{Adapter: a, s: s}
}

type shadowAdapter struct {
	Adapter
	s *Shadow
}

// CreateOrder creates o through the wrapped adapter and keeps the
// confirmation for the comparison while shadow comparison is on.
func (a *shadowAdapter) CreateOrder(ctx context.Context, o *order.Order) (Confirmation, error) {
	c, err := a.Adapter.CreateOrder(ctx, o)
	if err == nil && o != nil && a.s.cfg.Plan().Shadow() {
		a.s.put(stashKey{a.Target(), o.ID}, c)
	}
	return c, err
}

// Unwrap returns the wrapped adapter.
func (a *shadowAdapter) Unwrap() Adapter { return a.Adapter }

func (s *Shadow) put(k stashKey, c Confirmation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stash) >= s.cfg.MaxStash {
		// The hook normally takes every entry within milliseconds; what is
		// left over belongs to results that were never recorded. Drop one.
		for old := range s.stash {
			delete(s.stash, old)
			break
		}
	}
	s.stash[k] = c
}

func (s *Shadow) take(k stashKey) (Confirmation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.stash[k]
	delete(s.stash, k)
	return c, ok
}

// OnResult is the ResultHook that feeds the comparison and the back-out
// rule. With a ShadowResultStore it costs one Redis round trip per result
// (two for the rare pair whose other answer an older instance recorded),
// else up to three; none while shadow comparison and the rule are off. A
// mismatch costs one more, to keep its sample.
func (s *Shadow) OnResult(ctx context.Context, target string, o *order.Order, r Result, _ bool) {
	if o == nil || (target != s.cfg.Baseline && target != s.cfg.Candidate) {
		return
	}
	conf, haveConf := s.take(stashKey{target, o.ID})
	v := s.cfg.Plan()
	rule := v.AutoBackout()
	ruleOn := rule.Enabled && v.Active(s.cfg.Candidate)
	var resultBad *bool
	if ruleOn && target == s.cfg.Candidate {
		switch r.State {
		case StateCreated, StateRejected:
			resultBad = new(bool)
		case StatePending, StateDead:
			resultBad = new(bool)
			*resultBad = true
		}
	}
	var mine *ShadowAnswer
	if v.Shadow() && (r.State == StateCreated || r.State == StateRejected) {
		mine = &ShadowAnswer{State: r.State, ERPOrderNumber: r.ERPOrderNumber, Status: r.ERPStatus}
		if r.State == StateRejected {
			mine.Reason = r.Reason
		} else if haveConf {
			total, lines := conf.Total, conf.LineCount
			mine.Total, mine.LineCount = &total, &lines
			if mine.Status == "" {
				mine.Status = conf.Status
			}
		}
	}
	other := s.cfg.Candidate
	if target == s.cfg.Candidate {
		other = s.cfg.Baseline
	}
	if rs, ok := s.cfg.Store.(ShadowResultStore); ok {
		if resultBad == nil && mine == nil {
			return
		}
		out, err := rs.RecordResult(ctx, ShadowResult{
			Revision: v.Revision(), WindowSize: rule.Window, Results: resultBad,
			Answer: mine, OrderID: o.ID, Target: target, Other: other, Comparisons: ruleOn,
		})
		if err != nil {
			if resultBad != nil {
				s.cfg.Logger.WarnContext(ctx, "auto back-out: window not updated", "window", WindowResults, "err", err)
			}
			if mine != nil {
				s.cfg.Logger.WarnContext(ctx, "shadow comparison: answer not recorded", "order", o.ID, "target", target, "err", err)
			}
			return
		}
		if out.Results != nil {
			s.evaluate(ctx, v, WindowResults, out.Results.N, out.Results.Bad)
		}
		if mine != nil && out.Theirs != nil {
			s.compared(ctx, v, o, target, other, *mine, *out.Theirs, ruleOn, out.Comparisons)
		}
		return
	}
	if resultBad != nil {
		s.observe(ctx, v, WindowResults, *resultBad)
	}
	if mine == nil {
		return
	}
	theirs, err := s.cfg.Store.RecordAnswer(ctx, o.ID, target, *mine, other)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "shadow comparison: answer not recorded", "order", o.ID, "target", target, "err", err)
		return
	}
	if theirs == nil {
		return
	}
	s.compared(ctx, v, o, target, other, *mine, *theirs, ruleOn, nil)
}

// compared handles a handed-out pair of answers: the comparison window
// (observed already when cmp is not nil), the mismatch metrics and sample.
func (s *Shadow) compared(ctx context.Context, v *PlanView, o *order.Order, target, other string, mine, theirs ShadowAnswer, ruleOn bool, cmp *WindowCount) {
	answers := map[string]ShadowAnswer{target: mine, other: theirs}
	fields := CompareAnswers(answers[s.cfg.Baseline], answers[s.cfg.Candidate])
	if ruleOn {
		if cmp != nil {
			s.evaluate(ctx, v, WindowComparisons, cmp.N, cmp.Bad)
		} else {
			s.observe(ctx, v, WindowComparisons, len(fields) > 0)
		}
	}
	if len(fields) == 0 {
		return
	}
	s.cfg.Metrics.Mismatch(fields...)
	s.cfg.Logger.DebugContext(ctx, "shadow comparison: answers differ", "order", o.ID, "fields", fields)
	m := ShadowMismatch{
		OrderID: o.ID, ShopID: o.ShopID, ExternalID: o.ExternalID, Revision: v.Revision(),
		At: s.cfg.Now().UTC(), Fields: fields, Answers: answers,
	}
	if err := s.cfg.Store.AddMismatch(ctx, m); err != nil {
		s.cfg.Logger.WarnContext(ctx, "shadow comparison: mismatch sample not kept", "order", o.ID, "err", err)
	}
}

// observe adds one observation to a window and backs out when the rule says
// so.
func (s *Shadow) observe(ctx context.Context, v *PlanView, kind string, bad bool) {
	n, bads, err := s.cfg.Store.Window(ctx, v.Revision(), kind, bad, v.AutoBackout().Window)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "auto back-out: window not updated", "window", kind, "err", err)
		return
	}
	s.evaluate(ctx, v, kind, n, bads)
}

// evaluate backs out when the rule says so for a window of kind holding n
// observations of which bads are bad.
func (s *Shadow) evaluate(ctx context.Context, v *PlanView, kind string, n, bads int) {
	reason := Evaluate(v.AutoBackout(), kind, n, bads)
	if reason == "" {
		return
	}
	// One attempt per revision and instance; other instances that cross
	// the threshold at the same moment lose the revision check in Backout.
	mark := v.Revision() + 1
	if s.triggered.Swap(mark) == mark {
		return
	}
	if s.cfg.Backout == nil {
		s.cfg.Logger.WarnContext(ctx, "auto back-out rule crossed, but no back-out is wired", "reason", reason)
		return
	}
	changed, err := s.cfg.Backout(ctx, v.Revision(), "automatic back-out: "+reason)
	switch {
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "auto back-out failed", "reason", reason, "err", err)
		s.triggered.CompareAndSwap(mark, 0) // try again on the next observation
	case changed:
		s.cfg.Logger.WarnContext(ctx, "AUTO BACK-OUT: v1 authoritative, v2 paused", "reason", reason, "from_revision", v.Revision())
	}
}

// Evaluate applies the rule to a window of kind holding n observations of
// which bads are bad, and returns why it says to back out ("" for no).
func Evaluate(rule AutoBackout, kind string, n, bads int) string {
	if !rule.Enabled {
		return ""
	}
	switch kind {
	case WindowResults:
		if rule.FailureRatio > 0 && n >= rule.MinSample && n > 0 &&
			float64(bads) >= rule.FailureRatio*float64(n) {
			return fmt.Sprintf("v2 failure ratio %d/%d reached %.2f (window %d, min sample %d)",
				bads, n, rule.FailureRatio, rule.Window, rule.MinSample)
		}
	case WindowComparisons:
		if rule.Mismatches > 0 && bads >= rule.Mismatches {
			return fmt.Sprintf("%d shadow mismatches in the last %d comparisons reached %d", bads, n, rule.Mismatches)
		}
	}
	return ""
}
