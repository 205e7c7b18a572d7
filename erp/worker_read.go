package erp

import (
	"context"
	"time"

	"erpgate/internal/instance"
)

// reader fetches the batches of one target on one partition and hands them
// to the target's workers.
type reader struct {
	c           *consumer // its name, and for probing the ERP and handing entries back
	part        int
	lastReclaim time.Time // wall clock: paces Reclaim against Redis idle times
	lastAdopt   time.Time // wall clock: paces the look for dead instances' entries
	recovered   bool      // took over its own entries of the previous run
	started     time.Time // wall clock: when this run's reader started
}

// maxErrorPause caps the pause between outbox reads while Redis fails.
const maxErrorPause = 5 * time.Second

func (r *reader) run(ctx context.Context, w *workers) {
	c := r.c
	cfg := &c.d.cfg
	failures := 0 // consecutive outbox failures: the pause grows with them, and few are logged
	for ctx.Err() == nil {
		if !cfg.Plan.Active(c.target) {
			sleep(ctx, cfg.Poll)
			continue
		}
		switch c.br.State() {
		case BreakerOpen:
			sleep(ctx, cfg.Poll)
			continue
		case BreakerHalfOpen:
			if c.br.Allow() {
				c.probe(ctx)
			} else {
				sleep(ctx, cfg.Poll)
			}
			continue
		}
		w.waitIdle()
		msgs, err := r.fetch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				failures++
				if failures == 1 || failures%20 == 0 {
					c.log.Error("outbox read failed", "err", err, "failures", failures)
				}
				sleep(ctx, min(cfg.Poll<<min(failures-1, 10), maxErrorPause))
			}
			continue
		}
		if failures > 0 {
			c.log.Info("outbox reachable again", "after_failures", failures)
			failures = 0
		}
		if len(msgs) == 0 {
			if cfg.ReadPoll > 0 {
				sleep(ctx, cfg.ReadPoll)
			}
			continue
		}
		select {
		case w.batches <- batch{msgs: msgs, read: time.Now()}:
			w.idle(-1)
		case <-ctx.Done():
			c.handBack(ctx, msgs)
		}
	}
}

// fetch returns the next entries to deliver: deferred entries that are due
// first (they are the oldest), then entries of dead consumers, then new ones.
func (r *reader) fetch(ctx context.Context) ([]Message, error) {
	c := r.c
	cfg := &c.d.cfg
	msgs, err := cfg.Outbox.Due(ctx, c.target, c.name, r.part, cfg.Now(), cfg.BatchSize)
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	if msgs, err := r.adopt(ctx); err != nil || len(msgs) > 0 {
		return msgs, err
	}
	if time.Since(r.lastReclaim) >= cfg.ReclaimEvery {
		r.lastReclaim = time.Now()
		msgs, err = cfg.Outbox.Reclaim(ctx, c.target, c.name, r.part, cfg.ReclaimMinIdle, cfg.BatchSize)
		if err != nil || len(msgs) > 0 {
			if len(msgs) > 0 {
				c.log.Info("reclaimed entries of a dead consumer", "count", len(msgs))
			}
			return msgs, err
		}
	}
	block := cfg.Block
	if cfg.ReadPoll > 0 {
		block = 0
	}
	return cfg.Outbox.Read(ctx, c.target, c.name, r.part, cfg.BatchSize, block)
}

// adopt takes over entries nobody else will finish: first the entries its
// own name holds from the previous run of this instance, delivered at once
// after a restart; then,
// every TakeoverEvery, those of consumers of dead instances and of this
// instance's consumers this run does not have. A live instance's entries,
// however slow its consumers, are never taken here (only by ReclaimMinIdle).
func (r *reader) adopt(ctx context.Context) ([]Message, error) {
	c := r.c
	cfg := &c.d.cfg
	ad, ok := cfg.Outbox.(Adopter)
	if !ok {
		return nil, nil
	}
	if !r.recovered {
		// Idle since before this run started: the previous run's entries,
		// never those this reader fetched and handed on already.
		msgs, err := ad.Adopt(ctx, c.target, r.part, c.name, c.name, time.Since(r.started).Truncate(time.Millisecond), cfg.BatchSize)
		if err != nil || len(msgs) > 0 {
			if len(msgs) > 0 {
				c.log.Info("taking over this instance's entries of its previous run", "count", len(msgs))
			}
			return msgs, err
		}
		r.recovered = true
	}
	if time.Since(r.lastAdopt) < cfg.TakeoverEvery {
		return nil, nil
	}
	r.lastAdopt = time.Now()
	holders, err := ad.Holders(ctx, c.target, r.part)
	if err != nil {
		return nil, err
	}
	var alive func(context.Context, string) (bool, error)
	if cfg.Instances != nil {
		alive = cfg.Instances.Alive
	}
	orphans, err := instance.Orphans(ctx, holders, cfg.Name, func(n string) bool { return c.d.own[n] }, alive)
	for _, o := range orphans {
		// The idle floor keeps two instances adopting the same orphan at
		// once from both taking an entry: a claim resets its idle time.
		msgs, aerr := ad.Adopt(ctx, c.target, r.part, o, c.name, adoptMinIdle, cfg.BatchSize)
		if aerr != nil {
			return nil, aerr
		}
		if len(msgs) > 0 {
			c.log.Info("took over entries of a dead instance", "from", o, "count", len(msgs))
			r.lastAdopt = time.Time{} // more may wait: look again next round
			return msgs, nil
		}
	}
	return nil, err
}

// adoptMinIdle is the idle time an orphan's entry must have before it is
// taken over (see adopt).
const adoptMinIdle = time.Second
