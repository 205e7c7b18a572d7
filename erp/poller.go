package erp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate"
)

// The status poller. ERP v1 cannot push status changes (v2 can: the gateway
// takes them at its callback endpoint), so while v1 is authoritative for an
// order the gateway asks v1 for the order's status at an interval and
// records each status it has not recorded before on the order's timeline.
//
// Which orders: those in the target's open-order set (store.OpenOrders),
// which the delivery result hook fills when the target created an order.
// An order leaves the set when the target reports a final status, when
// the ERP or the gateway no longer knows it, or — while another target is
// authoritative for it — once the customer's timeline is final.

// Final ERP status words: nothing follows them.
var finalStatus = map[string]bool{"delivered": true, "cancelled": true, "rejected": true}

// FinalStatus reports whether an ERP status word (the common vocabulary of
// Status.Status) is final.
func FinalStatus(status string) bool { return finalStatus[status] }

// OpenOrders is what the poller needs of the open-order sets;
// *store.OpenOrders implements it.
type OpenOrders interface {
	// Claim returns up to n orders of target due by now and makes them due
	// again only at lease.
	Claim(ctx context.Context, target string, now, lease time.Time, n int) ([]string, error)
	// Reschedule sets when orders still open are due next.
	Reschedule(ctx context.Context, target string, due time.Time, ids ...string) error
	// Remove takes orders out of the open set.
	Remove(ctx context.Context, target string, ids ...string) error
	// Wake makes every order of target due later than now due now.
	Wake(ctx context.Context, target string, now time.Time) (int, error)
}

// Poll outcomes (the outcome label of erpgate_tracking_erp_polls_total).
const (
	PollOpen             = "open"              // polled and recorded; the order stays open
	PollFinal            = "final"             // polled a final status; the order is closed
	PollNotAuthoritative = "not_authoritative" // another target is authoritative: not polled
	PollFinished         = "finished"          // not authoritative and finished for the customer: closed
	PollGone             = "gone"              // unknown to the gateway or the ERP: closed
	PollError            = "error"             // a failure; polled again after Interval
)

// PollOutcomes lists every poll outcome.
var PollOutcomes = []string{PollOpen, PollFinal, PollNotAuthoritative, PollFinished, PollGone, PollError}

// DefaultRecheck is PollerConfig.Recheck's default: how long an open order
// another target is authoritative for waits before it is looked at again.
// Long, because such orders are most of the set (every order v1 created
// while v2 leads) and looking costs a timeline read each; a new plan
// revision wakes them all at once (PollerConfig.Revision), so the wait only
// delays closing an order that finished, never polling one that became
// v1's.
const DefaultRecheck = 5 * time.Minute

// PollerConfig configures a Poller. Zero durations and counts take the
// defaults named.
type PollerConfig struct {
	// Target is the target polled; default V1.
	Target string
	// Adapter asks the target for an order's status (Adapter.Target() must
	// be Target). Required.
	Adapter Adapter
	// Open is the target's open-order set. Required.
	Open OpenOrders
	// Authority returns the order's authoritative target now (from the
	// release plan). An error with code erpgate.NotFound closes the order.
	// Required.
	Authority func(ctx context.Context, orderID string) (string, error)
	// Record puts a polled status on the order's timeline. It is called on
	// every poll and must record each status once (e.g. with the dedup key
	// "v1:" + status). Required.
	Record func(ctx context.Context, orderID string, st Status) error
	// Finished reports whether the order is finished as its customer sees
	// it; orders another target is authoritative for are closed once it
	// says so. Optional: without it they stay until the target reports a
	// final status for them itself, which it is only asked while
	// authoritative.
	Finished func(ctx context.Context, orderID string) (bool, error)
	// Revision returns the release plan's revision. Optional: with it, a
	// new revision wakes every open order at once (Open.Wake), so after a
	// promotion or back-out the orders the target has just become
	// authoritative for are polled now, not after up to Recheck.
	Revision func() int64

	Interval    time.Duration // between two polls of one open order; default 2s
	Recheck     time.Duration // between two looks at an order another target is authoritative for; default DefaultRecheck
	Batch       int           // orders claimed at once; default 100
	Concurrency int           // ERP calls at once; default 8
	CallTimeout time.Duration // deadline of one poll (both v1 calls); default 10s
	Idle        time.Duration // pause when nothing is due; default 250ms

	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // receives erpgate_tracking_erp_polls_total; optional
	Now        func() time.Time      // default time.Now
}

func (c PollerConfig) withDefaults() PollerConfig {
	if c.Target == "" {
		c.Target = V1
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.Recheck <= 0 {
		c.Recheck = DefaultRecheck
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.Idle <= 0 {
		c.Idle = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Poller polls one target for the status of its open orders. Several
// gateway instances may run one each: Claim leases every order to one of
// them.
type Poller struct {
	cfg   PollerConfig
	polls *prometheus.CounterVec

	mu       sync.Mutex
	rev      int64 // plan revision at the last PollOnce
	haveRev  bool
	rewakeAt time.Time // a second wake after a new revision (zero: none due)
}

// NewPoller returns a poller for cfg with defaults applied, its metrics
// registered. Start it with Run.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	cfg = cfg.withDefaults()
	var errs []error
	if cfg.Adapter == nil {
		errs = append(errs, errors.New("Adapter is required"))
	} else if cfg.Adapter.Target() != cfg.Target {
		errs = append(errs, fmt.Errorf("Adapter is for %s, not %s", cfg.Adapter.Target(), cfg.Target))
	}
	if cfg.Open == nil {
		errs = append(errs, errors.New("Open is required"))
	}
	if cfg.Authority == nil {
		errs = append(errs, errors.New("Authority is required"))
	}
	if cfg.Record == nil {
		errs = append(errs, errors.New("Record is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("erp poller: %w", err)
	}
	p := &Poller{cfg: cfg, polls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "erpgate_tracking_erp_polls_total",
		Help: "Status polls of open orders at an ERP target that cannot push (v1), by outcome.",
	}, []string{"target", "outcome"})}
	for _, o := range PollOutcomes {
		p.polls.WithLabelValues(cfg.Target, o)
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(p.polls); err != nil {
			return nil, fmt.Errorf("erp poller metrics: %w", err)
		}
	}
	return p, nil
}

// Run polls until ctx is done, then returns nil once the polls in flight
// have ended. Failures (Redis, the ERP) are logged and retried; they never
// stop it.
func (p *Poller) Run(ctx context.Context) error {
	failing := false
	for ctx.Err() == nil {
		n, err := p.PollOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				p.cfg.Logger.Warn("status poller: cannot claim open orders; retrying", "target", p.cfg.Target, "err", err)
			}
			failing = true
		case err == nil && failing:
			p.cfg.Logger.Info("status poller: claiming works again", "target", p.cfg.Target)
			failing = false
		}
		if n == p.cfg.Batch && err == nil {
			continue // more may be due
		}
		t := time.NewTimer(p.cfg.Idle)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// PollOnce claims one batch of due orders, polls them and returns how many
// it claimed. Its only error is a failed Claim.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	now := p.cfg.Now()
	if err := p.wakeOnNewRevision(ctx, now); err != nil {
		return 0, err
	}
	// The lease outlasts the batch: every poll ends within CallTimeout
	// (batches run Concurrency at a time), and the orders are rescheduled
	// when it ends.
	rounds := (p.cfg.Batch + p.cfg.Concurrency - 1) / p.cfg.Concurrency
	lease := now.Add(time.Duration(rounds+1)*p.cfg.CallTimeout + p.cfg.Interval)
	ids, err := p.cfg.Open.Claim(ctx, p.cfg.Target, now, lease, p.cfg.Batch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	outcomes := make([]string, len(ids))
	sem := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outcomes[i] = p.poll(ctx, id)
		})
	}
	wg.Wait()

	// One Redis call per kind of follow-up.
	now = p.cfg.Now()
	var closed, soon, later []string
	for i, o := range outcomes {
		p.polls.WithLabelValues(p.cfg.Target, o).Inc()
		switch o {
		case PollFinal, PollFinished, PollGone:
			closed = append(closed, ids[i])
		case PollNotAuthoritative:
			later = append(later, ids[i])
		default:
			soon = append(soon, ids[i])
		}
	}
	// With ctx cancelled (shutdown) these still run: the leases would
	// otherwise keep the orders from being polled for a while.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, err := range []error{
		p.cfg.Open.Remove(uctx, p.cfg.Target, closed...),
		p.cfg.Open.Reschedule(uctx, p.cfg.Target, now.Add(p.cfg.Interval), soon...),
		p.cfg.Open.Reschedule(uctx, p.cfg.Target, now.Add(p.cfg.Recheck), later...),
	} {
		if err != nil {
			// The leases run out and the orders come round again.
			p.cfg.Logger.Warn("status poller: open set not updated", "target", p.cfg.Target, "err", err)
		}
	}
	return len(ids), nil
}

// wakeOnNewRevision wakes every open order when the plan's revision
// changed since the last PollOnce (not at the first: a starting poller has
// nothing to compare with, and the orders' due times are its state) — and
// once more CallTimeout + Interval later, for the orders whose delivery
// began under the old plan and added them, parked, after the first wake.
func (p *Poller) wakeOnNewRevision(ctx context.Context, now time.Time) error {
	if p.cfg.Revision == nil {
		return nil
	}
	rev := p.cfg.Revision()
	p.mu.Lock()
	changed := p.haveRev && rev != p.rev
	rewake := !p.rewakeAt.IsZero() && !now.Before(p.rewakeAt)
	p.mu.Unlock()
	if changed || rewake {
		n, err := p.cfg.Open.Wake(ctx, p.cfg.Target, now)
		if err != nil {
			return err // nothing is noted: woken on the next try
		}
		if changed {
			p.cfg.Logger.Info("status poller: new release plan revision; open orders woken", "target", p.cfg.Target, "revision", rev, "orders", n)
		}
	}
	p.mu.Lock()
	switch {
	case changed:
		p.rewakeAt = now.Add(p.cfg.CallTimeout + p.cfg.Interval)
	case rewake:
		p.rewakeAt = time.Time{}
	}
	p.rev, p.haveRev = rev, true
	p.mu.Unlock()
	return nil
}

// poll handles one order and returns the outcome.
func (p *Poller) poll(ctx context.Context, id string) string {
	log := p.cfg.Logger.With("target", p.cfg.Target, "order", id)
	auth, err := p.cfg.Authority(ctx, id)
	if erpgate.ErrorCode(err) == erpgate.NotFound {
		return PollGone
	}
	if err != nil {
		log.Debug("status poller: authority unknown", "err", err)
		return PollError
	}
	if auth != p.cfg.Target {
		if p.cfg.Finished == nil {
			return PollNotAuthoritative
		}
		done, err := p.cfg.Finished(ctx, id)
		if err == nil && done {
			return PollFinished
		}
		return PollNotAuthoritative
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	st, err := p.cfg.Adapter.OrderStatus(cctx, id)
	cancel()
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Kind == KindPermanent && e.Code == "not_found" {
			log.Warn("status poller: the ERP does not know the order; no longer polled")
			return PollGone
		}
		log.Debug("status poller: ERP status call failed", "err", err)
		return PollError
	}
	if err := p.cfg.Record(ctx, id, st); err != nil {
		log.Warn("status poller: status not recorded", "status", st.Status, "err", err)
		return PollError
	}
	if FinalStatus(st.Status) {
		return PollFinal
	}
	return PollOpen
}
