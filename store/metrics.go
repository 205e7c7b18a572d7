package store

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a Prometheus collector of the outbox gauges. It asks
// Redis at scrape time, bounded by Options.ScrapeTimeout; when Redis does not
// answer in time the gauges are left out of that scrape (an absent series is
// what alerts on "no data" are for) and the failure is logged.
//
//	erpgate_outbox_pending_messages{target}           entries the target has not acknowledged
//	                                                  (pending + not yet delivered)
//	erpgate_outbox_oldest_pending_age_seconds{target} age of the oldest of them
//	erpgate_outbox_dead_letters                       length of the dead-letter stream
func (s *Store) Collector() prometheus.Collector {
	return &collector{
		s: s,
		pending: prometheus.NewDesc("erpgate_outbox_pending_messages",
			"Outbox entries a target has not acknowledged yet (in flight, deferred or not yet read).",
			[]string{"target"}, nil),
		oldest: prometheus.NewDesc("erpgate_outbox_oldest_pending_age_seconds",
			"Age of the oldest outbox entry a target has not acknowledged (0 when none).",
			[]string{"target"}, nil),
		dead: prometheus.NewDesc("erpgate_outbox_dead_letters",
			"Current length of the outbox dead-letter stream.", nil, nil),
	}
}

type collector struct {
	s                     *Store
	pending, oldest, dead *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.dead
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.scrape)
	defer cancel()
	stats, err := c.s.outbox.Stats(ctx)
	if err != nil {
		c.s.log.Warn("outbox metrics: stats failed", "err", err)
	}
	for _, st := range stats {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending+st.Lag), st.Target)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, st.Oldest.Seconds(), st.Target)
	}
	n, err := c.s.outbox.DeadLetterCount(ctx)
	if err != nil {
		c.s.log.Warn("outbox metrics: dead-letter count failed", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n))
}
