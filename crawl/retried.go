package crawl

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
)

// retrier runs a single request (a listing page, a robots.txt) through the
// engine, so that it is retried exactly as tasks are: the same attempts,
// backoff, Retry-After waits and permanent errors. There is no second retry
// policy in this package.
type retrier struct {
	retry   engine.Retry
	drain   time.Duration
	log     *zap.Logger
	retries atomic.Int64 // retries made, for the summary
}

// errNoFailure would mean the engine neither succeeded nor reported a
// failure for the one item; it cannot happen unless the engine breaks its
// contract, and then the caller must not take the result as a success.
var errNoFailure = errors.New("engine reported no outcome")

// do calls fn until it succeeds, fails for good or runs out of attempts, and
// returns nil or the last attempt's error with the number of attempts.
// A cancelled ctx returns an error wrapping ctx.Err().
func (r *retrier) do(ctx context.Context, fn func(context.Context) error) error {
	one, err := source.Slice([]struct{}{{}})
	if err != nil {
		return err
	}
	var failure *engine.Failure[struct{}]
	st, err := engine.Run(ctx, one, func(ctx context.Context, _ struct{}) error { return fn(ctx) },
		engine.WithRetry(r.retry),
		engine.WithLimitFunc(func() int { return 1 }),
		engine.WithMaxConsumers(1),
		engine.WithQueueSize(1),
		engine.WithDrainTimeout(r.drain),
		engine.WithLogger(r.log),
		engine.WithFailureSink(func(f engine.Failure[struct{}]) { failure = &f }),
	)
	r.retries.Add(st.Retries)
	switch {
	case err != nil:
		return err
	case st.Interrupted:
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
		return errors.New("interrupted")
	case st.Succeeded == 1:
		return nil
	case failure != nil:
		if failure.Reason == engine.ReasonBudget {
			return fmt.Errorf("retry budget exhausted after %s: %w", attempts(failure.Attempts), failure.Err)
		}
		return fmt.Errorf("after %s: %w", attempts(failure.Attempts), failure.Err)
	default:
		return errNoFailure
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
