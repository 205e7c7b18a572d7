package order

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Scale is the number of fractional digits a Decimal keeps.
const Scale = 4

const scaleFactor = 10000

// Decimal is an exact decimal amount with up to four fractional digits, kept
// as an integer number of ten-thousandths. Money is never a float.
//
// On the wire (JSON and XML) it is a string such as "19.99"; String trims
// trailing zeros but keeps at least two fractional digits.
type Decimal int64

// Errors ParseDecimal returns.
var (
	ErrDecimalSyntax    = errors.New("not a decimal number")
	ErrDecimalPrecision = errors.New("more than 4 fractional digits")
	ErrDecimalRange     = errors.New("out of range")
)

// MaxDecimal bounds every amount so that sums of up to a few thousand
// amounts cannot overflow: 10^12 (a trillion) units.
const MaxDecimal Decimal = 1_000_000_000_000 * scaleFactor

// maxDecimalLen bounds the text ParseDecimal reads, so that a hostile input
// costs nothing: the longest canonical amount is "-1000000000000.0000" (19
// bytes); the rest is room for leading zeros.
const maxDecimalLen = 32

// ParseDecimal parses s ("12", "12.5", "-0.0001", "007.50"). The grammar is
// -?[0-9]+(\.[0-9]{1,4})?: no exponent, no "+", no leading or trailing dot,
// no thousands separators, no spaces, at most 4 fractional digits (more is
// ErrDecimalPrecision, even when they are zeros: an amount is never silently
// rounded), |value| ≤ MaxDecimal (else ErrDecimalRange), at most 32 bytes.
// Leading zeros are accepted; "-0" is zero.
func ParseDecimal(s string) (Decimal, error) {
	if s == "" || len(s) > maxDecimalLen {
		return 0, ErrDecimalSyntax
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, ErrDecimalSyntax
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return 0, ErrDecimalSyntax
	}
	if len(frac) > Scale {
		return 0, ErrDecimalPrecision
	}
	// Leading zeros carry no value; without stripping them a long run of
	// zeros would be misreported as out of range.
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if len(intPart) > 13 { // 10^13 > MaxDecimal/scaleFactor: certainly too big
		return 0, ErrDecimalRange
	}
	var v int64 // at most 13+4 digits: fits int64 without overflow
	for i := 0; i < len(intPart); i++ {
		v = v*10 + int64(intPart[i]-'0')
	}
	for i := 0; i < Scale; i++ {
		v *= 10
		if i < len(frac) {
			v += int64(frac[i] - '0')
		}
	}
	if Decimal(v) > MaxDecimal {
		return 0, ErrDecimalRange
	}
	if neg {
		v = -v
	}
	return Decimal(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MustDecimal is ParseDecimal for constants in tests and demo data; it panics
// on a bad literal.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("order.MustDecimal(" + strconv.Quote(s) + "): " + err.Error())
	}
	return d
}

// String formats d with at least two and at most four fractional digits.
func (d Decimal) String() string {
	return string(d.AppendText(nil))
}

// AppendText appends the String form of d to b.
func (d Decimal) AppendText(b []byte) []byte {
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = uint64(-d)
	}
	b = strconv.AppendUint(b, u/scaleFactor, 10)
	frac := u % scaleFactor
	digits := [4]byte{byte('0' + frac/1000), byte('0' + frac/100%10), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 4
	for n > 2 && digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// InRange reports whether |d| ≤ MaxDecimal, the range every amount on the
// wire must keep (ParseDecimal never returns anything else; a Decimal built
// in Go code may be outside it).
func (d Decimal) InRange() bool { return d >= -MaxDecimal && d <= MaxDecimal }

// FracDigits returns how many fractional digits d needs: 0 for 12.00, 1 for
// 12.50, 4 for 0.0001. It decides whether an amount fits a currency's minor
// unit (CurrencyDigits).
func (d Decimal) FracDigits() int {
	f := int64(d) % scaleFactor
	switch {
	case f == 0:
		return 0
	case f%1000 == 0:
		return 1
	case f%100 == 0:
		return 2
	case f%10 == 0:
		return 3
	default:
		return 4
	}
}

// Round returns d rounded to places fractional digits (0 ≤ places ≤ 4),
// halves away from zero, the commercial rule invoices use. places outside
// 0..4 is clamped.
func (d Decimal) Round(places int) Decimal {
	if places >= Scale {
		return d
	}
	places = max(places, 0)
	unit := int64(1)
	for range Scale - places {
		unit *= 10
	}
	v := int64(d)
	r := v % unit // same sign as v
	v -= r
	if r >= unit/2 {
		v += unit
	} else if r <= -unit/2 && r != 0 {
		v -= unit
	}
	return Decimal(v)
}

// AddChecked returns d + e and true, or 0 and false when either operand or
// the sum is outside ±MaxDecimal. Sums over untrusted input use it.
func (d Decimal) AddChecked(e Decimal) (Decimal, bool) {
	if !d.InRange() || !e.InRange() {
		return 0, false
	}
	s := d + e // |s| ≤ 2·MaxDecimal: cannot overflow int64
	if !s.InRange() {
		return 0, false
	}
	return s, true
}

// MulIntChecked returns d × n and true, or 0 and false when d or the product
// is outside ±MaxDecimal (overflow of int64 included).
func (d Decimal) MulIntChecked(n int64) (Decimal, bool) {
	if !d.InRange() {
		return 0, false
	}
	if d == 0 || n == 0 {
		return 0, true
	}
	// |d| ≤ MaxDecimal < 2^53, so comparing |n| with MaxDecimal/|d| decides
	// the bound exactly without overflowing.
	ad, an := int64(d), n
	if ad < 0 {
		ad = -ad
	}
	if an < 0 {
		if an == math.MinInt64 {
			return 0, false
		}
		an = -an
	}
	if an > int64(MaxDecimal)/ad {
		return 0, false
	}
	return d * Decimal(n), true
}

// Add returns d + e, unchecked: use it on amounts already validated (a valid
// order's total cannot overflow); AddChecked on anything else.
func (d Decimal) Add(e Decimal) Decimal { return d + e }

// Sub returns d − e.
func (d Decimal) Sub(e Decimal) Decimal { return d - e }

// MulInt returns d × n, unchecked (see Add); MulIntChecked otherwise.
func (d Decimal) MulInt(n int64) Decimal { return d * Decimal(n) }

// IsZero reports whether d is zero (used by omitzero).
func (d Decimal) IsZero() bool { return d == 0 }

// MarshalText implements encoding.TextMarshaler (JSON string, XML text).
func (d Decimal) MarshalText() ([]byte, error) { return d.AppendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a JSON string.
func (d Decimal) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 24), '"')
	b = d.AppendText(b)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a JSON string only: a JSON number would invite float
// handling on the sender's side.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("a decimal amount must be a JSON string such as \"19.99\"")
	}
	return d.UnmarshalText(b[1 : len(b)-1])
}
