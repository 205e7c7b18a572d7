package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"erpgate/erp"
	"erpgate/erp/erpv2"
	"erpgate/gateway"
	"erpgate/store"
	"erpgate/supplier"
	"erpgate/supply"
	"erpgate/tracking"
)

// supplyWiring connects the supplier services (issue 6): ERP v2's supply
// chain for the gateway's reads, and the delivery of supplier documents
// through the outbox to v2 only (v1's group acknowledges them unseen, so
// during a back-out they wait in v2's group).
type supplyWiring struct {
	config   gateway.SupplierConfig
	handlers map[string]erp.Handler
	// svc is the gateway's supplier service, set once the server exists;
	// the delivery workers (started before it) call its OnDelivery.
	svc atomic.Pointer[supplier.Service]
}

func newSupplyWiring(v2URL string, timeout time.Duration, st *store.Store, trk *tracking.Store, log *slog.Logger) (*supplyWiring, error) {
	chain, err := erpv2.NewSupply(erpv2.Config{URL: v2URL, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	// Reads ask v2 whatever the release plan says (stage 1 is exactly the
	// catalog read through v2 while v2 takes no orders); when v2 cannot
	// answer, they come from the last copies in Redis. Writes always go
	// through the outbox, so a paused v2 only delays them.
	w := &supplyWiring{config: gateway.SupplierConfig{ERP: chain, Store: st, Timelines: trk}}
	sd, err := erp.NewSupplyDelivery(erp.SupplyDeliveryConfig{
		Documents: st, Chains: map[string]erp.SupplyChain{erp.V2: chain}, Logger: log, OnResult: w.onDelivery, BeforeFinal: w.beforeFinal,
	})
	if err != nil {
		return nil, err
	}
	w.handlers = sd.Handlers()
	return w, nil
}

// attach hands the server's supplier service to the delivery hook.
func (w *supplyWiring) attach(srv *gateway.Server) { w.svc.Store(srv.Supplier()) }

func (w *supplyWiring) onDelivery(ctx context.Context, target string, doc *supply.Document) {
	if s := w.svc.Load(); s != nil {
		s.OnDelivery(ctx, target, doc)
	}
}

func (w *supplyWiring) beforeFinal(ctx context.Context, doc *supply.Document) {
	if s := w.svc.Load(); s != nil {
		s.BeforeFinal(ctx, doc)
	}
}
