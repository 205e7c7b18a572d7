// Package order holds the canonical, version-neutral web order: the one shape
// every interface translates to and from (REST, SOAP, ERP v1, ERP v2), its
// validation and its money type.
//
// The JSON form of these types is the canonical record: it is what the store
// keeps in Redis and what the REST API shows. It has no dependencies beyond
// the standard library and the root erpgate package.
package order

import "time"

// Order is a customer's web order as the shop sent it, plus the identity the
// gateway gave it. Everything an ERP version cannot carry must still survive a
// round trip through that version's adapter.
type Order struct {
	// ID is assigned by the gateway at intake ("ord_" + 26 base32 chars). It is
	// the stable external reference sent to every ERP.
	ID string `json:"id,omitempty"`
	// ShopID is the authenticated shop (client id) that placed the order.
	ShopID string `json:"shop_id,omitempty"`
	// ExternalID is the shop's own order number; (ShopID, ExternalID) is unique.
	ExternalID string `json:"external_id"`

	Customer        Customer `json:"customer"`
	ShippingAddress Address  `json:"shipping_address"`
	BillingAddress  *Address `json:"billing_address,omitempty"`

	// Currency is an ISO 4217 alphabetic code, e.g. "EUR".
	Currency string   `json:"currency"`
	Lines    []Line   `json:"lines"`
	Shipping Shipping `json:"shipping"`

	// RequestedDeliveryDate is a civil date "YYYY-MM-DD", or empty.
	RequestedDeliveryDate string `json:"requested_delivery_date,omitempty"`
	Notes                 string `json:"notes,omitempty"`

	// CreatedAt is when the gateway accepted the order (UTC, set at intake).
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Customer is who ordered.
type Customer struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

// Address is a postal address. Country is ISO 3166-1 alpha-2.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Region     string `json:"region,omitempty"`
	Country    string `json:"country"`
}

// Line is one order line. Discount is an amount per line (not per unit), in
// the order's currency, and is never more than Quantity × UnitPrice.
type Line struct {
	SKU         string  `json:"sku"`
	Description string  `json:"description,omitempty"`
	Quantity    int64   `json:"quantity"`
	UnitPrice   Decimal `json:"unit_price"`
	Discount    Decimal `json:"discount,omitzero"`
}

// Shipping is how the order travels and what that costs.
type Shipping struct {
	Method string  `json:"method"`
	Price  Decimal `json:"price"`
}

// LineTotal returns quantity × unit price − discount.
func (l Line) LineTotal() Decimal {
	return l.UnitPrice.MulInt(l.Quantity).Sub(l.Discount)
}

// Total returns the sum of line totals plus shipping.
func (o *Order) Total() Decimal {
	var t Decimal
	for _, l := range o.Lines {
		t = t.Add(l.LineTotal())
	}
	return t.Add(o.Shipping.Price)
}
