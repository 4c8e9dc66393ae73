package crawl

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// wire is the RoundTripper under the limiter's transport: it sees a request
// only once the request holds its host's permit, so it times the request
// itself (limits.timeout: whole body included, waiting for a permit not
// included) and counts what was really sent and how much was in flight.
type wire struct {
	next    http.RoundTripper
	timeout time.Duration
	meter   *meter
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), w.timeout)
	w.meter.start()
	began := time.Now()
	resp, err := w.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		w.meter.finish(transport.HostKey(req), 0, time.Since(began), false)
		return nil, err
	}
	throttled := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusForbidden && errors.Is(transport.Check(resp), limiter.ErrThrottled)
	resp.Body = &timedBody{ReadCloser: resp.Body, cancel: cancel, done: func() {
		w.meter.finish(transport.HostKey(req), resp.StatusCode, time.Since(began), throttled)
	}}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the RoundTripper
// under it, if it can; the transport above calls it when the crawl ends.
func (w *wire) CloseIdleConnections() {
	if c, ok := w.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// timedBody ends its request's timeout and records the exchange when the
// body is closed.
type timedBody struct {
	io.ReadCloser
	cancel func()
	done   func()
	closed atomic.Bool
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.cancel()
		b.done()
	}
	return err
}

// meter counts requests for the summary and, when a registerer was given,
// for Prometheus.
type meter struct {
	requests    atomic.Int64
	throttled   atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	prom        *promMetrics // nil without a registerer
}

func (m *meter) start() {
	n := m.inFlight.Add(1)
	for {
		top := m.maxInFlight.Load()
		if n <= top || m.maxInFlight.CompareAndSwap(top, n) {
			break
		}
	}
	m.requests.Add(1)
	if m.prom != nil {
		m.prom.inFlight.Inc()
	}
}

// finish records an exchange that ended; code 0 is a transport error.
func (m *meter) finish(host string, code int, took time.Duration, throttled bool) {
	m.inFlight.Add(-1)
	if throttled {
		m.throttled.Add(1)
	}
	if m.prom == nil {
		return
	}
	m.prom.inFlight.Dec()
	label := "error"
	if code != 0 {
		label = strconv.Itoa(code)
	}
	m.prom.requests.WithLabelValues(host, label).Inc()
	m.prom.latency.WithLabelValues(host).Observe(took.Seconds())
	if throttled {
		m.prom.throttled.WithLabelValues(host).Inc()
	}
}
