package gateway

// The shop's read side of stage 1: the catalog with price, stock available
// to promise and inbound supply (open purchase orders with the supplier's
// promised and expected dates), read from the ERP's v2 interface through
// the Redis cache. Supplier stock advices, acknowledgements and shipping
// notices, and every delivery result of a supplier document, invalidate it
// (generation "catalog"), so the shop sees a supplier's news at once; the
// TTL catches what changes inside the ERP (receipts, allocations).
//
//	GET /v1/catalog/items?offset=&limit=   (shop key) one page, catalog order
//	GET /v1/catalog/items/{sku}            (shop key) one item

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/erp"
	"erpgate/supplier"
)

// catalogItemJSON is an item as the shop sees it: no supplier ids.
type catalogItemJSON struct {
	SKU          string        `json:"sku"`
	Name         string        `json:"name"`
	Price        string        `json:"price"`
	Currency     string        `json:"currency"`
	Available    int64         `json:"available"`
	LeadTimeDays int           `json:"lead_time_days"`
	Inbound      []inboundJSON `json:"inbound"`
}

type inboundJSON struct {
	PONumber              string `json:"po_number"`
	Quantity              int64  `json:"quantity"`
	Status                string `json:"status"`
	RequestedDeliveryDate string `json:"requested_delivery_date,omitempty"`
	PromisedDate          string `json:"promised_date,omitempty"`
	ExpectedDelivery      string `json:"expected_delivery,omitempty"`
}

type catalogPageJSON struct {
	Items      []catalogItemJSON `json:"items"`
	Total      int               `json:"total"`
	NextOffset int               `json:"next_offset,omitempty"`
	Stale      bool              `json:"stale,omitempty"`
}

func catalogItemView(it erp.CatalogItem) catalogItemJSON {
	out := catalogItemJSON{SKU: it.SKU, Name: it.Name, Price: it.Price.String(), Currency: it.Currency,
		Available: it.Available, LeadTimeDays: it.LeadTimeDays, Inbound: []inboundJSON{}}
	for _, in := range it.Inbound {
		out.Inbound = append(out.Inbound, inboundJSON{PONumber: in.PONumber, Quantity: in.Quantity, Status: string(in.Status),
			RequestedDeliveryDate: in.RequestedDeliveryDate, PromisedDate: in.PromisedDate, ExpectedDelivery: in.ExpectedDelivery})
	}
	return out
}

func handleCatalogItems(svc *supplier.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		offset, limit, err := pageParams(c)
		if err != nil {
			return err
		}
		p, err := svc.CatalogItems(c.Request().Context(), offset, limit)
		if err != nil {
			return err
		}
		out := catalogPageJSON{Items: []catalogItemJSON{}, Total: p.Total, NextOffset: p.NextOffset, Stale: p.Stale}
		for _, it := range p.Items {
			out.Items = append(out.Items, catalogItemView(it))
		}
		setStale(c, p.Stale)
		return c.JSON(http.StatusOK, out)
	}
}

func handleCatalogItem(svc *supplier.Service) echo.HandlerFunc {
	return func(c echo.Context) error {
		it, stale, err := svc.CatalogItem(c.Request().Context(), c.Param("sku"))
		if err != nil {
			return err
		}
		setStale(c, stale)
		return c.JSON(http.StatusOK, catalogItemView(it))
	}
}

// setStale marks an answer served from the last copy because the ERP could
// not be asked (RFC 9111's Warning is obsolete; this header is ours).
func setStale(c echo.Context, stale bool) {
	if stale {
		c.Response().Header().Set("X-Erpgate-Stale", "true")
	}
}

// pageParams reads ?offset= and ?limit= (0 when absent).
func pageParams(c echo.Context) (offset, limit int, err error) {
	var probs []erpgate.Problem
	num := func(name string) int {
		v := c.QueryParam(name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			probs = append(probs, erpgate.Problem{Field: name, Message: "must be a non-negative integer"})
		}
		return n
	}
	offset, limit = num("offset"), num("limit")
	if probs != nil {
		return 0, 0, &erpgate.Error{Code: erpgate.Invalid, Message: "invalid page", Problems: probs}
	}
	if c.QueryParam("limit") != "" && limit == 0 {
		return 0, 0, &erpgate.Error{Code: erpgate.Invalid, Message: "invalid page",
			Problems: []erpgate.Problem{{Field: "limit", Message: "must be at least 1"}}}
	}
	return offset, limit, nil
}
