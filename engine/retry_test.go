package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/internal/clocktimer"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

// runAsync runs Run in a goroutine; the returned function waits for its result.
func runAsync[T any](ctx context.Context, t *testing.T, job Job[T], opts ...Option) func() (Stats, error) {
	t.Helper()
	type result struct {
		st  Stats
		err error
	}
	ch := make(chan result, 1)
	go func() {
		st, err := job.Run(ctx, opts...)
		ch <- result{st, err}
	}()
	return func() (Stats, error) {
		select {
		case r := <-ch:
			return r.st, r.err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
			return Stats{}, nil
		}
	}
}

// advanceUntil moves the fake clock by step until cond holds (at most 10 s
// of real time), but only while a retry waits: with two waiters on the clock,
// the controller's ticker and the retry timer. With one item, the clock never
// moves while its attempt runs, and an attempt starts less than one step
// after its retry time. With many, the clock moves while some wait and
// others run, a step each time the loop turns: the slower the machine runs
// them, the further it moves.
func advanceUntil(t *testing.T, c *clockwork.FakeClock, step time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := c.BlockUntilContext(ctx, 2)
		cancel()
		if err == nil {
			c.Advance(step)
		}
	}
}

// attemptLog records when each attempt of a single item started, by the fake clock.
type attemptLog struct {
	mu    sync.Mutex
	clock clockwork.Clock
	at    []time.Time
}

func (a *attemptLog) add() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, a.clock.Now())
	return len(a.at)
}

func (a *attemptLog) n() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

func TestBackoffIsCappedExponentialWithJitter(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	const step = 5 * time.Millisecond
	pol := Retry{MaxAttempts: 6, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		if log.add() < 6 {
			return errors.New("503")
		}
		return nil
	}), WithClock(clock), WithRetry(pol), limitOf(1))
	advanceUntil(t, clock, step, func() bool { return log.n() == 6 })
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 5, st.Retries)
	assert.EqualValues(t, 6, st.Attempts)
	// The fake clock moves in steps of 5 ms, and on a loaded machine it can
	// move a step or two more between a retry's timer firing and its attempt
	// reading the clock (1 run in ~20 saw 105 ms for a 100 ms ceiling), so
	// each wait is bounded by its ceiling plus 4 steps: still well under the
	// next ceiling (an uncapped or doubled wait fails).
	for i := 1; i < len(log.at); i++ {
		ceil := min(pol.Max, pol.Base<<(i-1))
		assert.Less(t, log.at[i].Sub(log.at[i-1]), ceil+4*step, "wait before retry %d is at most %v", i, ceil)
	}
}

// The clock reaches a retry's time while the scheduler sets its timer: the
// retry starts then, not once the clock has moved as far again.
func TestARetryStartsWhenTheClockReachesItsTimeAsItsTimerIsSet(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := &clocktimer.Stepping{FakeClock: clockwork.NewFakeClock(), Step: time.Minute}
	until := clk.Now().Add(time.Minute)
	var attempts atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the run if the retry is lost, before goleak looks
	wait := runAsync(ctx, t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		if attempts.Add(1) == 1 {
			return &limiter.RetryAfterError{Until: until}
		}
		return nil
	}), WithClock(clk), limitOf(1))
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 2, attempts.Load())
}

func TestBackoffDrawsFromTheWholeRange(t *testing.T) {
	r := Retry{Base: time.Second, Max: 8 * time.Second}
	for n, ceil := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 70: 8 * time.Second} {
		lo, hi := ceil, time.Duration(0)
		for range 2000 {
			d := r.backoff(n)
			require.True(t, d >= 0 && d <= ceil, "retry %d waits %v, outside [0, %v]", n, d, ceil)
			lo, hi = min(lo, d), max(hi, d)
		}
		assert.Less(t, lo, ceil/10, "retry %d: full jitter reaches near 0", n)
		assert.Greater(t, hi, ceil*9/10, "retry %d: full jitter reaches near the cap", n)
	}
}

func TestRetryAfterSetsTheEarliestNextAttempt(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	until := clock.Now().Add(5 * time.Second)
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		if log.add() == 1 {
			return fmt.Errorf("GET /items/1: %w", &limiter.RetryAfterError{Until: until})
		}
		return nil
	}), WithClock(clock), WithRetry(Retry{Base: time.Millisecond, Max: time.Millisecond}), limitOf(1))
	advanceUntil(t, clock, 50*time.Millisecond, func() bool { return log.n() == 2 })
	st, err := wait()
	require.NoError(t, err)
	assert.False(t, log.at[1].Before(until), "retried at %v, before the Retry-After %v", log.at[1], until)
	assert.EqualValues(t, 1, st.Throttled)
	assert.EqualValues(t, 1, st.Succeeded)
}

// heldOpen yields items 0..n-1, then waits for end to be closed before it
// ends: a source whose end the test decides.
type heldOpen struct {
	n     int
	reads atomic.Int64
	end   chan struct{}
}

func (s *heldOpen) Next(ctx context.Context) (source.Item[int], error) {
	if i := int(s.reads.Load()); i < s.n {
		s.reads.Add(1)
		return source.Item[int]{Value: i, Count: 1}, nil
	}
	select {
	case <-s.end:
		return source.Item[int]{}, io.EOF
	case <-ctx.Done():
		return source.Item[int]{}, ctx.Err()
	}
}

func TestRetryBudgetDelaysRetriesWithoutFailingItemsOrHoldingTheSourceBack(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n, consumers = 100, 4
	const window = 10 * time.Second
	// The run starts as a tenth of the window begins: for 10 s, the window
	// holds every item read and every retry granted.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	src := &heldOpen{n: n, end: make(chan struct{})}
	var mu sync.Mutex
	tried := map[int]bool{}
	var attempts atomic.Int64
	var fs failures[int]
	// Every item fails its first attempt; a retry is allowed for a tenth of
	// the items read in the last 10 s. The backoff is a nanosecond, and so is
	// the clock's step while the items are read: the clock moves while other
	// items run (advanceUntil), and however slowly a loaded machine runs
	// them, the reads and the first retries stay in the window's first tenth.
	pol := Retry{Base: time.Nanosecond, Max: time.Nanosecond, BudgetRatio: 0.1, BudgetMin: 1, BudgetWindow: window}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the run if a check fails, before goleak looks
	wait := runAsync(ctx, t, NewJob(src, func(_ context.Context, v int) error {
		attempts.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if !tried[v] {
			tried[v] = true
			return errors.New("500 internal server error")
		}
		return nil
	}).WithFailureSink(fs.add), WithClock(clock), WithRetry(pol), WithQueueSize(8), limitOf(consumers))

	advanceUntil(t, clock, time.Nanosecond, func() bool { return attempts.Load() >= n+n/10 })
	require.Less(t, clock.Since(start), window/10, "the reads and the first retries fall in the window's first tenth")
	assert.EqualValues(t, n, src.reads.Load(), "retries waiting for the budget do not hold the source back")
	// Two more seconds of the window: the refused retries ask again at each
	// tenth, and there is still no room. The scheduler sets its timer again
	// once it has asked and sent what the budget granted; the consumers then
	// wait, idle, once they have run it.
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	for range 20 {
		require.NoError(t, clock.BlockUntilContext(waitCtx, 2))
		clock.Advance(100 * time.Millisecond)
	}
	require.NoError(t, clock.BlockUntilContext(waitCtx, 2))
	waitFor(t, "the consumers are idle", func() bool { return parkedIn("engine.(*run[...]).await(") == consumers })
	assert.EqualValues(t, n+n/10, attempts.Load(), "the budget allows a tenth of the items read")
	assert.Empty(t, fs.all, "no item fails for want of budget")

	close(src.end) // no new item can take a retry's place: the rest go
	advanceUntil(t, clock, 100*time.Millisecond, func() bool { return attempts.Load() == 2*n })
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Succeeded)
	assert.EqualValues(t, n, st.Retries)
	assert.Zero(t, st.Failed)
}

func TestBudgetWindowSlides(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newBudget(Retry{BudgetRatio: 0.5, BudgetMin: 1, BudgetWindow: 10 * time.Second})
	b.observe(start, 0)
	// 10 items read: 5 retries allowed in the window.
	granted := 0
	for range 8 {
		if b.allow(start.Add(time.Second), 10) {
			granted++
		}
	}
	assert.Equal(t, 5, granted)
	// Eleven seconds later the first retries and reads have left the window:
	// nothing new was read, so only the minimum remains.
	later := start.Add(12 * time.Second)
	assert.True(t, b.allow(later, 10))
	assert.False(t, b.allow(later, 10))
	// New reads make room again.
	assert.True(t, b.allow(later.Add(time.Second), 20))
}

type notFound struct{}

func (notFound) Error() string   { return "404 not found" }
func (notFound) Permanent() bool { return true }

type maybe struct{ permanent bool }

func (m maybe) Error() string   { return "maybe" }
func (m maybe) Permanent() bool { return m.permanent }

func TestErrorTaxonomy(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		name     string
		err      error
		attempts int
		reason   Reason
	}{
		{"Permanent", Permanent(base), 1, ReasonPermanent},
		{"wrapped Permanent", fmt.Errorf("item 3: %w", Permanent(base)), 1, ReasonPermanent},
		{"an error with Permanent() true", fmt.Errorf("GET: %w", notFound{}), 1, ReasonPermanent},
		{"an error with Permanent() false", maybe{}, 3, ReasonAttempts},
		{"unknown errors are retried", base, 3, ReasonAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			var fs failures[int]
			st, err := NewJob(rangeOf(t, 1, 1), func(context.Context, int) error { return tc.err }).WithFailureSink(fs.add).Run(context.Background(),
				WithRetry(Retry{MaxAttempts: 3, Base: time.Nanosecond, Max: time.Nanosecond}))
			require.NoError(t, err)
			require.Len(t, fs.all, 1)
			assert.Equal(t, tc.reason, fs.all[0].Reason)
			assert.Equal(t, tc.attempts, fs.all[0].Attempts)
			assert.ErrorIs(t, fs.all[0].Err, tc.err)
			assert.EqualValues(t, 1, st.Failed)
		})
	}
	assert.Nil(t, Permanent(nil))
	assert.True(t, errors.Is(Permanent(base), base))
	assert.Equal(t, "boom", Permanent(base).Error())
}

func TestTaskTimeoutFires(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	var fs failures[int]
	var started atomic.Int64
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(ctx context.Context, _ int) error {
		started.Add(1)
		<-ctx.Done()
		return fmt.Errorf("GET /slow: %w", ctx.Err())
	}).WithFailureSink(fs.add), WithClock(clock), WithTaskTimeout(time.Second), WithRetry(Retry{MaxAttempts: 1}), limitOf(1))
	waitFor(t, "the handler runs", func() bool { return started.Load() == 1 })
	// The waiters: the controller's ticker and the task's deadline.
	require.NoError(t, clock.BlockUntilContext(context.Background(), 2))
	clock.Advance(999 * time.Millisecond)
	assert.Empty(t, fs.all)
	clock.Advance(time.Millisecond)
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Timeouts)
	assert.EqualValues(t, 1, st.Failed)
	require.Len(t, fs.all, 1)
	assert.Equal(t, ReasonAttempts, fs.all[0].Reason)
	assert.ErrorIs(t, fs.all[0].Err, context.DeadlineExceeded)
}

func TestTimedOutAttemptIsRetried(t *testing.T) {
	defer goleak.VerifyNone(t)
	var attempts atomic.Int64
	st, err := Run(context.Background(), rangeOf(t, 1, 1), func(ctx context.Context, _ int) error {
		if attempts.Add(1) == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}, WithTaskTimeout(10*time.Millisecond), WithRetry(Retry{Base: time.Millisecond, Max: time.Millisecond}))
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Timeouts)
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 2, st.Attempts)
}

func TestWaitingRetriesBoundReadAheadAndAreReportedOnCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	const queue = 3
	clock := clockwork.NewFakeClock()
	src := &items{n: 1000, per: 10}
	var fs failures[int]
	var attempts atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob(src, func(context.Context, int) error {
		attempts.Add(1)
		return errors.New("503")
	}).WithFailureSink(fs.add), WithClock(clock), WithRetry(Retry{Base: time.Hour, Max: time.Hour}), WithQueueSize(queue), limitOf(1))
	// Every attempt fails and its retry waits an hour of a clock that does not move.
	waitFor(t, "reading stops", func() bool {
		r := src.reads.Load()
		time.Sleep(20 * time.Millisecond)
		return r == src.reads.Load() && attempts.Load() == r
	})
	assert.LessOrEqual(t, src.reads.Load(), int64(2*queue+2), "waiting retries hold the source back")
	cancel()
	st, err := wait()
	require.NoError(t, err)
	assert.True(t, st.Interrupted)
	assert.Equal(t, src.reads.Load(), st.Unfinished, "every waiting retry is reported")
	assert.Equal(t, map[Reason]int{ReasonInterrupted: int(st.Unfinished)}, fs.byReason())
	for _, f := range fs.all {
		assert.Equal(t, 1, f.Attempts)
		assert.EqualError(t, f.Err, "503")
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	start := clock.Now()
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		if log.add() == 1 {
			return &limiter.RetryAfterError{Until: start.Add(365 * 24 * time.Hour)}
		}
		return nil
	}), WithClock(clock), WithRetry(Retry{Base: time.Millisecond, Max: time.Millisecond, RetryAfterMax: time.Minute}), limitOf(1))
	advanceUntil(t, clock, time.Second, func() bool { return log.n() == 2 })
	_, err := wait()
	require.NoError(t, err)
	// The clock moves in 1 s steps and can move a few more before the retry
	// reads it on a loaded machine: the cap, not a year, is what is asserted.
	assert.WithinRange(t, log.at[1], start.Add(time.Minute), start.Add(time.Minute+5*time.Second), "a year-long Retry-After waits the cap")
}

func TestRetryForGivesEachItemItsHostsAttemptsAndBackoff(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	const step = 5 * time.Millisecond
	// Items 0 and 2 are of host "a" (one attempt), item 1 of host "b" (three
	// attempts, 100 ms backoff); the run's own policy would wait up to an
	// hour between attempts. Only one item waits for a retry, so the clock
	// never moves while an attempt runs (advanceUntil).
	hostOf := func(v int) string { return map[bool]string{true: "a", false: "b"}[v != 1] }
	own := map[string]Retry{"a": {MaxAttempts: 1}, "b": {MaxAttempts: 3, Base: 100 * time.Millisecond, Max: 100 * time.Millisecond}}
	var mu sync.Mutex
	at := map[int][]time.Time{}
	var attempts atomic.Int64
	var failed sync.Map // item -> Failure
	job := NewJob(rangeOf(t, 3, 1), func(_ context.Context, v int) error {
		mu.Lock()
		at[v] = append(at[v], clock.Now())
		mu.Unlock()
		attempts.Add(1)
		return errors.New("500")
	}).WithRetryFor(func(v int) (Retry, bool) {
		r, ok := own[hostOf(v)]
		return r, ok
	}).WithFailureSink(func(f Failure[int]) { failed.Store(f.Item.Value, f) })
	wait := runAsync(context.Background(), t, job, WithClock(clock),
		WithRetry(Retry{MaxAttempts: 5, Base: time.Hour, Max: time.Hour, BudgetRatio: math.Inf(1)}), limitOf(2))
	advanceUntil(t, clock, step, func() bool { return attempts.Load() == 2*1+3 })
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 3, st.Failed)
	assert.EqualValues(t, 5, st.Attempts)
	for v := range 3 {
		want := map[string]int{"a": 1, "b": 3}[hostOf(v)]
		f, ok := failed.Load(v)
		require.True(t, ok, "item %d reached the sink", v)
		assert.Equal(t, ReasonAttempts, f.(Failure[int]).Reason)
		assert.Equal(t, want, f.(Failure[int]).Attempts, "item %d of host %s", v, hostOf(v))
		require.Len(t, at[v], want)
		for i := 1; i < len(at[v]); i++ {
			// The host's backoff is at most 100 ms, the run's an hour. The
			// fake clock may move on a few steps more before a retry that is
			// due has run on a loaded machine, so the bound tells the two
			// policies apart without counting steps.
			gap := at[v][i].Sub(at[v][i-1])
			assert.Less(t, gap, time.Minute, "item %d waits its host's backoff, not the run's hour", v)
		}
	}
}

func TestRetryForKeepsTheRunsPolicyWhereItGivesNone(t *testing.T) {
	r := &run[int]{retry: Retry{MaxAttempts: 5, Base: time.Second, Max: time.Minute, RetryAfterMax: time.Hour}}
	r.retryFor = func(v int) (Retry, bool) { return Retry{MaxAttempts: 2, Max: 2 * time.Second}, v == 1 }
	assert.Equal(t, r.retry, r.retryOf(0), "no policy of its own")
	assert.Equal(t, Retry{MaxAttempts: 2, Base: time.Second, Max: 2 * time.Second, RetryAfterMax: time.Hour}, r.retryOf(1),
		"its MaxAttempts and Max, the run's Base and RetryAfterMax")
}

func TestRetryCeilingDoublesToMaxWithTheDefaults(t *testing.T) {
	assert.Equal(t, 250*time.Millisecond, Retry{}.Ceiling(1))
	assert.Equal(t, 2*time.Second, Retry{}.Ceiling(4))
	assert.Equal(t, 30*time.Second, Retry{}.Ceiling(20), "Max caps it")
	assert.Equal(t, 30*time.Second, Retry{}.Ceiling(100), "no overflow")
	assert.Equal(t, 40*time.Millisecond, Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}.Ceiling(4))
	assert.Equal(t, 250*time.Millisecond, Retry{}.Ceiling(0), "retry 1's at the least")
}

func TestThrottlesDoNotDoubleTheBackoff(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	log := &attemptLog{clock: clock}
	const step = 5 * time.Millisecond
	pol := Retry{MaxAttempts: 3, Base: 100 * time.Millisecond, Max: 10 * time.Second}
	// Six throttles without a time, then two failures, then a success: the
	// waits after the throttles stay within the first retry's ceiling, and
	// the failures' double from there as if no throttle came before.
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 1, 1), func(context.Context, int) error {
		switch n := log.add(); {
		case n <= 6:
			return fmt.Errorf("429: %w", limiter.ErrThrottled)
		case n <= 8:
			return errors.New("500")
		}
		return nil
	}), WithClock(clock), WithRetry(pol), limitOf(1))
	advanceUntil(t, clock, step, func() bool { return log.n() == 9 })
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Succeeded)
	ceilings := []time.Duration{100, 100, 100, 100, 100, 100, 100, 200} // before attempts 2..9, in ms
	for i := 1; i < len(log.at); i++ {
		ceil := ceilings[i-1] * time.Millisecond
		assert.Less(t, log.at[i].Sub(log.at[i-1]), ceil+4*step, "wait before attempt %d is at most %v", i+1, ceil)
	}
}
