package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/limiter"
)

// peak tracks the most handlers running at once.
type peak struct{ now, max atomic.Int64 }

func (p *peak) enter() {
	n := p.now.Add(1)
	for {
		m := p.max.Load()
		if n <= m || p.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (p *peak) leave() { p.now.Add(-1) }

func TestWithLimiterTakesAPermitPerAttemptAndReportsOutcomes(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 3})
	require.NoError(t, err)
	var pk peak
	var once sync.Map
	var fs failures[int]
	st, err := NewJob(rangeOf(t, 300, 50), func(_ context.Context, v int) error {
		pk.enter()
		defer pk.leave()
		time.Sleep(50 * time.Microsecond)
		switch {
		case v%10 == 1:
			if _, again := once.LoadOrStore(v, true); !again {
				return fmt.Errorf("GET /items/%d: 429: %w", v, limiter.ErrThrottled)
			}
		case v%10 == 2:
			if _, again := once.LoadOrStore(v, true); !again {
				return errors.New("connection reset by peer")
			}
		case v%10 == 3:
			return Permanent(errors.New("404 not found"))
		}
		return nil
	}).WithLimiter(l, func(int) string { return "api.example.com:443" }).WithFailureSink(fs.add).Run(context.Background(),
		WithRetry(Retry{Base: time.Millisecond, Max: time.Millisecond, BudgetRatio: 1}))
	require.NoError(t, err)
	assert.LessOrEqual(t, pk.max.Load(), int64(3), "no more attempts at once than the limiter allows")
	assert.Equal(t, 3, st.MaxConsumers, "consumers follow l.Limit()")
	snap := l.Host("api.example.com:443").Snapshot()
	assert.EqualValues(t, 270, snap.Successes)
	assert.EqualValues(t, 30, snap.Throttled)
	assert.EqualValues(t, 30, snap.Dropped)
	assert.EqualValues(t, 30, snap.Ignored, "permanent errors say nothing about load")
	assert.Zero(t, snap.InFlight, "every permit is released")
	assert.EqualValues(t, 30, st.Throttled)
	assert.EqualValues(t, 60, st.Retries)
	assert.EqualValues(t, 30, st.Failed)
}

func TestRetryAfterGatesTheHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 1})
	require.NoError(t, err)
	until := time.Now().Add(time.Hour)
	var calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob(rangeOf(t, 5, 5), func(context.Context, int) error {
		calls.Add(1)
		return &limiter.RetryAfterError{Until: until, Err: errors.New("429")}
	}).WithLimiter(l, func(int) string { return "h" }))
	h := l.Host("h")
	waitFor(t, "the host is gated", func() bool { return !h.Snapshot().GateUntil.IsZero() })
	time.Sleep(20 * time.Millisecond)
	assert.EqualValues(t, 1, calls.Load(), "no attempt to the host starts before the Retry-After")
	cancel()
	st, err := wait()
	require.NoError(t, err)
	assert.True(t, st.Interrupted)
	assert.EqualValues(t, 5, st.Unfinished)
}

// runThrottledItem runs one item on a host "h" under a fake clock: the item's
// attempt n (from 1) returns answer(n, now), the clock advancing by step until
// done holds. It returns the run's stats, its failures and the attempts made.
func runThrottledItem(t *testing.T, retry Retry, step time.Duration, answer func(n int64, now time.Time) error, done func(calls int64, fs *failures[int]) bool) (Stats, *failures[int], int64) {
	t.Helper()
	clock := clockwork.NewFakeClock()
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 1}, limiter.WithClock(clock))
	require.NoError(t, err)
	var calls atomic.Int64
	fs := &failures[int]{}
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		return answer(calls.Add(1), clock.Now())
	}).WithLimiter(l, func(int) string { return "h" }).WithFailureSink(fs.add), WithClock(clock), WithRetry(retry))
	advanceUntil(t, clock, step, func() bool { return done(calls.Load(), fs) })
	st, err := wait()
	require.NoError(t, err)
	return st, fs, calls.Load()
}

func TestThrottlesSpendNoAttempts(t *testing.T) {
	defer goleak.VerifyNone(t)
	// A host that refuses every request ten times over, each refusal with
	// a Retry-After already past (a date rounded down to its second), then
	// serves: more throttles than the item has attempts.
	st, fs, _ := runThrottledItem(t, Retry{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond}, 50*time.Millisecond,
		func(n int64, now time.Time) error {
			if n <= 10 {
				return fmt.Errorf("GET /items/0: %w", &limiter.RetryAfterError{Until: now, Err: errors.New("429")})
			}
			return nil
		},
		func(calls int64, fs *failures[int]) bool { return calls > 10 || len(fs.byReason()) > 0 })
	assert.Empty(t, fs.all, "a server that only throttles fails no item")
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 10, st.Throttled)
	assert.EqualValues(t, 11, st.Attempts)
}

func TestAnItemThrottledForLongerThanMaxThrottledForFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	// A host that throttles one item for ever, each time for a minute: the
	// item fails once it has been throttled for MaxThrottledFor, and the
	// run ends.
	st, fs, calls := runThrottledItem(t, Retry{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond, MaxThrottledFor: 5 * time.Minute}, 10*time.Second,
		func(_ int64, now time.Time) error {
			return fmt.Errorf("GET /items/0: %w", &limiter.RetryAfterError{Until: now.Add(time.Minute), Err: errors.New("429")})
		},
		func(_ int64, fs *failures[int]) bool { return len(fs.byReason()) > 0 })
	require.Len(t, fs.all, 1)
	assert.Equal(t, ReasonAttempts, fs.all[0].Reason)
	assert.ErrorContains(t, fs.all[0].Err, "throttled for 5m0s since its first throttled answer (6 throttled attempts)")
	assert.ErrorIs(t, fs.all[0].Err, limiter.ErrThrottled, "the throttle's error is kept")
	assert.EqualValues(t, 6, calls, "asked at 0, 1, 2, 3, 4 and 5 minutes")
	assert.EqualValues(t, 6, st.Throttled)
}

func TestAnItemFailsAfterItsAttemptsThatWereNotThrottled(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Throttled, then failing, throttled again, failing again: the
	// failures alone spend the item's attempts; the failed item counts
	// every attempt it made.
	var calls atomic.Int64
	var fs failures[int]
	st, err := NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		if calls.Add(1)%2 == 1 {
			return fmt.Errorf("GET /items/0: 429: %w", limiter.ErrThrottled)
		}
		return errors.New("GET /items/0: 500")
	}).WithFailureSink(fs.add).Run(context.Background(), WithRetry(Retry{MaxAttempts: 3, Base: time.Nanosecond, Max: time.Nanosecond}))
	require.NoError(t, err)
	require.Len(t, fs.all, 1)
	assert.Equal(t, ReasonAttempts, fs.all[0].Reason)
	assert.Equal(t, 6, fs.all[0].Attempts, "three failures and the three throttles before them")
	assert.EqualError(t, fs.all[0].Err, "GET /items/0: 500")
	assert.EqualValues(t, 3, st.Throttled)
}
