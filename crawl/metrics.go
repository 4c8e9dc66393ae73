package crawl

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/politely/politely/limiter"
)

// promMetrics are the crawl's Prometheus metrics, all prefixed politely_.
type promMetrics struct {
	requests  *prometheus.CounterVec   // by host and code ("error" for a transport error)
	latency   *prometheus.HistogramVec // by host
	throttled *prometheus.CounterVec   // by host
	inFlight  prometheus.Gauge

	// Set from the engine's progress snapshots.
	retries   atomic.Int64
	succeeded atomic.Int64
	failed    atomic.Int64
}

// registerMetrics creates the metrics and registers them, with a collector of
// every host's concurrency limit, in reg.
func registerMetrics(reg prometheus.Registerer, lim *limiter.Limiter) (*promMetrics, error) {
	m := &promMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "politely_requests_total", Help: "HTTP requests sent, by host and status code (\"error\" when no answer came).",
		}, []string{"host", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "politely_request_duration_seconds", Help: "Time from sending a request to the end of its body.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"host"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "politely_throttled_total", Help: "Answers refusing for rate: 429, 503 and quota-exhausted 403.",
		}, []string{"host"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "politely_requests_in_flight", Help: "HTTP requests sent and not yet finished.",
		}),
	}
	cs := []prometheus.Collector{
		m.requests, m.latency, m.throttled, m.inFlight,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "politely_retries_total", Help: "Attempts after an item's (or page's) first.",
		}, func() float64 { return float64(m.retries.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "politely_items_total", Help: "Items finished.", ConstLabels: prometheus.Labels{"result": "succeeded"},
		}, func() float64 { return float64(m.succeeded.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "politely_items_total", Help: "Items finished.", ConstLabels: prometheus.Labels{"result": "failed"},
		}, func() float64 { return float64(m.failed.Load()) }),
		&limitCollector{lim: lim},
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

var (
	limitDesc = prometheus.NewDesc("politely_concurrency_limit",
		"The host's current adaptive concurrency limit.", []string{"host"}, nil)
	rateDesc = prometheus.NewDesc("politely_rate_limit",
		"The host's current token bucket rate in requests/s (0 = unlimited).", []string{"host"}, nil)
)

// limitCollector reads the limiter's hosts when scraped.
type limitCollector struct{ lim *limiter.Limiter }

func (c *limitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- limitDesc
	ch <- rateDesc
}

func (c *limitCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.lim.Snapshots() {
		ch <- prometheus.MustNewConstMetric(limitDesc, prometheus.GaugeValue, float64(s.Limit), s.Key)
		ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, s.Rate, s.Key)
	}
}
