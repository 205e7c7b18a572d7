package order

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Email rules. An address is accepted when it is a bare addr-spec
// "local@domain" (no display name, no comments, no quoted local part, no
// domain literal) that net/mail.ParseAddress also accepts as exactly that
// address — the fuzz and property tests hold this check to that — and when
// it can really be delivered to:
//
//   - at most MaxEmailLen (254) bytes in all (RFC 5321 path limit) and at
//     most 64 bytes before the "@";
//   - the local part is a dot-atom: RFC 5322 atext (ASCII letters, digits and
//     ! # $ % & ' * + - / = ? ^ _ ` { | } ~) or, for internationalised
//     addresses (RFC 6531/6532), non-ASCII letters, digits and marks, in
//     dot-separated non-empty runs;
//   - the domain is a host name of at least two labels, each 1–63 bytes of
//     letters, digits and hyphens (non-ASCII letters allowed for IDNs), not
//     starting or ending with a hyphen, and the last label is not all digits
//     (so no IP addresses).
//
// It is checked with byte loops rather than net/mail because net/mail
// allocates on every call and accepts forms (display names, domain literals,
// dotless domains) an order must not carry.
const (
	MaxEmailLen      = 254
	maxEmailLocalLen = 64
	maxDomainLabel   = 63
)

const msgEmail = "must be an email address such as name@example.com"

func emailProblem(s string) string {
	if s == "" {
		return msgRequired
	}
	if len(s) > MaxEmailLen {
		return "must be at most " + strconv.Itoa(MaxEmailLen) + " bytes"
	}
	if !utf8.ValidString(s) {
		return msgUTF8
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || at > maxEmailLocalLen {
		return msgEmail
	}
	if !dotAtom(s[:at]) || !hostName(s[at+1:]) {
		return msgEmail
	}
	return ""
}

// atext is RFC 5322's atext, ASCII part.
var atext = charset("A-Za-z0-9!#$%&'*+/=?^_`{|}~-")

func dotAtom(s string) bool {
	prevDot := true // a leading dot is as bad as a double one
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			i++
			if b == '.' {
				if prevDot {
					return false
				}
				prevDot = true
				continue
			}
			if !atext[b] {
				return false
			}
			prevDot = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !intlWordRune(r) {
			return false
		}
		i += size
		prevDot = false
	}
	return !prevDot
}

func intlWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

func hostName(s string) bool {
	labels, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		if !hostLabel(s[start:i]) {
			return false
		}
		labels++
		if i == len(s) && allDigits(s[start:i]) {
			return false
		}
		start = i + 1
	}
	return labels >= 2
}

func hostLabel(l string) bool {
	if l == "" || len(l) > maxDomainLabel || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); {
		b := l[i]
		if b < utf8.RuneSelf {
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(l[i:])
		if !intlWordRune(r) {
			return false
		}
		i += size
	}
	return true
}
