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
//	erpgate_tracking_feed_entries          entries in trk:feed:T, every partition
//	erpgate_tracking_webhook_feed_unread   entries the webhook group has not read
//	                                       (left out when Redis cannot tell)
//	erpgate_tracking_webhook_feed_pending  entries read, not yet acknowledged
//
// Every instance reports the same shared values; alerts take the max. A
// scrape that Redis does not answer within feedScrapeTimeout leaves them
// out (an absent series is what "no data" alerts are for).
type feedCollector struct {
	rdb                     redis.UniversalClient
	feed                    *streamgroup.Group
	entries, unread, pendin *prometheus.Desc
}

const feedScrapeTimeout = 2 * time.Second

// feedUnreadCap bounds the count of unread feed entries per partition
// (beyond it, Redis's lag bounded by the partition's length).
const feedUnreadCap = 10000

func newFeedCollector(rdb redis.UniversalClient, feed *streamgroup.Group) *feedCollector {
	return &feedCollector{
		rdb: rdb, feed: feed,
		entries: prometheus.NewDesc("erpgate_tracking_feed_entries",
			"Entries in the tracking event feed (trk:feed:T, every partition), shared by all instances.", nil, nil),
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

// Collect sums the gauges over the partitions; a gauge some partition
// cannot tell is left out.
func (c *feedCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), feedScrapeTimeout)
	defer cancel()
	n := c.feed.Partitions()
	xlens := make([]*redis.IntCmd, n)
	groups := make([]*redis.XInfoGroupsCmd, n)
	_, _ = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			xlens[i] = p.XLen(ctx, c.feed.Stream(i))
			groups[i] = p.XInfoGroups(ctx, c.feed.Stream(i))
		}
		return nil
	})
	var entries, unread, pending int64
	entriesOK, unreadOK, grouped, found := true, true, true, false
	for i := range n {
		x, err := xlens[i].Result()
		entriesOK = entriesOK && err == nil
		entries += x
		gs, err := groups[i].Result()
		if err != nil {
			grouped = false
			continue
		}
		for _, g := range gs {
			if g.Name != WebhookGroup {
				continue
			}
			found = true
			// Redis's lag can be NULL or stale (streamgroup.Unread): count.
			u, _, err := streamgroup.Unread(ctx, c.rdb, c.feed.Stream(i), g, feedUnreadCap)
			unreadOK = unreadOK && err == nil
			unread += u
			pending += g.Pending
		}
	}
	if entriesOK {
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(entries))
	}
	if !grouped || !found {
		return
	}
	if unreadOK {
		ch <- prometheus.MustNewConstMetric(c.unread, prometheus.GaugeValue, float64(unread))
	}
	ch <- prometheus.MustNewConstMetric(c.pendin, prometheus.GaugeValue, float64(pending))
}
