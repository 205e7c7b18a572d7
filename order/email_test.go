package order

import (
	"net/mail"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	ok := []string{
		"a@b.co",
		"zoe.mueller+orders@example.com",
		"o'brien@example.ie",
		"x!#$%&'*+/=?^_`{|}~-@example.com",
		"zoë@bücher.example",
		"用户@例子.广告",
		"a@b-c.d-e.f",
		strings.Repeat("a", 64) + "@example.com",
	}
	bad := []string{
		"",
		"plain",
		"@example.com",
		"a@",
		"a@b",                   // dotless domain
		"a@b.c.123",             // numeric TLD
		"a@1.2.3.4",             // IP address
		"a@[127.0.0.1]",         // domain literal
		"\"a b\"@example.com",   // quoted local part
		"Zoë <zoe@example.com>", // display name
		"zoe@example.com (Zoë)", // comment
		" zoe@example.com",      // surrounding space
		"zoe@example.com ",
		".zoe@example.com",
		"zoe.@example.com",
		"zo..e@example.com",
		"zoe@-example.com",
		"zoe@example-.com",
		"zoe@exa_mple.com",
		"zoe@example..com",
		"zoe@.example.com",
		"zoe@example.com.",
		"zoe@@example.com",
		"a@b@example.com",
		"zo e@example.com",
		"zoe\x00@example.com",
		"zo\xffe@example.com",
		"zoe\u00a0@example.com", // NBSP is not a word character
		"zoe😀@example.com",
		strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("b", 64) + ".com",
		"a@" + strings.Repeat("b.", 126) + "com", // 255 bytes
	}
	for _, s := range ok {
		if msg := emailProblem(s); msg != "" {
			t.Errorf("emailProblem(%q) = %q, want ok", s, msg)
		}
	}
	for _, s := range bad {
		if msg := emailProblem(s); msg == "" {
			t.Errorf("emailProblem(%q) = ok, want a problem", s)
		}
	}
}

// FuzzEmail holds the byte-loop email check to its promise: whatever it
// accepts, net/mail parses as exactly that bare address.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"a@b.co", "zoë@bücher.example", "a@[1.2.3.4]", "\"a\"@b.co", "Zoë <z@e.com>", "a..b@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if emailProblem(s) != "" {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil {
			t.Fatalf("accepted %q, but net/mail: %v", s, err)
		}
		if a.Name != "" || a.Address != s {
			t.Fatalf("accepted %q, but net/mail reads name %q address %q", s, a.Name, a.Address)
		}
	})
}
