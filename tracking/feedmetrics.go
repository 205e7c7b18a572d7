package tracking

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"erpgate/internal/streamgroup"
)

// feedCollector reports at scrape time how long the feed is and how far the
// webhook group is behind it — the news webhooks would lose if the group
// fell DefaultFeedMaxLen behind (see "Trimming the feed"):
//
//	erpgate_tracking_feed_entries          entries in trk:feed
//	erpgate_tracking_webhook_feed_unread   entries the webhook group has not read
//	                                       (left out when Redis cannot tell)
//	erpgate_tracking_webhook_feed_pending  entries read, not yet acknowledged
//
// Every instance reports the same shared values; alerts take the max. A
// scrape that Redis does not answer within feedScrapeTimeout leaves them
// out (an absent series is what "no data" alerts are for).
type feedCollector struct {
	rdb                     redis.UniversalClient
	entries, unread, pendin *prometheus.Desc
}

const feedScrapeTimeout = 2 * time.Second

// feedUnreadCap bounds the count of unread feed entries (beyond it, Redis's
// lag bounded by the feed's length).
const feedUnreadCap = 10000

func newFeedCollector(rdb redis.UniversalClient) *feedCollector {
	return &feedCollector{
		rdb: rdb,
		entries: prometheus.NewDesc("erpgate_tracking_feed_entries",
			"Entries in the tracking event feed (trk:feed), shared by all instances.", nil, nil),
		unread: prometheus.NewDesc("erpgate_tracking_webhook_feed_unread",
			"Feed entries the webhook consumer group has not read yet.", nil, nil),
		pendin: prometheus.NewDesc("erpgate_tracking_webhook_feed_pending",
			"Feed entries the webhook consumer group has read but not acknowledged.", nil, nil),
	}
}

func (c *feedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.unread
	ch <- c.pendin
}

func (c *feedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), feedScrapeTimeout)
	defer cancel()
	var xlen *redis.IntCmd
	var groups *redis.XInfoGroupsCmd
	_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		xlen = p.XLen(ctx, FeedKey)
		groups = p.XInfoGroups(ctx, FeedKey)
		return nil
	})
	if n, err := xlen.Result(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(n))
	}
	gs, err := groups.Result()
	if err != nil {
		return
	}
	for _, g := range gs {
		if g.Name != WebhookGroup {
			continue
		}
		// Redis's lag can be NULL or stale (streamgroup.Unread): count.
		if n, _, err := streamgroup.Unread(ctx, c.rdb, FeedKey, g, feedUnreadCap); err == nil {
			ch <- prometheus.MustNewConstMetric(c.unread, prometheus.GaugeValue, float64(n))
		}
		ch <- prometheus.MustNewConstMetric(c.pendin, prometheus.GaugeValue, float64(g.Pending))
	}
}
