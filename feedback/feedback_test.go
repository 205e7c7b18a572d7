package feedback

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"erpgate"
	"erpgate/order"
)

func TestNormalizeTopic(t *testing.T) {
	for in, want := range map[string]string{
		"": "other", "  Delivery-Date ": "delivery-date", "Wrong colour": "wrong-colour", "api": "api", "gift_wrap": "gift-wrap",
	} {
		if got, err := NormalizeTopic(in); err != nil || got != want {
			t.Errorf("NormalizeTopic(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-a", "a-", "<script>", strings.Repeat("a", MaxTopicLen+1), "größe"} {
		if _, err := NormalizeTopic(in); erpgate.ErrorCode(err) != erpgate.Invalid {
			t.Errorf("NormalizeTopic(%q) = %v, want invalid", in, err)
		}
	}
	if MetricTopic("wrong-colour") != "other" || MetricTopic("api") != "api" {
		t.Error("MetricTopic does not bound free topics")
	}
}

type memStore struct {
	uses  map[string]int
	added []Feedback
}

func (m *memStore) Allow(_ context.Context, key string, limit int, _ time.Duration) (bool, time.Duration, error) {
	m.uses[key]++
	return m.uses[key] <= limit, 42 * time.Minute, nil
}
func (m *memStore) Add(_ context.Context, f Feedback) (Feedback, error) {
	f.ID = "fb_1"
	m.added = append(m.added, f)
	return f, nil
}
func (m *memStore) List(context.Context, Filter) ([]Feedback, string, error) { return m.added, "", nil }
func (m *memStore) Counts(context.Context) ([]Count, error)                  { return nil, nil }

type plan struct{}

func (plan) Cohort(o *order.Order) string {
	if o.Customer.ID == "C-PILOT" {
		return "pilot"
	}
	return "default"
}
func (plan) Revision() int64 { return 7 }

// TestSubmit: feedback is tied to the order's cohort and the plan revision,
// trimmed, and refused past the per-order limit with the wait; bad topic
// and message are reported together.
func TestSubmit(t *testing.T) {
	st := &memStore{uses: map[string]int{}}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	svc := NewService(st, func() Plan { return plan{} }, func() time.Time { return now })
	o := &order.Order{ID: "ord_1", Customer: order.Customer{ID: "C-PILOT"}}
	ctx := context.Background()
	f, err := svc.Submit(ctx, Submission{Channel: ChannelCustomer, ShopID: "shop", Order: o, Topic: "Delivery date",
		Message: "  <b>late</b>\r\n  ", Language: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Cohort != "pilot" || f.Revision != 7 || f.Topic != "delivery-date" || f.Message != "<b>late</b>" ||
		f.Language != "de" || !f.Time.Equal(now) || f.OrderID != "ord_1" {
		t.Errorf("stored %+v", f)
	}
	for range PerOrder - 1 {
		if _, err := svc.Submit(ctx, Submission{Channel: ChannelCustomer, ShopID: "shop", Order: o, Message: "again"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.Submit(ctx, Submission{Channel: ChannelCustomer, ShopID: "shop", Order: o, Message: "one too many"})
	var rl *RateLimitedError
	if erpgate.ErrorCode(err) != erpgate.RateLimited || !errors.As(err, &rl) || rl.RetryAfter != 42*time.Minute {
		t.Errorf("past the limit = %v, want rate_limited with the wait", err)
	}
	if len(st.added) != PerOrder {
		t.Errorf("stored %d, want %d", len(st.added), PerOrder)
	}
	// A shop's general feedback has no order and no cohort.
	g, err := svc.Submit(ctx, Submission{Channel: ChannelShop, ShopID: "shop", Message: "docs?", Topic: "api"})
	if err != nil || g.Cohort != "" || g.OrderID != "" || g.Revision != 7 {
		t.Errorf("general feedback = %+v, %v", g, err)
	}
	_, err = svc.Submit(ctx, Submission{Channel: ChannelShop, ShopID: "shop", Topic: "<x>", Message: "a\x01"})
	if erpgate.ErrorCode(err) != erpgate.Invalid || len(erpgate.ErrorProblems(err)) != 2 {
		t.Errorf("bad topic and message = %v %v, want both reported", err, erpgate.ErrorProblems(err))
	}
	_, err = svc.Submit(ctx, Submission{Channel: ChannelShop, ShopID: "shop", Message: strings.Repeat("ä", MaxMessageLen+1)})
	if erpgate.ErrorCode(err) != erpgate.TooLarge {
		t.Errorf("long message = %v, want too_large", err)
	}
	if _, _, err := svc.List(ctx, Filter{Limit: MaxPage + 1}); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("List over the page limit = %v", err)
	}
}

func TestRank(t *testing.T) {
	cs := []Count{{"api", 1, 2}, {"delivery-date", 1, 1}, {"delivery-date", 2, 4}, {"invoice", 2, 2}, {"zero", 2, 0}}
	got := Rank(cs, 0)
	var s []string
	for _, tc := range got {
		s = append(s, tc.Topic)
	}
	if strings.Join(s, ",") != "delivery-date,api,invoice" || got[0].Count != 5 || got[0].ByRevision[0].Revision != 2 {
		t.Errorf("Rank = %+v", got)
	}
	if r2 := Rank(cs, 2); len(r2) != 2 || r2[0].Topic != "delivery-date" || r2[0].Count != 4 || r2[1].Topic != "invoice" {
		t.Errorf("Rank(rev 2) = %+v", r2)
	}
}

// FuzzNormalize: whatever a sender types, a topic that passes is a listed
// one or a short slug and normalizes to itself; a message that passes is
// valid UTF-8 without control characters, within the limits.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "Delivery date", "<script>", "a\x00b", "größe", strings.Repeat("x", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if topic, err := NormalizeTopic(in); err == nil {
			again, err := NormalizeTopic(topic)
			if err != nil || again != topic || len(topic) > MaxTopicLen || strings.Trim(topic, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
				t.Errorf("NormalizeTopic(%q) = %q, again %q %v", in, topic, again, err)
			}
		}
		if m, err := checkMessage(in); err == nil {
			if !utf8.ValidString(m) || utf8.RuneCountInString(m) > MaxMessageLen || utf8.RuneCountInString(m) < MinMessageLen ||
				strings.ContainsFunc(m, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
				t.Errorf("checkMessage(%q) passed %q", in, m)
			}
		}
	})
}
