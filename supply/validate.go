package supply

import (
	"strconv"
	"time"

	"erpgate"
	"erpgate/order"
)

// collector is the one problem list (erpgate.ProblemList) with the field
// checks the supplier documents share.
type collector struct{ erpgate.ProblemList }

func path(prefix string, i int, name string) string {
	p := prefix + "[" + strconv.Itoa(i) + "]"
	if name != "" {
		p += "." + name
	}
	return p
}

// idChars: identifiers of purchase orders, documents and suppliers. '/' is
// allowed because ERP and supplier document numbers often use it
// ("PO/2024/0001").
var idChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = true, true
	}
	for _, c := range "._:/-" {
		t[c] = true
	}
	return t
}()

// skuChars is order's sku set: [A-Za-z0-9._-].
var skuChars = func() (t [256]bool) {
	t = idChars
	t[':'], t['/'] = false, false
	return t
}()

func codeProblem(s string, required bool, maxLen int, set *[256]bool, what string) string {
	if s == "" {
		if required {
			return "is required"
		}
		return ""
	}
	if len(s) > maxLen {
		return "must be at most " + strconv.Itoa(maxLen) + " characters"
	}
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return "may contain only " + what
		}
	}
	return ""
}

func idProblem(s string) string {
	return codeProblem(s, true, MaxIDLen, &idChars, "letters, digits and . _ : / -")
}

func skuProblem(s string) string {
	return codeProblem(s, true, order.MaxSKULen, &skuChars, "letters, digits and . _ -")
}

// unitProblem: a UN/ECE Recommendation 20 code, 1–3 of [A-Z0-9].
func unitProblem(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > 3 {
		return "must be a UN/ECE Rec 20 unit code such as EA"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "must be a UN/ECE Rec 20 unit code such as EA"
		}
	}
	return ""
}

// date checks a required or optional civil date and returns it with ok.
func (c *collector) date(field, s string, required bool) (time.Time, bool) {
	if s == "" {
		if required {
			c.Invalid(field, "is required")
		}
		return time.Time{}, false
	}
	d, ok := order.ParseDate(s)
	if !ok {
		c.Invalid(field, "must be a date YYYY-MM-DD")
	}
	return d, ok
}

func (c *collector) quantity(field string, q int64, min int64) bool {
	if q < min || q > MaxQuantity {
		c.Invalid(field, "must be between "+strconv.FormatInt(min, 10)+" and "+strconv.Itoa(MaxQuantity))
		return false
	}
	return true
}

// amount checks 0 ≤ d ≤ MaxDecimal and, when digits ≥ 0, that d fits the
// currency's minor unit (an Unprocessable problem).
func (c *collector) amount(field string, d order.Decimal, digits int) bool {
	switch {
	case !d.InRange():
		c.Invalid(field, "must be at most "+order.MaxDecimal.String())
		return false
	case d < 0:
		c.Invalid(field, "must not be negative")
		return false
	case digits >= 0 && d.FracDigits() > digits:
		c.Unprocessable(field, "must have at most "+strconv.Itoa(digits)+" decimals in this currency")
		return false
	}
	return true
}

// lineNumbers checks that line numbers are positive and unique; n(i) returns
// the i-th number.
func (c *collector) lineNumbers(prefix string, count int, n func(int) int) {
	seen := make(map[int]int, count)
	for i := range count {
		ln := n(i)
		if ln < 1 {
			c.Invalid(path(prefix, i, "line_number"), "must be at least 1")
			continue
		}
		if j, dup := seen[ln]; dup {
			c.Invalid(path(prefix, i, "line_number"), "repeats line "+strconv.Itoa(ln)+" of "+path(prefix, j, ""))
			continue
		}
		seen[ln] = i
	}
}

func (c *collector) lineCount(field string, n int) {
	switch {
	case n == 0:
		c.Invalid(field, "at least one line is required")
	case n > MaxLines:
		c.Invalid(field, "must have at most "+strconv.Itoa(MaxLines)+" lines")
	}
}

func addYears(d time.Time, years int) time.Time { return d.AddDate(years, 0, 0) }

// Validate checks the purchase order as the ERP issued it and the integrity
// of its progress (quantities ordered ≥ confirmed ≥ shipped ≥ received,
// invoiced ≤ shipped, shipments adding up to the lines, status matching the
// quantities), so a record read back from a store or the ERP can be trusted.
func (po *PurchaseOrder) Validate() error {
	var c collector
	c.Check("number", idProblem(po.Number))
	c.Check("supplier_id", idProblem(po.SupplierID))
	issued, issuedOK := c.date("issue_date", po.IssueDate, true)
	switch po.Origin {
	case OriginReplenishment, OriginCustomerOrder:
	case "":
		c.Invalid("origin", "is required")
	default:
		c.Invalid("origin", "must be replenishment or customer_order")
	}
	if len(po.CustomerOrders) > MaxLines {
		c.Invalid("customer_orders", "must have at most "+strconv.Itoa(MaxLines)+" entries")
	}
	for i, id := range po.CustomerOrders {
		c.Check(path("customer_orders", i, ""), codeProblem(id, true, MaxIDLen, &idChars, "letters, digits and . _ : / -"))
	}
	if _, ok := order.CurrencyDigits(po.Currency); !ok {
		c.Invalid("currency", "must be an active ISO 4217 currency code in upper case, such as EUR")
	}
	if d, ok := c.date("requested_delivery_date", po.RequestedDeliveryDate, true); ok && issuedOK {
		if d.Before(issued) {
			c.Unprocessable("requested_delivery_date", "must not be before issue_date")
		} else if d.After(addYears(issued, MaxHorizonYears)) {
			c.Unprocessable("requested_delivery_date", "must be at most "+strconv.Itoa(MaxHorizonYears)+" years after issue_date")
		}
	}
	for _, p := range po.ShipTo.Problems("ship_to") {
		c.Invalid(p.Field, p.Message)
	}
	c.Check("notes", order.TextProblem(po.Notes, false, MaxNotesLen, true))

	c.lineCount("lines", len(po.Lines))
	c.lineNumbers("lines", len(po.Lines), func(i int) int { return po.Lines[i].LineNumber })
	for i := range po.Lines {
		po.Lines[i].check(&c, i)
	}
	if _, ok := po.Total(); !ok {
		c.Unprocessable("lines", "the order total exceeds "+order.MaxDecimal.String())
	}
	po.checkProgress(&c)
	return c.Err("the purchase order")
}

func (l *POLine) check(c *collector, i int) {
	c.Check(path("lines", i, "sku"), skuProblem(l.SKU))
	c.Check(path("lines", i, "supplier_part_number"), order.TextProblem(l.SupplierPartNumber, false, MaxPartNumberLen, false))
	c.Check(path("lines", i, "description"), order.TextProblem(l.Description, false, MaxDescriptionLen, true))
	c.quantity(path("lines", i, "quantity"), l.Quantity, 1)
	c.Check(path("lines", i, "unit"), unitProblem(l.Unit))
	c.amount(path("lines", i, "unit_price"), l.UnitPrice, -1)

	// Progress.
	p := func(name string) string { return path("lines", i, name) }
	switch {
	case l.AckStatus == "":
		if l.ConfirmedQuantity != 0 || l.PromisedDate != "" || l.ShippedQuantity != 0 {
			c.Invalid(p("ack_status"), "is required once the line has a confirmed quantity, promised date or shipment")
		}
	case !l.AckStatus.Valid():
		c.Invalid(p("ack_status"), "must be accepted, rejected, changed or backordered")
	case l.AckStatus == LineRejected && (l.ConfirmedQuantity != 0 || l.PromisedDate != ""):
		c.Invalid(p("confirmed_quantity"), "must be 0 with no promised date on a rejected line")
	case l.AckStatus != LineRejected && l.ConfirmedQuantity < 1:
		c.Invalid(p("confirmed_quantity"), "must be at least 1 on a confirmed line")
	}
	if l.PromisedDate != "" {
		c.date(p("promised_date"), l.PromisedDate, false)
	}
	switch {
	case l.ConfirmedQuantity < 0 || l.ConfirmedQuantity > l.Quantity:
		c.Invalid(p("confirmed_quantity"), "must be between 0 and the ordered quantity")
	case l.ShippedQuantity < 0 || l.ShippedQuantity > l.ConfirmedQuantity:
		c.Invalid(p("shipped_quantity"), "must be between 0 and the confirmed quantity")
	}
	if l.ReceivedQuantity < 0 || l.ReceivedQuantity > l.ShippedQuantity {
		c.Invalid(p("received_quantity"), "must be between 0 and the shipped quantity")
	}
	if l.InvoicedQuantity < 0 || l.InvoicedQuantity > l.ShippedQuantity {
		c.Invalid(p("invoiced_quantity"), "must be between 0 and the shipped quantity")
	}
}

// checkProgress checks the document lists against the line quantities and
// the status against the one the quantities give.
func (po *PurchaseOrder) checkProgress(c *collector) {
	for _, d := range []struct {
		name string
		n    int
	}{{"acknowledgements", len(po.Acknowledgements)}, {"shipments", len(po.Shipments)}, {"receipts", len(po.Receipts)}, {"invoices", len(po.Invoices)}} {
		if d.n > MaxDocuments {
			c.Invalid(d.name, "must have at most "+strconv.Itoa(MaxDocuments)+" entries")
		}
	}
	shipped := map[int][3]int64{} // line number → shipped, received, invoiced over all shipments
	ids := map[string]bool{}
	for i, s := range po.Shipments {
		c.Check(path("shipments", i, "id"), idProblem(s.ID))
		if ids[s.ID] {
			c.Invalid(path("shipments", i, "id"), "repeats an earlier shipment")
		}
		ids[s.ID] = true
		for j, l := range s.Lines {
			f := path("shipments", i, "lines") + "[" + strconv.Itoa(j) + "]"
			if po.Line(l.LineNumber) < 0 {
				c.Invalid(f+".line_number", "names no line of the order")
				continue
			}
			if l.Quantity < 1 || l.Received < 0 || l.Invoiced < 0 || l.Received > l.Quantity || l.Invoiced > l.Quantity {
				c.Invalid(f, "needs 0 ≤ received, invoiced ≤ quantity and quantity ≥ 1")
				continue
			}
			t := shipped[l.LineNumber]
			shipped[l.LineNumber] = [3]int64{t[0] + l.Quantity, t[1] + l.Received, t[2] + l.Invoiced}
		}
	}
	for i, l := range po.Lines {
		t := shipped[l.LineNumber]
		if t[0] != l.ShippedQuantity || t[1] != l.ReceivedQuantity || t[2] != l.InvoicedQuantity {
			c.Invalid(path("lines", i, ""), "shipped, received and invoiced quantities do not match the shipments")
		}
	}
	switch {
	case !po.Status.Valid():
		c.Invalid("status", "must be one of the purchase order statuses")
	case po.Status.Terminal():
		if po.Status == StatusCancelled && po.anyShipped() {
			c.Invalid("status", "a purchase order with shipments cannot be cancelled")
		}
	case c.Empty() && po.Status != po.derivedStatus():
		c.Invalid("status", "must be "+string(po.derivedStatus())+" for these quantities")
	}
	c.Check("status_reason", order.TextProblem(po.StatusReason, false, MaxReasonLen, false))
}

func (po *PurchaseOrder) anyShipped() bool {
	for _, l := range po.Lines {
		if l.ShippedQuantity > 0 {
			return true
		}
	}
	return false
}

// Validate checks the acknowledgement on its own. A promised date before the
// acknowledgement's date is Unprocessable; everything else Invalid.
func (a *Acknowledgement) Validate() error {
	var c collector
	c.Check("id", idProblem(a.ID))
	c.Check("po_number", idProblem(a.PONumber))
	c.Check("supplier_id", idProblem(a.SupplierID))
	date, dateOK := c.date("date", a.Date, true)
	c.lineCount("lines", len(a.Lines))
	c.lineNumbers("lines", len(a.Lines), func(i int) int { return a.Lines[i].LineNumber })
	for i, l := range a.Lines {
		p := func(name string) string { return path("lines", i, name) }
		switch l.Status {
		case LineAccepted:
			c.quantity(p("quantity"), l.Quantity, 0)
		case LineChanged, LineBackordered:
			c.quantity(p("quantity"), l.Quantity, 1)
		case LineRejected:
			if l.Quantity != 0 {
				c.Invalid(p("quantity"), "must be empty on a rejected line")
			}
			if l.PromisedDate != "" {
				c.Invalid(p("promised_date"), "must be empty on a rejected line")
			}
		case "":
			c.Invalid(p("status"), "is required")
		default:
			c.Invalid(p("status"), "must be accepted, rejected, changed or backordered")
		}
		if l.Status != LineRejected {
			if d, ok := c.date(p("promised_date"), l.PromisedDate, true); ok && dateOK {
				if d.Before(date) {
					c.Unprocessable(p("promised_date"), "must not be before the acknowledgement date")
				} else if d.After(addYears(date, MaxHorizonYears)) {
					c.Unprocessable(p("promised_date"), "must be at most "+strconv.Itoa(MaxHorizonYears)+" years after the acknowledgement date")
				}
			}
		}
		c.Check(p("reason"), order.TextProblem(l.Reason, false, MaxReasonLen, false))
	}
	c.Check("notes", order.TextProblem(a.Notes, false, MaxNotesLen, true))
	return c.Err("the acknowledgement")
}

// Validate checks the shipping notice on its own: expected delivery within
// MaxTransitDays after the ship date, and package contents (when given)
// adding up to the lines are Unprocessable; everything else Invalid.
func (n *ShippingNotice) Validate() error {
	var c collector
	c.Check("id", idProblem(n.ID))
	c.Check("po_number", idProblem(n.PONumber))
	c.Check("supplier_id", idProblem(n.SupplierID))
	ship, shipOK := c.date("ship_date", n.ShipDate, true)
	if exp, ok := c.date("expected_delivery", n.ExpectedDelivery, true); ok && shipOK {
		if exp.Before(ship) {
			c.Unprocessable("expected_delivery", "must not be before ship_date")
		} else if exp.After(ship.AddDate(0, 0, MaxTransitDays)) {
			c.Unprocessable("expected_delivery", "must be at most "+strconv.Itoa(MaxTransitDays)+" days after ship_date")
		}
	}
	c.Check("carrier", order.TextProblem(n.Carrier, true, MaxCarrierLen, false))
	c.Check("tracking_number", order.TextProblem(n.TrackingNumber, false, MaxTrackingLen, false))
	c.lineCount("lines", len(n.Lines))
	c.lineNumbers("lines", len(n.Lines), func(i int) int { return n.Lines[i].LineNumber })
	lineQty := make(map[int]int64, len(n.Lines))
	for i, l := range n.Lines {
		c.quantity(path("lines", i, "quantity"), l.Quantity, 1)
		lineQty[l.LineNumber] = l.Quantity
	}

	if len(n.Packages) > MaxPackages {
		c.Invalid("packages", "must have at most "+strconv.Itoa(MaxPackages)+" packages")
	}
	packed := map[int]int64{}
	withContents := false
	pkgIDs := map[string]int{}
	for i, pk := range n.Packages {
		c.Check(path("packages", i, "id"), codeProblem(pk.ID, true, MaxIDLen, &idChars, "letters, digits and . _ : / -"))
		if j, dup := pkgIDs[pk.ID]; dup && pk.ID != "" {
			c.Invalid(path("packages", i, "id"), "repeats "+path("packages", j, "id"))
		}
		pkgIDs[pk.ID] = i
		if !pk.WeightKG.InRange() || pk.WeightKG < 0 || pk.WeightKG > order.Decimal(MaxPackageWeightKG)*10000 {
			c.Invalid(path("packages", i, "weight_kg"), "must be between 0 and "+strconv.Itoa(MaxPackageWeightKG))
		}
		if len(pk.Contents) > MaxLines {
			c.Invalid(path("packages", i, "contents"), "must have at most "+strconv.Itoa(MaxLines)+" entries")
		}
		for j, ct := range pk.Contents {
			withContents = true
			f := path("packages", i, "contents") + "[" + strconv.Itoa(j) + "]"
			if c.quantity(f+".quantity", ct.Quantity, 1) {
				packed[ct.LineNumber] += ct.Quantity
			}
			if _, ok := lineQty[ct.LineNumber]; !ok {
				c.Unprocessable(f+".line_number", "names no line of this notice")
			}
		}
	}
	if withContents {
		for i, l := range n.Lines {
			if packed[l.LineNumber] != l.Quantity {
				c.Unprocessable(path("lines", i, "quantity"), "packages contain "+strconv.FormatInt(packed[l.LineNumber], 10)+" of line "+strconv.Itoa(l.LineNumber))
			}
		}
	}
	c.Check("notes", order.TextProblem(n.Notes, false, MaxNotesLen, true))
	return c.Err("the shipping notice")
}

// Validate checks the goods receipt on its own (all problems Invalid).
func (r *GoodsReceipt) Validate() error {
	var c collector
	c.Check("id", idProblem(r.ID))
	c.Check("po_number", idProblem(r.PONumber))
	c.Check("shipment_id", idProblem(r.ShipmentID))
	c.date("date", r.Date, true)
	c.lineCount("lines", len(r.Lines))
	c.lineNumbers("lines", len(r.Lines), func(i int) int { return r.Lines[i].LineNumber })
	for i, l := range r.Lines {
		c.quantity(path("lines", i, "quantity"), l.Quantity, 1)
	}
	return c.Err("the goods receipt")
}

// Validate checks the stock advice without looking at the clock; ValidateAt
// adds the freshness rules.
func (s *StockAdvice) Validate() error { return s.validate(time.Time{}, false) }

// ValidateAt is Validate plus: AsOf no later than now + ClockSkew and no
// older than MaxStockAge (Unprocessable).
func (s *StockAdvice) ValidateAt(now time.Time) error { return s.validate(now, true) }

func (s *StockAdvice) validate(now time.Time, clock bool) error {
	var c collector
	c.Check("id", idProblem(s.ID))
	c.Check("supplier_id", idProblem(s.SupplierID))
	switch {
	case s.AsOf.IsZero():
		c.Invalid("as_of", "is required")
	case clock && s.AsOf.After(now.Add(ClockSkew)):
		c.Unprocessable("as_of", "must not be in the future")
	case clock && s.AsOf.Before(now.Add(-MaxStockAge)):
		c.Unprocessable("as_of", "is older than "+strconv.Itoa(int(MaxStockAge/(24*time.Hour)))+" days")
	}
	asOfDay, _ := order.ParseDate(order.FormatDate(s.AsOf.UTC()))
	switch {
	case len(s.Items) == 0:
		c.Invalid("items", "at least one item is required")
	case len(s.Items) > MaxStockItems:
		c.Invalid("items", "must have at most "+strconv.Itoa(MaxStockItems)+" items")
	}
	seen := make(map[string]int, len(s.Items))
	for i, it := range s.Items {
		p := func(name string) string { return path("items", i, name) }
		if msg := skuProblem(it.SKU); msg != "" {
			c.Invalid(p("sku"), msg)
		} else if j, dup := seen[it.SKU]; dup {
			c.Invalid(p("sku"), "repeats "+path("items", j, "sku"))
		} else {
			seen[it.SKU] = i
		}
		c.Check(p("supplier_part_number"), order.TextProblem(it.SupplierPartNumber, false, MaxPartNumberLen, false))
		c.quantity(p("available"), it.Available, 0)
		c.Check(p("unit"), unitProblem(it.Unit))
		if it.LeadTimeDays < 0 || it.LeadTimeDays > MaxLeadTimeDays {
			c.Invalid(p("lead_time_days"), "must be between 0 and "+strconv.Itoa(MaxLeadTimeDays))
		}
		d, ok := c.date(p("next_available_date"), it.NextAvailableDate, false)
		if ok && !s.AsOf.IsZero() {
			if d.Before(asOfDay) {
				c.Unprocessable(p("next_available_date"), "must not be before as_of")
			} else if d.After(addYears(asOfDay, MaxHorizonYears)) {
				c.Unprocessable(p("next_available_date"), "must be at most "+strconv.Itoa(MaxHorizonYears)+" years after as_of")
			}
		}
		if it.NextAvailableQuantity != 0 {
			c.quantity(p("next_available_quantity"), it.NextAvailableQuantity, 1)
			if it.NextAvailableDate == "" {
				c.Invalid(p("next_available_date"), "is required with next_available_quantity")
			}
		}
	}
	return c.Err("the stock advice")
}

// Validate checks the invoice on its own, including that it adds up: each
// line's Amount is Quantity × UnitPrice rounded to the currency's minor unit,
// Subtotal is the sum of the amounts, Total is Subtotal + Tax, all exact;
// amounts fit the currency's minor unit; the due date is within
// MaxPaymentDays after the invoice date. Those are Unprocessable; malformed
// fields are Invalid.
func (inv *Invoice) Validate() error {
	var c collector
	c.Check("id", idProblem(inv.ID))
	c.Check("po_number", idProblem(inv.PONumber))
	c.Check("supplier_id", idProblem(inv.SupplierID))
	c.Check("shipment_id", idProblem(inv.ShipmentID))
	date, dateOK := c.date("date", inv.Date, true)
	if due, ok := c.date("due_date", inv.DueDate, false); ok && dateOK {
		if due.Before(date) {
			c.Unprocessable("due_date", "must not be before date")
		} else if due.After(date.AddDate(0, 0, MaxPaymentDays)) {
			c.Unprocessable("due_date", "must be at most "+strconv.Itoa(MaxPaymentDays)+" days after date")
		}
	}
	digits, currencyOK := order.CurrencyDigits(inv.Currency)
	if !currencyOK {
		c.Invalid("currency", "must be an active ISO 4217 currency code in upper case, such as EUR")
		digits = -1 // do not judge decimals against an unknown currency
	}
	c.lineCount("lines", len(inv.Lines))
	c.lineNumbers("lines", len(inv.Lines), func(i int) int { return inv.Lines[i].LineNumber })
	var sum order.Decimal
	sumOK := true
	for i, l := range inv.Lines {
		p := func(name string) string { return path("lines", i, name) }
		c.Check(p("sku"), codeProblem(l.SKU, false, order.MaxSKULen, &skuChars, "letters, digits and . _ -"))
		qtyOK := c.quantity(p("quantity"), l.Quantity, 1)
		priceOK := c.amount(p("unit_price"), l.UnitPrice, -1)
		amountOK := c.amount(p("amount"), l.Amount, digits)
		if !amountOK {
			sumOK = false
		} else if sumOK {
			if sum, sumOK = sum.AddChecked(l.Amount); !sumOK {
				c.Unprocessable("lines", "the sum of the amounts exceeds "+order.MaxDecimal.String())
			}
		}
		if !qtyOK || !priceOK || !amountOK || !currencyOK {
			continue
		}
		gross, ok := l.UnitPrice.MulIntChecked(l.Quantity)
		if !ok {
			c.Unprocessable(p("quantity"), "quantity × unit_price exceeds "+order.MaxDecimal.String())
			continue
		}
		if want := gross.Round(digits); l.Amount != want {
			c.Unprocessable(p("amount"), "must be quantity × unit_price = "+want.String())
		}
	}
	subOK := c.amount("subtotal", inv.Subtotal, digits)
	taxOK := c.amount("tax", inv.Tax, digits)
	totalOK := c.amount("total", inv.Total, digits)
	if sumOK && subOK && inv.Subtotal != sum {
		c.Unprocessable("subtotal", "must be the sum of the line amounts = "+sum.String())
	}
	if subOK && taxOK && totalOK {
		if want, ok := inv.Subtotal.AddChecked(inv.Tax); !ok {
			c.Unprocessable("total", "subtotal + tax exceeds "+order.MaxDecimal.String())
		} else if inv.Total != want {
			c.Unprocessable("total", "must be subtotal + tax = "+want.String())
		}
	}
	c.Check("notes", order.TextProblem(inv.Notes, false, MaxNotesLen, true))
	return c.Err("the invoice")
}
