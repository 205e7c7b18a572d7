package order

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Text rules shared by every free-text field. Lengths count Unicode code
// points (runes), not bytes: "Zoë" is 3 characters. A string at its limit
// can therefore be up to 4× as many bytes in UTF-8.
//
// Every character must also be a legal XML 1.0 character, because every
// field travels through SOAP (ERP v1, v2 and the shop's SOAP OrderService)
// and must come back unchanged: that excludes U+FFFE and U+FFFF, which Go's
// XML encoder would silently replace. C0 and C1 control characters and DEL
// are refused everywhere except newline and tab in multi-line fields
// (notes, line descriptions). Carriage return is refused even there: XML
// parsers normalise "\r\n" to "\n", so it could not survive a round trip;
// senders normalise line endings to "\n".

// Messages for text problems. They are part of the API contract in the sense
// that tests assert on fields, not on wording; wording may improve.
const (
	msgRequired = "is required"
	msgUTF8     = "must be valid UTF-8"
	msgControl  = "must not contain control characters"
	msgNonChar  = "must not contain the noncharacters U+FFFE or U+FFFF"
)

// TextProblem checks s against the text rules above: required (non-empty and
// not only white space), at most maxRunes characters, newline and tab only
// when multiline. It returns "" when s is fine, else a client-safe message
// such as "must be at most 200 characters". It never allocates on success.
// Other domain packages (supply) use it so that every canonical record obeys
// the same rules.
func TextProblem(s string, required bool, maxRunes int, multiline bool) string {
	return textProblem(s, required, maxRunes, multiline)
}

func textProblem(s string, required bool, maxRunes int, multiline bool) string {
	if s == "" {
		if required {
			return msgRequired
		}
		return ""
	}
	n, blank := 0, true
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			i++
			n++
			switch {
			case b == '\n' || b == '\t':
				if !multiline {
					return msgControl
				}
			case b < 0x20 || b == 0x7f:
				return msgControl
			case b != ' ':
				blank = false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return msgUTF8
		}
		i += size
		n++
		switch {
		case r <= 0x9f: // C1 controls U+0080–U+009F
			return msgControl
		case r == 0xfffe || r == 0xffff:
			return msgNonChar
		case blank && !unicode.IsSpace(r):
			blank = false
		}
	}
	if n > maxRunes {
		return tooLong(maxRunes)
	}
	if required && blank {
		return msgRequired
	}
	return ""
}

func tooLong(maxRunes int) string {
	return "must be at most " + strconv.Itoa(maxRunes) + " characters"
}

// Character sets of identifier-like fields, as 256-entry tables so a check
// is one load per byte.
var (
	idChars  = charset("A-Za-z0-9._:-") // external_id, customer.id
	skuChars = charset("A-Za-z0-9._-")  // sku
)

// charset builds a byte table from a pattern of single bytes and a-b ranges.
func charset(pattern string) (t [256]bool) {
	for i := 0; i < len(pattern); i++ {
		if i+2 < len(pattern) && pattern[i+1] == '-' {
			for c := int(pattern[i]); c <= int(pattern[i+2]); c++ {
				t[c] = true
			}
			i += 2
			continue
		}
		t[pattern[i]] = true
	}
	return t
}

// codeProblem checks an identifier: 1..maxLen bytes (= characters, the set is
// ASCII) from set, or empty when optional. what names the set in the message.
func codeProblem(s string, required bool, maxLen int, set *[256]bool, what string) string {
	if s == "" {
		if required {
			return msgRequired
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

const (
	idCharsText  = "letters A–Z and a–z, digits and . _ : -"
	skuCharsText = "letters A–Z and a–z, digits and . _ -"
)

// phoneProblem: optional, at most MaxPhoneLen characters of digits, space and
// + - ( ) / . with at least one digit.
func phoneProblem(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > MaxPhoneLen {
		return "must be at most " + strconv.Itoa(MaxPhoneLen) + " characters"
	}
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = true
		case c == ' ' || c == '+' || c == '-' || c == '(' || c == ')' || c == '/' || c == '.':
		default:
			return "may contain only digits, spaces and + - ( ) / ."
		}
	}
	if !digits {
		return "must contain digits"
	}
	return ""
}

// ParseDate parses a civil date in the strict form "YYYY-MM-DD" (exactly ten
// bytes, a real calendar day, year 0001–9999) and returns midnight UTC of that
// day. It never allocates.
func ParseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		v := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	m, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, time.Month(m)) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// FormatDate formats the civil date of t (in t's location) as "YYYY-MM-DD".
func FormatDate(t time.Time) string { return t.Format(time.DateOnly) }
