package supplier

// The shop's read side of stage 1: the catalog with price, stock available
// to promise and inbound supply (open purchase orders with the supplier's
// promised and expected dates), read from the ERP's v2 interface through
// the Redis cache. Supplier stock advices, acknowledgements and shipping
// notices, and every delivery result of a supplier document, invalidate it
// (generation "catalog"), so the shop sees a supplier's news at once; the
// TTL catches what changes inside the ERP (receipts, allocations).

import (
	"context"
	"strconv"

	"erpgate"
	"erpgate/erp"
)

// Catalog page sizes.
const (
	MaxCatalogPage     = 100
	DefaultCatalogPage = 50
)

// CatalogPage is one page of the catalog.
type CatalogPage struct {
	Items      []erp.CatalogItem
	Total      int
	NextOffset int
	Stale      bool
}

// CatalogItems returns one page of the catalog. Errors: Invalid (page),
// Unavailable.
func (s *Service) CatalogItems(ctx context.Context, offset, limit int) (CatalogPage, error) {
	if limit == 0 {
		limit = DefaultCatalogPage
	}
	if err := checkPage(offset, limit, MaxCatalogPage); err != nil {
		return CatalogPage{}, err
	}
	key := "cat:" + strconv.Itoa(offset) + "|" + strconv.Itoa(limit)
	p, stale, err := readThrough(ctx, s, catalogScope, key, func(ctx context.Context) (erp.CatalogPage, error) {
		return s.cfg.ERP.CatalogItems(ctx, offset, limit)
	})
	if err != nil {
		return CatalogPage{}, erpError(err, "catalog")
	}
	return CatalogPage{Items: p.Items, Total: p.Total, NextOffset: p.NextOffset, Stale: stale}, nil
}

// CatalogItem returns one item. Errors: NotFound, Unavailable.
func (s *Service) CatalogItem(ctx context.Context, sku string) (erp.CatalogItem, bool, error) {
	if !validDocID(sku) {
		return erp.CatalogItem{}, false, erpgate.Errorf(erpgate.NotFound, "no such item")
	}
	it, stale, err := readThrough(ctx, s, catalogScope, "cat:item:"+sku, func(ctx context.Context) (erp.CatalogItem, error) {
		return s.cfg.ERP.CatalogItem(ctx, sku)
	})
	if err != nil {
		if erpgate.ErrorCode(erpError(err, "item")) == erpgate.NotFound {
			return erp.CatalogItem{}, false, erpgate.Errorf(erpgate.NotFound, "no such item")
		}
		return erp.CatalogItem{}, false, erpError(err, "item")
	}
	return it, stale, nil
}

// catalogAll returns the whole catalog (up to erp.MaxCatalogPage items),
// for checks that need every sku.
func (s *Service) catalogAll(ctx context.Context) ([]erp.CatalogItem, bool, error) {
	p, stale, err := readThrough(ctx, s, catalogScope, "cat:all", func(ctx context.Context) (erp.CatalogPage, error) {
		return s.cfg.ERP.CatalogItems(ctx, 0, erp.MaxCatalogPage)
	})
	if err != nil {
		return nil, false, erpError(err, "catalog")
	}
	return p.Items, stale, nil
}

// ProductNames returns every catalog item's name by SKU (the tracking
// page's product names).
func (s *Service) ProductNames(ctx context.Context) (map[string]string, error) {
	items, _, err := s.catalogAll(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(items))
	for _, it := range items {
		names[it.SKU] = it.Name
	}
	return names, nil
}
