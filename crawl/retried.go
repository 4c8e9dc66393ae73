package crawl

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/engine"
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
	n := 0
	err := r.retry.Do(ctx, r.clock, func(ctx context.Context) error {
		if n++; n > 1 {
			r.retries.Add(1)
		}
		return fn(ctx)
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %w", err)
	}
	return fmt.Errorf("after %s: %w", attempts(n), err)
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
