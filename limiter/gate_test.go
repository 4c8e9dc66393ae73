package limiter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// acquireAsync starts n goroutines that Acquire h and report when they got a
// permit; it returns the channel of permits.
func acquireAsync(t *testing.T, ctx context.Context, h *Host, n int, wg *sync.WaitGroup) <-chan Permit {
	t.Helper()
	got := make(chan Permit, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := h.Acquire(ctx)
			if err == nil {
				got <- p
			}
		}()
	}
	return got
}

func TestGateHoldsEveryRequestUntilRetryAfter(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 8})
	h := l.Host("h")
	until := clk.Now().Add(5 * time.Second)
	h.Gate(until)
	require.Equal(t, until, h.Snapshot().GateUntil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	got := acquireAsync(t, ctx, h, 3, &wg)
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the head waiter arms one timer")
	_, _, ok := h.TryAcquireAt(clk.Now())
	assert.False(t, ok)

	clk.Advance(5*time.Second - time.Nanosecond)
	require.NoError(t, clk.BlockUntilContext(ctx, 1))
	assert.Empty(t, got, "no request starts before the gate opens")

	clk.Advance(time.Nanosecond)
	// The restart paces them (8 permits over restartSpread: one per 1.25 ms).
	// How many pacing steps the three need depends on when each goroutine
	// reaches its wait, so the clock moves on one step at a time until all
	// three have started; none may start while the gate is shut, checked above.
	require.Eventually(t, func() bool {
		if len(got) == 3 {
			return true
		}
		clk.Advance(restartSpread / 8)
		return false
	}, 8*time.Second, time.Millisecond, "every waiter starts once it opens")
	wg.Wait()
	require.Len(t, got, 3, "every waiter starts once it opens")
	for range 3 {
		(<-got).Release(Success)
	}
	assert.True(t, h.Snapshot().GateUntil.IsZero())
}

func TestGateIsCappedIgnoresThePastAndNeverMovesEarlier(t *testing.T) {
	l, clk := newTestLimiter(t, Config{RetryAfterMax: time.Minute})
	h := l.Host("h")
	now := clk.Now()

	h.Gate(now.Add(-time.Second))
	assert.True(t, h.Snapshot().GateUntil.IsZero(), "a time in the past is ignored")

	h.Gate(now.Add(365 * 24 * time.Hour))
	assert.Equal(t, now.Add(time.Minute), h.Snapshot().GateUntil, "a year is capped at RetryAfterMax")

	h.Gate(now.Add(time.Second))
	assert.Equal(t, now.Add(time.Minute), h.Snapshot().GateUntil, "a shorter gate does not reopen it")
}

func TestQuotaSpreadsRemainingOverTimeToReset(t *testing.T) {
	tests := []struct {
		name    string
		ceiling float64
		quota   Quota // Reset relative to epoch in seconds via resetIn
		resetIn time.Duration
		rate    float64
		gated   bool
	}{
		{name: "50 left over 10 s, less Limit/20 until a Reset shows the refill", quota: Quota{Limit: 100, Remaining: 50}, resetIn: 10 * time.Second, rate: 4.5},
		{name: "never above the ceiling", ceiling: 2, quota: Quota{Limit: 100, Remaining: 50}, resetIn: 10 * time.Second, rate: 2},
		{name: "nothing left gates until reset", quota: Quota{Limit: 100, Remaining: 0}, resetIn: 3 * time.Second, gated: true},
		{name: "a reset in the past clears it", quota: Quota{Limit: 100, Remaining: 50}, resetIn: -time.Second, rate: 0},
		{name: "negative remaining is ignored", quota: Quota{Remaining: -5}, resetIn: time.Second, rate: 0},
		{name: "capped at the window's rate", quota: Quota{Limit: 100, Remaining: 90, Window: 10 * time.Second}, resetIn: time.Second, rate: 10},
		{name: "a reset a year away spreads over RetryAfterMax", quota: Quota{Remaining: 600}, resetIn: 365 * 24 * time.Hour, rate: 2},
		{name: "a passed reset with a known window uses it", quota: Quota{Limit: 100, Remaining: 0, Window: 10 * time.Second}, resetIn: -time.Second, rate: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newTestLimiter(t, Config{Rate: tt.ceiling})
			h := l.Host("h")
			q := tt.quota
			q.Reset = clk.Now().Add(tt.resetIn)
			h.SetQuota(q)
			s := h.Snapshot()
			if tt.gated {
				assert.Equal(t, q.Reset, s.GateUntil)
				return
			}
			assert.True(t, s.GateUntil.IsZero())
			if tt.rate == 0 && tt.ceiling == 0 {
				assert.Zero(t, s.Rate)
				return
			}
			assert.InDelta(t, tt.rate, s.Rate, 1e-9)
		})
	}
}

func TestQuotaPacesRequests(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	h := l.Host("h")
	now := clk.Now()
	h.SetQuotaAt(now, Quota{Limit: 100, Remaining: 55, Reset: now.Add(10 * time.Second)}) // (55-5)/10 s = 5/s
	p, _, ok := h.TryAcquireAt(now)
	require.True(t, ok, "one token (burst 1)")
	p.ReleaseAt(now, Success)
	_, retryAt, ok := h.TryAcquireAt(now)
	require.False(t, ok)
	assert.Equal(t, now.Add(200*time.Millisecond), retryAt)
	_, _, ok = h.TryAcquireAt(now.Add(200 * time.Millisecond))
	assert.True(t, ok)
}

func TestAcquireWaitsForTheBucket(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Rate: 10, Burst: 1})
	h := l.Host("h")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	got := acquireAsync(t, ctx, h, 1, &wg)
	require.NoError(t, clk.BlockUntilContext(ctx, 1))
	assert.Empty(t, got)
	clk.Advance(100 * time.Millisecond)
	wg.Wait()
	require.Len(t, got, 1)
	(<-got).Release(Success)
}

func TestNoBurstAfterAGate(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Rate: 100, Burst: 10})
	h := l.Host("h")
	now := clk.Now()
	h.GateAt(now, now.Add(time.Second))
	open := now.Add(time.Second)
	n := 0
	for {
		p, _, ok := h.TryAcquireAt(open)
		if !ok {
			break
		}
		p.ReleaseAt(open, Ignored)
		n++
	}
	assert.Equal(t, 1, n, "the tokens saved up during the pause are dropped")
}

// warmRTT gives h a smoothed RTT of rtt: n permits started rtt/n apart from
// now, each released rtt after its start with Success. It returns the time
// the last was released.
func warmRTT(t *testing.T, h *Host, now time.Time, n int, rtt time.Duration) time.Time {
	t.Helper()
	step := rtt / time.Duration(n)
	ps := make([]Permit, 0, n)
	for i := range n {
		p, _, ok := h.TryAcquireAt(now.Add(time.Duration(i) * step))
		require.True(t, ok)
		ps = append(ps, p)
	}
	for i, p := range ps {
		p.ReleaseAt(now.Add(time.Duration(i)*step+rtt), Success)
	}
	require.Equal(t, rtt, h.ctl.srtt)
	return now.Add(time.Duration(n-1)*step + rtt)
}

func TestRequestsRestartPacedWhenAGateOpens(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 16})
	h := l.Host("h")
	now := warmRTT(t, h, clk.Now(), 16, 20*time.Millisecond)
	open := now.Add(time.Second)
	h.GateAt(now, open)

	// A client with 16 requests parked asks as often as it may: the limit's
	// worth is spread over one RTT, not sent the instant the gate opens.
	var starts []time.Duration
	at := open
	for len(starts) < 16 {
		p, retryAt, ok := h.TryAcquireAt(at)
		if !ok {
			require.False(t, retryAt.IsZero(), "the restart names when the next may start")
			require.True(t, retryAt.After(at))
			at = retryAt
			continue
		}
		starts = append(starts, at.Sub(open))
		defer p.ReleaseAt(at, Ignored)
	}
	within := func(d time.Duration) (n int) {
		for _, s := range starts {
			if s < d {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 1, within(time.Millisecond), "one permit the instant the gate opens")
	assert.LessOrEqual(t, within(5*time.Millisecond), 5, "16 over 20 ms: about 4 in the first 5 ms")
	assert.LessOrEqual(t, within(10*time.Millisecond), 9, "about 8 in the first 10 ms")
	assert.Less(t, starts[15], 20*time.Millisecond, "all of them within one RTT: the limit is not lowered")
}

func TestParkedWaitersAreLetThroughPacedWhenAGateOpens(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 8})
	h := l.Host("h")
	now := warmRTT(t, h, clk.Now(), 8, 20*time.Millisecond)
	clk.Advance(now.Sub(clk.Now()))
	open := now.Add(time.Second)
	h.Gate(open)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	starts := make(chan time.Time, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := h.Acquire(ctx)
			if err == nil {
				starts <- clk.Now()
				p.Release(Ignored)
			}
		}()
	}
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the head waiter arms one timer")
	clk.Advance(open.Sub(clk.Now()))
	// The clock moves on in quarter steps until all eight have started; when
	// each goroutine reaches its wait depends on the scheduler, so the test
	// asserts the spacing the limiter enforces, not the steps it took.
	require.Eventually(t, func() bool {
		if len(starts) == 8 {
			return true
		}
		clk.Advance(625 * time.Microsecond)
		return false
	}, 8*time.Second, time.Millisecond, "every parked waiter starts once the gate opens")
	wg.Wait()
	close(starts)
	var at []time.Duration
	for s := range starts {
		at = append(at, s.Sub(open))
	}
	slices.Sort(at)
	// 8 permits over one 20 ms RTT: one every 2.5 ms, never several at once.
	for k, d := range at {
		assert.GreaterOrEqual(t, d, time.Duration(k)*2500*time.Microsecond-time.Microsecond,
			"start %d of 8 comes no earlier than its place in the paced restart", k+1)
	}
}

func TestSetCeiling(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Rate: 50})
	h := l.Host("h")
	assert.InDelta(t, 50, h.Snapshot().Rate, 1e-9)
	h.SetCeiling(0.5) // Crawl-delay: 2
	assert.InDelta(t, 0.5, h.Snapshot().Rate, 1e-9)
	h.SetCeiling(-1)
	assert.InDelta(t, 0.5, h.Snapshot().Rate, 1e-9, "an invalid ceiling is ignored")
	h.SetCeiling(0)
	assert.InDelta(t, 50, h.Snapshot().Rate, 1e-9, "0 goes back to Config.Rate")
}

func TestThrottleWithRetryAfterLearnsTheRate(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	require.Zero(t, d.h.Snapshot().Rate)
	ok := d.h.Snapshot().Successes
	p, _, got := d.h.TryAcquireAt(d.now)
	require.True(t, got)
	d.h.GateAt(d.now, d.now.Add(time.Second))
	p.ReleaseAt(d.now, Throttled)
	s := d.h.Snapshot()
	elapsed := d.now.Sub(epoch).Seconds()
	assert.Greater(t, s.Rate, 0.0, "a rate is learnt")
	assert.Less(t, s.Rate, float64(ok)/elapsed, "below the success rate the server allowed")
	assert.Equal(t, int64(1), s.Throttled)
}

func TestForgetRateDropsTheRateThrottlesTaughtButNotTheGate(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	p, _, got := d.h.TryAcquireAt(d.now)
	require.True(t, got)
	d.h.GateAt(d.now, d.now.Add(time.Second))
	p.ReleaseAt(d.now, Throttled)
	require.Positive(t, d.h.Snapshot().Rate)
	d.h.ForgetRate()
	s := d.h.Snapshot()
	assert.Zero(t, s.Rate, "no rate paces the host")
	assert.True(t, s.GateUntil.After(d.now), "the server's Retry-After still holds")
	fresh := newDriver(t, Config{}) // a host that learnt nothing: nothing to drop
	fresh.h.ForgetRate()
	assert.Zero(t, fresh.h.Snapshot().Rate)
}

func TestARequestRefusedAloneWithRetryAfterDoesNotCutTheLimit(t *testing.T) {
	for _, o := range []Outcome{Dropped, Throttled} { // a 503 and a 429, each with a Retry-After
		d := newDriver(t, Config{Initial: 8, Max: 100})
		before := d.limit()
		p, _, got := d.h.TryAcquireAt(d.now) // a host's first request, in a blackout
		require.True(t, got)
		q, _, got := d.h.TryAcquireAt(d.now) // taken while it was under way
		require.True(t, got)
		d.h.GateAt(d.now, d.now.Add(time.Second))
		p.ReleaseAt(d.now, o)
		assert.Equal(t, before, d.limit(), "%v: it says when to come back, not how many at once", o)
		q.ReleaseAt(d.now, o)
		assert.Less(t, d.limit(), before, "%v: refused after it started with another in flight: cut", o)
	}
}

func TestAHostsFirstRefusalWithRetryAfterDoesNotCutTheLimit(t *testing.T) {
	d := newDriver(t, Config{Initial: 8, Max: 100})
	before := d.limit()
	var work [2]Permit // items' permits, waiting on the robots.txt
	for i := range work {
		var got bool
		work[i], _, got = d.h.TryAcquireAt(d.now)
		require.True(t, got)
	}
	robots, err := d.h.AcquireAuxiliary(context.Background())
	require.NoError(t, err)
	d.h.GateAt(d.now, d.now.Add(time.Second))
	robots.ReleaseAt(d.now, Dropped) // a 503 with a Retry-After: the host is in a blackout
	assert.Equal(t, before, d.limit(), "nothing was answered yet, nothing refused before")
	work[0].Release(Ignored)
	work[1].ReleaseAt(d.now, Dropped)
	assert.Less(t, d.limit(), before, "a second refusal, of a request that started with another: cut")
}

func TestThrottleOrderWithGateDoesNotMatter(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	p, _, got := d.h.TryAcquireAt(d.now)
	require.True(t, got)
	p.ReleaseAt(d.now, Throttled) // transport may release before it gates
	d.h.GateAt(d.now, d.now.Add(time.Second))
	assert.Greater(t, d.h.Snapshot().Rate, 0.0)
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 1})
	h := l.Host("h")
	held, err := h.Acquire(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.Acquire(ctx)
		errc <- err
	}()
	waitWaiters(t, h, 1)
	var wg sync.WaitGroup
	got := acquireAsync(t, context.Background(), h, 1, &wg)
	waitWaiters(t, h, 2)
	cancel()
	err = <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "h")

	held.Release(Success)
	wg.Wait()
	(<-got).Release(Success)
	assert.Equal(t, 0, h.Snapshot().InFlight)
}

func waitWaiters(t *testing.T, h *Host, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.waiters) == n
	}, 5*time.Second, time.Millisecond)
}

func TestLimitSumsHostsAndSnapshotsAreSorted(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 5})
	assert.Equal(t, 5, l.Limit())
	l.Host("b")
	l.Host("a")
	l.Host("c")
	assert.Equal(t, 15, l.Limit())
	var keys []string
	for _, s := range l.Snapshots() {
		keys = append(keys, s.Key)
	}
	assert.Equal(t, []string{"a", "b", "c"}, keys)
}

func TestRetryAfterErrorIsThrottled(t *testing.T) {
	until := epoch.Add(time.Minute)
	inner := errors.New("429 from api.example.com")
	err := fmt.Errorf("page 3: %w", &RetryAfterError{Until: until, Err: inner})
	assert.ErrorIs(t, err, ErrThrottled)
	assert.ErrorIs(t, err, inner)
	var ra *RetryAfterError
	require.ErrorAs(t, err, &ra)
	assert.Equal(t, until, ra.Until)
	assert.Contains(t, err.Error(), "retry after 2026-01-01T00:01:00Z")
	assert.Equal(t, "throttled: retry after 2026-01-01T00:01:00Z", (&RetryAfterError{Until: until}).Error())
}

func TestReleaseWithUnknownOutcomeCountsAsIgnored(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	h := l.Host("h")
	p, _, ok := h.TryAcquireAt(clk.Now())
	require.True(t, ok)
	p.ReleaseAt(clk.Now(), Outcome(42))
	s := h.Snapshot()
	assert.Equal(t, int64(1), s.Ignored)
	assert.Equal(t, 0, s.InFlight)
	Permit{}.Release(Success) // the zero Permit does nothing
}

// warnLoggedHost returns the host api.example.com:443 of a Limiter of cfg
// on a fake clock at epoch, and the warnings its logger records.
func warnLoggedHost(t *testing.T, cfg Config) (*Host, *observer.ObservedLogs) {
	core, logs := observer.New(zap.WarnLevel)
	l, err := New(cfg, WithClock(clockwork.NewFakeClockAt(epoch)), WithLogger(zap.New(core)))
	require.NoError(t, err)
	return l.Host("api.example.com:443"), logs
}

func TestCappedGateWarnsWithoutTheHeaderValue(t *testing.T) {
	h, logs := warnLoggedHost(t, Config{RetryAfterMax: time.Minute})
	h.Gate(epoch.Add(31536000 * time.Second))
	entries := logs.All()
	require.Len(t, entries, 1)
	assert.Contains(t, entries[0].Message, "capped")
	assert.Equal(t, "api.example.com:443", entries[0].ContextMap()["host"])
	for _, v := range entries[0].ContextMap() {
		assert.NotContains(t, fmt.Sprint(v), "8760h", "the asked time is not logged")
	}
}

func TestHostWaitsNoLongerThanRetryAfterMaxForATokenAndSaysSo(t *testing.T) {
	// A learnt rate of a request every 60 days (a record that once fitted
	// 2e-7 a second) paces the host at a request per RetryAfterMax, and
	// the host warns of the wait, naming itself, once.
	h, logs := warnLoggedHost(t, Config{RetryAfterMax: time.Minute})
	h.mu.Lock()
	h.pace.learnt, h.pace.pushed().slow = 2e-7, true
	h.applyRateLocked(epoch)
	h.mu.Unlock()
	p, _, ok := h.TryAcquireAt(epoch)
	require.True(t, ok, "the bucket starts with a token")
	p.ReleaseAt(epoch.Add(5*time.Millisecond), Success)
	now := epoch.Add(10 * time.Millisecond)
	_, at, ok := h.TryAcquireAt(now)
	require.False(t, ok)
	assert.False(t, at.After(epoch.Add(time.Minute+time.Millisecond)), "the next token within RetryAfterMax, not %v", at.Sub(now))
	_, _, ok = h.TryAcquireAt(now.Add(time.Second))
	require.False(t, ok)
	entries := logs.All()
	require.Len(t, entries, 1, "one warning for one wait")
	assert.Equal(t, "api.example.com:443", entries[0].ContextMap()["host"])
	assert.Equal(t, "rate", entries[0].ContextMap()["why"])
	p, _, ok = h.TryAcquireAt(at)
	require.True(t, ok)
	p.ReleaseAt(at, Success)

	// A gate of 45 s (a Retry-After, or a quota used up until its Reset) is
	// told as well.
	h.GateAt(at, at.Add(45*time.Second))
	_, _, ok = h.TryAcquireAt(at.Add(time.Millisecond))
	require.False(t, ok)
	entries = logs.All()
	require.Len(t, entries, 2)
	assert.Equal(t, "gate", entries[1].ContextMap()["why"])
	assert.Equal(t, 45*time.Second, entries[1].ContextMap()["wait"])
}

func TestHostDoesNotWarnOfTheUsersOwnSlowRate(t *testing.T) {
	// A Crawl-delay of a minute: the user's ceiling, not the server's
	// doing.
	h, logs := warnLoggedHost(t, Config{})
	h.SetCeiling(1.0 / 60)
	p, _, ok := h.TryAcquireAt(epoch)
	require.True(t, ok)
	p.ReleaseAt(epoch.Add(time.Millisecond), Success)
	_, at, ok := h.TryAcquireAt(epoch.Add(2 * time.Millisecond))
	require.False(t, ok)
	assert.Greater(t, at.Sub(epoch), 30*time.Second)
	assert.Empty(t, logs.All())
}

func TestHostDoesNotWarnOfAShortWait(t *testing.T) {
	h, logs := warnLoggedHost(t, Config{})
	h.GateAt(epoch, epoch.Add(5*time.Second))
	_, _, ok := h.TryAcquireAt(epoch.Add(time.Millisecond))
	require.False(t, ok)
	assert.Empty(t, logs.All())
}

func TestThrottleReleasedLateInTheGateStillLearnsTheRate(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	p, _, got := d.h.TryAcquireAt(d.now)
	require.True(t, got)
	d.h.GateAt(d.now, d.now.Add(2*time.Second))
	p.ReleaseAt(d.now.Add(500*time.Millisecond), Throttled) // the body was closed late
	assert.Greater(t, d.h.Snapshot().Rate, 0.0)
}

func TestThrottleWithoutRetryAfterIsFirstAConcurrencySignal(t *testing.T) {
	d := newDriver(t, Config{Initial: 40, Max: 100})
	d.handOver()
	d.rounds(20, 20*time.Millisecond, Success)
	before := d.limit()
	d.round(time.Millisecond, Throttled)
	assert.Less(t, d.limit(), before, "the concurrency limit is cut")
	assert.Zero(t, d.h.Snapshot().Rate, "no rate is learnt from one burst of 429s")
}

func TestThrottlesGoingOnBelowTheCutLearnARate(t *testing.T) {
	d := newDriver(t, Config{Initial: 40, Max: 100})
	d.handOver()
	d.rounds(20, 20*time.Millisecond, Success)
	d.round(time.Millisecond, Throttled) // refusals back at every level down to 1
	require.Equal(t, 1, d.limit(), "the limit at its floor")
	d.now = d.now.Add(100 * time.Millisecond)
	d.round(time.Millisecond, Throttled) // fewer in flight, still refused: a rate
	s := d.h.Snapshot()
	assert.Greater(t, s.Rate, 0.0)
	assert.Equal(t, d.now.Add(bareWait), s.GateUntil, "a short pause of its own")
}

func TestThrottleWithoutRetryAfterAtTheFloorPauses(t *testing.T) {
	d := newDriver(t, Config{Initial: 1, Max: 1})
	d.rounds(5, 20*time.Millisecond, Success)
	d.round(time.Millisecond, Throttled)
	assert.Equal(t, d.now.Add(bareWait), d.h.Snapshot().GateUntil, "the first pause")
	assert.Greater(t, d.h.Snapshot().Rate, 0.0, "a rate is learnt")
	wait := bareWait
	for range 7 {
		d.now = d.now.Add(wait)
		d.round(time.Millisecond, Throttled) // no success since the pause ended: it was too short
		wait = min(2*wait, bareWaitMax)
		assert.Equal(t, d.now.Add(wait), d.h.Snapshot().GateUntil, "it doubles, up to bareWaitMax")
	}
	assert.Equal(t, bareWaitMax, wait)
	d.now = d.now.Add(wait)
	d.round(20*time.Millisecond, Success)
	d.now = d.now.Add(time.Second)
	d.round(time.Millisecond, Throttled)
	assert.Equal(t, d.now.Add(bareWait), d.h.Snapshot().GateUntil, "a success in between: the first pause again")
}

func TestThrottleWithoutRetryAfterOneAtATimePauses(t *testing.T) {
	// Cuts walk the limit down from 3; once one request at a time is all it
	// lets out (a limit between 1 and 2), a request refused alone says a
	// rate, as at the floor.
	d := newDriver(t, Config{Initial: 3, Max: 3})
	d.handOver()
	d.rounds(20, 20*time.Millisecond, Success)
	require.Equal(t, 3, d.limit())
	for range 10 {
		p, _, ok := d.h.TryAcquireAt(d.now)
		require.True(t, ok)
		d.now = d.now.Add(time.Millisecond)
		p.ReleaseAt(d.now, Throttled)
		if d.limit() > 1 {
			require.Zero(t, d.h.Snapshot().GateUntil, "a cut, no pause, while the limit lets two out")
			d.now = d.now.Add(100 * time.Millisecond)
			continue
		}
		assert.Greater(t, d.h.ctl.limit, 1.0, "a limit between 1 and 2")
		assert.Equal(t, d.now.Add(bareWait), d.h.Snapshot().GateUntil, "one at a time, refused alone: a pause")
		return
	}
	t.Fatal("the limit never came down to one at a time")
}

func TestDropWithoutAGateAtTheFloorPauses(t *testing.T) {
	// A server that answers every request at once with a 503 and no
	// Retry-After (or one of 0): at one request at a time, the next would
	// go as soon as the last came back.
	d := newDriver(t, Config{Initial: 1, Max: 1})
	d.rounds(5, 20*time.Millisecond, Success)
	d.answered(time.Millisecond)
	assert.Equal(t, d.now.Add(bareWait), d.h.Snapshot().GateUntil, "the first pause")
	_, _, ok := d.h.TryAcquireAt(d.now.Add(bareWait - time.Nanosecond))
	assert.False(t, ok, "no request during the pause")
	wait := bareWait
	for range 7 {
		d.now = d.now.Add(wait)
		d.answered(time.Millisecond) // no success since the pause ended
		wait = min(2*wait, bareWaitMax)
		assert.Equal(t, d.now.Add(wait), d.h.Snapshot().GateUntil, "it doubles, up to bareWaitMax")
	}
	assert.Equal(t, bareWaitMax, wait)
	assert.Zero(t, d.h.Snapshot().Rate, "a drop teaches no rate")
	d.now = d.now.Add(wait)
	d.round(20*time.Millisecond, Success)
	d.now = d.now.Add(time.Second)
	d.answered(time.Millisecond)
	assert.Equal(t, d.now.Add(bareWait), d.h.Snapshot().GateUntil, "a success in between: the first pause again")
}

// answered takes the host's one permit at d.now and releases it Dropped for
// an answer after latency.
func (d *driver) answered(latency time.Duration) {
	d.t.Helper()
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(d.t, ok, "no permit")
	d.now = d.now.Add(latency)
	p.Answered().ReleaseAt(d.now, Dropped)
}

// TestADropOfARequestAloneCutsNoLimitAndPauses: a server out for a few
// seconds answers a crawl's robots.txt, sent alone, with a 503 and no
// Retry-After (or one of 0) at every attempt. A request refused alone says
// the server is down, not that it takes fewer at once: the limit and slow
// start are as before, each refusal pauses the host (doubling), and once
// the server is back the work climbs from there.
func TestADropOfARequestAloneCutsNoLimitAndPauses(t *testing.T) {
	d := newDriver(t, Config{})
	initial := d.limit()
	wait := bareWait
	for range 5 {
		d.answered(time.Millisecond)
		assert.Equal(t, d.now.Add(wait), d.h.Snapshot().GateUntil, "a pause, doubling while nothing succeeds")
		d.now = d.now.Add(wait)
		wait = min(2*wait, bareWaitMax)
	}
	assert.Equal(t, initial, d.limit(), "no concurrency limit cut")
	assert.True(t, d.h.Snapshot().SlowStart, "slow start is still on")
	fresh := newDriver(t, Config{})
	fresh.rounds(10, 20*time.Millisecond, Success)
	d.rounds(10, 20*time.Millisecond, Success)
	assert.GreaterOrEqual(t, d.limit(), fresh.limit()-1, "once the server is back the work climbs as on a fresh host")

	// The same refusal of a request that had company cuts as before.
	d = newDriver(t, Config{})
	ps := d.takeAll()
	require.Greater(t, len(ps), 1)
	d.now = d.now.Add(time.Millisecond)
	ps[len(ps)-1].Answered().ReleaseAt(d.now, Dropped)
	assert.Less(t, d.limit(), initial, "a refusal among others cuts")
	assert.False(t, d.h.Snapshot().SlowStart)
}

func TestDropAboveTheFloorWithAGateOrUnansweredClosesNoPauseOfItsOwn(t *testing.T) {
	d := newDriver(t, Config{Algorithm: Fixed, Initial: 8})
	d.rounds(5, 20*time.Millisecond, Success)
	for _, p := range d.takeAll() {
		p.Answered().ReleaseAt(d.now.Add(time.Millisecond), Dropped)
	}
	assert.Zero(t, d.h.Snapshot().GateUntil, "eight at a time: no pause, a limit answers it")

	d = newDriver(t, Config{Initial: 1, Max: 1})
	d.rounds(5, 20*time.Millisecond, Success)
	d.round(time.Millisecond, Dropped)
	assert.Zero(t, d.h.Snapshot().GateUntil, "a refused connection or a timeout: the crawl's rule for unresponsive hosts paces it")

	d = newDriver(t, Config{Initial: 1, Max: 1})
	d.rounds(5, 20*time.Millisecond, Success)
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(t, ok)
	d.now = d.now.Add(time.Millisecond)
	until := d.now.Add(2 * time.Second)
	d.h.Gate(until)
	p.Answered().ReleaseAt(d.now, Dropped)
	assert.Equal(t, until, d.h.Snapshot().GateUntil, "the server's Retry-After, not a pause of ours")
}

func TestThrottleAtTheFloorKeepsARealRetryAfter(t *testing.T) {
	d := newDriver(t, Config{Initial: 1, Max: 1})
	d.rounds(5, 20*time.Millisecond, Success)
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(t, ok)
	d.now = d.now.Add(time.Millisecond)
	until := d.now.Add(2 * time.Second)
	d.h.GateAt(d.now, until)
	p.ReleaseAt(d.now, Throttled)
	assert.Equal(t, until, d.h.Snapshot().GateUntil, "the server's Retry-After holds")
	d.now = d.now.Add(time.Second)
	_, retryAt, ok := d.h.TryAcquireAt(d.now)
	assert.False(t, ok, "nothing is sent before it")
	assert.Equal(t, until, retryAt)
}

// refuseTaken takes every permit the host gives now and answers each with
// a bare refusal (Dropped) 1 ms later; it returns how many it took.
func (d *driver) refuseTaken() int {
	ps := d.takeAll()
	d.now = d.now.Add(time.Millisecond)
	for _, p := range ps {
		p.Answered().ReleaseAt(d.now, Dropped)
	}
	return len(ps)
}

// refuseAll answers every permit the host gives from d.now with a 503
// without Retry-After a millisecond later, round after round, waiting out
// the pauses, until a request sent alone was refused twice (after a pause
// that let none succeed); it returns the rounds.
func (d *driver) refuseAll() int {
	d.t.Helper()
	alone := 0
	for n := 1; n <= 100; n++ {
		if until := d.h.Snapshot().GateUntil; until.After(d.now) {
			d.now = until
		}
		taken := d.refuseTaken()
		require.NotZero(d.t, taken, "no permit at all")
		if taken == 1 {
			if alone++; alone == 2 {
				return n
			}
		}
	}
	d.t.Fatal("never down to one request")
	return 0
}

// TestAnOutageGivesBackTheLimitItsRefusalsCut: a server down for a while
// answers every request with a 503 and no Retry-After (or one of 0) at
// once. Each refused burst cuts the limit, a refusal's round trip after
// the last, down to one request at a time in a few milliseconds; then a
// request refused alone shows a server that refuses every level. Its
// first success after that gives back the limit the host held before
// the outage, and slow start if it was on.
func TestAnOutageGivesBackTheLimitItsRefusalsCut(t *testing.T) {
	d := newDriver(t, Config{})
	d.handOver()
	d.rounds(40, 20*time.Millisecond, Success)
	before := d.limit()
	require.Greater(t, before, 8)
	assert.Greater(t, d.refuseAll(), 2, "several bursts refused")
	require.Equal(t, 1, d.limit(), "cut to one request at a time")
	d.now = d.h.Snapshot().GateUntil
	d.round(20*time.Millisecond, Success)
	assert.Equal(t, before, d.limit(), "the level before the outage")
	assert.False(t, d.h.Snapshot().SlowStart)
	assert.Zero(t, d.h.Snapshot().Rate, "an outage teaches no rate")
	first := len(d.takeAll())
	assert.Less(t, first, before, "paced over a round trip, not all at once")
	n := first
	for range 30 {
		d.now = d.now.Add(time.Millisecond)
		n += len(d.takeAll())
	}
	assert.Equal(t, before, n, "the whole limit within about a round trip")

	// In slow start.
	d = newDriver(t, Config{Initial: 8})
	d.rounds(3, 20*time.Millisecond, Success)
	require.True(t, d.h.Snapshot().SlowStart)
	before = d.limit()
	d.refuseAll()
	d.now = d.h.Snapshot().GateUntil
	d.round(20*time.Millisecond, Success)
	assert.Equal(t, before, d.limit())
	assert.True(t, d.h.Snapshot().SlowStart, "slow start goes on from there")
}

// TestARefusedBurstIsNotGivenBack: a server that refuses a burst but
// serves a request sent alone is full, not down: the cut stays.
func TestARefusedBurstIsNotGivenBack(t *testing.T) {
	d := newDriver(t, Config{})
	d.handOver()
	d.rounds(40, 20*time.Millisecond, Success)
	before := d.limit()
	for range 3 {
		d.refuseTaken()
	}
	cut := d.limit()
	require.Less(t, cut, before)
	d.round(20*time.Millisecond, Success)
	assert.LessOrEqual(t, d.limit(), cut, "no outage: the cut holds")
}

// TestARateRefusingBetweenSuccessesIsNotAnOutage: a rate limit or a
// server of one slot that answers a bare 503 refuses a request sent alone
// now and then, and serves the next one after the short pause that
// refusal closes. That is no outage: the cuts of the refused burst before
// it hold.
func TestARateRefusingBetweenSuccessesIsNotAnOutage(t *testing.T) {
	d := newDriver(t, Config{})
	d.handOver()
	d.rounds(40, 20*time.Millisecond, Success)
	before := d.limit()
	for range 100 {
		taken := d.refuseTaken()
		require.NotZero(t, taken)
		if taken == 1 {
			break
		}
	}
	cut := d.limit()
	require.Less(t, cut, before)
	until := d.h.Snapshot().GateUntil
	require.True(t, until.After(d.now), "a request refused alone: a pause")
	d.now = until
	d.round(5*time.Millisecond, Success)
	assert.LessOrEqual(t, d.limit(), cut, "served after one pause: the cuts hold")
}

func TestARequestHeldForATokenAfterAGateWakesWhenTheRateRises(t *testing.T) {
	// Two requests whose permits were taken before a gate closed wait in
	// AwaitGate. The quota said two requests remained over its reserve
	// until its Reset 2 s on, so the host is paced at a request a second:
	// when the gate opens, the first goes and the
	// second waits for the next token. An answer then reads a quota of a
	// hundred: the second goes within its new token, not a second on.
	l, clk := newTestLimiter(t, Config{RetryAfterMax: time.Minute})
	h := l.Host("h")
	now := clk.Now()
	h.SetQuotaAt(now, Quota{Limit: 100, Remaining: 7, Reset: now.Add(2 * time.Second)})
	require.InDelta(t, 1, h.Snapshot().Rate, 1e-9)
	h.GateAt(now, now.Add(time.Second))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan time.Time, 2)
	for range 2 {
		go func() {
			if _, err := h.AwaitGate(ctx); err == nil {
				done <- clk.Now()
			}
		}()
	}
	require.NoError(t, clk.BlockUntilContext(ctx, 2), "both held by the gate")
	clk.Advance(time.Second)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the first request did not go when the gate opened")
	}
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the second waits for a token")
	require.Empty(t, done)

	at := clk.Now()
	h.SetQuotaAt(at, Quota{Limit: 100, Remaining: 100, Reset: at.Add(time.Second)})
	require.Greater(t, h.Snapshot().Rate, 50.0)
	clk.Advance(20 * time.Millisecond)
	select {
	case went := <-done:
		assert.LessOrEqual(t, went.Sub(at), 20*time.Millisecond)
	case <-ctx.Done():
		t.Fatal("the second request still waits for the token of a request a second")
	}
}
