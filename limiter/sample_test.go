package limiter

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingClock counts the reads of a fake clock.
type countingClock struct {
	*clockwork.FakeClock
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return c.FakeClock.Now()
}

func (c *countingClock) Since(t time.Time) time.Duration {
	c.reads.Add(1)
	return c.FakeClock.Since(t)
}

// roundDriver drives a host in rounds like driver, either through Acquire
// and Release (blocking: the host reads the clock itself and times a sample
// of the permits) or through TryAcquireAt and ReleaseAt (every permit timed).
type roundDriver struct {
	t        *testing.T
	h        *Host
	clk      *countingClock
	blocking bool
	permits  int   // permits handed out
	reads    int64 // clock reads by Acquire and Release
}

func newRoundDriver(t *testing.T, cfg Config, blocking bool) *roundDriver {
	t.Helper()
	clk := &countingClock{FakeClock: clockwork.NewFakeClockAt(epoch)}
	l, err := New(cfg, WithClock(clk))
	require.NoError(t, err)
	return &roundDriver{t: t, h: l.Host("h"), clk: clk, blocking: blocking}
}

// round fills the host to its limit, lets latency pass and releases every
// permit with Success.
func (d *roundDriver) round(latency time.Duration) {
	d.t.Helper()
	var ps []Permit
	n := d.h.Snapshot().Limit
	before := d.clk.reads.Load()
	for range n {
		if d.blocking {
			p, err := d.h.Acquire(context.Background())
			require.NoError(d.t, err)
			ps = append(ps, p)
			continue
		}
		p, _, ok := d.h.TryAcquireAt(d.clk.FakeClock.Now())
		require.True(d.t, ok)
		ps = append(ps, p)
	}
	d.permits += len(ps)
	d.reads += d.clk.reads.Load() - before
	d.clk.Advance(latency)
	before = d.clk.reads.Load()
	for _, p := range ps {
		if d.blocking {
			p.Release(Success)
		} else {
			p.ReleaseAt(d.clk.FakeClock.Now(), Success)
		}
	}
	d.reads += d.clk.reads.Load() - before
}

// run plays the phases in turn and returns the limit after each round.
func (d *roundDriver) run(phases ...phase) []int {
	var limits []int
	for _, ph := range phases {
		for range ph.rounds {
			d.round(ph.latency)
			limits = append(limits, d.h.Snapshot().Limit)
		}
	}
	return limits
}

// phase is a number of rounds of one latency.
type phase struct {
	rounds  int
	latency time.Duration
}

// TestSampledTimingMovesTheLimitLikeTimingEveryPermit runs the same rounds
// through Acquire (which times one permit in a power of two once windows hold
// more than 64 permits) and through TryAcquireAt (which times every permit).
// With a constant latency per phase the limit takes the same value after every
// round, in slow start and after it. When the tasks get 3× slower, the window
// at the change holds a different mix of both latencies in each loop, so the
// limit the rise cuts to may differ by one (72 against 71). When they
// get 2,000× slower, the sampled loop learns it from its first timed permit
// and its windows then hold other permits, so its limit may be a round or two
// early or late.
func TestSampledTimingMovesTheLimitLikeTimingEveryPermit(t *testing.T) {
	tests := []struct {
		name    string
		initial int
		phases  []phase
		shift   int // rounds by which the limit may be early or late
		off     int // by how much the limit may differ from the timed loop's
	}{
		{"short tasks, then 3× slower", 0, []phase{{400, 50 * time.Microsecond}, {200, 150 * time.Microsecond}}, 0, 0},
		{"network latency at high limits, then 3× slower", 0, []phase{{60, 20 * time.Millisecond}, {40, 60 * time.Millisecond}}, 0, 1},
		{"very short tasks, then network latency", 0, []phase{{400, 10 * time.Microsecond}, {100, 20 * time.Millisecond}}, 2, 0},
		{"very short tasks at a high limit, then network latency", 128, []phase{{300, 10 * time.Microsecond}, {60, 20 * time.Millisecond}}, 1, 0},
	}
	for _, alg := range []Algorithm{"", AIMD, Gradient2, Vegas} {
		for _, tt := range tests {
			t.Run(string(alg)+"/"+tt.name, func(t *testing.T) {
				cfg := Config{Algorithm: alg, Initial: tt.initial}
				timed := newRoundDriver(t, cfg, false)
				sampled := newRoundDriver(t, cfg, true)
				want := timed.run(tt.phases...)
				got := sampled.run(tt.phases...)
				require.Len(t, got, len(want))
				if tt.shift == 0 && tt.off == 0 {
					assert.Equal(t, want, got)
				}
				for i := range got {
					near := want[max(0, i-tt.shift):min(len(want), i+tt.shift+1)]
					if !slices.ContainsFunc(near, func(w int) bool { return w-got[i] <= tt.off && got[i]-w <= tt.off }) {
						t.Fatalf("round %d: limit %d, timing every permit gave %v within %d rounds", i, got[i], near, tt.shift)
					}
				}
			})
		}
	}
}

// TestAcquireReadsTheClockForASampleOfShortTasks checks the cost side: once
// the first window has set the sampling, tasks far shorter than the 1 ms
// window floor need clock reads for a few dozen permits per window, and a
// rate adds one read per permit (the bucket's).
func TestAcquireReadsTheClockForASampleOfShortTasks(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		warm, n  phase
		maxReads float64 // per permit, after warm
	}{
		{"adaptive limit", Config{}, phase{2000, 20 * time.Microsecond}, phase{500, 20 * time.Microsecond}, 0.05},
		{"adaptive limit and a rate", Config{Rate: 1e8, Burst: 1000}, phase{2000, 20 * time.Microsecond}, phase{500, 20 * time.Microsecond}, 1.05},
		{"fixed limit of 4", Config{Algorithm: Fixed}, phase{2000, time.Microsecond}, phase{3000, time.Microsecond}, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newRoundDriver(t, tt.cfg, true)
			d.run(tt.warm)
			d.reads, d.permits = 0, 0
			d.run(tt.n)
			assert.LessOrEqual(t, float64(d.reads)/float64(d.permits), tt.maxReads,
				"%d reads for %d permits", d.reads, d.permits)
			if tt.cfg.Algorithm != Fixed {
				assert.Equal(t, DefaultMax, d.h.Snapshot().Limit, "windows kept closing: slow start reached Max")
			}
		})
	}
}

// TestSamplingFollowsASlowdownFromTheFirstTimedPermit: after very short
// tasks only one permit in 64 is timed. When the tasks get 20,000× slower,
// the first timed slow permit closes the window, whose rate then sets the
// sampling: a window shows the slow latency within one sampling period (64
// permits, 16 rounds) and one round.
func TestSamplingFollowsASlowdownFromTheFirstTimedPermit(t *testing.T) {
	d := newRoundDriver(t, Config{Algorithm: Fixed}, true)
	d.run(phase{3000, time.Microsecond})
	d.h.mu.Lock()
	k := int(d.h.ctl.mask) + 1
	d.h.mu.Unlock()
	require.Equal(t, 64, k, "4 permits per µs, windows of 1 ms")
	rounds := 0
	for {
		d.round(20 * time.Millisecond)
		rounds++
		d.h.mu.Lock()
		srtt := d.h.ctl.srtt
		d.h.mu.Unlock()
		if srtt > time.Millisecond {
			break
		}
		require.Less(t, rounds, 100, "no window closed on the slow samples")
	}
	assert.LessOrEqual(t, rounds, k/4+1, "a sampling period (k permits, k/4 rounds) and one round")
}

// TestInProcessWorkIsTimedOneInSixteenHoweverFewPermitsAWindowHolds: a host
// that hands out a few permits per 1 ms window times every one of them when
// its requests cross a network, and one in inProcessMask+1 when its work
// takes microseconds (a scheduler's no-op tasks spread over many hosts).
func TestInProcessWorkIsTimedOneInSixteenHoweverFewPermitsAWindowHolds(t *testing.T) {
	tests := []struct {
		name        string
		work, gap   time.Duration
		readsPerOne float64 // clock reads per permit, after the first windows
	}{
		{"in-process work", 2 * time.Microsecond, 200 * time.Microsecond, 2.0 / (inProcessMask + 1)},
		{"a request over loopback", 50 * time.Microsecond, 200 * time.Microsecond, 2},
		{"a request over a network", 2 * time.Millisecond, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &countingClock{FakeClock: clockwork.NewFakeClockAt(epoch)}
			l, err := New(Config{Algorithm: Fixed, Initial: 1}, WithClock(clk))
			require.NoError(t, err)
			h := l.Host("h")
			one := func() {
				p, err := h.Acquire(context.Background())
				require.NoError(t, err)
				clk.Advance(tt.work)
				p.Release(Success)
				clk.Advance(tt.gap)
			}
			for range 200 {
				one()
			}
			before := clk.reads.Load()
			const n = 1600
			for range n {
				one()
			}
			assert.InDelta(t, tt.readsPerOne, float64(clk.reads.Load()-before)/n, 0.01)
			h.mu.Lock()
			srtt := h.ctl.srtt
			h.mu.Unlock()
			assert.Equal(t, tt.work, srtt, "the sampled permits still tell the RTT")
		})
	}
}

// TestASlowServersFirstWindowKeepsEveryPermitTimed: a cold start's first
// window closes on its first answers, before the smoothed RTT is known, and
// may last a millisecond where the server takes 2 s an answer. The rate of
// that window is not to be stretched over a 2 s span: it would time one
// permit in 64 or 128, and at a few permits a second the next window would
// wait a minute for its answers while the limit stays where it was. (A
// window of more than 2×sampleTarget permits is sampled, as ever.)
func TestASlowServersFirstWindowKeepsEveryPermitTimed(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	l, err := New(Config{}, WithClock(clk))
	require.NoError(t, err)
	h := l.Host("h")
	const service = 2 * time.Second
	type out struct {
		p  Permit
		at time.Time
	}
	var flight []out
	take := func() {
		for {
			p, _, ok := h.TryAcquire()
			if !ok {
				return
			}
			flight = append(flight, out{p, clk.Now()})
			clk.Advance(time.Millisecond)
		}
	}
	take()
	for clk.Since(epoch) < 20*service {
		if wait := flight[0].at.Add(service).Sub(clk.Now()); wait > 0 {
			clk.Advance(wait)
		}
		flight[0].p.Release(Success)
		flight = flight[1:]
		take()
		h.mu.Lock()
		mask := h.ctl.mask
		h.mu.Unlock()
		if lim := h.Snapshot().Limit; lim < 2*sampleTarget {
			require.Zero(t, mask, "at %v, limit %d: permits timed one in %d", clk.Since(epoch), lim, mask+1)
		}
	}
	assert.GreaterOrEqual(t, h.Snapshot().Limit, 16, "the limit after 20 round trips")
}
