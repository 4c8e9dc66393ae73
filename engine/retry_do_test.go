package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/internal/clocktimer"
	"github.com/politely/politely/limiter"
)

// doAsync runs pol.Do in a goroutine; the returned function waits for its error.
func doAsync(ctx context.Context, t *testing.T, pol Retry, clock clockwork.Clock, fn func(context.Context) error) func() error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- pol.Do(ctx, clock, fn) }()
	return func() error {
		select {
		case err := <-ch:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Do did not return")
			return nil
		}
	}
}

// advanceWhileWaiting moves the fake clock by step each time Do waits on it,
// until done() holds.
func advanceWhileWaiting(t *testing.T, c *clockwork.FakeClock, step time.Duration, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := c.BlockUntilContext(ctx, 1)
		cancel()
		if err == nil {
			c.Advance(step)
		}
	}
}

func TestDoRetriesWithBackoffUntilSuccess(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	const step = 5 * time.Millisecond
	pol := Retry{MaxAttempts: 6, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	wait := doAsync(context.Background(), t, pol, clock, func(context.Context) error {
		if log.add() < 4 {
			return errors.New("503")
		}
		return nil
	})
	advanceWhileWaiting(t, clock, step, func() bool { return log.n() == 4 })
	require.NoError(t, wait())
	for i := 1; i < len(log.at); i++ {
		ceil := min(pol.Max, pol.Base<<(i-1))
		assert.Less(t, log.at[i].Sub(log.at[i-1]), ceil+step, "wait before retry %d is at most %v", i, ceil)
	}
}

func TestDoStopsAtAPermanentError(t *testing.T) {
	defer goleak.VerifyNone(t)
	calls := 0
	notFound := Permanent(errors.New("404"))
	err := Retry{MaxAttempts: 5}.Do(context.Background(), clockwork.NewFakeClock(), func(context.Context) error {
		calls++
		return fmt.Errorf("GET /x: %w", notFound)
	})
	assert.ErrorIs(t, err, notFound)
	assert.Equal(t, 1, calls)
}

func TestDoReturnsTheLastErrorAfterMaxAttempts(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	wait := doAsync(context.Background(), t, Retry{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond}, clock,
		func(context.Context) error { return fmt.Errorf("attempt %d failed", log.add()) })
	advanceWhileWaiting(t, clock, time.Millisecond, func() bool { return log.n() == 3 })
	assert.EqualError(t, wait(), "attempt 3 failed")
	assert.Equal(t, 3, log.n())
}

func TestDoWaitsForRetryAfterCappedAtRetryAfterMax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  time.Duration
	}{
		{"a Retry-After beyond the backoff", 5 * time.Second, 5 * time.Second},
		{"a Retry-After of a year waits the cap", 365 * 24 * time.Hour, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			clock := clockwork.NewFakeClock()
			log := &attemptLog{clock: clock}
			start := clock.Now()
			pol := Retry{Base: time.Millisecond, Max: time.Millisecond, RetryAfterMax: time.Minute}
			wait := doAsync(context.Background(), t, pol, clock, func(context.Context) error {
				if log.add() == 1 {
					return fmt.Errorf("GET /x: %w", &limiter.RetryAfterError{Until: start.Add(tc.after)})
				}
				return nil
			})
			advanceWhileWaiting(t, clock, 50*time.Millisecond, func() bool { return log.n() == 2 })
			require.NoError(t, wait())
			assert.WithinRange(t, log.at[1], start.Add(tc.want), start.Add(tc.want+50*time.Millisecond))
		})
	}
}

// The clock reaches a retry's time while Do sets its timer: the retry
// starts then, not once the clock has moved as far again.
func TestDoRetriesWhenTheClockReachesItsTimeAsItsTimerIsSet(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := &clocktimer.Stepping{FakeClock: clockwork.NewFakeClock(), Step: time.Minute}
	until := clock.Now().Add(time.Minute)
	calls := 0
	wait := doAsync(context.Background(), t, Retry{Base: time.Millisecond, Max: time.Millisecond}, clock, func(context.Context) error {
		if calls++; calls == 1 {
			return &limiter.RetryAfterError{Until: until}
		}
		return nil
	})
	require.NoError(t, wait())
	assert.Equal(t, 2, calls)
}

func TestDoEndsWithItsContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	wait := doAsync(ctx, t, Retry{Base: time.Hour, Max: time.Hour}, clock, func(context.Context) error {
		calls++
		return errors.New("503")
	})
	require.NoError(t, clock.BlockUntilContext(context.Background(), 1), "Do waits for its retry")
	cancel()
	err := wait()
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "503", "the last attempt's error is kept")
	assert.Equal(t, 1, calls)
}

func TestDoRefusesAnInvalidPolicy(t *testing.T) {
	err := Retry{MaxAttempts: -1}.Do(context.Background(), clockwork.NewFakeClock(), func(context.Context) error { return nil })
	assert.ErrorContains(t, err, "Retry.MaxAttempts")
}

func TestDoCountsThrottlesApartFromItsAttempts(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	const step = 5 * time.Millisecond
	pol := Retry{MaxAttempts: 3, Base: 100 * time.Millisecond, Max: 10 * time.Second}
	// Ten throttles without a time, a failure, a throttle, a failure, then
	// a success: more throttles than the call has attempts, and the waits
	// after the throttles stay within the first retry's ceiling.
	wait := doAsync(context.Background(), t, pol, clock, func(context.Context) error {
		switch n := log.add(); {
		case n <= 10 || n == 12:
			return fmt.Errorf("429: %w", limiter.ErrThrottled)
		case n <= 13:
			return errors.New("500")
		}
		return nil
	})
	advanceWhileWaiting(t, clock, step, func() bool { return log.n() == 14 })
	require.NoError(t, wait(), "two failures of three attempts, however many throttles")
	ceilings := []time.Duration{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 200, 200} // before calls 2..14, in ms
	for i := 1; i < len(log.at); i++ {
		ceil := ceilings[i-1] * time.Millisecond
		assert.Less(t, log.at[i].Sub(log.at[i-1]), ceil+step, "wait before call %d is at most %v", i+1, ceil)
	}
}

func TestDoFailsACallThrottledForLongerThanMaxThrottledFor(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	pol := Retry{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond, MaxThrottledFor: 5 * time.Minute}
	// Each throttle asks for a minute: the call is made at 0, 1, ... 5
	// minutes, and fails at the sixth.
	wait := doAsync(context.Background(), t, pol, clock, func(context.Context) error {
		log.add()
		return fmt.Errorf("GET /x: %w", &limiter.RetryAfterError{Until: clock.Now().Add(time.Minute), Err: errors.New("429")})
	})
	advanceWhileWaiting(t, clock, 10*time.Second, func() bool { return log.n() == 6 })
	err := wait()
	assert.ErrorContains(t, err, "throttled for 5m0s since its first throttled answer (6 throttled attempts)")
	assert.ErrorIs(t, err, limiter.ErrThrottled, "the throttle's error is kept")
	assert.Equal(t, 6, log.n())
}
