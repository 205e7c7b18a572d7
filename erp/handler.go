package erp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"erpgate"
)

// Handler delivers the outbox messages of one type other than
// TypeOrderCreate (DispatcherConfig.Handlers). The worker gives such a
// message the same machinery as an order: at-least-once delivery, backoff
// on transient failures, the breaker, dead letters after MaxDeliveries,
// and the delivery metrics (with the message type as the call operation).
type Handler interface {
	// Takes reports whether target delivers messages of this type. A
	// target that does not (v1 has no supply chain) acknowledges them in
	// its group without a call, so they never wait there.
	Takes(target string) bool

	// Deliver delivers m to target and records the outcome. It returns:
	//   - nil: done; duplicate when the ERP had it already;
	//   - an error for which IsPermanent holds: the ERP refused it for good
	//     (recorded by Deliver); the entry is acknowledged;
	//   - ErrNotYet (wrapped): the message must wait for another one (an
	//     earlier document of the same purchase order); it is handed back
	//     without charging a delivery or counting against the ERP;
	//   - an *erpgate.Error with code Unavailable: the store failed; the
	//     entry is handed back uncharged and the worker pauses;
	//   - an *erpgate.Error with code NotFound: the message's record is
	//     gone; the entry is dead-lettered;
	//   - any other error: a transient ERP failure; retried with backoff.
	Deliver(ctx context.Context, target string, m Message) (duplicate bool, err error)

	// Dead records that m was dead-lettered for target; reason is for
	// operators.
	Dead(ctx context.Context, target string, m Message, reason string)
}

// ErrNotYet is returned (wrapped) by Handler.Deliver for a message that must
// wait for an earlier one.
var ErrNotYet = errors.New("waiting for an earlier message")

// deliverWith delivers m through handler h: the counterpart of deliver's
// order path for the other message types.
func (c *consumer) deliverWith(ctx context.Context, log *slog.Logger, m Message, h Handler) {
	cfg := &c.d.cfg
	octx := context.WithoutCancel(ctx)
	if !h.Takes(c.target) {
		c.ack(octx, log, m)
		return
	}
	if m.Deliveries > cfg.MaxDeliveries {
		c.deadWith(octx, log, m, h, fmt.Sprintf("%d deliveries without an answer", m.Deliveries-1))
		return
	}
	cctx, cancel := context.WithTimeout(octx, cfg.CallTimeout)
	start := time.Now()
	dup, err := h.Deliver(cctx, c.target, m)
	cancel()
	now := cfg.Now()
	var store *erpgate.Error
	isStore := errors.As(err, &store) && !isERPError(err)
	switch {
	case err == nil:
		c.observeCall(m, start)
		c.br.Success()
		c.ack(octx, log, m)
		outcome := "created"
		if dup {
			outcome = "duplicate"
		}
		c.d.met.deliveries.WithLabelValues(c.target, outcome).Inc()
		if !m.At.IsZero() {
			c.d.met.lag.WithLabelValues(c.target).Observe(max(now.Sub(m.At), 0).Seconds())
		}
	case errors.Is(err, ErrNotYet):
		// Uncharged, and not an ERP failure: due again after the base
		// backoff, by when the earlier message has usually gone through.
		log.Debug("delivery waits for an earlier message", "err", err)
		if err := c.park(octx, m, now.Add(cfg.Backoff.Base), max(m.Deliveries-1, 0)); err != nil {
			log.Error("defer failed", "err", err)
		}
	case isStore && store.Code == erpgate.Unavailable:
		log.Error("store failed during delivery; entry handed back", "err", err)
		c.handBack(ctx, []Message{m})
		sleep(ctx, cfg.Poll)
	case isStore && store.Code == erpgate.NotFound:
		c.deadWith(octx, log, m, h, "message record not found")
	case IsPermanent(err):
		c.observeCall(m, start)
		c.br.Success() // the ERP answered: it is up
		log.Info("erp refused message", "type", m.Type, "err", err)
		c.ack(octx, log, m)
		c.d.met.deliveries.WithLabelValues(c.target, "rejected").Inc()
	default:
		c.observeCall(m, start)
		c.br.Failure()
		if m.Deliveries >= cfg.MaxDeliveries {
			c.deadWith(octx, log, m, h, err.Error())
			return
		}
		due := now.Add(cfg.Backoff.Delay(m.Deliveries, cfg.Rand()))
		log.Warn("erp delivery failed; retrying later", "type", m.Type, "err", err, "due", due)
		if err := c.park(octx, m, due, m.Deliveries); err != nil {
			log.Error("defer failed", "err", err)
		}
		c.d.met.deliveries.WithLabelValues(c.target, "retry").Inc()
	}
}

func (c *consumer) observeCall(m Message, start time.Time) {
	c.d.met.call.WithLabelValues(c.target, m.Type).Observe(time.Since(start).Seconds())
}

// deadWith records m as dead through h and moves it to the dead-letter
// stream.
func (c *consumer) deadWith(ctx context.Context, log *slog.Logger, m Message, h Handler, opsReason string) {
	log.Error("dead-lettering outbox entry", "type", m.Type, "reason", opsReason)
	hctx, cancel := context.WithTimeout(ctx, opTimeout)
	h.Dead(hctx, c.target, m, opsReason)
	cancel()
	dctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := c.d.cfg.Outbox.DeadLetter(dctx, c.target, m, opsReason); err != nil {
		log.Error("dead-letter failed; entry stays pending", "err", err)
		return
	}
	c.d.met.deliveries.WithLabelValues(c.target, "dead").Inc()
	c.d.met.dead.WithLabelValues(c.target).Inc()
}

func isERPError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
