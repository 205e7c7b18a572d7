package main

import (
	"context"
	"log/slog"
	"time"

	"erpgate/erp"
	"erpgate/gateway"
	"erpgate/order"
	"erpgate/store"
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
			// Written only if the ERP's own confirmation (a v2 push) has
			// not overtaken this result: "passed to the warehouse" after it
			// would set the status back.
			ev = tracking.Event{Type: tracking.TypeERPReceived, Summary: "Your order has been passed to our warehouse system",
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
		var err error
		if r.State == erp.StateCreated {
			_, _, err = trk.AppendUnlessSpoke(ctx, o.ID, ev, tracking.SourceERP)
		} else {
			_, err = trk.Append(ctx, o.ID, ev)
		}
		if err != nil {
			log.WarnContext(ctx, "timeline event not recorded", "order", o.ID, "type", ev.Type, "err", err)
		}
	}
}

// openOrdersHook puts every order v1 created into v1's open-order set, so
// that the status poller follows it while v1 is (or becomes, after a
// back-out) its authoritative target. v2 pushes, so it needs no set.
func openOrdersHook(open *store.OpenOrders, log *slog.Logger) erp.ResultHook {
	return func(ctx context.Context, target string, o *order.Order, r erp.Result, authoritative bool) {
		if target != erp.V1 || r.State != erp.StateCreated {
			return
		}
		// Polled at once while v1 leads; otherwise looked at after the
		// poller's recheck time, or at once when a new plan revision
		// (a back-out) wakes the open orders.
		due := time.Now()
		if !authoritative {
			due = due.Add(erp.DefaultRecheck)
		}
		if err := open.Add(ctx, target, o.ID, due); err != nil {
			log.WarnContext(ctx, "order not added to the polled open orders; its v1 status will not be tracked", "order", o.ID, "err", err)
		}
	}
}

// pollRecorder records a status polled from v1 on the order's timeline,
// each status once (dedup key "v1:" + status).
func pollRecorder(trk *tracking.Store) func(ctx context.Context, orderID string, st erp.Status) error {
	return func(ctx context.Context, orderID string, st erp.Status) error {
		ev, ok := gateway.ERPStatusEvent(gateway.ERPStatus{
			Target: erp.V1, Status: st.Status, ERPOrderNumber: st.ERPOrderNumber,
			Carrier: st.Carrier, TrackingNumber: st.TrackingNumber, ExpectedDelivery: st.ExpectedDelivery,
		})
		if !ok {
			return nil // a status word that is no customer event
		}
		ev.Details[tracking.DetailDedup] = "v1:" + st.Status
		_, err := trk.Append(ctx, orderID, ev)
		return err
	}
}

// timelineFinished reports whether the order is finished as its customer
// sees it (delivered, cancelled, rejected).
func timelineFinished(trk *tracking.Store) func(ctx context.Context, orderID string) (bool, error) {
	return func(ctx context.Context, orderID string) (bool, error) {
		evs, err := trk.Timeline(ctx, orderID)
		if err != nil {
			return false, err
		}
		return tracking.Derive(evs).Final, nil
	}
}
