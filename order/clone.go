package order

import "slices"

// Clone returns a deep copy of o (nil for nil), so a copy can be changed
// without touching the original's lines or billing address.
func (o *Order) Clone() *Order {
	if o == nil {
		return nil
	}
	c := *o
	if o.BillingAddress != nil {
		b := *o.BillingAddress
		c.BillingAddress = &b
	}
	c.Lines = slices.Clone(o.Lines)
	return &c
}
