package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/politely/politely/limiter"
)

// reading is what a response's headers announce.
type reading struct {
	quota    limiter.Quota
	hasQuota bool
	retryAt  time.Time // from Retry-After; zero when absent, invalid or past
	err      error     // headers that were present but could not be parsed
}

// read reads the answer h received at now; clock gives the server's clock
// offset, asked only for absolute times.
func read(h http.Header, now time.Time, clock clockRef) reading {
	var r reading
	var qerr, rerr error
	r.quota, r.hasQuota, qerr = parseQuota(h, now, clock)
	if v := fRetryAfter.get(h); v != "" {
		// An HTTP-date is on the server's clock, like an epoch reset.
		var offset time.Duration
		if tv := strings.TrimSpace(v); tv != "" && !isDigit(tv[0]) {
			offset = clock.offset()
		}
		var t time.Time
		if t, rerr = ParseRetryAfter(v, now.Add(-offset)); rerr == nil && t.Add(offset).After(now) {
			r.retryAt = t.Add(offset)
		}
		if rerr != nil {
			rerr = fmt.Errorf("%s: %w", fRetryAfter.name, rerr)
		}
	}
	r.err = errors.Join(qerr, rerr)
	return r
}

// verdict is what one exchange means for its host: the outcome the permit is
// released with, a time the host's gate must stay closed until (zero for
// none), and whether the server refused for rate or load (Exchange.Throttled).
type verdict struct {
	outcome   limiter.Outcome
	until     time.Time
	throttled bool
}

// headersDecide reports whether classify's verdict for code depends on the
// headers: for any other code a reading without them gives the same verdict.
func headersDecide(code int) bool {
	switch code {
	case http.StatusForbidden, http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusTooEarly:
		return true
	}
	return serverError(code)
}

// classify decides what a response with status code means. See the package
// documentation for the table.
func (r reading) classify(code int) verdict {
	exhausted := r.hasQuota && r.quota.Remaining == 0
	switch {
	case code == http.StatusTooManyRequests,
		code == http.StatusForbidden && (exhausted || !r.retryAt.IsZero()):
		v := verdict{outcome: limiter.Throttled, until: r.retryAt, throttled: true}
		if exhausted && r.quota.Reset.After(v.until) {
			v.until = r.quota.Reset
		}
		return v
	case code == http.StatusServiceUnavailable:
		return verdict{outcome: limiter.Dropped, until: r.retryAt, throttled: true}
	case code == http.StatusBadGateway || code == http.StatusGatewayTimeout:
		return verdict{outcome: limiter.Dropped, until: r.retryAt}
	case code < 400:
		return verdict{outcome: limiter.Success}
	case serverError(code), code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		// A proxy whose backend is stuck answers 408 or 425 as it would a
		// 500: alone it says nothing, a run of them is a server in
		// trouble. A Retry-After on any of them holds the host.
		return verdict{outcome: limiter.Errored, until: r.retryAt}
	default:
		return verdict{outcome: limiter.Ignored}
	}
}

// serverError reports whether code is a server error that a server in
// trouble answers (500, 507, a proxy's 52x), not one that names a request
// it will never serve (501 Not Implemented, 505 HTTP Version Not
// Supported). 502, 503 and 504 are classified before it; 501 and 505 are
// no server in trouble whatever their headers.
func serverError(code int) bool {
	return code >= 500 && code <= 599 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
}

// classifyFailure is classifyError for the exchange of permit, unanswered
// after waited: a timeout of a request that a request sent after it
// overtook (see limiter.Permit.Overtaken), or that waited many times as long
// as its host's answers take (limiter.Permit.Outwaited), is a lost request,
// Ignored: the host answers, and a host that leaves a share of its requests
// hanging is not cut to a concurrency of one by them. A timeout at a host
// whose answers took about as long, or that has not answered, is a queue,
// Dropped.
func classifyFailure(ctx context.Context, err error, permit limiter.Permit, waited time.Duration) limiter.Outcome {
	o := classifyError(ctx, err)
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	if o == limiter.Dropped && timeout && (permit.Overtaken() || permit.Outwaited(waited)) {
		return limiter.Ignored
	}
	return o
}

// classifyError decides what a failed exchange means: the caller's own
// cancellation says nothing about the host; a timeout, a refused or reset
// connection, or a connection closed mid-answer is overload; anything else
// (a bad certificate, an unknown host, a malformed answer) says nothing
// about load either.
func classifyError(ctx context.Context, err error) limiter.Outcome {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return limiter.Ignored
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return limiter.Dropped
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return limiter.Dropped
	default:
		return limiter.Ignored
	}
}
