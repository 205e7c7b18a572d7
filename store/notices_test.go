package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"erpgate"
	"erpgate/feedback"
	"erpgate/help"
	"erpgate/internal/redistest"
	"erpgate/notice"
)

func testNotice(id string, start time.Time) notice.Notice {
	return notice.Notice{ID: id, Start: start, End: start.Add(2 * time.Hour),
		Messages: map[string]string{"en": "ERP upgrade", "de": "ERP-Update"}, Audiences: []string{notice.AudienceShops}}
}

// TestNoticesStore: put creates then replaces with a rising revision,
// every notice reads back whole, delete returns it and forgets it, notices
// that ended more than notice.Keep ago are pruned by the next put, and the
// store refuses more than notice.MaxNotices.
func TestNoticesStore(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, redistest.Universal(t)).Notices()
	n, created, err := st.Put(ctx, testNotice("erp-1", t0.Add(time.Hour)))
	if err != nil || !created || n.Revision != 1 {
		t.Fatalf("first Put = rev %d, created %v, %v; want rev 1, created", n.Revision, created, err)
	}
	upd := testNotice("erp-1", t0.Add(3*time.Hour))
	upd.IntakePaused = true
	n, created, err = st.Put(ctx, upd)
	if err != nil || created || n.Revision != 2 {
		t.Fatalf("second Put = rev %d, created %v, %v; want rev 2, replaced", n.Revision, created, err)
	}
	old := testNotice("ended", t0.Add(-notice.Keep-3*time.Hour))
	if _, _, err := st.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	all, err := st.Notices(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Notices = %d, %v; want 2", len(all), err)
	}
	for _, n := range all {
		if n.ID == "erp-1" && (!n.IntakePaused || !n.Start.Equal(t0.Add(3*time.Hour)) || n.Revision != 2 || n.Messages["de"] != "ERP-Update") {
			t.Errorf("read back %+v", n)
		}
	}
	// The next put prunes the long-ended notice.
	if _, _, err := st.Put(ctx, testNotice("erp-2", t0)); err != nil {
		t.Fatal(err)
	}
	all, _ = st.Notices(ctx)
	if len(all) != 2 {
		t.Errorf("after prune: %d notices, want 2 (erp-1, erp-2)", len(all))
	}
	d, err := st.Delete(ctx, "erp-1")
	if err != nil || d.ID != "erp-1" || d.Revision != 2 {
		t.Errorf("Delete = %+v, %v", d, err)
	}
	if _, err := st.Delete(ctx, "erp-1"); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Errorf("second Delete = %v, want not_found", err)
	}
	for i := 0; i < notice.MaxNotices-1; i++ {
		if _, _, err := st.Put(ctx, testNotice(fmt.Sprintf("n-%d", i), t0)); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, _, err := st.Put(ctx, testNotice("one-too-many", t0)); erpgate.ErrorCode(err) != erpgate.Unprocessable {
		t.Errorf("Put beyond %d = %v, want unprocessable", notice.MaxNotices, err)
	}
	if _, created, err := st.Put(ctx, testNotice("n-0", t0)); err != nil || created {
		t.Errorf("replacing one when full = created %v, %v; want replaced", created, err)
	}
}

// TestFeedbackStore: feedback is stored as sent (markup and all), listed
// newest first in pages that meet without gap or overlap, filtered by topic
// and revision across more than one read, and counted by (topic, revision).
func TestFeedbackStore(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, redistest.Universal(t)).Feedback()
	var ids []string
	for i := range 30 {
		f := feedback.Feedback{Time: t0, Channel: feedback.ChannelCustomer, ShopID: "shop", OrderID: "ord_1",
			Cohort: "pilot", Revision: int64(1 + i%2), Topic: []string{"delivery-date", "api", "delivery-date"}[i%3],
			Message: fmt.Sprintf("<b>%d</b>", i)}
		got, err := st.Add(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ID)
	}
	var seen []string
	before := ""
	for page := 0; ; page++ {
		items, next, err := st.List(ctx, feedback.Filter{Limit: 7, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range items {
			seen = append(seen, f.ID)
		}
		if next == "" {
			break
		}
		before = next
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 30 || seen[0] != ids[29] || seen[29] != ids[0] {
		t.Fatalf("paged %d items, first %v last %v; want all 30 newest first", len(seen), seen[0], seen[len(seen)-1])
	}
	items, _, err := st.List(ctx, feedback.Filter{Limit: 100, Topic: "delivery-date", Revision: 2})
	if err != nil {
		t.Fatal(err)
	}
	// i%3 != 1 and i%2 == 1: i = 3, 5, 9, 11, 15, 17, 21, 23, 27, 29.
	if len(items) != 10 || items[0].Message != "<b>29</b>" || items[0].Cohort != "pilot" {
		t.Errorf("filtered = %d items, first %+v; want 10, newest <b>29</b>", len(items), items[0])
	}
	if _, _, err := st.List(ctx, feedback.Filter{Limit: 5, Before: "fb_nonsense"}); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("bad cursor = %v, want invalid", err)
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[fmt.Sprintf("%s@%d", c.Topic, c.Revision)] = c.Count
	}
	want := map[string]int64{"delivery-date@1": 10, "delivery-date@2": 10, "api@1": 5, "api@2": 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
}

// TestFeedbackAllow: the limit lets limit uses through at once, then
// refuses until one use has drained from the bucket (window / limit), per
// key.
func TestFeedbackAllow(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, redistest.Universal(t)).Feedback()
	for i := range 3 {
		if ok, _, err := st.Allow(ctx, "o:ord_1", 3, time.Hour); !ok || err != nil {
			t.Fatalf("use %d refused: %v", i+1, err)
		}
	}
	ok, wait, err := st.Allow(ctx, "o:ord_1", 3, time.Hour)
	if ok || err != nil || wait <= 19*time.Minute || wait > 20*time.Minute {
		t.Errorf("4th use = %v, wait %v, %v; want refused for about 20 minutes (an hour / 3)", ok, wait, err)
	}
	if ok, _, _ := st.Allow(ctx, "o:ord_2", 3, time.Hour); !ok {
		t.Error("another order's first use was refused")
	}
}

// TestFAQStore: put/replace/delete and the entry limit.
func TestFAQStore(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, redistest.Universal(t)).FAQ()
	e := help.Entry{ID: "when", Topic: "delivery-date", Question: map[string]string{"en": "When?", "de": "Wann?"},
		Answer: map[string]string{"en": "Soon.", "de": "Bald."}}
	if created, err := st.Put(ctx, e); !created || err != nil {
		t.Fatalf("Put = %v, %v", created, err)
	}
	e.Answer["en"] = "Tomorrow."
	if created, err := st.Put(ctx, e); created || err != nil {
		t.Fatalf("replace = %v, %v", created, err)
	}
	es, err := st.Entries(ctx)
	if err != nil || len(es) != 1 || es[0].Answer["en"] != "Tomorrow." {
		t.Fatalf("Entries = %+v, %v", es, err)
	}
	if err := st.Delete(ctx, "when"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "when"); erpgate.ErrorCode(err) != erpgate.NotFound {
		t.Errorf("second Delete = %v, want not_found", err)
	}
	for i := range help.MaxEntries {
		e.ID = fmt.Sprintf("e-%d", i)
		if _, err := st.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	e.ID = "one-more"
	if _, err := st.Put(ctx, e); erpgate.ErrorCode(err) != erpgate.Unprocessable {
		t.Errorf("Put beyond the limit = %v, want unprocessable", err)
	}
}
