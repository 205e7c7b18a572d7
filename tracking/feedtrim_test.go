package tracking

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"erpgate/internal/redistest"
)

// TestTrimFeedKeepsWhatTheWebhookGroupNeeds: the feed is trimmed below the
// older of "the last FeedKeep" and the webhook group's oldest needed entry
// (its oldest pending one, else its last delivered one) — so a lagging
// group loses nothing however old its entries — and, without the group,
// to the last FeedKeep alone.
func TestTrimFeedKeepsWhatTheWebhookGroupNeeds(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := context.Background()
	now := time.UnixMilli(100_000 + time.Minute.Milliseconds()) // keep from 100000-0
	w, err := NewWebhooks(WebhooksConfig{Space: testSpace, Client: rdb, ShopOf: func(context.Context, string) (string, error) { return "", nil },
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	add := func(ms int) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: testFeed, ID: fmt.Sprintf("%d-0", ms), Values: []any{"o", "ord", "e", "1-0"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	first := func() string {
		t.Helper()
		m, err := rdb.XRangeN(ctx, testFeed, "-", "+", 1).Result()
		if err != nil || len(m) == 0 {
			t.Fatalf("feed empty: %v", err)
		}
		return m[0].ID
	}
	for ms := 10_000; ms <= 150_000; ms += 10_000 {
		add(ms) // 15 entries, 10 of them older than the FeedKeep window
	}

	// No webhook group: only the window is kept.
	if n, err := w.TrimFeed(ctx); err != nil || n != 9 || first() != "100000-0" {
		t.Fatalf("trim without a group = %d, %v, first %s; want 9 trimmed, first 100000-0", n, err, first())
	}

	// A group that has read up to 30000 and holds 20000 unacknowledged:
	// nothing it needs goes, however old.
	rdb.Del(ctx, testFeed)
	for ms := 10_000; ms <= 150_000; ms += 10_000 {
		add(ms)
	}
	if err := rdb.XGroupCreate(ctx, testFeed, WebhookGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: WebhookGroup, Consumer: "c", Streams: []string{testFeed, ">"}, Count: 3}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAck(ctx, testFeed, WebhookGroup, "10000-0", "30000-0").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.TrimFeed(ctx); err != nil || n != 1 || first() != "20000-0" {
		t.Fatalf("trim with 20000 pending = %d, %v, first %s; want 1 trimmed, first 20000-0", n, err, first())
	}
	// Acknowledged: the group needs its last delivered entry on.
	if err := rdb.XAck(ctx, testFeed, WebhookGroup, "20000-0").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.TrimFeed(ctx); err != nil || n != 1 || first() != "30000-0" {
		t.Fatalf("trim after the ack = %d, %v, first %s; want 1 trimmed, first 30000-0", n, err, first())
	}
	// The group caught up past the window: the window rules.
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: WebhookGroup, Consumer: "c", Streams: []string{testFeed, ">"}, Count: 100}).Err(); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0)
	for ms := 40_000; ms <= 150_000; ms += 10_000 {
		ids = append(ids, fmt.Sprintf("%d-0", ms))
	}
	if err := rdb.XAck(ctx, testFeed, WebhookGroup, ids...).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.TrimFeed(ctx); err != nil || n != 7 || first() != "100000-0" {
		t.Fatalf("trim after catching up = %d, %v, first %s; want 7 trimmed, first 100000-0", n, err, first())
	}
}

// TestFeedGaugesShowTheWebhookGroupBehind: the scrape reports the feed's
// length and how many entries the webhook group has not read or not
// acknowledged — what ErpgateWebhookFeedBacklog alerts on.
func TestFeedGaugesShowTheWebhookGroupBehind(t *testing.T) {
	rdb := redistest.Universal(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	w, err := NewWebhooks(WebhooksConfig{Space: testSpace, Client: rdb, Registerer: reg, ShopOf: func(context.Context, string) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: testFeed, Values: []any{"o", "ord", "e", "1-0"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: WebhookGroup, Consumer: "c", Streams: []string{testFeed, ">"}, Count: 2}).Err(); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP erpgate_tracking_feed_entries Entries in the tracking event feed (trk:feed:T, every partition), shared by all instances.
# TYPE erpgate_tracking_feed_entries gauge
erpgate_tracking_feed_entries 7
# HELP erpgate_tracking_webhook_feed_pending Feed entries the webhook consumer group has read but not acknowledged.
# TYPE erpgate_tracking_webhook_feed_pending gauge
erpgate_tracking_webhook_feed_pending 2
# HELP erpgate_tracking_webhook_feed_unread Feed entries the webhook consumer group has not read yet.
# TYPE erpgate_tracking_webhook_feed_unread gauge
erpgate_tracking_webhook_feed_unread 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erpgate_tracking_feed_entries",
		"erpgate_tracking_webhook_feed_pending", "erpgate_tracking_webhook_feed_unread"); err != nil {
		t.Error(err)
	}
}
