package transport

import (
	"time"

	"github.com/politely/politely/limiter"
)

// Exchange is what one request sent meant for its host, as the Transport
// judged it: see WithObserver.
type Exchange struct {
	Host    string          // the request's host key
	Status  int             // the answer's status code; 0 when no answer came
	Outcome limiter.Outcome // what the host's permit was released with
	// Throttled reports an answer that refused the request for rate or load:
	// a 429, a 503, or a 403 announcing an exhausted quota or a Retry-After.
	// A 503 is Throttled although its Outcome is Dropped: it cuts the host's
	// concurrency limit instead of waiting out a rate.
	Throttled bool
	Latency   time.Duration // from sending the request to the release of its permit
}

// WithObserver calls fn once per request sent, when its permit is released
// (see the package documentation): counters, logs and metrics read the
// Transport's verdict there instead of judging the answer again. A request
// that never got its permit is not reported. fn is called from the
// goroutine that reads or closes the body, or from RoundTrip, so it must be
// safe for concurrent use and quick. nil keeps the default, none.
func WithObserver(fn func(Exchange)) Option {
	return func(t *Transport) {
		if fn != nil {
			t.observe = fn
		}
	}
}

// exchange is an Exchange being made: reported once, when its permit is
// released.
type exchange struct {
	t      *Transport
	permit limiter.Permit
	host   string
	status int       // 0 until an answer came
	v      verdict   // the answer's; zero until an answer came
	began  time.Time // when the request was sent
	apart  bool      // a throttle is released Ignored (see PacedApart)
}

// release releases the permit with o and reports the exchange.
func (e *exchange) release(o limiter.Outcome) {
	if e.apart && o == limiter.Throttled {
		o = limiter.Ignored
	}
	e.permit.Release(o)
	if e.t.observe == nil {
		return
	}
	e.t.observe(Exchange{Host: e.host, Status: e.status, Outcome: o, Throttled: e.v.throttled,
		Latency: e.t.clock.Since(e.began)})
}
