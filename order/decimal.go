package order

import (
	"errors"
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

// ParseDecimal parses s ("12", "12.5", "-0.0001"). No exponent, no "+", no
// thousands separators, at most 4 fractional digits, |value| ≤ MaxDecimal.
func ParseDecimal(s string) (Decimal, error) {
	if s == "" || len(s) > 32 {
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
	if len(frac) > Scale {
		return 0, ErrDecimalPrecision
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, ErrDecimalSyntax
			}
		}
	}
	if len(intPart) > 13 {
		return 0, ErrDecimalRange
	}
	ip, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, ErrDecimalSyntax
	}
	var fp int64
	if frac != "" {
		fp, _ = strconv.ParseInt(frac+strings.Repeat("0", Scale-len(frac)), 10, 64)
	}
	v := Decimal(ip*scaleFactor + fp)
	if v > MaxDecimal {
		return 0, ErrDecimalRange
	}
	if neg {
		v = -v
	}
	return v, nil
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

// Add returns d + e.
func (d Decimal) Add(e Decimal) Decimal { return d + e }

// Sub returns d − e.
func (d Decimal) Sub(e Decimal) Decimal { return d - e }

// MulInt returns d × n.
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
