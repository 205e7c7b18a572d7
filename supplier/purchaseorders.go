package supplier

// A supplier's purchase orders, read from the ERP through the cache.

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"erpgate"
	"erpgate/erp"
	"erpgate/supply"
)

// POPage is one page of a supplier's purchase orders.
type POPage struct {
	Orders     []*supply.PurchaseOrder
	Total      int
	NextOffset int // 0: last page
	Stale      bool
}

// MaxPOPage bounds a page of purchase orders; DefaultPOPage is the size of
// a page when none is asked for.
const (
	MaxPOPage     = erp.MaxPOPage
	DefaultPOPage = 20
)

// ListPurchaseOrders returns one page of supplier's purchase orders, newest
// first, only those in statuses when any are given. Errors: Invalid (page
// or status), Unavailable.
func (s *Service) ListPurchaseOrders(ctx context.Context, supplier string, statuses []supply.Status, offset, limit int) (POPage, error) {
	if limit == 0 {
		limit = DefaultPOPage
	}
	if err := checkPage(offset, limit, MaxPOPage); err != nil {
		return POPage{}, err
	}
	for _, st := range statuses {
		if !st.Valid() {
			return POPage{}, &erpgate.Error{Code: erpgate.Invalid, Message: "unknown purchase order status",
				Problems: []erpgate.Problem{{Field: "status", Message: "must be one of " + statusList()}}}
		}
	}
	sorted := slices.Clone(statuses)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var parts []string
	for _, st := range sorted {
		parts = append(parts, string(st))
	}
	key := "pol:" + supplier + "|" + strings.Join(parts, ",") + "|" + strconv.Itoa(offset) + "|" + strconv.Itoa(limit)
	page, stale, err := readThrough(ctx, s, supplierScope(supplier), key, func(ctx context.Context) (erp.POPage, error) {
		return s.cfg.ERP.PurchaseOrders(ctx, supplier, sorted, offset, limit)
	})
	if err != nil {
		return POPage{}, erpError(err, "purchase orders")
	}
	out := POPage{Total: page.Total, NextOffset: page.NextOffset, Stale: stale}
	for _, po := range page.Orders {
		if po.SupplierID == supplier { // the adapter checks too; never show another's
			out.Orders = append(out.Orders, po)
		}
	}
	if !stale {
		s.remember(ctx, supplier, page.Orders)
	}
	return out, nil
}

// remember caches the purchase orders a list returned under their own
// keys, so a later write finds its order even while the ERP is away.
func (s *Service) remember(ctx context.Context, supplier string, pos []*supply.PurchaseOrder) {
	if len(pos) == 0 {
		return
	}
	gens, err := s.cfg.Store.CacheGenerations(ctx, supplierScope(supplier))
	if err != nil {
		return
	}
	now := s.now()
	for _, po := range pos {
		b, err := json.Marshal(cached[*supply.PurchaseOrder]{Gen: gens[0], At: now, Data: po})
		if err == nil {
			_ = s.cfg.Store.CacheSet(ctx, poKey(po.Number), b, lastKnownTTL)
		}
	}
}

func poKey(number string) string { return "po:" + number }

func statusList() string {
	var s []string
	for _, st := range supply.Statuses() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

func checkPage(offset, limit, maxLimit int) error {
	var probs []erpgate.Problem
	if offset < 0 || offset > 1_000_000 {
		probs = append(probs, erpgate.Problem{Field: "offset", Message: "must be between 0 and 1000000"})
	}
	if limit < 1 || limit > maxLimit {
		probs = append(probs, erpgate.Problem{Field: "limit", Message: "must be between 1 and " + strconv.Itoa(maxLimit)})
	}
	if probs != nil {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid page", Problems: probs}
	}
	return nil
}

// POView is a purchase order as a supplier sees it: the ERP's order and
// the supplier's documents the ERP has not applied yet.
type POView struct {
	Order   *supply.PurchaseOrder
	Pending []*supply.Document
	Stale   bool
}

// PurchaseOrder returns supplier's purchase order number. Errors: NotFound
// (also another supplier's), Unavailable.
func (s *Service) PurchaseOrder(ctx context.Context, supplier, number string) (*POView, error) {
	po, stale, err := s.purchaseOrder(ctx, supplier, number)
	if err != nil {
		return nil, err
	}
	pending, _, err := s.cfg.Store.PendingState(ctx, supplier, number)
	if err != nil {
		return nil, err
	}
	return &POView{Order: po, Pending: pending, Stale: stale}, nil
}

func (s *Service) purchaseOrder(ctx context.Context, supplier, number string) (*supply.PurchaseOrder, bool, error) {
	if !validDocID(number) {
		return nil, false, noSuchPO()
	}
	po, stale, err := readThrough(ctx, s, supplierScope(supplier), poKey(number), func(ctx context.Context) (*supply.PurchaseOrder, error) {
		return s.cfg.ERP.PurchaseOrder(ctx, supplier, number)
	})
	if err != nil {
		if erpgate.ErrorCode(erpError(err, "purchase order")) == erpgate.NotFound {
			return nil, false, noSuchPO()
		}
		return nil, false, erpError(err, "purchase order")
	}
	if po == nil || po.SupplierID != supplier {
		// A cached copy of another supplier's order: it does not exist for
		// this one.
		return nil, false, noSuchPO()
	}
	return po, stale, nil
}

func noSuchPO() error { return erpgate.Errorf(erpgate.NotFound, "no such purchase order") }

// validDocID reports whether id can be a purchase order or document number
// (package supply's identifier rules), so that nothing else reaches a key.
func validDocID(id string) bool {
	if id == "" || len(id) > supply.MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:/-", c) >= 0) {
			return false
		}
	}
	return true
}
