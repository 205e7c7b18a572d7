package gateway

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	intake   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "erpgate_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpgate_intake_orders_total",
			Help: "Orders submitted by channel (rest, soap) and outcome (accepted, replayed, invalid, conflict, error).",
		}, []string{"channel", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.intake} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Pre-create the intake series so rates are defined from the first scrape.
	for _, ch := range []string{"rest", "soap"} {
		for _, o := range []string{"accepted", "replayed", "invalid", "conflict", "error"} {
			m.intake.WithLabelValues(ch, o)
		}
	}
	return m, nil
}
