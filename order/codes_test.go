package order

import (
	"slices"
	"testing"
)

func TestCountryCodes(t *testing.T) {
	codes := CountryCodes()
	if len(codes) != 249 {
		t.Errorf("%d country codes, want the 249 assigned by ISO 3166-1", len(codes))
	}
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Error("country codes are not sorted and unique")
	}
	for _, c := range codes {
		if !IsCountry(c) {
			t.Errorf("IsCountry(%q) = false", c)
		}
	}
	for _, c := range []string{"", "D", "de", "De", "DEU", "UK", "EU", "XK", "ZZ", "AA", "@A", "[Z", "D\x00"} {
		if IsCountry(c) {
			t.Errorf("IsCountry(%q) = true, want false", c)
		}
	}
	codes[0] = "mutated"
	if CountryCodes()[0] != "AD" {
		t.Error("CountryCodes shares its slice")
	}
}

func TestCurrencyDigits(t *testing.T) {
	want := map[string]int{
		"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0,
		"BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3, "IQD": 3, "LYD": 3, "CLF": 4, "UYW": 4, "XCG": 2, "SLE": 2,
	}
	for code, d := range want {
		if got, ok := CurrencyDigits(code); !ok || got != d {
			t.Errorf("CurrencyDigits(%q) = %d, %v; want %d, true", code, got, ok, d)
		}
	}
	for _, code := range []string{"", "EU", "eur", "Eur", "EURO", "DEM", "HRK", "XAU", "XXX", "XTS", "XDR", "ZZZ", "[[[", "E\x00R"} {
		if _, ok := CurrencyDigits(code); ok {
			t.Errorf("CurrencyDigits(%q): ok, want not a currency", code)
		}
	}
	codes := CurrencyCodes()
	if len(codes) < 150 || !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Errorf("CurrencyCodes: %d codes, sorted %v; want ≥150 sorted unique", len(codes), slices.IsSorted(codes))
	}
	for _, c := range codes {
		if d, ok := CurrencyDigits(c); !ok || d > Scale {
			t.Errorf("CurrencyDigits(%q) = %d, %v", c, d, ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	ok := map[string]string{"2026-03-10": "2026-03-10", "2024-02-29": "2024-02-29", "2000-02-29": "2000-02-29", "0001-01-01": "0001-01-01", "9999-12-31": "9999-12-31"}
	for in, want := range ok {
		d, valid := ParseDate(in)
		if !valid || FormatDate(d) != want || d.Location().String() != "UTC" {
			t.Errorf("ParseDate(%q) = %v, %v; want %s UTC", in, d, valid, want)
		}
	}
	for _, in := range []string{"", "2026-3-10", "2026-03-1", "2023-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "0000-01-01", "2026/03/10", "2026-03-10T00:00:00Z", " 2026-03-10", "2026-03-1a", "+026-03-10"} {
		if _, valid := ParseDate(in); valid {
			t.Errorf("ParseDate(%q) valid, want invalid", in)
		}
	}
}

func TestTextProblem(t *testing.T) {
	tests := []struct {
		s         string
		required  bool
		max       int
		multiline bool
		ok        bool
	}{
		{"", false, 5, false, true},
		{"", true, 5, false, false},
		{"  ", true, 5, false, false},
		{"  ", false, 5, false, true},
		{"héllo", true, 5, false, true}, // 5 runes, 6 bytes
		{"héllo!", true, 5, false, false},
		{"a\nb", true, 5, true, true},
		{"a\tb", true, 5, true, true},
		{"a\nb", true, 5, false, false},
		{"a\rb", true, 5, true, false},
		{"\n\t", true, 5, true, false}, // only white space
		{"a\x00", true, 5, true, false},
		{"a\x7f", true, 5, true, false},
		{"a\u0080", true, 5, true, false},
		{"a\u009f", true, 5, true, false},
		{"a\u00a0", true, 5, true, true},
		{"a\ufffe", true, 5, true, false},
		{"a\uffff", true, 5, true, false},
		{"a\ufffd", true, 5, true, true},
		{"a\xc3", true, 5, true, false},         // truncated UTF-8
		{"a\xed\xa0\x80", true, 5, true, false}, // surrogate
		{"\U0010fffd", true, 1, false, true},
	}
	for _, tt := range tests {
		got := textProblem(tt.s, tt.required, tt.max, tt.multiline)
		if (got == "") != tt.ok {
			t.Errorf("textProblem(%q, %v, %d, %v) = %q, want ok=%v", tt.s, tt.required, tt.max, tt.multiline, got, tt.ok)
		}
	}
}
