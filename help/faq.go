package help

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"erpgate"
	"erpgate/feedback"
)

// Limits of a FAQ entry.
const (
	MaxIDLen       = 64
	MaxQuestionLen = 300  // characters per language
	MaxAnswerLen   = 4000 // characters per language
	MaxEntries     = 200
)

// Entry is one published question and answer. An admin publishes it from a
// feedback topic (the FAQ candidates); the page lists entries most asked
// first, by their topic's feedback count.
type Entry struct {
	// ID names the entry: 1–64 of [a-z0-9-]; it is the page anchor.
	ID string `json:"id"`
	// Topic is the feedback topic it answers (as feedback.NormalizeTopic
	// gives it).
	Topic string `json:"topic"`
	// Question and Answer per language; "en" and "de" required. Plain
	// text; blank lines separate paragraphs.
	Question map[string]string `json:"question"`
	Answer   map[string]string `json:"answer"`

	Actor     string    `json:"actor,omitempty"`     // set by the gateway
	UpdatedAt time.Time `json:"updated_at,omitzero"` // set by the gateway
}

// Validate checks e as an admin sends it. Errors: Invalid with a problem
// per field.
func (e *Entry) Validate() error {
	var ps []erpgate.Problem
	add := func(f, m string) { ps = append(ps, erpgate.Problem{Field: f, Message: m}) }
	if !ValidID(e.ID) {
		add("id", fmt.Sprintf("1 to %d lower-case letters, digits or '-'", MaxIDLen))
	}
	if t, err := feedback.NormalizeTopic(e.Topic); err != nil || strings.TrimSpace(e.Topic) == "" {
		add("topic", "required: a feedback topic (see GET /admin/feedback/topics)")
	} else {
		e.Topic = t
	}
	check := func(field string, m map[string]string, max int) {
		for _, l := range Languages {
			if strings.TrimSpace(m[l]) == "" {
				add(field+"."+l, "required")
			}
		}
		for l, v := range m {
			if !slices.Contains(Languages, l) {
				add(field, fmt.Sprintf("language %.10q: one of %s", l, strings.Join(Languages, ", ")))
				continue
			}
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max ||
				strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
				add(field+"."+l, fmt.Sprintf("valid UTF-8 text, at most %d characters", max))
			}
		}
	}
	check("question", e.Question, MaxQuestionLen)
	check("answer", e.Answer, MaxAnswerLen)
	if len(ps) > 0 {
		slices.SortFunc(ps, func(a, b erpgate.Problem) int { return strings.Compare(a.Field, b.Field) })
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid FAQ entry", Problems: ps}
	}
	return nil
}

// ValidID reports whether id can name a FAQ entry.
func ValidID(id string) bool {
	return id != "" && len(id) <= MaxIDLen && strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// Rank orders entries most asked first: by the feedback count of their
// topic (over all revisions), then by id.
func Rank(es []Entry, counts []feedback.TopicCount) []Entry {
	n := make(map[string]int64, len(counts))
	for _, c := range counts {
		n[c.Topic] = c.Count
	}
	out := slices.Clone(es)
	slices.SortStableFunc(out, func(a, b Entry) int {
		if n[a.Topic] != n[b.Topic] {
			if n[a.Topic] > n[b.Topic] {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
