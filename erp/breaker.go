package erp

import (
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker. The values are those of
// the erpgate_erp_breaker_state gauge.
type BreakerState int

// The breaker states.
const (
	BreakerClosed   BreakerState = 0 // deliveries flow
	BreakerHalfOpen BreakerState = 1 // one probe may test the ERP
	BreakerOpen     BreakerState = 2 // nothing is sent to the ERP
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	default:
		return "unknown"
	}
}

// Breaker is a circuit breaker for one ERP target, shared by all consumers of
// that target in a process. After Threshold consecutive transient failures it
// opens: for OpenFor nothing is sent. Then it is half-open: exactly one caller
// is let through (Allow) to probe the ERP; the probe's Success closes the
// breaker, its Failure opens it for another OpenFor.
//
// Only transient failures count: a permanent refusal proves the ERP is up.
// Time comes from the injected clock, so tests drive it without sleeping.
type Breaker struct {
	threshold int
	openFor   time.Duration
	now       func() time.Time
	onChange  func(from, to BreakerState)

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
}

// NewBreaker returns a closed breaker. threshold < 1 is treated as 1; now nil
// means time.Now; onChange, if not nil, is called (without the breaker's lock
// held) on every state change.
func NewBreaker(threshold int, openFor time.Duration, now func() time.Time, onChange func(from, to BreakerState)) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{threshold: max(threshold, 1), openFor: openFor, now: now, onChange: onChange}
}

// State returns the current state; an open breaker whose OpenFor has passed
// reports half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	from, to := b.tick()
	s := b.state
	b.mu.Unlock()
	b.changed(from, to)
	return s
}

// Allow reports whether a call may be made now. A closed breaker allows every
// call; an open one none; a half-open one allows one probe at a time, and the
// caller that got true must report Success or Failure.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	from, to := b.tick()
	ok := false
	switch b.state {
	case BreakerClosed:
		ok = true
	case BreakerHalfOpen:
		if !b.probing {
			b.probing = true
			ok = true
		}
	}
	b.mu.Unlock()
	b.changed(from, to)
	return ok
}

// Success records a call the ERP answered (success or permanent refusal).
func (b *Breaker) Success() {
	b.mu.Lock()
	from := b.state
	b.failures = 0
	b.probing = false
	b.state = BreakerClosed
	b.mu.Unlock()
	b.changed(from, BreakerClosed)
}

// Failure records a transient failure. In the closed state it opens the
// breaker once Threshold failures in a row are reached; a failed probe opens
// it again at once. Failures reported while open (calls that started before
// it opened) do not extend the open period.
func (b *Breaker) Failure() {
	b.mu.Lock()
	from, _ := b.tick()
	switch b.state {
	case BreakerClosed:
		b.failures++
		if b.failures >= b.threshold {
			b.open()
		}
	case BreakerHalfOpen:
		b.open()
	}
	to := b.state
	b.mu.Unlock()
	b.changed(from, to)
}

// open moves to the open state; b.mu is held.
func (b *Breaker) open() {
	b.state = BreakerOpen
	b.openedAt = b.now()
	b.failures = 0
	b.probing = false
}

// tick moves an expired open breaker to half-open and returns the change;
// b.mu is held.
func (b *Breaker) tick() (from, to BreakerState) {
	if b.state == BreakerOpen && !b.now().Before(b.openedAt.Add(b.openFor)) {
		b.state = BreakerHalfOpen
		b.probing = false
		return BreakerOpen, BreakerHalfOpen
	}
	return b.state, b.state
}

func (b *Breaker) changed(from, to BreakerState) {
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}
