// Package ordertest provides canonical orders for tests: one fully populated
// valid order, and a generator of random valid orders that covers the whole
// space Validate accepts — from one bare line to 500 lines with every string
// at its maximum length in multi-byte Unicode — for property tests such as the
// ERP adapters' lossless round trips.
//
// Every order it returns passes (*order.Order).ValidateAt at the instant it
// was generated for; the package's own tests hold it to that for thousands of
// seeds.
package ordertest

import (
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"erpgate/order"
)

// Valid returns a fully populated valid order as the gateway stores it: every
// optional field set (customer id and phone, line2, region, billing address,
// descriptions, discounts, requested delivery date 14 days after now, notes
// with a line break), Unicode in names and addresses, and the gateway's
// identity (ID, ShopID, CreatedAt). Each call returns a fresh copy.
//
// It reads the clock once, for the delivery date; use ValidAt where the test
// has its own clock.
func Valid() *order.Order { return ValidAt(time.Now()) }

// ValidAt is Valid for the instant now: the delivery date is 14 days after
// now (UTC) and CreatedAt is now in UTC.
func ValidAt(now time.Time) *order.Order {
	now = now.UTC()
	return &order.Order{
		ID:         "ord_01j9z8x7w6v5t4s3r2q1p0n9m8",
		ShopID:     "demo-shop",
		ExternalID: "WEB-2024-000123",
		Customer: order.Customer{
			ID:    "CUST-42",
			Name:  "Zoë Łukasiewicz-Müller",
			Email: "zoe.mueller+orders@example.com",
			Phone: "+49 (30) 1234-567",
		},
		ShippingAddress: order.Address{
			Name:       "Zoë Łukasiewicz-Müller",
			Line1:      "Straße des 17. Juni 135",
			Line2:      "Hinterhaus, 3. OG",
			City:       "Berlin",
			PostalCode: "10623",
			Region:     "Berlin",
			Country:    "DE",
		},
		BillingAddress: &order.Address{
			Name:       "Łukasiewicz & Søn ApS",
			Line1:      "Nørrebrogade 12",
			Line2:      "c/o Åse Ødegård",
			City:       "København N",
			PostalCode: "2200",
			Region:     "Hovedstaden",
			Country:    "DK",
		},
		Currency: "EUR",
		Lines: []order.Line{
			{SKU: "SKU-1001", Description: "Espresso-Kocher „Moka“, 6 Tassen", Quantity: 2, UnitPrice: order.MustDecimal("34.95"), Discount: order.MustDecimal("5.00")},
			{SKU: "SKU-1002", Description: "Kaffeebohnen 1 kg — Röstung: dunkel\nLieferung bitte in Papierverpackung", Quantity: 3, UnitPrice: order.MustDecimal("18.4900"), Discount: order.MustDecimal("0.47")},
			{SKU: "SKU-1003", Description: "Milchaufschäumer 電動", Quantity: 1, UnitPrice: order.MustDecimal("0.0125"), Discount: order.MustDecimal("0.01")},
		},
		Shipping:              order.Shipping{Method: "DHL Paket", Price: order.MustDecimal("4.99")},
		RequestedDeliveryDate: order.FormatDate(now.AddDate(0, 0, 14)),
		Notes:                 "Bitte beim Nachbarn abgeben.\nTür-Code: 4711 ✓",
		CreatedAt:             now,
	}
}

// Posted clears what the gateway assigns (ID, ShopID, CreatedAt), turning an
// order into the body a shop posts. It changes and returns o.
func Posted(o *order.Order) *order.Order {
	o.ID, o.ShopID, o.CreatedAt = "", "", time.Time{}
	return o
}

// Options steer Random. The zero value gives varied, mostly small orders.
type Options struct {
	// Now is the instant the order is generated for: requested delivery
	// dates fall inside the window ValidateAt(Now) accepts and CreatedAt is
	// Now in UTC. Zero means time.Now(); set it for reproducible output.
	Now time.Time
	// Lines is the exact number of lines (1..order.MaxLines). Zero picks one:
	// mostly 1–5, sometimes up to 50, rarely up to MaxLines (exactly
	// MaxLines about one time in fifty).
	Lines int
	// Max makes the largest order Validate accepts: every optional field
	// present, every string at its maximum length, MaxLines lines unless
	// Lines says otherwise, the email at 254 bytes.
	Max bool
	// ASCII restricts text to printable ASCII (and, in multi-line fields,
	// newline and tab). By default text mixes ASCII with Latin, Greek,
	// Cyrillic, Hebrew, Arabic, CJK, emoji, combining marks, zero-width and
	// line-separator characters, private-use and astral code points.
	ASCII bool
	// Posted leaves ID, ShopID and CreatedAt empty, as the shop posts it.
	Posted bool
}

// Random returns a random valid order drawn from r. Optional fields are each
// present or absent with equal probability (all present with Max), lengths
// range from the minimum to the maximum, amounts use 0–4 decimals for unit
// prices and the currency's minor unit for discounts and shipping, and the
// total stays within order.MaxDecimal. The same r state and Options give the
// same order.
func Random(r *rand.Rand, opts Options) *order.Order {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	g := gen{r: r, max: opts.Max, ascii: opts.ASCII}
	o := &order.Order{}
	if !opts.Posted {
		o.ID = "ord_" + g.fromSet(base32, 26, 26)
		o.ShopID = g.fromSet(idSet, 1, order.MaxExternalIDLen)
		o.CreatedAt = now.UTC()
	}
	o.ExternalID = g.fromSet(idSet, 1, order.MaxExternalIDLen)
	if g.optional() {
		o.Customer.ID = g.fromSet(idSet, 1, order.MaxCustomerIDLen)
	}
	o.Customer.Name = g.text(1, order.MaxNameLen, true, false)
	o.Customer.Email = g.email()
	if g.optional() {
		o.Customer.Phone = g.phone()
	}
	o.ShippingAddress = g.address()
	if g.optional() {
		a := g.address()
		o.BillingAddress = &a
	}
	codes := order.CurrencyCodes()
	o.Currency = codes[r.IntN(len(codes))]
	digits, _ := order.CurrencyDigits(o.Currency)

	n := opts.Lines
	switch {
	case n > order.MaxLines:
		n = order.MaxLines
	case n > 0:
	case opts.Max:
		n = order.MaxLines
	default:
		switch p := r.IntN(100); {
		case p < 70:
			n = 1 + r.IntN(5)
		case p < 90:
			n = 6 + r.IntN(45)
		case p < 98:
			n = 51 + r.IntN(order.MaxLines-51)
		default:
			n = order.MaxLines
		}
	}
	// Each line and the shipping price get an equal share of MaxDecimal, so
	// the total can never exceed it whatever the draws.
	budget := int64(order.MaxDecimal) / int64(n+1)
	o.Lines = make([]order.Line, n)
	for i := range o.Lines {
		o.Lines[i] = g.line(budget, digits)
	}
	o.Shipping.Method = g.text(1, order.MaxShippingMethodLen, true, false)
	o.Shipping.Price = g.amount(budget, digits)
	if g.optional() {
		lo, hi := order.EarliestDeliveryDate(now), order.LatestDeliveryDate(now)
		days := int(hi.Sub(lo).Hours() / 24)
		var d time.Time
		switch p := r.IntN(10); {
		case p == 0:
			d = lo
		case p == 1:
			d = hi
		default:
			d = lo.AddDate(0, 0, r.IntN(days+1))
		}
		o.RequestedDeliveryDate = order.FormatDate(d)
	}
	if g.optional() {
		o.Notes = g.text(1, order.MaxNotesLen, false, true)
	}
	return o
}

type gen struct {
	r     *rand.Rand
	max   bool
	ascii bool
}

// optional decides whether an optional field is present.
func (g *gen) optional() bool { return g.max || g.r.IntN(2) == 0 }

// length picks a length in [lo, hi], favouring the edges.
func (g *gen) length(lo, hi int) int {
	if g.max {
		return hi
	}
	switch p := g.r.IntN(10); {
	case p == 0:
		return lo
	case p == 1:
		return hi
	case p < 6:
		return lo + g.r.IntN(min(hi-lo, 12)+1)
	default:
		return lo + g.r.IntN(hi-lo+1)
	}
}

const (
	base32   = "0123456789abcdefghjkmnpqrstvwxyz"
	idSet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
	skuSet   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
	phoneSet = "0123456789 +-()/."
	atextSet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"
	ldhSet   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
)

func (g *gen) fromSet(set string, lo, hi int) string {
	n := g.length(lo, hi)
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.IntN(len(set))]
	}
	return string(b)
}

// runeRanges are the non-ASCII characters text draws from: each is a
// printable, non-control XML 1.0 character.
var runeRanges = [][2]rune{
	{0x00a0, 0x00ff},   // Latin-1 supplement, NBSP included
	{0x0100, 0x017f},   // Latin Extended-A
	{0x0300, 0x036f},   // combining diacritical marks
	{0x0391, 0x03c9},   // Greek
	{0x0410, 0x044f},   // Cyrillic
	{0x05d0, 0x05ea},   // Hebrew
	{0x0627, 0x064a},   // Arabic
	{0x200b, 0x200f},   // zero-width space/joiners, LRM/RLM
	{0x2028, 0x2029},   // line and paragraph separators (JSON escapes them)
	{0x20ac, 0x20ac},   // euro sign
	{0x3000, 0x3000},   // ideographic space
	{0x4e00, 0x9fff},   // CJK unified ideographs
	{0xe000, 0xe0ff},   // private use
	{0xfeff, 0xfeff},   // BOM / zero-width no-break space
	{0xfffc, 0xfffd},   // object replacement, replacement character
	{0x1f1e6, 0x1f1ff}, // regional indicators (flags)
	{0x1f600, 0x1f64f}, // emoji
	{0x10fffd, 0x10fffd},
}

// text returns a string of lo..hi characters. Required strings always have a
// non-space character; multiline ones may contain newlines and tabs.
func (g *gen) text(lo, hi int, required, multiline bool) string {
	n := g.length(lo, hi)
	var b strings.Builder
	b.Grow(n * 2)
	ascii := g.ascii || g.r.IntN(3) == 0 // a third of all strings are plain ASCII anyway
	for range n {
		switch p := g.r.IntN(100); {
		case multiline && p < 4:
			b.WriteByte('\n')
		case multiline && p < 6:
			b.WriteByte('\t')
		case ascii || p < 60:
			b.WriteByte(byte(0x20 + g.r.IntN(0x7f-0x20))) // printable ASCII incl. < > & " ' \ and space
		default:
			rr := runeRanges[g.r.IntN(len(runeRanges))]
			b.WriteRune(rr[0] + rune(g.r.IntN(int(rr[1]-rr[0])+1)))
		}
	}
	s := b.String()
	if required && onlySpace(s) {
		// Replace the first character by a letter, keeping the length.
		_, size := utf8.DecodeRuneInString(s)
		s = "x" + s[size:]
	}
	return s
}

// onlySpace reports whether s is all white space as the validator sees it
// (unicode.IsSpace, which also counts NBSP, U+2028 and the ideographic space,
// but not zero-width characters — those count as content).
func onlySpace(s string) bool {
	return strings.TrimFunc(s, isSpace) == ""
}

func (g *gen) phone() string {
	s := []byte(g.fromSet(phoneSet, 1, order.MaxPhoneLen))
	s[g.r.IntN(len(s))] = byte('0' + g.r.IntN(10)) // at least one digit
	return string(s)
}

func (g *gen) address() order.Address {
	countries := order.CountryCodes()
	a := order.Address{
		Name:       g.text(1, order.MaxNameLen, true, false),
		Line1:      g.text(1, order.MaxNameLen, true, false),
		City:       g.text(1, order.MaxNameLen, true, false),
		PostalCode: g.text(1, order.MaxPostalCodeLen, true, false),
		Country:    countries[g.r.IntN(len(countries))],
	}
	if g.optional() {
		a.Line2 = g.text(1, order.MaxNameLen, false, false)
	}
	if g.optional() {
		a.Region = g.text(1, order.MaxNameLen, false, false)
	}
	return a
}

// email returns a valid address; with Max exactly order.MaxEmailLen bytes.
func (g *gen) email() string {
	intl := !g.ascii && g.r.IntN(5) == 0
	localLen := 64
	if !g.max {
		localLen = 1 + g.r.IntN(64)
	}
	local := g.dotAtom(localLen, intl)
	domainLen := order.MaxEmailLen - len(local) - 1
	if !g.max {
		domainLen = 4 + g.r.IntN(min(domainLen, 60)-3)
	}
	return local + "@" + g.domain(domainLen, intl)
}

// dotAtom returns a dot-atom of exactly n bytes.
func (g *gen) dotAtom(n int, intl bool) string {
	b := make([]byte, 0, n)
	for len(b) < n {
		last := len(b) == n-1
		switch {
		case len(b) > 0 && !last && b[len(b)-1] != '.' && g.r.IntN(8) == 0:
			b = append(b, '.')
		case intl && n-len(b) >= 2 && g.r.IntN(3) == 0:
			b = utf8.AppendRune(b, rune(0x00e0+g.r.IntN(0x17)))
		default:
			b = append(b, atextSet[g.r.IntN(len(atextSet))])
		}
	}
	return string(b)
}

// domain returns a host name of exactly n bytes (n ≥ 4): labels of at most
// 63 bytes, the last alphabetic.
func (g *gen) domain(n int, intl bool) string {
	// Split n into labels: total = sum(labels) + dots.
	var labels []int
	rest := n
	for {
		// The TLD comes last; reserve at least 2 bytes for it plus a dot.
		if rest <= 63 && len(labels) > 0 {
			labels = append(labels, rest)
			break
		}
		l := 1 + g.r.IntN(min(63, rest-3))
		labels = append(labels, l)
		rest -= l + 1
	}
	var b []byte
	for i, l := range labels {
		if i > 0 {
			b = append(b, '.')
		}
		tld := i == len(labels)-1
		start := len(b)
		for len(b)-start < l {
			left := l - (len(b) - start)
			switch {
			case tld:
				b = append(b, byte('a'+g.r.IntN(26)))
			case intl && left >= 3 && len(b) > start && g.r.IntN(4) == 0:
				b = utf8.AppendRune(b, rune(0x00e0+g.r.IntN(0x17)))
			case len(b) == start || left == 1:
				b = append(b, ldhSet[g.r.IntN(len(ldhSet)-1)]) // no hyphen at the edges
			default:
				b = append(b, ldhSet[g.r.IntN(len(ldhSet))])
			}
		}
	}
	return string(b)
}

func (g *gen) line(budget int64, digits int) order.Line {
	l := order.Line{SKU: g.fromSet(skuSet, 1, order.MaxSKULen)}
	if g.optional() {
		l.Description = g.text(1, order.MaxDescriptionLen, false, true)
	}
	switch p := g.r.IntN(10); {
	case g.max || p == 0:
		l.Quantity = order.MaxQuantity
	case p < 6:
		l.Quantity = 1 + g.r.Int64N(10)
	default:
		l.Quantity = 1 + g.r.Int64N(order.MaxQuantity)
	}
	l.UnitPrice = g.amount(budget/l.Quantity, 4)
	if g.optional() {
		gross := int64(l.UnitPrice) * l.Quantity
		var d int64
		if g.max || g.r.IntN(10) == 0 {
			d = gross
		} else if gross > 0 {
			d = g.r.Int64N(gross + 1)
		}
		l.Discount = floorTo(order.Decimal(d), digits)
	}
	return l
}

// amount returns an amount in [0, limit] (in ten-thousandths) with at most
// digits decimals, favouring round prices, zero and the limit.
func (g *gen) amount(limit int64, digits int) order.Decimal {
	var v int64
	switch p := g.r.IntN(20); {
	case p == 0:
		v = 0
	case p == 1 || g.max:
		v = limit
	case p < 12:
		v = g.r.Int64N(min(limit, 1000_0000) + 1) // up to 1000 units: the common case
	default:
		v = g.r.Int64N(limit + 1)
	}
	d := floorTo(order.Decimal(v), digits)
	if g.r.IntN(2) == 0 {
		d = floorTo(d, g.r.IntN(digits+1)) // fewer decimals, e.g. "12.50" or "12"
	}
	return d
}

// floorTo drops the decimals of a non-negative d beyond digits.
func floorTo(d order.Decimal, digits int) order.Decimal {
	unit := order.Decimal(1)
	for range order.Scale - digits {
		unit *= 10
	}
	return d - d%unit
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }
