package erp

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"erpgate/internal/backoff"
	"erpgate/internal/instance"
)

// DispatcherConfig configures the delivery workers. Zero values take the
// defaults documented on each field (see WithDefaults).
type DispatcherConfig struct {
	Outbox   Outbox             // required
	Orders   Orders             // required
	Adapters map[string]Adapter // required: target name → adapter (Adapter.Target() must equal the key)
	Plan     Plan               // default StaticPlan{}
	OnResult ResultHook         // optional
	// Handlers deliver the message types other than TypeOrderCreate (the
	// supplier documents, see handler.go), by type; optional. A type with
	// no handler is dead-lettered as unsupported.
	Handlers map[string]Handler

	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // optional: metrics are registered while Run runs
	Now        func() time.Time      // default time.Now; drives backoff due times and the breaker
	Rand       func() float64        // default math/rand/v2.Float64; jitter draws in [0, 1)

	// Name is the instance id: the consumers are named
	// "<Name>:<target>:<n>" (internal/instance), the same again after a
	// restart, so that a restarted instance takes over its own pending
	// entries at once. Two live processes must never share one. Default:
	// the host name.
	Name string
	// Instances tells which instances are alive; with it and an Outbox that
	// is an Adopter, the entries of a dead instance's consumers are taken
	// over within about TakeoverEvery of its heartbeat expiring, rather than
	// after ReclaimMinIdle. Optional.
	Instances Liveness
	// TakeoverEvery is how often each consumer looks for the entries of
	// dead instances (and of this instance's consumers from an earlier run
	// that this run does not have); default 1s.
	TakeoverEvery time.Duration

	// Consumers is the number of workers per target; default 2. Each
	// partition of the outbox has one reader per target in every instance
	// (the consumer "<Name>:<target>:0" of that partition's group), which
	// fetches a batch and hands it to the next free worker of its target:
	// every partition is read by every instance, and the readers take
	// turns at the workers (a channel serves waiting senders in order), so
	// no partition starves.
	Consumers int
	BatchSize int // entries fetched at once per consumer; default 64
	// InFlight is how many entries of its batch a consumer delivers at once;
	// default 16. The calls of one consumer overlap (an ERP call is mostly
	// waiting), while the batch's bookkeeping stays shared: its orders are
	// loaded in one round trip and its acknowledgements sent in one. 1
	// delivers a batch one entry after the other.
	InFlight int
	Block    time.Duration // how long a read waits for new entries; default 1s (also bounds stop latency)
	// ReadPoll, when positive, replaces the blocking read: a partition's
	// reader reads without BLOCK and, finding nothing, waits ReadPoll. For
	// the embedded Redis (miniredis), which re-runs every blocked read after
	// every command any client sends; with one blocked reader per partition
	// and target that re-running would be most of its work.
	ReadPoll    time.Duration
	Poll        time.Duration // pause while paused, breaker open, or after an infrastructure error; default 250ms
	CallTimeout time.Duration // deadline of one ERP call; default 15s

	Backoff       backoff.Policy // wait after transient failures; default {Base: 1s, Max: 1m, Jitter: 0.3}
	MaxDeliveries int64          // deliveries before an entry is dead-lettered; default 10

	ReclaimMinIdle time.Duration // an entry pending this long belongs to a dead consumer; default 2m
	ReclaimEvery   time.Duration // how often each consumer looks for such entries; default 30s

	BreakerThreshold int           // consecutive transient failures that open the breaker; default 5
	BreakerOpenFor   time.Duration // how long it stays open before a probe; default 30s
	// ProbeRef is the external reference whose status a half-open breaker
	// asks the ERP for. Any answer, including "not found", proves the ERP is
	// up, so no order is spent on probing. Default "erpgate-breaker-probe".
	ProbeRef string
}

// WithDefaults returns c with every zero field set to its default.
func (c DispatcherConfig) WithDefaults() DispatcherConfig {
	if c.Plan == nil {
		c.Plan = StaticPlan{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Name == "" {
		c.Name = instance.Default()
	}
	setDefault(&c.TakeoverEvery, time.Second)
	setDefault(&c.Consumers, 2)
	setDefault(&c.BatchSize, 64)
	setDefault(&c.InFlight, 16)
	setDefault(&c.Block, time.Second)
	setDefault(&c.Poll, 250*time.Millisecond)
	setDefault(&c.CallTimeout, 15*time.Second)
	setDefault(&c.Backoff.Base, time.Second)
	setDefault(&c.Backoff.Max, time.Minute)
	if c.Backoff.Jitter == 0 {
		c.Backoff.Jitter = 0.3
	}
	setDefault(&c.MaxDeliveries, 10)
	setDefault(&c.ReclaimMinIdle, 2*time.Minute)
	setDefault(&c.ReclaimEvery, 30*time.Second)
	setDefault(&c.BreakerThreshold, 5)
	setDefault(&c.BreakerOpenFor, 30*time.Second)
	if c.ProbeRef == "" {
		c.ProbeRef = "erpgate-breaker-probe"
	}
	return c
}

func setDefault[T int | int64 | time.Duration](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// Validate reports every problem with c (after defaults) at once.
func (c DispatcherConfig) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Outbox == nil {
		bad("Outbox is required")
	}
	if c.Orders == nil {
		bad("Orders is required")
	}
	if len(c.Adapters) == 0 {
		bad("at least one adapter is required")
	}
	for name, a := range c.Adapters {
		switch {
		case a == nil:
			bad("adapter %q is nil", name)
		case a.Target() != name:
			bad("adapter registered as %q reports target %q", name, a.Target())
		}
	}
	if c.Plan == nil || c.Logger == nil || c.Now == nil || c.Rand == nil {
		bad("Plan, Logger, Now and Rand must be set (use WithDefaults)")
	}
	if err := instance.Validate(c.Name); err != nil {
		bad("Name %q: %v", c.Name, err)
	}
	if c.Consumers < 1 || c.Consumers > 64 {
		bad("Consumers %d must be in 1..64", c.Consumers)
	}
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		bad("BatchSize %d must be in 1..1000", c.BatchSize)
	}
	if c.InFlight < 1 || c.InFlight > 256 {
		bad("InFlight %d must be in 1..256", c.InFlight)
	}
	if c.Block < time.Millisecond {
		bad("Block %v must be at least 1ms", c.Block)
	}
	if c.ReadPoll < 0 {
		bad("ReadPoll %v must not be negative", c.ReadPoll)
	}
	if c.Outbox != nil && c.Outbox.Partitions() < 1 {
		bad("the outbox has no partitions")
	}
	if c.Poll <= 0 || c.CallTimeout <= 0 || c.ReclaimEvery <= 0 || c.BreakerOpenFor <= 0 || c.TakeoverEvery <= 0 {
		bad("Poll, CallTimeout, ReclaimEvery, TakeoverEvery and BreakerOpenFor must be positive")
	}
	if c.Backoff.Base <= 0 || c.Backoff.Max < c.Backoff.Base {
		bad("Backoff needs 0 < Base (%v) ≤ Max (%v)", c.Backoff.Base, c.Backoff.Max)
	}
	if c.Backoff.Jitter < 0 || c.Backoff.Jitter > 1 {
		bad("Backoff.Jitter %v must be in [0, 1]", c.Backoff.Jitter)
	}
	if c.MaxDeliveries < 1 {
		bad("MaxDeliveries %d must be at least 1", c.MaxDeliveries)
	}
	// A live consumer re-asserts its hold on a batch every ReclaimMinIdle/4
	// and then spends at most about CallTimeout on one entry, and a deferred
	// entry waits at most Backoff.Max: an entry idle longer than that is
	// safely reclaimed, never stolen from a live worker or pulled early out
	// of its backoff.
	if c.ReclaimMinIdle < 2*c.CallTimeout || c.ReclaimMinIdle <= c.Backoff.Max {
		bad("ReclaimMinIdle %v must be at least twice CallTimeout %v and exceed Backoff.Max %v", c.ReclaimMinIdle, c.CallTimeout, c.Backoff.Max)
	}
	if c.BreakerThreshold < 1 {
		bad("BreakerThreshold %d must be at least 1", c.BreakerThreshold)
	}
	if len(errs) > 0 {
		return errors.New("erp dispatcher config: " + strings.Join(errs, "; "))
	}
	return nil
}
