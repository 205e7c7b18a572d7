package cmdb

import (
	"context"
	"log/slog"
	"time"
)

// Registrar records an instance's heartbeat in the instance registry
// (store.Instances implements it through a small adapter in cmd/gateway).
type Registrar interface {
	Heartbeat(ctx context.Context, in Instance) error
}

// Heartbeat registers self at once and then every interval until ctx is
// done, with LastSeen from now (nil: time.Now). A failed heartbeat is logged
// (once per streak) and retried at the next tick: the registry forgets an
// instance only when its heartbeats stop for longer than its TTL. It returns
// nil when ctx is done.
func Heartbeat(ctx context.Context, reg Registrar, self Instance, interval time.Duration, now func() time.Time, log *slog.Logger) error {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if self.Started.IsZero() {
		self.Started = now()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		self.LastSeen = now()
		err := reg.Heartbeat(ctx, self)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			log.Warn("instance heartbeat failed; this instance may drop out of the CMDB until it works again", "instance", self.ID, "err", err)
			failing = true
		case err == nil && failing:
			log.Info("instance heartbeat works again", "instance", self.ID)
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
