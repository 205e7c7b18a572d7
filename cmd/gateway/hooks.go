package main

import (
	"context"
	"log/slog"

	"erpgate/erp"
	"erpgate/order"
	"erpgate/tracking"
)

// timelineHook turns the authoritative target's delivery results into
// timeline events. Delivery is at-least-once, so each event carries a dedup
// key and a repeat is recorded once.
func timelineHook(trk *tracking.Store, log *slog.Logger) erp.ResultHook {
	return func(ctx context.Context, target string, o *order.Order, r erp.Result, authoritative bool) {
		if !authoritative {
			return
		}
		var ev tracking.Event
		switch r.State {
		case erp.StateCreated:
			ev = tracking.Event{Type: tracking.TypeDelivered, Summary: "Your order has been passed to our warehouse system",
				Details: map[string]string{"erp_order_number": r.ERPOrderNumber}}
		case erp.StateRejected:
			ev = tracking.Event{Type: tracking.TypeRejected, Summary: "We could not take this order: " + r.Reason,
				Details: map[string]string{"reason": r.Reason}}
		case erp.StateDead:
			ev = tracking.Event{Type: tracking.TypeFailed, Summary: "We are having trouble processing this order; our team has been alerted",
				Details: map[string]string{"reason": r.Reason}}
		default:
			return
		}
		ev.Source = tracking.SourceGateway
		ev.Details["target"] = target
		ev.Details[tracking.DetailDedup] = "result:" + target + ":" + r.State
		if _, err := trk.Append(ctx, o.ID, ev); err != nil {
			log.WarnContext(ctx, "timeline event not recorded", "order", o.ID, "type", ev.Type, "err", err)
		}
	}
}
