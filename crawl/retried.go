package crawl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
)

// retrier retries a single request (a listing page, a robots.txt) with the
// crawl's retry policy, the one the engine applies to tasks (engine.Retry.Do),
// and counts the retries for the summary.
type retrier struct {
	retry   engine.Retry
	clock   clockwork.Clock
	retries atomic.Int64 // retries made
}

// do calls fn until it succeeds, fails for good or runs out of attempts, and
// returns nil or the last attempt's error with the number of attempts.
// A cancelled ctx returns an error wrapping ctx.Err().
func (r *retrier) do(ctx context.Context, fn func(context.Context) error) error {
	return r.doPatiently(ctx, 0, fn)
}

// doPatiently is do for a request the crawl cannot go on without, a
// listing page (the pages after it are reached only through it): a
// retryable failure is retried past the policy's attempts, on its backoff
// capped at the delay before the policy's last attempt (see patientMax),
// until patience has passed since the first failure, so that a storm of
// errors shorter than that does not end the crawl. Throttled answers count
// as engine.Retry.Do counts them: in neither the attempts nor the patience
// (a server that throttles is asked again when it says, for up to the
// policy's MaxThrottledFor).
func (r *retrier) doPatiently(ctx context.Context, patience time.Duration, fn func(context.Context) error) error {
	retry, most := r.retry, r.retry.MaxAttempts
	if most == 0 {
		most = 5 // engine.Retry's default
	}
	if patience > 0 {
		retry.MaxAttempts = math.MaxInt32
		retry.Max = patientMax(retry, most)
	}
	n, failed := 0, 0
	var firstFailed time.Time
	var gaveUp error
	err := retry.Do(ctx, r.clock, func(ctx context.Context) error {
		if n++; n > 1 {
			r.retries.Add(1)
		}
		err := fn(ctx)
		if patience == 0 || err == nil || engine.IsPermanent(err) || errors.Is(err, limiter.ErrThrottled) {
			return err
		}
		if failed++; failed == 1 {
			firstFailed = r.clock.Now()
		}
		if failed >= most && r.clock.Since(firstFailed) >= patience {
			gaveUp = err
			return engine.Permanent(err)
		}
		return err
	})
	if gaveUp != nil && errors.Is(err, gaveUp) {
		err = gaveUp
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %w", err)
	}
	return fmt.Errorf("after %s: %w", attempts(n), err)
}

// patientMax is the backoff's ceiling for a request retried past the
// policy's most attempts (see doPatiently): the delay before the policy's
// last attempt, not a ceiling that keeps doubling to backoff.max. The host is
// in an outage, asked about once a delay of that (full jitter: 1 s on
// average with the default backoff), and is asked again within that once it
// is back (a doubling ceiling of 4, 8, 16 s left it idle for seconds after an
// outage of a few); the limiter's own pause for its refusals still holds it.
func patientMax(retry engine.Retry, most int) time.Duration { return retry.Ceiling(most - 1) }

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
