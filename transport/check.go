package transport

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/politely/politely/limiter"
)

// MaxRetryAfter caps the Until of the errors Check returns, as the limiter's
// default RetryAfterMax caps its gates: a hostile Retry-After of a year must
// not make a caller sleep for a year. A limiter configured with a longer
// RetryAfterMax still holds the host's gate that long; a retry made earlier
// simply waits for it in Acquire.
const MaxRetryAfter = limiter.DefaultRetryAfterMax

// StatusError is an HTTP answer that did not succeed. Temporary says whether
// trying again later may succeed; Permanent is its negation, the method the
// engine looks for (interface{ Permanent() bool }) to stop retrying.
type StatusError struct {
	Code      int  // the HTTP status code
	Throttled bool // refused for rate: 429, or 403 with an exhausted quota or a Retry-After
}

func (e *StatusError) Error() string {
	text := http.StatusText(e.Code)
	if text == "" {
		text = "status " + strconv.Itoa(e.Code)
	}
	return "http " + strconv.Itoa(e.Code) + " " + text
}

// Temporary reports whether the same request may succeed later: a throttle,
// 408 Request Timeout, 425 Too Early, and every 5xx except 501 Not
// Implemented and 505 HTTP Version Not Supported.
func (e *StatusError) Temporary() bool {
	switch c := e.Code; {
	case e.Throttled, c == http.StatusTooManyRequests, c == http.StatusRequestTimeout, c == http.StatusTooEarly:
		return true
	case c == http.StatusNotImplemented, c == http.StatusHTTPVersionNotSupported:
		return false
	default:
		return c >= 500 && c < 600
	}
}

// Permanent reports whether retrying is pointless: !Temporary().
func (e *StatusError) Permanent() bool { return !e.Temporary() }

// Check turns a response into the error a handler returns, so that
// `return transport.Check(resp)` lets the engine retry the right way:
//
//   - nil for a success (1xx, 2xx, 3xx);
//   - a *limiter.RetryAfterError (errors.Is limiter.ErrThrottled) wrapping a
//     *StatusError when the server refused for rate (429; 403 with an
//     exhausted quota or a Retry-After) or answered a Retry-After with a
//     server error (5xx but 501 and 505), 408 or 425. Until is when the server allows the next request (its
//     Retry-After or quota reset, capped at now+MaxRetryAfter), or now when
//     it gave no time: the limiter's learnt rate paces the retry;
//   - a *StatusError otherwise, whose Permanent() says whether to give up:
//     a 404 is permanent, a 500 is not.
//
// Check reads only the status and headers, never the body. For a response
// of a Transport it takes the Transport's verdict, made when the answer came;
// otherwise it classifies the status and headers itself, as the Transport
// would. It uses the real clock; CheckAt takes the time.
func Check(resp *http.Response) error { return CheckAt(resp, time.Now()) }

// CheckAt is Check at the time now.
func CheckAt(resp *http.Response, now time.Time) error {
	if resp == nil {
		return errors.New("transport: Check of a nil *http.Response")
	}
	v := verdictOf(resp, now)
	if v.outcome == limiter.Success {
		return nil
	}
	se := &StatusError{Code: resp.StatusCode, Throttled: v.outcome == limiter.Throttled}
	if !se.Throttled && v.until.IsZero() {
		return se
	}
	until := v.until
	if until.Before(now) {
		until = now
	}
	if limit := now.Add(MaxRetryAfter); until.After(limit) {
		until = limit
	}
	return &limiter.RetryAfterError{Until: until, Err: se}
}

// verdictOf is the verdict a Transport gave resp when its body still carries
// it, and otherwise resp's classification at now; the headers are read only
// for the codes whose verdict they change.
func verdictOf(resp *http.Response, now time.Time) verdict {
	if b, ok := resp.Body.(*body); ok && b.ex.status == resp.StatusCode {
		return b.ex.v
	}
	var r reading
	if headersDecide(resp.StatusCode) {
		r = read(resp.Header, now, clockRef{h: resp.Header, now: now})
	}
	return r.classify(resp.StatusCode)
}
