// Package notice is the maintenance notices of erpgate: announced windows in
// which the ERP (or the gateway) is worked on, with a message per language,
// the audiences who see them (customers on tracking pages, shops,
// suppliers), and whether order intake pauses.
//
// The rules live here with no HTTP and no Redis: Notice and its Validate,
// which notices are current or upcoming at a time, the customer banner from
// a lead time, the intake pause, and Board, the cached view every request
// reads (refreshed from the store at most every TTL, so every instance sees
// a change within about a second). The store (store.Notices) keeps them in
// Redis; the gateway serves them.
package notice

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"erpgate"
)

// Audiences of a notice.
const (
	AudienceCustomers = "customers" // the banner on tracking pages
	AudienceShops     = "shops"     // API answers and the notice.* webhooks
	AudienceSuppliers = "suppliers" // the supplier API
)

// Audiences lists every audience, in the order the API shows them.
var Audiences = []string{AudienceCustomers, AudienceShops, AudienceSuppliers}

// Languages are the languages every notice must have a message in; other
// languages (two-letter codes) may be added.
var Languages = []string{"en", "de"}

// Limits of a notice.
const (
	MaxIDLen      = 64
	MaxMessageLen = 500 // characters per language
	MaxLanguages  = 10
	MaxWindow     = 7 * 24 * time.Hour
	MaxNotices    = 200 // stored at once
	// MaxAhead is how far in the future a window may start.
	MaxAhead = 366 * 24 * time.Hour
	// Keep is how long after its end a notice is still listed (and kept)
	// before the store forgets it.
	Keep = 7 * 24 * time.Hour
)

// Notice is one maintenance window. Its JSON form is what the admin API
// takes and shows and what Redis keeps.
type Notice struct {
	// ID names the notice: 1–64 of [A-Za-z0-9_-]; it is also what the
	// Erpgate-Notice header carries.
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Messages holds the text per language ("en", "de" required); plain
	// text, shown escaped.
	Messages map[string]string `json:"messages"`
	// Audiences are who see it (AudienceCustomers, AudienceShops,
	// AudienceSuppliers); at least one.
	Audiences []string `json:"audiences"`
	// IntakePaused makes order intake (REST and SOAP) refuse new orders
	// during the window with 503 and Retry-After; otherwise intake stays
	// open and orders wait in the outbox until the ERP is back.
	IntakePaused bool `json:"intake_paused"`

	// Set by the store: the notice's revision (1 at creation, +1 on every
	// change), who changed it and when.
	Revision  int64     `json:"revision"`
	Actor     string    `json:"actor,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Validate checks n as an admin sends it, at time now (a window that has
// already ended cannot be created or changed). Errors: Invalid with a
// problem per field.
func (n Notice) Validate(now time.Time) error {
	var ps []erpgate.Problem
	add := func(f, m string) { ps = append(ps, erpgate.Problem{Field: f, Message: m}) }
	if !ValidID(n.ID) {
		add("id", fmt.Sprintf("1 to %d letters, digits, '_' or '-'", MaxIDLen))
	}
	switch {
	case n.Start.IsZero():
		add("start", "required: an RFC 3339 time such as 2026-12-24T22:00:00Z")
	case n.End.IsZero():
		add("end", "required: an RFC 3339 time such as 2026-12-25T02:00:00Z")
	case !n.End.After(n.Start):
		add("end", "must be after start")
	case n.End.Sub(n.Start) > MaxWindow:
		add("end", fmt.Sprintf("the window may last at most %s", MaxWindow))
	case !n.End.After(now):
		add("end", "the window has already ended")
	case n.Start.After(now.Add(MaxAhead)):
		add("start", "at most a year ahead")
	}
	for _, l := range Languages {
		if strings.TrimSpace(n.Messages[l]) == "" {
			add("messages."+l, "required")
		}
	}
	if len(n.Messages) > MaxLanguages {
		add("messages", fmt.Sprintf("at most %d languages", MaxLanguages))
	}
	for _, l := range sortedKeys(n.Messages) {
		m := n.Messages[l]
		if len(l) != 2 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z' {
			add("messages", fmt.Sprintf("language %.10q: a two-letter lower-case code such as \"en\"", l))
			continue
		}
		if !utf8.ValidString(m) || utf8.RuneCountInString(m) > MaxMessageLen || strings.ContainsFunc(m, unicode.IsControl) {
			add("messages."+l, fmt.Sprintf("valid UTF-8 text without control characters, at most %d characters", MaxMessageLen))
		}
	}
	if len(n.Audiences) == 0 {
		add("audiences", "at least one of customers, shops, suppliers")
	}
	for i, a := range n.Audiences {
		if !slices.Contains(Audiences, a) {
			add(fmt.Sprintf("audiences[%d]", i), "one of customers, shops, suppliers")
		} else if slices.Index(n.Audiences, a) != i {
			add(fmt.Sprintf("audiences[%d]", i), "named twice")
		}
	}
	if len(ps) > 0 {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid notice", Problems: ps}
	}
	return nil
}

// ValidID reports whether id can name a notice.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ActiveAt reports whether t lies in n's window [Start, End).
func (n Notice) ActiveAt(t time.Time) bool { return !t.Before(n.Start) && t.Before(n.End) }

// For reports whether audience sees n ("" matches every notice).
func (n Notice) For(audience string) bool {
	return audience == "" || slices.Contains(n.Audiences, audience)
}

// Message returns n's text in lang, else in English.
func (n Notice) Message(lang string) string {
	if m := n.Messages[lang]; m != "" {
		return m
	}
	return n.Messages["en"]
}

// IntakeNote says in lang what happens to orders during n's window.
func (n Notice) IntakeNote(lang string) string {
	de := lang == "de"
	switch {
	case n.IntakePaused && de:
		return "Während des Wartungsfensters nehmen wir keine neuen Bestellungen an; bitte danach erneut senden."
	case n.IntakePaused:
		return "New orders are not accepted during the window; send them again after it ends."
	case de:
		return "Bestellungen werden auch während des Wartungsfensters angenommen und danach an das ERP übergeben."
	default:
		return "Orders are accepted during the window as usual; they wait safely and reach the ERP after it."
	}
}

// Visible returns the notices of audience ("" for all) that are current or
// still to come at now (their window has not ended), soonest first.
func Visible(ns []Notice, now time.Time, audience string) []Notice {
	out := make([]Notice, 0, len(ns))
	for _, n := range ns {
		if n.End.After(now) && n.For(audience) {
			out = append(out, n)
		}
	}
	sortByStart(out)
	return out
}

// Active returns the notices whose window holds now, soonest-ending first.
func Active(ns []Notice, now time.Time) []Notice {
	var out []Notice
	for _, n := range ns {
		if n.ActiveAt(now) {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].End.Equal(out[j].End) {
			return out[i].End.Before(out[j].End)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func sortByStart(ns []Notice) {
	sort.SliceStable(ns, func(i, j int) bool {
		if !ns[i].Start.Equal(ns[j].Start) {
			return ns[i].Start.Before(ns[j].Start)
		}
		return ns[i].ID < ns[j].ID
	})
}

// Paused returns the notice that pauses intake at now (of several, the one
// that ends last, so that Retry-After is never too early) and whether there
// is one.
func Paused(ns []Notice, now time.Time) (Notice, bool) {
	var p Notice
	found := false
	for _, n := range ns {
		if n.IntakePaused && n.ActiveAt(now) && (!found || n.End.After(p.End)) {
			p, found = n, true
		}
	}
	return p, found
}

// Banner is what a tracking page shows about a notice.
type Banner struct {
	ID      string
	Message string
	Start   time.Time
	End     time.Time
	// Active is true during the window, false while it is still ahead.
	Active bool
	// IntakePaused and IntakeNote say what happens to orders meanwhile.
	IntakePaused bool
	IntakeNote   string
	// Revision is the notice's: with ID and Active it tells a page
	// rendered with this banner from one with a changed notice.
	Revision int64
}

// BannerAt returns the customer banner at now in lang: the active customer
// notice, or else the next one that starts within lead. ok is false when
// there is none.
func BannerAt(ns []Notice, now time.Time, lead time.Duration, lang string) (b Banner, ok bool) {
	for _, n := range Visible(ns, now, AudienceCustomers) {
		if n.ActiveAt(now) || !n.Start.After(now.Add(lead)) {
			return Banner{ID: n.ID, Message: n.Message(lang), Start: n.Start, End: n.End, Active: n.ActiveAt(now),
				IntakePaused: n.IntakePaused, IntakeNote: n.IntakeNote(lang), Revision: n.Revision}, true
		}
	}
	return Banner{}, false
}

// IntakePausedError is the cause of the Unavailable error intake returns
// during a window that pauses it; Until is when intake opens again.
type IntakePausedError struct {
	NoticeID string
	Until    time.Time
}

func (e *IntakePausedError) Error() string {
	return "intake paused by notice " + e.NoticeID + " until " + e.Until.UTC().Format(time.RFC3339)
}

// CheckIntake returns nil, or an Unavailable *erpgate.Error wrapping an
// *IntakePausedError when a notice pauses intake at now; its RetryAfter is
// the time left until the pause ends.
func CheckIntake(ns []Notice, now time.Time) error {
	p, ok := Paused(ns, now)
	if !ok {
		return nil
	}
	until := p.End.UTC().Format(time.RFC3339)
	e := erpgate.Wrap(erpgate.Unavailable, &IntakePausedError{NoticeID: p.ID, Until: p.End},
		"order intake is paused for maintenance (notice "+p.ID+") until "+until+"; send the order again after "+until)
	e.RetryAfter = p.End.Sub(now) // Retry-After: the end of the pause
	return e
}

// Source is where Board reads the notices from (store.Notices).
type Source interface {
	// Notices returns every stored notice. Errors: Unavailable.
	Notices(ctx context.Context) ([]Notice, error)
}
