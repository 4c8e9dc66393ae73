package crawl

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/politely/politely/transport"
)

// wire is the RoundTripper under the limiter's transport: it sees a request
// only once the request holds its host's permit, so it times the request
// itself (limits.timeout, or its host's under hosts: whole body included,
// waiting for a permit not included) and counts what was really sent and how much was in flight. The
// transport reports how each exchange ended to the meter (meter.observe).
//
// A request counts as sent when its answer came, or when the network failed
// it while its caller still waited (a refused connection, a timeout, a
// reset). One its caller cancelled first (an interrupted crawl's) is not
// counted: whether it reached the server is unknown (net/http reports a
// request written once it is in the connection's buffer, before the flush
// that a cancel can stop), and requests never exceed what the server saw.
type wire struct {
	next    http.RoundTripper
	timeout time.Duration
	hosts   map[string]time.Duration // timeouts of the hosts whose own differs, by host key
	meter   *meter
	silent  *silences    // told whether each request got an answer; nil when no host is ever unresponsive
	late    *lateAnswers // told of each request its own timeout ended; nil tells nobody
	apart   *apartWatch  // told of each answer, to tell a listing limited apart; nil tells nobody

	deadlines deadlines // the requests in flight, each under its timeout
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	timeout := w.timeoutOf(req)
	ctx, _ := req.Context().Value(timedKey{}).(*timed)
	if ctx != nil && ctx.d == &w.deadlines && ctx.fresh {
		ctx.fresh = false // started by sendContext for this request
	} else {
		ctx = nil
	}
	if err := w.hopRefused(req); err != nil {
		if ctx != nil {
			w.deadlines.end(ctx, context.Canceled)
		}
		return nil, err
	}
	var sent time.Time
	if w.silent != nil {
		sent = w.silent.now()
	}
	noteSent(req.Context())
	if ctx == nil {
		ctx = w.deadlines.start(req.Context(), timeout)
		req = req.WithContext(ctx)
	}
	caller := ctx.parent
	w.meter.start()
	resp, err := w.next.RoundTrip(req)
	if err == nil || caller.Err() == nil {
		w.meter.sent(req, resp)
	}
	if err != nil {
		if caller.Err() == nil && !untrusted(err) {
			// A certificate that failed verification came from a host
			// that answers.
			w.silent.unanswered(req, sent, timeout)
			if ctx.Err() == context.DeadlineExceeded {
				w.late.timedOut(req, timeout)
			}
		}
		w.deadlines.end(ctx, context.Canceled)
		return nil, err
	}
	w.apart.answered(req, resp)
	ctx.ReadCloser = resp.Body
	ctx.heard = heard{silent: w.silent, late: w.late, req: req, sent: sent, timeout: timeout}
	resp.Body = ctx
	return resp, nil
}

// sendContext is the transport's WithSendContext: it starts the request's
// timeout once it holds its host's permit, so that the transport sends the
// request under it with the one copy of the request it makes anyway, and
// RoundTrip, which it passes the request to at once, uses it.
func (w *wire) sendContext(req *http.Request, ctx context.Context) context.Context {
	c := w.deadlines.start(ctx, w.timeoutOf(req))
	c.fresh = true
	return c
}

// timeoutOf is limits.timeout for req's host: its own under hosts, or the
// crawl's.
func (w *wire) timeoutOf(req *http.Request) time.Duration {
	if len(w.hosts) > 0 {
		if d, ok := w.hosts[transport.HostKey(req)]; ok {
			return d
		}
		if d, ok := w.hosts[strings.TrimSuffix(strings.ToLower(req.URL.Hostname()), ".")]; ok {
			return d
		}
	}
	return w.timeout
}

// hopRefused is the refusal of a redirect hop (see fetcher.hopAdmitted) to a
// host that became unresponsive while the hop waited for its permit, unless
// it is the hop that tries the host again; nil for any other request.
func (w *wire) hopRefused(req *http.Request) error {
	if w.silent == nil || w.silent.tracked.Load() == 0 || !isHop(req.Context()) || isProbe(req.Context()) {
		return nil
	}
	if err := w.silent.down(transport.HostKey(req)); err != nil {
		return sentLast{err} // the task sent its first request
	}
	return nil
}

// CloseIdleConnections closes the idle connections of the RoundTripper
// under it, if it can; the transport above calls it when the crawl ends.
func (w *wire) CloseIdleConnections() {
	if c, ok := w.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// heard tells the silences whether a request got its answer: a body whose
// reading the request's timeout cut short is no answer (a host that sends
// its headers and then nothing is as silent as one that sends nothing), one
// closed otherwise is.
type heard struct {
	silent  *silences    // nil when no host is ever unresponsive
	late    *lateAnswers // nil tells nobody
	req     *http.Request
	sent    time.Time
	timeout time.Duration
	told    atomic.Bool
}

// Read reads the answer's body (timed is its body once it came). The end of
// the body is told as an answer here, not at Close: the transport releases
// the host's permit when the body is read to its end, before the caller
// closes it, and the next task of a host that was unresponsive must find it
// answering again, not failed while its try's answer is read.
func (c *timed) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err == io.EOF && c.silent != nil && c.told.CompareAndSwap(false, true) {
		c.silent.answered(c.req)
	}
	if err != nil && err != io.EOF && c.Err() == context.DeadlineExceeded && c.parent.Err() == nil {
		if c.silent != nil && c.told.CompareAndSwap(false, true) {
			c.silent.unanswered(c.req, c.sent, c.timeout)
		}
		c.late.timedOut(c.req, c.timeout)
	}
	return n, err
}

// Close closes the answer's body and ends the request's timeout.
func (c *timed) Close() error {
	err := c.ReadCloser.Close()
	if c.silent != nil && c.told.CompareAndSwap(false, true) {
		c.silent.answered(c.req)
	}
	c.d.end(c, context.Canceled)
	return err
}

// meter counts requests for the summary and, when a registerer was given,
// for Prometheus: requests (and politely_requests_total) those sent (see
// wire), inFlight those that hold their permit past the transport, from
// start to observe.
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
	if m.prom != nil {
		m.prom.inFlight.Inc()
	}
}

// sent counts a request sent (see wire), with its answer's status; resp is
// nil when the network failed it.
func (m *meter) sent(req *http.Request, resp *http.Response) {
	m.requests.Add(1)
	if m.prom == nil {
		return
	}
	label := "error"
	if resp != nil {
		label = strconv.Itoa(resp.StatusCode)
	}
	m.prom.requests.WithLabelValues(transport.HostKey(req), label).Inc()
}

// observe records an exchange that ended, with the transport's verdict.
func (m *meter) observe(x transport.Exchange) {
	m.inFlight.Add(-1)
	if x.Throttled {
		m.throttled.Add(1)
	}
	if m.prom == nil {
		return
	}
	m.prom.inFlight.Dec()
	m.prom.latency.WithLabelValues(x.Host).Observe(x.Latency.Seconds())
	if x.Throttled {
		m.prom.throttled.WithLabelValues(x.Host).Inc()
	}
}
