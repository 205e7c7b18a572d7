package order

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in      string
		want    Decimal
		wantErr error
	}{
		{"0", 0, nil},
		{"12", 120000, nil},
		{"12.5", 125000, nil},
		{"-0.0001", -1, nil},
		{"0.0001", 1, nil},
		{"-0", 0, nil}, // negative zero is zero
		{"-0.00", 0, nil},
		{"00012.10", 121000, nil}, // leading zeros are accepted
		{"000000000000000000000000012.5", 125000, nil},
		{"0000000000000000001000000000000", MaxDecimal, nil}, // leading zeros do not count towards the range
		{"1000000000000", MaxDecimal, nil},
		{"1000000000000.0000", MaxDecimal, nil},
		{"-1000000000000", -MaxDecimal, nil},
		{"999999999999.9999", MaxDecimal - 1, nil},
		{"1000000000000.0001", 0, ErrDecimalRange},
		{"-1000000000000.0001", 0, ErrDecimalRange},
		{"9999999999999", 0, ErrDecimalRange},
		{"99999999999999", 0, ErrDecimalRange},
		{"9223372036854775807", 0, ErrDecimalRange},
		{"99999999999999999999999999999", 0, ErrDecimalRange},
		{"1.23456", 0, ErrDecimalPrecision},
		{"1.00000", 0, ErrDecimalPrecision}, // never silently rounded, even zeros
		{"", 0, ErrDecimalSyntax},
		{"-", 0, ErrDecimalSyntax},
		{"--1", 0, ErrDecimalSyntax},
		{"1.", 0, ErrDecimalSyntax},
		{".5", 0, ErrDecimalSyntax},
		{"-.5", 0, ErrDecimalSyntax},
		{".", 0, ErrDecimalSyntax},
		{"1e3", 0, ErrDecimalSyntax},
		{"1E3", 0, ErrDecimalSyntax},
		{"+1", 0, ErrDecimalSyntax},
		{" 1", 0, ErrDecimalSyntax},
		{"1 ", 0, ErrDecimalSyntax},
		{"1,000", 0, ErrDecimalSyntax},
		{"1_000", 0, ErrDecimalSyntax},
		{"1.2.3", 0, ErrDecimalSyntax},
		{"1.-2", 0, ErrDecimalSyntax},
		{"0x10", 0, ErrDecimalSyntax},
		{"NaN", 0, ErrDecimalSyntax},
		{"Inf", 0, ErrDecimalSyntax},
		{"١٢", 0, ErrDecimalSyntax}, // Arabic-Indic digits
		{"12\x00", 0, ErrDecimalSyntax},
		{"1.2345678901234567890123456789012", 0, ErrDecimalSyntax}, // 33 bytes: over the length bound
		{strings.Repeat("0", 33), 0, ErrDecimalSyntax},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		in   Decimal
		want string
	}{
		{0, "0.00"},
		{1, "0.0001"},
		{-1, "-0.0001"},
		{10, "0.001"},
		{100, "0.01"},
		{121000, "12.10"},
		{123450, "12.345"},
		{120000, "12.00"},
		{-125000, "-12.50"},
		{MaxDecimal, "1000000000000.00"},
		{-MaxDecimal, "-1000000000000.00"},
		{math.MaxInt64, "922337203685477.5807"}, // outside the range, still printable
		{math.MinInt64, "-922337203685477.5808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Decimal(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

// TestDecimalRoundTrip is the String → Parse identity over random values of
// the whole range and of every fractional length.
func TestDecimalRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(d Decimal) {
		t.Helper()
		got, err := ParseDecimal(d.String())
		if err != nil || got != d {
			t.Fatalf("ParseDecimal(%q) = %d, %v; want %d", d.String(), got, err, int64(d))
		}
		var j Decimal
		b, _ := json.Marshal(d)
		if err := json.Unmarshal(b, &j); err != nil || j != d {
			t.Fatalf("JSON round trip of %d via %s = %d, %v", int64(d), b, j, err)
		}
	}
	for _, d := range []Decimal{0, 1, -1, MaxDecimal, -MaxDecimal, MaxDecimal - 1, 9999, 10000} {
		check(d)
	}
	for range 20000 {
		d := Decimal(r.Int64N(2*int64(MaxDecimal)+1) - int64(MaxDecimal))
		if r.IntN(2) == 0 {
			d = floorDigits(d, r.IntN(5)) // exercise every number of decimals
		}
		check(d)
	}
}

func floorDigits(d Decimal, digits int) Decimal {
	unit := Decimal(1)
	for range Scale - digits {
		unit *= 10
	}
	return d - d%unit
}

func TestDecimalJSON(t *testing.T) {
	var v struct {
		A Decimal `json:"a"`
		B Decimal `json:"b,omitzero"`
	}
	v.A = MustDecimal("19.9")
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"a":"19.90"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
	for _, in := range []string{`{"a":19.9}`, `{"a":null}`, `{"a":"1e3"}`, `{"a":"\u0031"}`, `{"a":""}`, `{"a":true}`} {
		var d struct {
			A Decimal `json:"a"`
		}
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", in, d.A)
		}
	}
}

func TestDecimalFracDigits(t *testing.T) {
	tests := map[string]int{"0": 0, "12": 0, "-12": 0, "12.5": 1, "12.05": 2, "-12.05": 2, "0.001": 3, "0.0001": 4, "-0.0001": 4, "1.1010": 3}
	for in, want := range tests {
		if got := MustDecimal(in).FracDigits(); got != want {
			t.Errorf("%s.FracDigits() = %d, want %d", in, got, want)
		}
	}
}

func TestDecimalRound(t *testing.T) {
	tests := []struct {
		in     string
		places int
		want   string
	}{
		{"1.005", 2, "1.01"}, // half away from zero
		{"1.0049", 2, "1.00"},
		{"-1.005", 2, "-1.01"},
		{"-1.0049", 2, "-1.00"},
		{"2.5", 0, "3.00"},
		{"-2.5", 0, "-3.00"},
		{"2.4999", 0, "2.00"},
		{"1.2345", 3, "1.235"},
		{"1.2345", 4, "1.2345"},
		{"1.2345", 9, "1.2345"},
		{"1.5", -3, "2.00"},
		{"1000000000000", 0, "1000000000000.00"},
	}
	for _, tt := range tests {
		if got := MustDecimal(tt.in).Round(tt.places).String(); got != tt.want {
			t.Errorf("%s.Round(%d) = %s, want %s", tt.in, tt.places, got, tt.want)
		}
	}
}

func TestDecimalChecked(t *testing.T) {
	if got, ok := MaxDecimal.AddChecked(0); !ok || got != MaxDecimal {
		t.Errorf("Max+0 = %v, %v; want Max, true", got, ok)
	}
	if _, ok := MaxDecimal.AddChecked(1); ok {
		t.Error("Max+0.0001: ok, want overflow")
	}
	if _, ok := (-MaxDecimal).AddChecked(-1); ok {
		t.Error("-Max-0.0001: ok, want overflow")
	}
	if _, ok := Decimal(math.MaxInt64).AddChecked(0); ok {
		t.Error("out-of-range operand: ok, want false")
	}
	if got, ok := MaxDecimal.AddChecked(-MaxDecimal); !ok || got != 0 {
		t.Errorf("Max-Max = %v, %v; want 0, true", got, ok)
	}
	mul := []struct {
		d    Decimal
		n    int64
		want Decimal
		ok   bool
	}{
		{MustDecimal("2.5"), 4, MustDecimal("10"), true},
		{MustDecimal("-2.5"), 4, MustDecimal("-10"), true},
		{MustDecimal("2.5"), -4, MustDecimal("-10"), true},
		{MaxDecimal, 1, MaxDecimal, true},
		{MaxDecimal, -1, -MaxDecimal, true},
		{MaxDecimal, 2, 0, false},
		{MustDecimal("10000000"), 100_000, MaxDecimal, true},
		{MustDecimal("10000000.0001"), 100_000, 0, false},
		{1, math.MaxInt64, 0, false},
		{1, math.MinInt64, 0, false},
		{0, math.MinInt64, 0, true},
		{Decimal(math.MaxInt64), 0, 0, false},
	}
	for _, tt := range mul {
		got, ok := tt.d.MulIntChecked(tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%v.MulIntChecked(%d) = %v, %v; want %v, %v", tt.d, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

// decimalGrammar is ParseDecimal's documented grammar.
var decimalGrammar = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,4})?$`)

// FuzzParseDecimal holds ParseDecimal to its documented grammar, with
// math/big as the oracle for the value: it never panics, accepts exactly the
// grammar within range and length, returns the exact value, and its output
// formats and parses back to itself.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "12.5", "1.", ".5", "1e3", "+1", "00012.10", "1000000000000", "1000000000000.0001", "-0.0001", "1.23456", "١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		var want big.Rat
		inGrammar := decimalGrammar.MatchString(s) && len(s) <= 32
		if inGrammar {
			if _, ok := want.SetString(s); !ok {
				t.Fatalf("big.Rat cannot parse %q", s)
			}
		}
		max := new(big.Rat).SetInt64(int64(MaxDecimal / scaleFactor))
		inRange := inGrammar && new(big.Rat).Abs(&want).Cmp(max) <= 0
		if err != nil {
			if inRange {
				t.Fatalf("ParseDecimal(%q) = %v; want the value %s", s, err, want.FloatString(4))
			}
			return
		}
		if !inRange {
			t.Fatalf("ParseDecimal(%q) = %v, want an error", s, d)
		}
		got := new(big.Rat).SetFrac64(int64(d), scaleFactor)
		if got.Cmp(&want) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, want %s", s, got.FloatString(4), want.FloatString(4))
		}
		if back, err := ParseDecimal(d.String()); err != nil || back != d {
			t.Fatalf("ParseDecimal(%q) = %d, %v; want %d", d.String(), back, err, int64(d))
		}
	})
}
