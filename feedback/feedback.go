// Package feedback is what pilot users tell the release team: a shop (with
// its key) or a customer (with the order's tracking token) sends a short
// message about an order, under a topic. Every piece of feedback is tied to
// the order, the order's cohort and the release plan revision in force when
// it arrived, so that the release manager can see what users of the new
// release ask about most — the FAQ candidates.
//
// The rules live here with no HTTP and no Redis: topics, limits, the rate
// limit per order and per shop, and Service, which ties a submission to its
// order and plan. store.Feedback keeps it in Redis.
package feedback

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"erpgate"
	"erpgate/order"
)

// Channels feedback arrives on.
const (
	ChannelShop     = "shop"     // POST /v1/feedback with the shop's key
	ChannelCustomer = "customer" // the tracking page's form, with the order's tracking token
)

// Topics is the fixed list a form offers; a sender may also give a topic of
// its own (see NormalizeTopic). Metrics count free topics as "other".
var Topics = []string{"delivery-date", "order-status", "tracking-page", "wrong-or-missing-item", "invoice", "api", "other"}

// Limits.
const (
	MaxMessageLen = 2000 // characters
	MinMessageLen = 3
	MaxTopicLen   = 40
	MinTopicLen   = 2
	// PerOrder feedback messages are accepted per order within Window,
	// whoever sends them (the order's token is the customer's only
	// identity); PerShop per shop.
	PerOrder = 5
	PerShop  = 600
	Window   = time.Hour
	MaxPage  = 200
)

// Feedback is one stored message. Its JSON form is what the admin API shows.
type Feedback struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Channel string    `json:"channel"`
	ShopID  string    `json:"shop_id"`
	OrderID string    `json:"order_id,omitempty"`
	// Cohort is the release plan cohort the order belongs to ("default"
	// when none); empty without an order.
	Cohort string `json:"cohort,omitempty"`
	// Revision is the release plan revision in force when it arrived.
	Revision int64  `json:"revision"`
	Topic    string `json:"topic"`
	Message  string `json:"message"`
	Language string `json:"language,omitempty"`
}

// NormalizeTopic returns the topic as stored: lower case, spaces and '_' as
// '-'. A topic from Topics or a free one of 2–40 letters, digits and '-'.
// An empty topic is "other". Errors: Invalid.
func NormalizeTopic(t string) (string, error) {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "" {
		return "other", nil
	}
	t = strings.Map(func(r rune) rune {
		if r == ' ' || r == '_' {
			return '-'
		}
		return r
	}, t)
	if slices.Contains(Topics, t) {
		return t, nil
	}
	if len(t) < MinTopicLen || len(t) > MaxTopicLen || strings.Trim(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
		t[0] == '-' || t[len(t)-1] == '-' {
		return "", &erpgate.Error{Code: erpgate.Invalid, Message: "invalid topic", Problems: []erpgate.Problem{{
			Field: "topic", Message: fmt.Sprintf("one of %s, or %d to %d letters, digits and '-'", strings.Join(Topics, ", "), MinTopicLen, MaxTopicLen)}}}
	}
	return t, nil
}

// MetricTopic is the topic as a metric label: a listed topic, else "other",
// so that free topics cannot grow the series without bound.
func MetricTopic(t string) string {
	if slices.Contains(Topics, t) {
		return t
	}
	return "other"
}

// checkMessage trims m and checks its length and characters.
func checkMessage(m string) (string, error) {
	m = strings.TrimSpace(strings.ReplaceAll(m, "\r\n", "\n"))
	bad := func(msg string) error {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid message", Problems: []erpgate.Problem{{Field: "message", Message: msg}}}
	}
	switch n := utf8.RuneCountInString(m); {
	case !utf8.ValidString(m):
		return "", bad("must be valid UTF-8")
	case n < MinMessageLen:
		return "", bad(fmt.Sprintf("required: at least %d characters", MinMessageLen))
	case n > MaxMessageLen:
		return "", &erpgate.Error{Code: erpgate.TooLarge, Message: "message too long", Problems: []erpgate.Problem{{
			Field: "message", Message: fmt.Sprintf("at most %d characters (this one has %d)", MaxMessageLen, n)}}}
	case strings.ContainsFunc(m, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "", bad("control characters other than line breaks and tabs are not allowed")
	}
	return m, nil
}

// Submission is what a sender gives.
type Submission struct {
	Channel string
	ShopID  string
	// Order is the order it is about (nil: a shop's general feedback).
	Order    *order.Order
	Topic    string
	Message  string
	Language string // "en", "de", … (optional)
}

// Plan is what the service needs of the release plan in force.
type Plan interface {
	// Cohort returns the cohort name of o (erp.DefaultCohort when none).
	Cohort(o *order.Order) string
	// Revision returns the plan's revision.
	Revision() int64
}

// Store keeps feedback (store.Feedback).
type Store interface {
	// Allow counts one use of the rate limit key and reports whether it is
	// within limit per window, and if not, how long until it is.
	// Errors: Unavailable.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error)
	// Add stores f, assigning its ID. Errors: Unavailable.
	Add(ctx context.Context, f Feedback) (Feedback, error)
	// List returns up to f.Limit feedback matching f, newest first, and
	// the cursor of the next page ("" at the end). Errors: Invalid (cursor),
	// Unavailable.
	List(ctx context.Context, f Filter) ([]Feedback, string, error)
	// Counts returns how much feedback each (topic, revision) has.
	// Errors: Unavailable.
	Counts(ctx context.Context) ([]Count, error)
}

// Filter selects feedback to list.
type Filter struct {
	Topic    string // "" for all
	Revision int64  // 0 for all
	Before   string // cursor from the previous page; "" for the newest
	Limit    int    // 1..MaxPage
}

// Count is how much feedback one topic got under one plan revision.
type Count struct {
	Topic    string `json:"topic"`
	Revision int64  `json:"revision"`
	Count    int64  `json:"count"`
}

// RateLimitedError is the cause of a RateLimited error; RetryAfter is how
// long the sender should wait.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string { return "rate limited for " + e.RetryAfter.String() }

// Service accepts feedback and answers the release manager's questions
// about it.
type Service struct {
	store Store
	plan  func() Plan
	now   func() time.Time
	// Received, if set, observes every stored feedback (metrics).
	Received func(f Feedback)
}

// NewService returns the service. plan returns the plan in force now.
func NewService(st Store, plan func() Plan, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, plan: plan, now: now}
}

// Submit validates s, applies the rate limits (per order, per shop), ties
// it to the order's cohort and the plan revision and stores it.
// Errors: Invalid, TooLarge (message), RateLimited (wrapping
// *RateLimitedError), Unavailable.
func (s *Service) Submit(ctx context.Context, in Submission) (Feedback, error) {
	topic, terr := NormalizeTopic(in.Topic)
	msg, merr := checkMessage(in.Message)
	if terr != nil || merr != nil {
		code := erpgate.Invalid
		if terr == nil {
			code = erpgate.ErrorCode(merr)
		}
		return Feedback{}, &erpgate.Error{Code: code, Message: "invalid feedback",
			Problems: append(erpgate.ErrorProblems(terr), erpgate.ErrorProblems(merr)...)}
	}
	lang := strings.ToLower(in.Language)
	if len(lang) != 2 || strings.Trim(lang, "abcdefghijklmnopqrstuvwxyz") != "" {
		lang = ""
	}
	if in.Order != nil {
		if err := s.allow(ctx, "o:"+in.Order.ID, PerOrder, "feedback for this order"); err != nil {
			return Feedback{}, err
		}
	}
	if err := s.allow(ctx, "s:"+in.ShopID, PerShop, "feedback from this shop"); err != nil {
		return Feedback{}, err
	}
	p := s.plan()
	f := Feedback{Time: s.now().UTC().Truncate(time.Millisecond), Channel: in.Channel, ShopID: in.ShopID,
		Revision: p.Revision(), Topic: topic, Message: msg, Language: lang}
	if in.Order != nil {
		f.OrderID, f.Cohort = in.Order.ID, p.Cohort(in.Order)
	}
	f, err := s.store.Add(ctx, f)
	if err != nil {
		return Feedback{}, err
	}
	if s.Received != nil {
		s.Received(f)
	}
	return f, nil
}

func (s *Service) allow(ctx context.Context, key string, limit int, what string) error {
	ok, wait, err := s.store.Allow(ctx, key, limit, Window)
	if err != nil {
		return err
	}
	if !ok {
		wait = max(wait, time.Second)
		e := erpgate.Wrap(erpgate.RateLimited, &RateLimitedError{RetryAfter: wait},
			fmt.Sprintf("too much %s: at most %d an hour; try again in %s", what, limit, wait.Round(time.Second)))
		e.RetryAfter = wait
		return e
	}
	return nil
}

// List returns a page of feedback (see Store.List). Errors: Invalid (a bad
// filter), Unavailable.
func (s *Service) List(ctx context.Context, f Filter) ([]Feedback, string, error) {
	if f.Topic != "" {
		t, err := NormalizeTopic(f.Topic)
		if err != nil {
			return nil, "", err
		}
		f.Topic = t
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > MaxPage || f.Revision < 0 {
		return nil, "", &erpgate.Error{Code: erpgate.Invalid, Message: "invalid filter", Problems: []erpgate.Problem{
			{Field: "limit", Message: fmt.Sprintf("1 to %d", MaxPage)}, {Field: "revision", Message: "0 (all) or a plan revision"}}}
	}
	return s.store.List(ctx, f)
}

// TopicCount is one topic's feedback: in total and per plan revision.
type TopicCount struct {
	Topic      string  `json:"topic"`
	Count      int64   `json:"count"`
	ByRevision []Count `json:"by_revision"`
}

// Topics returns the FAQ candidates: every topic with its count (only
// under revision, when not 0), most asked first (ties by name), each with
// its counts per revision, newest revision first. Errors: Unavailable.
func (s *Service) Topics(ctx context.Context, revision int64) ([]TopicCount, error) {
	cs, err := s.store.Counts(ctx)
	if err != nil {
		return nil, err
	}
	return Rank(cs, revision), nil
}

// Rank groups counts by topic (only those of revision, when not 0) and
// orders them most asked first, ties by topic name.
func Rank(cs []Count, revision int64) []TopicCount {
	by := map[string]*TopicCount{}
	for _, c := range cs {
		if c.Count <= 0 || (revision != 0 && c.Revision != revision) {
			continue
		}
		t := by[c.Topic]
		if t == nil {
			t = &TopicCount{Topic: c.Topic}
			by[c.Topic] = t
		}
		t.Count += c.Count
		t.ByRevision = append(t.ByRevision, c)
	}
	out := make([]TopicCount, 0, len(by))
	for _, t := range by {
		slices.SortFunc(t.ByRevision, func(a, b Count) int { return cmp.Compare(b.Revision, a.Revision) })
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TopicCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Topic, b.Topic)
	})
	return out
}
