package notice

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTTL is how old Board's copy of the notices may get before a read
// refreshes it: every instance sees a change within about this long.
const DefaultTTL = time.Second

// DefaultLeadTime is how long before its window a customer notice shows as a
// banner on tracking pages (--notice-lead-time).
const DefaultLeadTime = 48 * time.Hour

// BoardConfig configures a Board.
type BoardConfig struct {
	Source Source // required
	// TTL bounds the age of the cached copy; default DefaultTTL.
	TTL time.Duration
	// Lead is the banner lead time; default DefaultLeadTime.
	Lead   time.Duration
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default: discard
}

// Board is the cached view of the notices that requests read: the intake
// pause, the Erpgate-Notice header, the public list and the banner. A read
// finds the copy at most TTL old; when it is older, one reader refreshes it
// from the source while the others go on with the old copy (only the very
// first read waits). A failed refresh keeps the old copy and is logged once
// per streak, so a Redis outage never blocks or fails order intake because
// of notices. It is safe for concurrent use.
type Board struct {
	src  Source
	ttl  time.Duration
	lead time.Duration
	now  func() time.Time
	log  *slog.Logger

	snap    atomic.Pointer[snapshot]
	mu      sync.Mutex // held by the one refreshing reader
	failing atomic.Bool
}

type snapshot struct {
	notices []Notice
	at      time.Time // when the read that produced it began
}

// NewBoard returns a Board on cfg.Source.
func NewBoard(cfg BoardConfig) *Board {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Lead <= 0 {
		cfg.Lead = DefaultLeadTime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Board{src: cfg.Source, ttl: cfg.TTL, lead: cfg.Lead, now: cfg.Now, log: cfg.Logger}
}

// Now returns the board's clock.
func (b *Board) Now() time.Time { return b.now() }

// Lead returns the banner lead time.
func (b *Board) Lead() time.Duration { return b.lead }

// Notices returns every stored notice, from a copy at most TTL old (older
// only while Redis fails). Errors: Unavailable, only when no copy was ever
// read.
func (b *Board) Notices(ctx context.Context) ([]Notice, error) {
	s := b.snap.Load()
	if s != nil && time.Since(s.at) < b.ttl {
		return s.notices, nil
	}
	if s != nil && !b.mu.TryLock() {
		return s.notices, nil // another reader refreshes
	}
	if s == nil {
		b.mu.Lock()
		if s = b.snap.Load(); s != nil && time.Since(s.at) < b.ttl {
			b.mu.Unlock()
			return s.notices, nil
		}
	}
	defer b.mu.Unlock()
	return b.refresh(ctx, s)
}

func (b *Board) refresh(ctx context.Context, old *snapshot) ([]Notice, error) {
	began := time.Now()
	ns, err := b.src.Notices(ctx)
	if err != nil {
		if !b.failing.Swap(true) {
			b.log.Warn("notices: reading the notices failed; using the last copy", "err", err)
		}
		if old != nil {
			// Try again after another TTL, not on every request.
			b.snap.Store(&snapshot{notices: old.notices, at: began})
			return old.notices, nil
		}
		return nil, err
	}
	if b.failing.Swap(false) {
		b.log.Info("notices: reading the notices works again")
	}
	b.snap.Store(&snapshot{notices: ns, at: began})
	return ns, nil
}

// Invalidate makes the next read refresh (after a change made here, so this
// instance reads its own writes at once).
func (b *Board) Invalidate() {
	if s := b.snap.Load(); s != nil {
		b.snap.CompareAndSwap(s, &snapshot{notices: s.notices})
	}
}

// Cached returns the last copy without reading the source (nil before the
// first read): for metrics, which must not wait on Redis.
func (b *Board) Cached() []Notice {
	if s := b.snap.Load(); s != nil {
		return s.notices
	}
	return nil
}

// Active returns the notices whose window holds the board's now.
// Errors: as Notices.
func (b *Board) Active(ctx context.Context) ([]Notice, error) {
	ns, err := b.Notices(ctx)
	if err != nil {
		return nil, err
	}
	return Active(ns, b.now()), nil
}

// CheckIntake returns the intake pause in force now (see CheckIntake), or
// nil. When the notices cannot be read at all it returns nil: intake never
// fails because of notices.
func (b *Board) CheckIntake(ctx context.Context) error {
	ns, err := b.Notices(ctx)
	if err != nil {
		return nil
	}
	return CheckIntake(ns, b.now())
}

// Banner returns the tracking page's banner at t in lang, using the board's
// lead time (see BannerAt). ok is false when there is none, also when the
// notices cannot be read.
func (b *Board) Banner(ctx context.Context, t time.Time, lang string) (Banner, bool) {
	ns, err := b.Notices(ctx)
	if err != nil {
		return Banner{}, false
	}
	return BannerAt(ns, t, b.lead, lang)
}
