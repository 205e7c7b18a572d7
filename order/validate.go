package order

import (
	"strconv"
	"time"

	"erpgate"
)

// Limits of a valid order. They are part of the API: the shop's developers,
// the SOAP schema and both ERP adapters rely on them. Text lengths count
// characters (Unicode code points); identifiers are ASCII.
const (
	MaxExternalIDLen     = 64  // external_id: [A-Za-z0-9._:-]
	MaxCustomerIDLen     = 64  // customer.id (optional): [A-Za-z0-9._:-]
	MaxNameLen           = 200 // customer.name and every address text field but postal_code
	MaxPostalCodeLen     = 20  // address postal_code
	MaxPhoneLen          = 32  // customer.phone (optional): digits, space, + - ( ) / .
	MaxLines             = 500 // lines per order (at least one)
	MaxSKULen            = 64  // lines[i].sku: [A-Za-z0-9._-]
	MaxDescriptionLen    = 500 // lines[i].description (optional, multi-line)
	MaxQuantity          = 100_000
	MaxShippingMethodLen = 64   // shipping.method
	MaxNotesLen          = 2000 // notes (optional, multi-line)
	// MaxDeliveryYears is how far ahead requested_delivery_date may lie.
	MaxDeliveryYears = 2
	// MaxProblems bounds the problems one error lists (erpgate.MaxProblems).
	MaxProblems = erpgate.MaxProblems
)

// Validate checks o as the shop sent it and reports every problem at once.
// It returns nil or an *erpgate.Error whose Problems name each field by path
// ("lines[3].unit_price", "shipping_address.country", "customer.email").
//
// The code tells the two kinds of problems apart:
//
//   - erpgate.Invalid (400): the document is malformed — a required field is
//     missing, too long, has a forbidden character or format, a code is not
//     in its ISO list, a number is outside its range, too many lines.
//   - erpgate.Unprocessable (422): every field is well-formed but the order
//     breaks a rule that relates fields or the calendar: a discount larger
//     than quantity × unit_price, an amount with more decimals than its
//     currency has (shipping.price, lines[i].discount), a total beyond
//     MaxDecimal, a requested delivery date in the past or too far ahead.
//
// When both kinds are present all problems are listed and the code is
// Invalid: the client must fix the syntax first anyway.
//
// Validate does not look at the clock, so it gives the same answer for a
// stored order tomorrow as today; it checks only the form of
// requested_delivery_date. Intake must call ValidateAt, which adds the date
// window. ID, ShopID and CreatedAt are assigned by the gateway and are not
// checked.
//
// Unit prices may have up to 4 decimals whatever the currency (prices per
// unit are often finer than the currency's minor unit); shipping price and
// discounts must fit the currency's minor unit (ISO 4217: JPY 0, EUR 2,
// BHD 3). Line and order totals are exact and may therefore carry up to 4
// decimals; an ERP rounds them by its own rules.
//
// Validate does not allocate for a valid order.
func (o *Order) Validate() error { return o.validate(time.Time{}, false) }

// ValidateAt is Validate plus the calendar rule for requested_delivery_date:
// the date must not be in the past and at most MaxDeliveryYears ahead, as
// seen at instant now. "In the past" means the day has ended everywhere on
// Earth (the date is before today in UTC−12), so a shop west of UTC never has
// its customer's "today" refused; the upper bound is the UTC date of now plus
// MaxDeliveryYears years. now comes from the caller's injected clock.
func (o *Order) ValidateAt(now time.Time) error { return o.validate(now, true) }

// EarliestDeliveryDate returns the first requested delivery date ValidateAt
// accepts at instant now, and LatestDeliveryDate the last (both midnight UTC).
func EarliestDeliveryDate(now time.Time) time.Time {
	y, m, d := now.UTC().Add(-12 * time.Hour).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// LatestDeliveryDate: see EarliestDeliveryDate.
func LatestDeliveryDate(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y+MaxDeliveryYears, m, d, 0, 0, 0, 0, time.UTC)
}

func (o *Order) validate(now time.Time, checkWindow bool) error {
	var c erpgate.ProblemList
	if o == nil {
		c.Invalid("", "the order is missing")
		return c.Err("the order")
	}
	c.Check("external_id", codeProblem(o.ExternalID, true, MaxExternalIDLen, &idChars, idCharsText))

	c.Check("customer.id", codeProblem(o.Customer.ID, false, MaxCustomerIDLen, &idChars, idCharsText))
	c.Check("customer.name", textProblem(o.Customer.Name, true, MaxNameLen, false))
	c.Check("customer.email", emailProblem(o.Customer.Email))
	c.Check("customer.phone", phoneProblem(o.Customer.Phone))

	o.ShippingAddress.check(&c, "shipping_address")
	if o.BillingAddress != nil {
		o.BillingAddress.check(&c, "billing_address")
	}

	digits, currencyOK := CurrencyDigits(o.Currency)
	switch {
	case o.Currency == "":
		c.Invalid("currency", msgRequired)
	case !currencyOK:
		c.Invalid("currency", "must be an active ISO 4217 currency code in upper case, such as EUR")
	}

	switch {
	case len(o.Lines) == 0:
		c.Invalid("lines", "at least one line is required")
	case len(o.Lines) > MaxLines:
		c.Invalid("lines", "must have at most "+strconv.Itoa(MaxLines)+" lines")
	}
	total, totalOK := Decimal(0), true
	for i := range o.Lines {
		lt, ok := o.Lines[i].check(&c, i, digits, currencyOK)
		if !ok {
			totalOK = false
			continue
		}
		if totalOK {
			total, totalOK = total.AddChecked(lt)
			if !totalOK {
				c.Unprocessable("lines", "the order total exceeds "+MaxDecimal.String())
			}
		}
	}

	c.Check("shipping.method", textProblem(o.Shipping.Method, true, MaxShippingMethodLen, false))
	if amountProblem(&c, "shipping.price", o.Shipping.Price) {
		currencyProblem(&c, "shipping.price", o.Shipping.Price, digits, currencyOK)
		if totalOK {
			if _, ok := total.AddChecked(o.Shipping.Price); !ok {
				c.Unprocessable("shipping.price", "the order total exceeds "+MaxDecimal.String())
			}
		}
	}

	if o.RequestedDeliveryDate != "" {
		d, ok := ParseDate(o.RequestedDeliveryDate)
		switch {
		case !ok:
			c.Invalid("requested_delivery_date", "must be a date YYYY-MM-DD")
		case checkWindow && d.Before(EarliestDeliveryDate(now)):
			c.Unprocessable("requested_delivery_date", "must not be in the past")
		case checkWindow && d.After(LatestDeliveryDate(now)):
			c.Unprocessable("requested_delivery_date", "must be at most "+strconv.Itoa(MaxDeliveryYears)+" years ahead")
		}
	}
	c.Check("notes", textProblem(o.Notes, false, MaxNotesLen, true))
	return c.Err("the order")
}

// check validates one line. It returns the line total and whether it could be
// computed (every amount well-formed and the product in range).
func (l *Line) check(c *erpgate.ProblemList, i int, digits int, currencyOK bool) (Decimal, bool) {
	if msg := codeProblem(l.SKU, true, MaxSKULen, &skuChars, skuCharsText); msg != "" {
		c.Invalid(linePath(i, "sku"), msg)
	}
	if msg := textProblem(l.Description, false, MaxDescriptionLen, true); msg != "" {
		c.Invalid(linePath(i, "description"), msg)
	}
	qtyOK := l.Quantity >= 1 && l.Quantity <= MaxQuantity
	if !qtyOK {
		c.Invalid(linePath(i, "quantity"), "must be between 1 and "+strconv.Itoa(MaxQuantity))
	}
	priceOK := l.UnitPrice.InRange() && l.UnitPrice >= 0
	if !priceOK {
		amountProblem(c, linePath(i, "unit_price"), l.UnitPrice)
	}
	discOK := l.Discount.InRange() && l.Discount >= 0
	if !discOK {
		amountProblem(c, linePath(i, "discount"), l.Discount)
	} else if currencyOK && l.Discount.FracDigits() > digits {
		currencyProblem(c, linePath(i, "discount"), l.Discount, digits, currencyOK)
	}
	if !qtyOK || !priceOK || !discOK {
		return 0, false
	}
	gross, ok := l.UnitPrice.MulIntChecked(l.Quantity)
	if !ok {
		c.Unprocessable(linePath(i, "quantity"), "quantity × unit_price exceeds "+MaxDecimal.String())
		return 0, false
	}
	if l.Discount > gross {
		c.Unprocessable(linePath(i, "discount"), "must not exceed quantity × unit_price ("+gross.String()+")")
		return 0, false
	}
	return gross - l.Discount, true
}

// linePath returns "lines[i].name"; called only when there is a problem.
func linePath(i int, name string) string {
	return "lines[" + strconv.Itoa(i) + "]." + name
}

// amountProblem reports an amount outside 0..MaxDecimal as Invalid and
// returns whether the amount is fine.
func amountProblem(c *erpgate.ProblemList, field string, d Decimal) bool {
	switch {
	case !d.InRange():
		c.Invalid(field, "must be at most "+MaxDecimal.String())
		return false
	case d < 0:
		c.Invalid(field, "must not be negative")
		return false
	}
	return true
}

// currencyProblem reports an amount with more decimals than the currency's
// minor unit as Unprocessable.
func currencyProblem(c *erpgate.ProblemList, field string, d Decimal, digits int, currencyOK bool) {
	if !currencyOK || d.FracDigits() <= digits {
		return
	}
	if digits == 0 {
		c.Unprocessable(field, "must be a whole amount in this currency")
		return
	}
	c.Unprocessable(field, "must have at most "+strconv.Itoa(digits)+" decimals in this currency")
}

// check validates a (shipping or billing) address under prefix.
func (a *Address) check(c *erpgate.ProblemList, prefix string) {
	p := func(name string) string { return prefix + "." + name }
	if msg := textProblem(a.Name, true, MaxNameLen, false); msg != "" {
		c.Invalid(p("name"), msg)
	}
	if msg := textProblem(a.Line1, true, MaxNameLen, false); msg != "" {
		c.Invalid(p("line1"), msg)
	}
	if msg := textProblem(a.Line2, false, MaxNameLen, false); msg != "" {
		c.Invalid(p("line2"), msg)
	}
	if msg := textProblem(a.City, true, MaxNameLen, false); msg != "" {
		c.Invalid(p("city"), msg)
	}
	if msg := textProblem(a.PostalCode, true, MaxPostalCodeLen, false); msg != "" {
		c.Invalid(p("postal_code"), msg)
	}
	if msg := textProblem(a.Region, false, MaxNameLen, false); msg != "" {
		c.Invalid(p("region"), msg)
	}
	switch {
	case a.Country == "":
		c.Invalid(p("country"), msgRequired)
	case !IsCountry(a.Country):
		c.Invalid(p("country"), "must be an assigned ISO 3166-1 alpha-2 country code in upper case, such as DE")
	}
}

// Problems returns the problems of a under the field prefix (for example
// "ship_to"), for documents of other packages that embed an Address. Every
// address problem is a syntax problem (erpgate.Invalid).
func (a *Address) Problems(prefix string) []erpgate.Problem {
	var c erpgate.ProblemList
	a.check(&c, prefix)
	return c.List()
}
