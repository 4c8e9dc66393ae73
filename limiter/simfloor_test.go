package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// loadedServer is a capacity server met by a client loaded at its cold
// start (many other hosts starting at once): each answer reaches the
// client extra later, extra drawn uniformly from [lo, hi] until until,
// then from [lo2, hi2].
type loadedServer struct {
	*capacityServer
	lo, hi, lo2, hi2 time.Duration
	until            time.Duration
}

func (l *loadedServer) arrive(s *sim, r *simReq) {
	lo, hi := l.lo, l.hi
	if s.now >= l.until {
		lo, hi = l.lo2, l.hi2
	}
	l.capacityServer.back = lo + time.Duration(s.rng.Float64()*float64(hi-lo))
	l.capacityServer.arrive(s, r)
}

// TestSimulationASmallServerMetByALoadedColdStartIsNotPushedPastItsQueue:
// a server of 4 slots + 4 queued × 20 ms whose answers reach a loaded
// client 20-50 ms late for the first 400 ms, then 0-10 ms. Slow start's
// baseline, taken from the loaded answers, sits above what 8 in flight
// (4 of them queued) shows once the load lifts; the level's fastest answer,
// against the fastest since, shows the queue, and most cold starts stop
// there instead of paying a 1 s gate at 9 (39 of 40 did).
func TestSimulationASmallServerMetByALoadedColdStartIsNotPushedPastItsQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	c := capacityClass{slots: 4, queue: 4, service: 20 * time.Millisecond}
	gated := 0
	for seed := uint64(1); seed <= 40; seed++ {
		srv := &loadedServer{capacityServer: c.server(), lo: 20 * time.Millisecond, hi: 50 * time.Millisecond,
			until: 400 * time.Millisecond, lo2: 0, hi2: 10 * time.Millisecond}
		s := newSim(simLimiter(t, "", 0), srv, seed, time.Second)
		s.crawlStart = true
		if gatesOf(s) > 0 {
			gated++
		}
	}
	assert.LessOrEqual(t, gated, 30, "cold starts of 40 that paid a gate")
}

// TestFloorRiseReadsAQueueNotAServersSpread: a window whose fastest answer
// rose well over the host's fastest reads as a queue; one whose answers
// spread widely from the host's fastest up does not, nor one too small to
// tell.
func TestFloorRiseReadsAQueueNotAServersSpread(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name    string
		base    float64 // 40 ms if 0
		lowest  float64
		answers []float64
		queue   bool
	}{
		{"8 in flight on 4 slots after a loaded start", 0, 18.5, []float64{36.8, 37.5, 34.7, 38.9, 37.0}, true},
		{"the level's first answers, a queue forming", 0, 20.7, []float64{34.3, 26.7, 29.9, 34.5, 34.0, 35.2}, true},
		{"service times of 10-30 ms, no queue", 0, 10.3, []float64{12.1, 25.0, 17.4, 11.2, 29.0, 14.3}, false},
		{"a window of a few lucky-slow answers", 0, 15.0, []float64{17.2, 17.9, 17.4, 16.6}, false},
		{"too few answers", 0, 18.5, []float64{36.8, 37.5, 34.7}, false},
		{"a fast service and a stall of a few ms", 0, 5.0, []float64{9.0, 9.5, 9.2, 9.8, 9.1}, false},
		// Four answers within 6 ms of each other, their fastest 5 ms over
		// the host's: where service times spread over 0-40 ms, the fastest
		// of four lies 8 ms over the lowest on average. They are read
		// against the host's spread (see control.spread), not their own.
		{"four alike answers of a wide spread", 13, 0.4, []float64{5.5, 8.0, 10.5, 11.6}, false},
		{"a queue of 20 ms on a wide spread", 13, 0.4, []float64{21.0, 24.0, 26.0, 28.0}, true},
		{"four alike answers of a narrow spread", 13, 9.0, []float64{14.5, 17.0, 19.5, 20.6}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c control
			c.base = 40 * time.Millisecond
			if tc.base != 0 {
				c.base = ms(tc.base)
			}
			c.noteFastest(ms(tc.lowest), false)
			for _, a := range tc.answers {
				c.noteFastest(ms(a), true)
				c.add(ms(a))
			}
			assert.Equal(t, tc.queue, c.floorRise() > 0, "floor rise %v", c.floorRise())
		})
	}
}

// TestRebaseLowersABaselineALoadedClientRaised: a slow-start window whose
// fastest answer rose while its mean fell below the baseline takes the
// baseline down to its mean less that rise; a rise alone or a fall alone
// leaves it.
func TestRebaseLowersABaselineALoadedClientRaised(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		mean, rise time.Duration
		want       time.Duration
	}{
		{"rise and fall", 37 * ms, 14 * ms, 23 * ms},
		{"a rise, the mean above the baseline", 45 * ms, 14 * ms, 40 * ms},
		{"a fall, no rise", 30 * ms, 0, 40 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := control{base: 40 * ms}
			w := windowStats{mean: tc.mean, stderr: ms, base: c.base, floorRise: tc.rise}
			c.rebase(&w)
			assert.Equal(t, tc.want, c.base)
			assert.Equal(t, tc.want, w.base)
		})
	}
}

// TestSimulationASmallServerMetByALoadedColdStartIsNotProbedPastItsQueueLater:
// a server of 4 slots + 4 queued × 20 ms met by a client loaded at its
// cold start, for 2.5 s. Slow start's baseline, taken from the loaded
// answers, sits 10-15 ms above the service; once slow start has ended at
// the queue, 8 in flight read a rise under the default strategy's own, and
// it grew to 9 and paid a 1 s gate in 10 of 160 runs. The level's fastest
// answer, against the host's fastest, shows the queue there too.
func TestSimulationASmallServerMetByALoadedColdStartIsNotProbedPastItsQueueLater(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	c := capacityClass{slots: 4, queue: 4, service: 20 * time.Millisecond}
	const ms = time.Millisecond
	later := 0
	for _, load := range []struct{ lo, hi, until, hi2 time.Duration }{
		{5 * ms, 15 * ms, 300 * ms, 2 * ms},
		{8 * ms, 12 * ms, 200 * ms, 2 * ms},
		{10 * ms, 40 * ms, 300 * ms, 5 * ms},
		{20 * ms, 50 * ms, 400 * ms, 10 * ms},
	} {
		for seed := uint64(1); seed <= 40; seed++ {
			srv := &loadedServer{capacityServer: c.server(), lo: load.lo, hi: load.hi, until: load.until, hi2: load.hi2}
			s := newSim(simLimiter(t, "", 0), srv, seed, 2500*time.Millisecond)
			s.crawlStart = true
			gated := false
			s.onAnswer = func(_ *simReq, o Outcome) {
				if o == Dropped && !gated {
					gated = true
					if !s.h.ctl.slowStart {
						later++
					}
				}
			}
			s.run()
		}
	}
	assert.LessOrEqual(t, later, 2, "cold starts of 160 whose first gate came after slow start")
}

// TestSlowStartReadsAlikeAnswersFarAboveTheHostsFastestAsAQueue: a
// slow-start window at 8 in flight on a server of 4 slots + 4 queued,
// after a loaded cold start raised the baseline to 38.7 ms: its answers,
// all about 40 ms, read barely above the baseline, while its fastest rose
// 19 ms over the host's fastest. Slow start holds there, as on a rise,
// instead of growing to 9; answers as far above but spread over several
// ms say nothing of a queue, and it grows.
func TestSlowStartReadsAlikeAnswersFarAboveTheHostsFastestAsAQueue(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name   string
		stderr time.Duration
		grows  bool
	}{
		{"alike", 200 * time.Microsecond, false},
		{"spread", 3 * ms, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c control
			c.init(Config{Initial: 8, Min: 1, Max: 1000})
			c.base = 38700 * time.Microsecond
			c.safe = 7
			w := windowStats{mean: 40200 * time.Microsecond, stderr: tc.stderr, base: c.base, srtt: c.base,
				inFlight: 8, limit: 8, floorRise: 19 * ms}
			c.slowStartWindow(w)
			assert.True(t, c.slowStart)
			assert.Equal(t, tc.grows, c.limit > 8, "limit %.2f", c.limit)
		})
	}
}

// TestSlowStartReadsARiseBeyondTheHostsSpreadAsASmallQueue: a slow-start
// window at 10 in flight on a server of 8 slots + 2 queued, ±25% (its
// fastest answer 15.3 ms, the baseline 20.4 ms): five answers whose mean
// reads 1.16 over the baseline, within two standard errors of their own
// (2.43 ms) but beyond two of what the host's spread gives five answers.
// Slow start then grows by Little's law alone, which keeps it at 10, and
// not by the whole request more that the server refuses. The same window
// on a host whose answers spread ±50%, a window within the host's spread,
// and one with no rise, grow by the step.
func TestSlowStartReadsARiseBeyondTheHostsSpreadAsASmallQueue(t *testing.T) {
	const us = time.Microsecond
	for _, tc := range []struct {
		name   string
		lowest time.Duration
		mean   time.Duration
		grows  bool
	}{
		{"a queue of two on 8 slots", 15300 * us, 23760 * us, false},
		{"the same rise on a host spread ±50%", 10500 * us, 23760 * us, true},
		{"a rise within the host's spread", 15300 * us, 22500 * us, true},
		{"no rise", 15300 * us, 20600 * us, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c control
			c.init(Config{Initial: 10, Min: 1, Max: 1000})
			c.limit = 10.6
			c.base, c.srtt = 20400*us, 20400*us
			c.noteFastest(tc.lowest, false)
			w := windowStats{mean: tc.mean, stderr: 2430 * us, n: 5, base: c.base, srtt: c.base, inFlight: 10, limit: c.limit}
			c.slowStartWindow(w)
			assert.True(t, c.slowStart)
			assert.Equal(t, tc.grows, c.intLimit() > 10, "limit %.2f", c.limit)
		})
	}
}
