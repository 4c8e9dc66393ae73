package limiter

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// driver runs a host with the non-blocking core in virtual time: each round
// fills the host to its limit, then releases every permit after latency with
// the given outcome.
type driver struct {
	t   *testing.T
	h   *Host
	now time.Time
}

func newDriver(t *testing.T, cfg Config) *driver {
	t.Helper()
	l, _ := newTestLimiter(t, cfg)
	return &driver{t: t, h: l.Host("h"), now: epoch}
}

func (d *driver) round(latency time.Duration, o Outcome) {
	d.t.Helper()
	ps := d.takeAll()
	require.NotEmpty(d.t, ps, "no permit at all")
	d.now = d.now.Add(latency)
	for _, p := range ps {
		p.ReleaseAt(d.now, o)
	}
}

// takeAt takes a permit at epoch+at, which the host must give.
func (d *driver) takeAt(at time.Duration) Permit {
	d.t.Helper()
	d.now = epoch.Add(at)
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(d.t, ok, "a permit at %v", at)
	return p
}

// takeAll takes every permit the host gives at d.now.
func (d *driver) takeAll() []Permit {
	var ps []Permit
	for {
		p, _, ok := d.h.TryAcquireAt(d.now)
		if !ok {
			return ps
		}
		ps = append(ps, p)
	}
}

func (d *driver) rounds(n int, latency time.Duration, o Outcome) {
	d.t.Helper()
	for range n {
		d.round(latency, o)
	}
}

func (d *driver) limit() int { return d.h.Snapshot().Limit }

// handOver ends slow start with one dropped request.
func (d *driver) handOver() {
	d.t.Helper()
	d.rounds(4, 20*time.Millisecond, Success)
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(d.t, ok)
	d.now = d.now.Add(time.Millisecond)
	p.ReleaseAt(d.now, Dropped)
	require.False(d.t, d.h.Snapshot().SlowStart)
	d.now = d.now.Add(100 * time.Millisecond)
}

func TestSlowStartGrowsMultiplicativelyWhileRTTIsFlat(t *testing.T) {
	d := newDriver(t, Config{})
	require.Equal(t, 4, d.limit())
	var limits []int
	// Each raised limit takes a round to fill (all permits start at once
	// here), then a round to measure.
	for range 48 {
		d.round(20*time.Millisecond, Success)
		limits = append(limits, d.limit())
	}
	s := d.h.Snapshot()
	assert.True(t, s.SlowStart)
	t.Logf("limits: %v", limits)
	assert.GreaterOrEqual(t, s.Limit, 64, "48 flat RTTs from 4")
	assert.LessOrEqual(t, s.Limit, 4*(1<<8), "grows by slowStep per window, not faster")
}

func TestSlowStartHandsOverOnFirstDrop(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(16, 20*time.Millisecond, Success)
	before := d.limit()
	require.Greater(t, before, 8)
	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(t, ok)
	d.now = d.now.Add(time.Millisecond)
	p.ReleaseAt(d.now, Dropped)
	s := d.h.Snapshot()
	assert.False(t, s.SlowStart, "slow start ends on the first drop")
	assert.Less(t, s.Limit, before, "and cuts hard")
	assert.GreaterOrEqual(t, s.Limit, before/2, "back to the last level without queueing")
}

func TestSlowStartEndsOnClearRTTRise(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	d.rounds(3, 60*time.Millisecond, Success)
	s := d.h.Snapshot()
	assert.False(t, s.SlowStart)
	assert.LessOrEqual(t, s.Limit, before)
}

func TestSlowStartEndsWithoutGrowingOnceTheRTTStartsToRise(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	d.rounds(3, 25*time.Millisecond, Success) // 1.25×: a queue is forming
	s := d.h.Snapshot()
	assert.False(t, s.SlowStart, "a rising RTT ends slow start")
	assert.LessOrEqual(t, s.Limit, before, "without growing past the level that made the queue")
	assert.GreaterOrEqual(t, s.Limit, before/2, "to about the level without a queue")
}

func TestSlowStartRidesOutOneNoisyWindow(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	d.round(25*time.Millisecond, Success) // one window 1.25× the baseline
	assert.True(t, d.h.Snapshot().SlowStart, "one window with a higher RTT does not end slow start")
	assert.Equal(t, before, d.limit(), "but holds the limit")
	d.rounds(4, 20*time.Millisecond, Success)
	s := d.h.Snapshot()
	assert.True(t, s.SlowStart)
	assert.Greater(t, s.Limit, before, "flat RTTs after it double the limit again")
}

func TestSlowStartResumesAfterARiseThatDoesNotLast(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	d.rounds(3, 25*time.Millisecond, Success) // a stall on the client, say
	require.False(t, d.h.Snapshot().SlowStart, "a rising RTT ends slow start")
	resumed := false
	for range 8 {
		d.round(20*time.Millisecond, Success)
		resumed = resumed || d.h.Snapshot().SlowStart
	}
	assert.True(t, resumed, "the RTT back at its baseline near the level of the rise resumes slow start")
	d.rounds(16, 20*time.Millisecond, Success)
	assert.True(t, d.h.Snapshot().SlowStart)
	assert.Greater(t, d.limit(), 2*before, "and slow start grows the limit again")
}

func TestSlowStartEndsForGoodWhenTheRiseComesBack(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	// A server whose queue forms past before-1 in flight.
	latency := func(inFlight int) time.Duration {
		if inFlight >= before {
			return 25 * time.Millisecond
		}
		return 20 * time.Millisecond
	}
	slow := 0
	for range 40 {
		d.roundsLoad(1, latency)
		if d.h.Snapshot().SlowStart {
			slow++
		}
	}
	assert.False(t, d.h.Snapshot().SlowStart, "the same rise at the same level ends slow start again")
	assert.LessOrEqual(t, slow, 6, "after one resume at most")
	assert.LessOrEqual(t, d.limit(), before+1, "and the limit stays about the level of the rise")
}

func TestDropCutsOnceForTheRequestsInFlightAtTheCut(t *testing.T) {
	d := newDriver(t, Config{Initial: 100, Max: 200})
	d.handOver()
	d.rounds(3, 20*time.Millisecond, Success)
	before := d.limit()
	var ps []Permit
	for range 10 {
		p, _, ok := d.h.TryAcquireAt(d.now)
		require.True(t, ok)
		ps = append(ps, p)
	}
	d.now = d.now.Add(time.Millisecond)
	ps[0].ReleaseAt(d.now, Dropped)
	cut := d.limit()
	assert.Less(t, cut, before, "the first drop cuts at once")
	for _, p := range ps[1:] {
		p.ReleaseAt(d.now, Dropped)
	}
	assert.Equal(t, cut, d.limit(), "drops of requests sent before the cut do not cut again")

	p, _, ok := d.h.TryAcquireAt(d.now)
	require.True(t, ok)
	d.now = d.now.Add(time.Millisecond)
	p.ReleaseAt(d.now, Dropped)
	assert.Less(t, d.limit(), cut, "a drop of a request sent after the cut cuts again")
	assert.Equal(t, int64(1+11), d.h.Snapshot().Dropped, "every drop is counted (one ended slow start)")
}

func TestAlgorithmsMoveTheRightWay(t *testing.T) {
	for _, alg := range []Algorithm{"", AIMD, Gradient2, Vegas} {
		name := string(alg)
		if name == "" {
			name = "default"
		}
		t.Run(name+"/drops shrink the limit", func(t *testing.T) {
			d := newDriver(t, Config{Algorithm: alg, Initial: 64, Max: 200})
			d.handOver()
			before := d.limit()
			for range 3 {
				d.round(20*time.Millisecond, Dropped)
			}
			assert.Less(t, d.limit(), before)
		})
		t.Run(name+"/flat latency at the limit grows it", func(t *testing.T) {
			d := newDriver(t, Config{Algorithm: alg, Initial: 32, Max: 200})
			d.handOver()
			before := d.limit()
			d.rounds(40, 20*time.Millisecond, Success)
			assert.Greater(t, d.limit(), before)
		})
		if alg == AIMD {
			continue // loss-based: latency is not one of its signals
		}
		t.Run(name+"/rising latency shrinks the limit", func(t *testing.T) {
			d := newDriver(t, Config{Algorithm: alg, Initial: 64, Max: 200})
			d.handOver()
			d.rounds(40, 20*time.Millisecond, Success)
			before := d.limit()
			lat := 20 * time.Millisecond
			for range 40 {
				lat += lat / 10
				d.round(lat, Success)
			}
			assert.Less(t, d.limit(), before)
		})
	}
}

func TestFixedKeepsInitial(t *testing.T) {
	d := newDriver(t, Config{Algorithm: Fixed, Initial: 7})
	d.rounds(20, 20*time.Millisecond, Success)
	assert.Equal(t, 7, d.limit())
	assert.False(t, d.h.Snapshot().SlowStart)
	d.round(time.Millisecond, Dropped)
	assert.Equal(t, 7, d.limit())
}

func TestLimitClampsToMinAndMax(t *testing.T) {
	for _, alg := range []Algorithm{"", AIMD, Gradient2, Vegas} {
		t.Run(string(alg)+"max", func(t *testing.T) {
			d := newDriver(t, Config{Algorithm: alg, Initial: 2, Min: 2, Max: 12})
			d.rounds(200, 20*time.Millisecond, Success)
			assert.Equal(t, 12, d.limit())
			assert.LessOrEqual(t, d.h.Snapshot().MaxInFlight, 12)
		})
		t.Run(string(alg)+"min", func(t *testing.T) {
			d := newDriver(t, Config{Algorithm: alg, Initial: 10, Min: 3, Max: 12})
			for range 100 {
				d.round(20*time.Millisecond, Dropped)
				d.now = d.now.Add(100 * time.Millisecond)
			}
			assert.Equal(t, 3, d.limit())
		})
	}
}

func TestNeverMoreInFlightThanTheLimit(t *testing.T) {
	d := newDriver(t, Config{Max: 40})
	lat := 10 * time.Millisecond
	for i := range 200 {
		o := Success
		if i%17 == 0 {
			o = Dropped
		}
		lat = time.Duration(10+i%30) * time.Millisecond
		var ps []Permit
		for {
			p, _, ok := d.h.TryAcquireAt(d.now)
			if !ok {
				break
			}
			ps = append(ps, p)
			s := d.h.Snapshot()
			require.LessOrEqual(t, s.InFlight, s.Limit)
		}
		d.now = d.now.Add(lat)
		for _, p := range ps {
			p.ReleaseAt(d.now, o)
		}
	}
	assert.LessOrEqual(t, d.h.Snapshot().MaxInFlight, 40)
}

// roundsLoad runs n rounds whose latency is a function of the permits in the
// round (the host filled to its limit).
func (d *driver) roundsLoad(n int, latency func(inFlight int) time.Duration) {
	d.t.Helper()
	for range n {
		ps := d.takeAll()
		require.NotEmpty(d.t, ps, "no permit at all")
		d.now = d.now.Add(latency(len(ps)))
		for _, p := range ps {
			p.ReleaseAt(d.now, Success)
		}
	}
}

func TestSubMillisecondRTTRiseIsNotQueueing(t *testing.T) {
	// A ~40 µs service whose RTT grows by 14 µs per request in flight (CPU
	// scheduling on a loaded machine): 64 in flight add 0.9 ms, under the
	// 1 ms that counts as queueing.
	noise := func(n int) time.Duration { return 40*time.Microsecond + time.Duration(n)*14*time.Microsecond }
	// The same service behind a real queue: 0.2 ms per request in flight.
	queue := func(n int) time.Duration { return 40*time.Microsecond + time.Duration(n)*200*time.Microsecond }
	d := newDriver(t, Config{})
	d.roundsLoad(3000, noise)
	grown := d.limit()
	assert.GreaterOrEqual(t, grown, 48, "scheduling noise does not hold the limit down")
	d.roundsLoad(300, queue)
	assert.Less(t, d.limit(), grown/2, "milliseconds of queueing shrink it")
	assert.GreaterOrEqual(t, d.limit(), 5, "to a rise of about 1 ms")
}

func TestUnsampledPermitsDoNotSetTheBaseline(t *testing.T) {
	// A robots.txt answered at once, then work that takes 20 ms: sampled,
	// the fast answer would set a baseline the work seems to rise far above.
	for _, tt := range []struct {
		name      string
		unsampled bool
		slowStart bool
	}{
		{"sampled", false, false},
		{"unsampled", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, Config{})
			for range 2 {
				p, _, ok := d.h.TryAcquireAt(d.now)
				require.True(t, ok)
				if tt.unsampled {
					p = p.Unsampled()
				}
				assert.Equal(t, !tt.unsampled, p.Sampled())
				d.now = d.now.Add(100 * time.Microsecond)
				p.ReleaseAt(d.now, Success)
			}
			d.rounds(6, 20*time.Millisecond, Success)
			assert.Equal(t, tt.slowStart, d.h.Snapshot().SlowStart)
		})
	}
}

func TestExcludingLeavesConnectionSetupOutOfTheSample(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	before := d.limit()
	// Every request of a window opens a new connection that takes 40 ms
	// before the 20 ms of work: excluded, the RTT stays flat.
	for range 4 {
		var ps []Permit
		for {
			p, _, ok := d.h.TryAcquireAt(d.now)
			if !ok {
				break
			}
			ps = append(ps, p.Excluding(40*time.Millisecond))
		}
		d.now = d.now.Add(60 * time.Millisecond)
		for _, p := range ps {
			p.ReleaseAt(d.now, Success)
		}
	}
	s := d.h.Snapshot()
	assert.True(t, s.SlowStart, "connection setup is not a queue at the server")
	assert.Greater(t, s.Limit, before)
	assert.Equal(t, Permit{}, Permit{}.Excluding(time.Second), "the zero Permit stays zero")
}

func TestSlowStartCountsOnlyPermitsStartedUnderTheCurrentLimit(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(6, 20*time.Millisecond, Success)
	// A permit taken long ago under a lower limit comes back slow: it says
	// nothing about the current level.
	old, _, ok := d.h.TryAcquireAt(d.now)
	require.True(t, ok)
	d.rounds(3, 20*time.Millisecond, Success)
	before := d.limit()
	d.now = d.now.Add(time.Millisecond)
	old.ReleaseAt(d.now, Success)
	d.rounds(2, 20*time.Millisecond, Success)
	s := d.h.Snapshot()
	assert.True(t, s.SlowStart)
	assert.Greater(t, s.Limit, before)
}

func TestSlowStartLeavesOutThePermitsThatFillARaisedLimit(t *testing.T) {
	d := newDriver(t, Config{})
	before := d.limit()
	for d.limit() == before {
		d.round(20*time.Millisecond, Success)
	}
	raised := d.limit()
	// The permits that fill the raised limit find free slots and come back
	// as fast as before; those started once it is full queue at the server.
	d.round(20*time.Millisecond, Success)
	d.rounds(2, 40*time.Millisecond, Success)
	s := d.h.Snapshot()
	assert.False(t, s.SlowStart, "the queue ends slow start")
	assert.LessOrEqual(t, s.MaxInFlight, raised, "the fast permits that filled the limit did not raise it again")
}

func TestDefaultClimbsBackBelowTheLastDropAndProbesPastItRarely(t *testing.T) {
	a := &delayAlgorithm{}
	const base = 20 * time.Millisecond
	window := func(l float64, mean time.Duration, drop bool) float64 {
		return a.window(windowStats{mean: mean, base: base, inFlight: int(l), limit: l, drop: drop})
	}
	l := window(40, base, true)
	require.InDelta(t, 34, l, 0.01, "a drop cuts to 85%")
	n := 0
	for ; l < 39 && n < 10; n++ {
		l = window(l, base, false)
	}
	assert.LessOrEqual(t, n, 3, "back in three windows")
	assert.InDelta(t, 39, l, 0.01, "just below the drop's limit")
	for range 4 {
		l = window(l, base, false)
	}
	assert.InDelta(t, 39, l, 0.01, "no probe past it for four windows")
	for range 20 {
		l = window(l, base*115/100, false)
	}
	assert.InDelta(t, 39, l, 0.01, "nor while a small queue shows")
	l = window(l, base, false)
	assert.Greater(t, l, 40.0, "then a probe past it")
}

func TestRefusalWithoutGateHoldsTheLimitJustBelowItsLevel(t *testing.T) {
	throttle := func(d *driver, gate bool) {
		t.Helper()
		ps := d.takeAll()
		require.Len(t, ps, 8, "Initial")
		d.now = d.now.Add(time.Millisecond)
		if gate {
			d.h.GateAt(d.now, d.now.Add(time.Second))
		}
		// The refusal of the request at in-flight 8 comes back first, then
		// that of another the cut already answered, at in-flight 7.
		ps[7].ReleaseAt(d.now, Throttled)
		first := d.h.Snapshot()
		ps[6].ReleaseAt(d.now, Throttled)
		second := d.h.Snapshot()
		for _, p := range ps[:6] {
			p.ReleaseAt(d.now, Success)
		}
		assert.False(t, first.SlowStart, "slow start ends on the first refusal")
		if gate {
			assert.Equal(t, 4, first.Limit, "a gated throttle halves the limit")
			assert.Equal(t, 4, second.Limit, "once")
			return
		}
		assert.Equal(t, 7, first.Limit, "just below the refused level")
		assert.Equal(t, 6, second.Limit, "just below the lower refused level, without a new cut")
	}
	throttle(newDriver(t, Config{Initial: 8}), false)
	throttle(newDriver(t, Config{Initial: 8}), true)
}

func TestDefaultProbesLessOftenWhileProbesAreRefused(t *testing.T) {
	a := &delayAlgorithm{}
	const base = 20 * time.Millisecond
	window := func(l float64, drop bool, refused int) float64 {
		return a.window(windowStats{mean: base, base: base, inFlight: int(l), limit: l, drop: drop, refused: refused})
	}
	l := window(33, true, 33)
	require.InDelta(t, 32, l, 0.01, "a refusal without a gate cuts to just below its level")
	for _, wait := range []int{4, 8, 16, 32, 64, 64} {
		for i := range wait {
			l = window(l, false, 0)
			require.InDelta(t, 32, l, 0.01, "window %d of %d: no probe yet", i+1, wait)
		}
		l = window(l, false, 0)
		require.Greater(t, l, 33.0, "a probe after %d windows", wait)
		l = window(l, true, 33)
		require.InDelta(t, 32, l, 0.01, "the probe refused at the same level")
	}
}

func TestDefaultProbesPastALevelRefusedWithAGateOnlyAfterManyGates(t *testing.T) {
	// The wait doubles while probes are refused there, up to gateProbeMax
	// gates or gateHoldMax, but is never shorter than gateProbe gates.
	for _, c := range []struct {
		gate  time.Duration
		waits []time.Duration
	}{
		{time.Second, []time.Duration{gateProbe * time.Second, 2 * gateProbe * time.Second, 4 * gateProbe * time.Second, gateProbeMax * time.Second, gateProbeMax * time.Second}},
		{10 * time.Second, []time.Duration{160 * time.Second, gateHoldMax, gateHoldMax}},
		{time.Minute, []time.Duration{gateProbe * time.Minute, gateProbe * time.Minute}},
	} {
		a := &delayAlgorithm{}
		const base = 20 * time.Millisecond
		gate := c.gate
		step := max(base, gate/50) // windows apart
		now := epoch
		window := func(l float64, drop bool) float64 {
			now = now.Add(step)
			return a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l, drop: drop})
		}
		refuse := func(l float64) float64 {
			now = now.Add(base)
			w := windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l, drop: true, gate: gate}
			a.gated(w, now, 4)
			l = a.window(w)
			now = now.Add(gate)
			return l
		}
		l := refuse(5)
		l = window(l, false)
		l = refuse(5) // the second refusal at that level
		for _, wait := range c.waits {
			until := now.Add(wait)
			for now.Add(step).Before(until) {
				l = window(l, false)
				require.Less(t, l, 5.0, "gate %v: %v of %v after the gate: no probe yet", gate, now.Sub(until.Add(-wait)), wait)
			}
			for i := 0; i < 10 && l < 5; i++ {
				l = window(l, false)
			}
			require.GreaterOrEqual(t, l, 5.0, "gate %v: a probe %v after the gate", gate, wait)
			l = refuse(5)
		}
	}
}

func TestDefaultHoldsTheLimitBelowALevelADropWithAGateRefused(t *testing.T) {
	d := newDriver(t, Config{Initial: 4})
	d.rounds(4, 20*time.Millisecond, Success)
	ps := d.takeAll()
	level := len(ps)
	require.Greater(t, level, 4, "slow start grew the limit")
	refuse := func(ps []Permit) {
		d.now = d.now.Add(20 * time.Millisecond)
		d.h.GateAt(d.now, d.now.Add(time.Second))
		ps[len(ps)-1].ReleaseAt(d.now, Dropped)
		for _, p := range ps[:len(ps)-1] {
			p.ReleaseAt(d.now, Success)
		}
		d.now = d.now.Add(time.Second)
	}
	refuse(ps)
	for d.limit() < level {
		d.round(20*time.Millisecond, Success)
	}
	ps = d.takeAll()
	require.Len(t, ps, level, "back at the refused level")
	refuse(ps) // the second refusal there
	probe := d.now.Add(gateProbe * time.Second)
	highest := 0
	for d.now.Before(probe.Add(-100 * time.Millisecond)) {
		d.round(20*time.Millisecond, Success)
		highest = max(highest, d.limit())
	}
	assert.Equal(t, level-1, highest, "back just below the refused level, and no higher before gateProbe gates' time")
	for i := 0; i < 50 && d.limit() < level; i++ {
		d.round(20*time.Millisecond, Success)
	}
	assert.GreaterOrEqual(t, d.limit(), level, "a probe past it after that")
}

func TestDefaultDoesNotTakeGatedDropsAtRisingLevelsAsTheCapacitysEnd(t *testing.T) {
	// A server that flaps refuses a ramp wherever it has got to: after the
	// first gate the limit comes back and passes the level refused, and
	// the next refusal comes one level higher. A capacity's end would have
	// refused the level it refused before.
	const base, gate = 20 * time.Millisecond, time.Second
	a := &delayAlgorithm{}
	now := epoch
	refuse := func(level, served float64) float64 {
		w := windowStats{start: now, mean: base, base: base, inFlight: int(level), limit: level, drop: true, gate: gate}
		a.gated(w, now, served)
		l := a.window(w)
		now = now.Add(gate)
		return l
	}
	refuse(8, 7)
	l := refuse(9, 8)
	highest := l
	for range 40 {
		now = now.Add(base)
		l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
		highest = max(highest, l)
	}
	assert.GreaterOrEqual(t, highest, 10.0, "the limit grows past the levels refused")
}

func TestDefaultTakesAGatedDropAsTheCapacitysEndOnlyJustPastTheLevelServed(t *testing.T) {
	const base, gate = 20 * time.Millisecond, 3 * time.Second
	for _, c := range []struct {
		name          string
		served, level float64
		held          bool
	}{
		{"nothing served yet (a blackout from the start)", 0, 4, false},
		{"at a level served (a blackout later)", 8, 8, false},
		{"far past the level served", 16, 21, false},
		{"one step past the level served", 8, 9, true},
	} {
		a := &delayAlgorithm{}
		now := epoch
		w := windowStats{start: now, mean: base, base: base, inFlight: int(c.level), limit: c.level, drop: true, gate: gate}
		a.gated(w, now, c.served) // the first refusal at that level
		a.gated(w, now, c.served)
		l := a.window(w)
		now = now.Add(gate)
		for range 20 {
			now = now.Add(base)
			l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
		}
		if c.held {
			assert.Less(t, l, c.level, c.name)
		} else {
			assert.GreaterOrEqual(t, l, c.level, c.name)
		}
	}
}

func TestDefaultHoldsTheFirstLevelASlowHostsWideStepWasRefusedAt(t *testing.T) {
	// On a 500 ms host slow start steps from 4 to 8 at once (slowStepAt):
	// the server holds 4 and refuses from the fifth request on, the
	// first refused one taken with 5 in flight. The level is 5, not 8,
	// and is held for gateOnce gates: the limit does not step back
	// into it for a second gate.
	const base, gate = 500 * time.Millisecond, time.Second
	require.Greater(t, slowStepAt(base), slowStep, "a wide step")
	a := &delayAlgorithm{}
	now := epoch
	w := windowStats{start: now, mean: base, base: base, inFlight: 8, limit: 8, drop: true, gate: gate, busy: 5}
	a.gated(w, now, 4)
	l := 4.0 // slow start ends at the level served
	now = now.Add(gate)
	highest := l
	for now.Before(epoch.Add(gateOnce * gate)) {
		now = now.Add(base)
		l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
		highest = max(highest, l)
	}
	assert.Less(t, highest, 5.0, "below the level refused for gateOnce gates")
}

func TestDefaultTakesALevelServedByLuckWhoseRefusalRecurs(t *testing.T) {
	// A server of 4 slots, 2 ms a request, whose requests arrive up to
	// 2 ms late: 5 in flight at the client were served (some were still
	// on their way), and 5 are refused each time the limit comes back to
	// it after a gate. Twice is not enough (a server that flaps twice as
	// the limit passes a level); the third time the level is held for
	// gateOnce gates and is no longer read as served.
	const base, gate = 2 * time.Millisecond, time.Second
	a := &delayAlgorithm{}
	now := epoch
	refuse := func() {
		a.gated(windowStats{start: now, mean: base, base: base, inFlight: 5, limit: 5.1, drop: true, gate: gate, busy: 5}, now, 5)
		now = now.Add(gate)
	}
	refuse()
	refuse()
	assert.Zero(t, a.gateUntil, "not held after two refusals")
	refuse()
	assert.Greater(t, a.gateUntil, now.UnixNano(), "held after the third")
	assert.Equal(t, int32(5), a.gateLevel)
	assert.Equal(t, int32(4), a.served, "5 was served by luck")
	l := 4.0
	highest := l
	for range (gateOnce - 1) * 100 {
		now = now.Add(5 * base)
		l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
		highest = max(highest, l)
	}
	assert.Less(t, highest, 5.0, "below the level refused")
}

func TestDefaultDoesNotTakeALevelServedLongForARefusal(t *testing.T) {
	// A level filled for luckWindows windows and more was not served by
	// luck: refusals there again and again (a server that flaps, at
	// whatever level it serves) do not lower it.
	const base, gate = 2 * time.Millisecond, time.Second
	a := &delayAlgorithm{since: luckWindows}
	now := epoch
	for range 5 {
		a.gated(windowStats{start: now, mean: base, base: base, inFlight: 5, limit: 5.1, drop: true, gate: gate, busy: 5}, now, 5)
		now = now.Add(gate)
	}
	assert.Zero(t, a.gateLevel)
	assert.Equal(t, int32(5), a.served)
}

func TestDefaultCutsARefusedSmallLimitByAWholeRequest(t *testing.T) {
	// A cut of delayDrop from 3.5 leaves 2.98, three in flight as before:
	// the gate's end would send three into the server that refused the
	// third. A cut after a refusal with a gate takes a whole request.
	a := &delayAlgorithm{}
	w := windowStats{start: epoch, mean: 50 * time.Millisecond, base: 50 * time.Millisecond, inFlight: 3, limit: 3.5, drop: true, gate: time.Second, busy: 3}
	assert.LessOrEqual(t, a.window(w), 2.0)
	a = &delayAlgorithm{}
	w.gate = 0
	assert.Greater(t, a.window(w), 2.0, "without a gate, delayDrop's cut")
}

func TestDefaultGoesBackToTheLevelServedAfterAGatedRefusalAndStepsTowardsItByOne(t *testing.T) {
	// A growth step from 72 took the limit to 76, past a server that holds
	// 72: back to 72, which was served, not to 75, and then one request
	// at a time towards 76.
	const base, gate = 20 * time.Millisecond, time.Second
	a := &delayAlgorithm{}
	now := epoch
	window := func(l float64) float64 {
		now = now.Add(base)
		return a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
	}
	window(72)
	w := windowStats{start: now, mean: base, base: base, inFlight: 76, limit: 76, drop: true, gate: gate}
	a.gated(w, now, 0)
	l := a.window(w)
	now = now.Add(gate)
	require.Less(t, l, 72.0, "a drop cuts the limit")
	for n := 0; l < 72 && n < 5; n++ {
		l = window(l)
	}
	for range delayProbe {
		require.InDelta(t, 72, l, 0.01, "back at the level served, and no higher for a few windows")
		l = window(l)
	}
	for n := 0; l < 76 && n < 40; n++ {
		next := window(l)
		require.LessOrEqual(t, next, l+1, "from %v: one request at a time", l)
		l = next
	}
	assert.InDelta(t, 76, l, 0.01, "up to the refused level, which refuses again if it is the capacity's end")
}

func TestDefaultProbesPastARiseLikePastADropOnAServerThatRefusedPastItsLevels(t *testing.T) {
	// On a server that refused with a gate past the levels it served, a
	// level where the RTT rose to delayGrow is held while a smaller rise
	// shows; elsewhere the limit grows as soon as the rise is under it.
	const base = 20 * time.Millisecond
	rose := func(refusedPast bool) float64 {
		a := &delayAlgorithm{}
		now := epoch
		if refusedPast {
			a.gated(windowStats{start: now, mean: base, base: base, inFlight: 60, limit: 60, drop: true, gate: time.Second}, now, 40)
		}
		window := func(l float64, mean time.Duration) float64 {
			now = now.Add(base)
			return a.window(windowStats{start: now, mean: mean, srtt: mean, base: base, inFlight: int(l), limit: l})
		}
		l := window(50, base*125/100)
		require.InDelta(t, 50, l, 0.01, "a rise to delayGrow holds the limit")
		for range 20 {
			l = window(l, base*115/100)
		}
		return l
	}
	assert.InDelta(t, 50, rose(true), 0.01, "held while a rise of delayHold shows")
	assert.Greater(t, rose(false), 50.0, "grows on a server that never refused past its levels")
}

func TestDefaultDoesNotGrowPastTheLevelsServedWhileTheFastestAnswerRises(t *testing.T) {
	// A baseline taken from a loaded client's cold start sits above what
	// a level with a queue shows once the load lifts: 8 in flight on 4
	// slots + 4 queued read 41 ms against 35 ms. The level's fastest answer,
	// 20 ms over the host's fastest, shows the queue: no growth past the
	// levels served while it does, and growth again where it does not, or
	// below the levels served.
	const base, mean = 35 * time.Millisecond, 41 * time.Millisecond
	a := &delayAlgorithm{}
	window := func(l float64, floorRise time.Duration) float64 {
		return a.window(windowStats{mean: mean, srtt: mean, base: base, inFlight: int(l), limit: l, floorRise: floorRise})
	}
	l := 8.0
	for range 20 {
		l = window(l, 20*time.Millisecond)
	}
	assert.InDelta(t, 8, l, 0.01, "held while the fastest answer shows a queue")
	assert.Greater(t, window(8, 0), 8.0, "grows once it does not")
	assert.Greater(t, window(6, 20*time.Millisecond), 6.0, "and below the levels served, whatever it shows")
}

// The default strategy's state is allocated once per host, beside the Host:
// 48 bytes is its size class (32 until it kept the RTT of the level the
// limit grew from, see queuedPastLevel).
func TestDefaultStrategysStateFitsTheSizeClassOf48Bytes(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(delayAlgorithm{}), uintptr(48))
}

func TestARiseAtOneRequestInFlightIsNotReadAsAQueue(t *testing.T) {
	// A limit at one request at a time whose answers read 1.5× a baseline
	// slow start took too low: no queue of ours can hold one request up,
	// so the baseline follows and the limit grows again.
	var c control
	c.init(Config{Initial: 1, Min: 1, Max: 100})
	c.slowStart, c.coldN = false, maxNeed*2
	c.base, c.srtt = 20*time.Millisecond, 30*time.Millisecond
	now := epoch
	for range 40 {
		for range c.intLimit() {
			c.onStart(c.intLimit())
		}
		for range c.intLimit() {
			now = now.Add(30 * time.Millisecond)
			c.onSuccess(now, 30*time.Millisecond, 0, c.seq, c.level, nil)
		}
	}
	assert.GreaterOrEqual(t, c.base, 26*time.Millisecond, "the baseline follows the lone requests' RTT")
	assert.Greater(t, c.intLimit(), 1, "the limit grows again")
}

func TestAFewAnswersTenTimesSlowerAreNotReadAsAQueueButAllAnswersSlowerAre(t *testing.T) {
	// A server with a heavy tail: one answer in ten takes ten times as
	// long. The window's mean reads 1.9× the baseline, but no queue of
	// ours holds up the other nine. A queue delays every answer: here 25
	// slots of 20 ms, and the requests beyond them wait their turn, 4× at
	// 100 in flight.
	run := func(rtt func(c *control, i int) time.Duration) int {
		var c control
		c.init(Config{Initial: 100, Min: 1, Max: 100})
		c.slowStart, c.coldN = false, maxNeed*2
		c.base, c.srtt = 20*time.Millisecond, 20*time.Millisecond
		answerWindows(&c, epoch, 40, func(i, _ int) time.Duration { return rtt(&c, i) })
		return c.intLimit()
	}
	tail := run(func(_ *control, i int) time.Duration {
		if i%10 == 9 {
			return 200 * time.Millisecond
		}
		return 20 * time.Millisecond
	})
	assert.Equal(t, 100, tail, "a heavy tail does not cut the limit")
	queue := run(func(c *control, _ int) time.Duration { return 20 * time.Millisecond * time.Duration(c.intLimit()) / 25 })
	assert.Less(t, queue, 40, "a queue that delays every answer 4× cuts it")
}

func TestDefaultHoldsALevelRefusedOnceAtThePeakForGateOnceGates(t *testing.T) {
	// A refusal of a request sent as the in-flight count first rose to 9
	// keeps the limit at 8 for gateOnce gates after its gate; a refusal at
	// 9 sent at any other moment lets it step back to 9 at once, where a
	// second refusal would confirm the level.
	const base, gate = 20 * time.Millisecond, time.Second
	for _, peak := range []bool{true, false} {
		a := &delayAlgorithm{}
		now := epoch
		w := windowStats{start: now, mean: base, base: base, inFlight: 9, limit: 9, drop: true, gate: gate, peak: peak}
		a.gated(w, now, 8)
		a.window(w)
		l := 8.0
		now = now.Add(gate)
		reached := time.Duration(-1)
		for now.Before(epoch.Add((gateOnce + 3) * gate)) {
			now = now.Add(base)
			l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
			if l >= 9 && reached < 0 {
				reached = now.Sub(epoch)
			}
		}
		if peak {
			assert.GreaterOrEqual(t, reached, (gateOnce+1)*gate, "refused at the peak: 9 not before gateOnce gates after the gate")
		} else {
			assert.Less(t, reached, gate+time.Second/2, "refused elsewhere: back to 9 soon after the gate")
		}
		assert.GreaterOrEqual(t, l, 9.0, "peak %v: a probe of 9 in the end", peak)
	}
}

func TestDefaultLetsARefusalInSlowStartsStepGoOnlyOnAWindowThatTellsNoQueue(t *testing.T) {
	// A small server refused a request of slow start's step from 4 to 5
	// that was not the peak's. The windows after its gate that hold too few
	// answers to tell a queue keep the limit below 5; the first that tells
	// none lets the refusal go as a flap's, and the limit steps to 5.
	const base, gate = 50 * time.Millisecond, time.Second
	a := &delayAlgorithm{}
	now := epoch
	w := windowStats{start: now, mean: base, base: base, inFlight: 5, limit: 5, drop: true, gate: gate, step: true, busy: 4}
	a.gated(w, now, 4)
	a.window(w)
	now = now.Add(gate)
	for range 2 * delayProbe {
		now = now.Add(2 * base)
		a.stepQueued(now, false, false)
		assert.Equal(t, 4.0, a.window(windowStats{start: now, mean: base, base: base, inFlight: 4, limit: 4}), "a window too small to tell: held below 5")
	}
	now = now.Add(2 * base)
	a.stepQueued(now, true, false)
	assert.Equal(t, 5.0, a.window(windowStats{start: now, mean: base, base: base, inFlight: 4, limit: 4}), "no queue told: the refusal was a flap's")

	a = &delayAlgorithm{}
	a.gated(w, epoch, 4)
	a.window(w)
	now = epoch.Add(gate + 2*base)
	a.stepQueued(now, true, true)
	assert.Equal(t, 4.0, a.window(windowStats{start: now, mean: base, base: base, inFlight: 4, limit: 4}), "a queue told: held as the capacity's end")
}

func TestADropSentAsTheInFlightCountFirstReachedItsPeakIsMarked(t *testing.T) {
	// Four requests run; a fifth, sent as the count first reaches 5, is
	// refused with a gate; a later refusal at 5 is not at the peak.
	clock := clockwork.NewFakeClockAt(epoch)
	l, err := New(Config{Initial: 5, Min: 1, Max: 10}, WithClock(clock))
	require.NoError(t, err)
	h := l.Host("h")
	var ps []Permit
	for range 5 {
		p, _, ok := h.TryAcquireAt(clock.Now())
		require.True(t, ok)
		ps = append(ps, p)
	}
	h.mu.Lock()
	h.ctl.base = 20 * time.Millisecond
	assert.True(t, h.atPeakLocked(ps[4]), "sent as the count first reached 5")
	h.mu.Unlock()
	clock.Advance(20 * time.Millisecond)
	ps[4].ReleaseAt(clock.Now(), Success)
	p, _, ok := h.TryAcquireAt(clock.Now())
	require.True(t, ok)
	h.mu.Lock()
	assert.False(t, h.atPeakLocked(p), "5 again, 20 ms after the peak")
	h.mu.Unlock()
	p.ReleaseAt(clock.Now(), Ignored)
	for _, p := range ps[:4] {
		p.ReleaseAt(clock.Now(), Success)
	}
}

func TestDefaultHoldsAColdStartsRefusalUntilItsBurstShowsABlackoutOrAFlap(t *testing.T) {
	// Nothing served yet, the request taken at 3 in flight is refused with a
	// gate: the limit stays at 2 for gateOnce gates, unless the burst's
	// other answers show a blackout (a request sent alone refused) or a
	// flap (one sent above 3 served). A refusal below 3 lowers the level,
	// a success at 3 raises it by one.
	const base, gate = 20 * time.Millisecond, time.Second
	type answer struct {
		busy    int32 // in flight when the request was taken
		refused bool
	}
	for _, c := range []struct {
		name    string
		answers []answer
		held    int32 // the level held, 0 if none
	}{
		{name: "capacity", answers: []answer{{4, true}, {1, false}, {2, false}}, held: 3},
		{name: "refusals in any order", answers: []answer{{2, true}, {1, false}}, held: 2},
		{name: "a slot freed before its answer was read", answers: []answer{{2, true}, {2, false}}, held: 3},
		{name: "blackout", answers: []answer{{4, true}, {1, true}, {2, true}}},
		{name: "flap", answers: []answer{{1, false}, {4, false}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &delayAlgorithm{}
			now := epoch
			w := windowStats{start: now, inFlight: 4, limit: 4, drop: true, gate: gate, first: 3}
			a.gated(w, now, 0)
			require.Equal(t, int32(3), a.gateLevel, "held at once")
			for _, x := range c.answers {
				a.coldAnswer(x.busy, x.refused)
			}
			assert.Equal(t, c.held, a.gateLevel)
			if c.held == 0 {
				return
			}
			l := float64(c.held - 1)
			for now.Before(epoch.Add(gateOnce * gate)) {
				now = now.Add(base)
				l = a.window(windowStats{start: now, mean: base, base: base, inFlight: int(l), limit: l})
				require.Less(t, l, float64(c.held), "not back to the refused level before gateOnce gates")
			}
		})
	}
}

func TestAFewAnswersOfAHeavyTailTogetherAtALowLimitAreNotReadAsAQueue(t *testing.T) {
	// A server with a heavy tail, 4 requests out: three answers in ten
	// take five times as long, and they come back together, so that a
	// window of the few answers a low limit makes is mostly slow. The
	// window waits for more answers before it reads them as a queue. A
	// queue of ours delays every answer, and is read.
	const base, out = 20 * time.Millisecond, 4
	run := func(slow func(i int) bool) int {
		var c control
		c.init(Config{Initial: out, Min: 1, Max: out})
		c.slowStart, c.coldN = false, maxNeed*2
		c.base, c.srtt = base, base
		now := epoch
		for i := range out {
			c.onStart(i + 1)
		}
		lowest := c.intLimit()
		for i := range 2000 {
			rtt := base
			if slow(i) {
				rtt = 5 * base
			}
			now = now.Add(base / out)
			c.onSuccess(now, rtt, out-1, c.seq, c.level, nil)
			c.onStart(out)
			lowest = min(lowest, c.intLimit())
		}
		return lowest
	}
	assert.Equal(t, out, run(func(i int) bool { return i%10 >= 3 && i%10 <= 5 }), "three slow answers in ten, together: the limit holds")
	assert.Less(t, run(func(int) bool { return true }), out, "every answer slower: a queue, the limit is cut")
}

func TestSlowStartTakesOnlyARiseNearTheDefaultsOwnAsAKnee(t *testing.T) {
	for _, tc := range []struct {
		name string
		rtt  time.Duration
		knee bool
	}{
		{"a rise of a tenth: the baseline's bias, the default strategy tells", 22400 * time.Microsecond, false},
		{"a rise of a quarter: a queue, probed past as a drop's level", 25 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, Config{})
			d.rounds(8, 20*time.Millisecond, Success)
			for d.h.Snapshot().SlowStart {
				d.round(tc.rtt, Success)
			}
			alg := d.h.ctl.alg.(*delayAlgorithm)
			if tc.knee {
				assert.Positive(t, alg.wmax, "the level where slow start ended is a knee")
			} else {
				assert.Zero(t, alg.wmax, "no knee")
			}
		})
	}
}

func TestAClientStallIsNotReadAsAQueue(t *testing.T) {
	// 32 out, answers of 20 ms. A client that barely runs for 100 ms (a
	// loaded machine) reads 20 answers in that time, each about 100 ms
	// late, two windows of them: the limit holds, and so it does for a
	// stall of a third of that. A server that got six times slower for
	// good delays every answer, and is cut within three round trips'
	// answers.
	const base, out, stall = 20 * time.Millisecond, 32, 100 * time.Millisecond
	run := func(rtt func(i int) (time.Duration, time.Duration)) (lowest, cutAt int) {
		var c control
		c.init(Config{Initial: out, Min: 1, Max: out})
		c.slowStart, c.coldN = false, maxNeed*2
		c.base, c.srtt = base, base
		now := epoch
		for i := range out {
			c.onStart(i + 1)
		}
		lowest, cutAt = c.intLimit(), -1
		for i := range 2000 {
			d, gap := rtt(i)
			now = now.Add(gap)
			c.onSuccess(now, d, out-1, c.seq, c.level, nil)
			c.onStart(out)
			if c.intLimit() < lowest && cutAt < 0 {
				cutAt = i
			}
			lowest = min(lowest, c.intLimit())
		}
		return lowest, cutAt
	}
	lowest, _ := run(func(i int) (time.Duration, time.Duration) {
		if i >= 500 && i < 520 {
			return base + stall, stall / 20
		}
		return base, base / out
	})
	assert.Equal(t, out, lowest, "a stall: the limit holds")
	lowest, _ = run(func(i int) (time.Duration, time.Duration) {
		if i >= 500 && i < 520 {
			return base + stall/3, stall / 60
		}
		return base, base / out
	})
	assert.Equal(t, out, lowest, "a shorter stall, answers under four baselines late: the limit holds")
	lowest, cutAt := run(func(i int) (time.Duration, time.Duration) {
		if i >= 500 {
			return 6 * base, 6 * base / out
		}
		return base, base / out
	})
	assert.Less(t, lowest, out, "a server six times slower: the limit is cut")
	assert.Less(t, cutAt, 500+3*out, "within three round trips' answers")
}

// exitOnRise ends c's slow start on a rise at limit 20 over a baseline of
// 18 ms, no request refused, and returns the limit it falls back to.
func exitOnRise(t *testing.T, c *control, mean time.Duration) float64 {
	t.Helper()
	c.init(Config{Min: 1, Max: 256, Initial: 4})
	c.base, c.srtt, c.limit, c.safe = 18*time.Millisecond, 18*time.Millisecond, 20, 17
	w := windowStats{mean: mean, stderr: 200 * time.Microsecond, base: c.base, srtt: mean, inFlight: 20, limit: 20}
	c.decide(w)
	c.decide(w)
	require.False(t, c.slowStart, "two windows of a rise end slow start")
	return c.limit
}

// climbWindows feeds c n windows at its full limit whose mean RTT is rtt(l)
// and returns the highest limit it reached.
func climbWindows(c *control, n int, rtt func(l float64) time.Duration) float64 {
	high := c.limit
	for range n {
		mean := rtt(c.limit)
		c.decide(windowStats{mean: mean, stderr: 200 * time.Microsecond, base: c.base, srtt: mean, inFlight: int(c.limit), limit: c.limit})
		high = max(high, c.limit)
	}
	return high
}

func TestDefaultClimbsFastPastAnExitOnARiseThatHigherLevelsDoNotShow(t *testing.T) {
	// The rise that ended slow start was the baseline's (read low from a
	// few fast first answers): the RTT stays 20 ms at every level.
	var c control
	from := exitOnRise(t, &c, 20*time.Millisecond)
	assert.Less(t, from, 20.0)
	flat := func(float64) time.Duration { return 20 * time.Millisecond }
	climbWindows(&c, 14, flat)
	// The default strategy's own step (+1 or 5% a window, four windows
	// held below the level of the rise) would be at about 30.
	assert.GreaterOrEqual(t, c.limit, 40.0, "a flat RTT past the level of the rise climbs by a tenth a window")
}

func TestDefaultClimbStopsAtTheQueueOfAServerPastTheExit(t *testing.T) {
	// The same false exit, on a server of 24 slots and a queue of 6 (a
	// 503 with a gate beyond): the RTT rises with every request past 24.
	var c control
	exitOnRise(t, &c, 20*time.Millisecond)
	queue := func(l float64) time.Duration {
		return time.Duration(float64(20*time.Millisecond) * max(1, float64(int(l))/24))
	}
	high := climbWindows(&c, 60, queue)
	assert.GreaterOrEqual(t, high, 24.0, "the climb reaches the slots")
	assert.LessOrEqual(t, high, 30.0, "and stops before slots + queue")
	assert.Zero(t, c.climbAt, "the queue's rise ends the climb")
}

func TestDefaultDoesNotClimbFastAfterAnExitARefusalConfirmed(t *testing.T) {
	var c control
	exitOnRise(t, &c, 20*time.Millisecond)
	c.decide(windowStats{base: c.base, srtt: c.srtt, inFlight: int(c.limit), limit: c.limit, drop: true, refused: int(c.limit)})
	assert.Zero(t, c.climbAt, "a refusal ends the climb")
	flat := func(float64) time.Duration { return 20 * time.Millisecond }
	assert.Less(t, climbWindows(&c, 14, flat), 30.0, "the limit probes past the refusal as the default strategy does")
}

func TestDefaultHoldsAnInFlightCapByItsRefusalsNotItsRTT(t *testing.T) {
	// A cap of 64 that refuses past it with a bare 429, answering 10-30 ms:
	// every window reads 20 ms against a baseline of 14 ms read from slow
	// start's fastest answers, a rise past delayShrink.
	const base, mean = 14 * time.Millisecond, 20 * time.Millisecond
	run := func(capOnly bool) (lowest, highest float64, probes int) {
		a := &delayAlgorithm{}
		l := a.window(windowStats{mean: mean, base: base, srtt: mean, inFlight: 65, limit: 65, drop: true, refused: 65, capOnly: capOnly})
		lowest, highest = l, l
		for range 40 {
			next := a.window(windowStats{mean: mean, base: base, srtt: mean, inFlight: int(l), limit: l, capOnly: capOnly})
			if next > 64 {
				// The cap refuses the probe: the refused level is the one
				// past it.
				probes++
				require.InDelta(t, 65, next, 0.01, "a probe past the cap by one request")
				next = a.window(windowStats{mean: mean, base: base, srtt: mean, inFlight: int(next), limit: next, drop: true, refused: 65, capOnly: capOnly})
			}
			l = next
			lowest, highest = min(lowest, l), max(highest, l)
		}
		return lowest, highest, probes
	}
	lowest, highest, probes := run(true)
	assert.GreaterOrEqual(t, lowest, 63.0, "a cap that refuses at no cost holds the limit just below it, whatever its RTT")
	assert.Equal(t, 64.0, highest)
	assert.Positive(t, probes, "and probes past it now and then")
	lowest, _, _ = run(false)
	assert.Less(t, lowest, 50.0, "a server that may refuse with a gate is cut for the same rise")
}

func TestAnInFlightCapIsTakenForOneOnlyWhileEveryRefusalClosedNoGate(t *testing.T) {
	d := newDriver(t, Config{Initial: 8})
	ps := d.takeAll()
	d.now = d.now.Add(time.Millisecond)
	ps[7].ReleaseAt(d.now, Throttled)
	for _, p := range ps[:7] {
		p.ReleaseAt(d.now, Success)
	}
	assert.Equal(t, capBare, d.h.ctl.refusals, "a bare 429: an in-flight cap")
	d.now = d.now.Add(100 * time.Millisecond)
	ps = d.takeAll()
	d.now = d.now.Add(time.Millisecond)
	d.h.GateAt(d.now, d.now.Add(time.Second))
	ps[len(ps)-1].ReleaseAt(d.now, Throttled)
	for _, p := range ps[:len(ps)-1] {
		p.ReleaseAt(d.now, Success)
	}
	assert.Equal(t, capBare|capOther, d.h.ctl.refusals, "a refusal with a gate: not a cap alone")

	d = newDriver(t, Config{Initial: 4})
	ps = d.takeAll()
	d.now = d.now.Add(time.Millisecond)
	ps[3].ReleaseAt(d.now, Throttled)
	assert.Equal(t, capOther, d.h.ctl.refusals, "a bare 429 at 4 in flight: a rate limit's as likely")
}

func TestSlowStartHoldsABigRiseOnTwoAnswersForAWindow(t *testing.T) {
	start := func() *control {
		c := &control{}
		c.init(Config{Min: 1, Max: 256, Initial: 4})
		c.base, c.srtt, c.limit = 14*time.Millisecond, 14*time.Millisecond, 6
		return c
	}
	// Two answers of 22 and 26 ms (a server answering 10-30 ms) against a
	// baseline of two fast first ones.
	w := windowStats{mean: 24 * time.Millisecond, stderr: 2 * time.Millisecond, base: 14 * time.Millisecond, srtt: 24 * time.Millisecond, inFlight: 6, limit: 6, n: 2}
	c := start()
	c.decide(w)
	assert.True(t, c.slowStart, "two answers' rise holds for a window")
	assert.Equal(t, 6.0, c.limit, "without growing")
	c.decide(w)
	assert.False(t, c.slowStart, "the rise again: slow start ends")
	w.n = minFloorN
	c = start()
	c.decide(w)
	assert.False(t, c.slowStart, "as it does at once on minFloorN answers")
}

func TestDefaultReadsAWideSpreadByItsFastestAnswers(t *testing.T) {
	// A server whose answers spread evenly over 0.5-40 ms, and a baseline
	// of 8 ms that slow start took from each level's first answers. With
	// no queue a whole window reads 2.5× that baseline, but its fastest
	// answer stays near the host's fastest: the baseline rises, and the
	// limit is not cut. A server whose slots then fall to 11, so that 16
	// in flight wait 10 ms in its queue and fewer less, delays every
	// answer, the fastest too, window after window: the baseline does not
	// take the queue in, and the limit is cut.
	c := &control{}
	c.init(Config{Initial: 16, Min: 1, Max: 100})
	c.slowStart, c.coldN = false, maxNeed*2
	c.base, c.srtt = 8*time.Millisecond, 8*time.Millisecond
	c.lowest = micros(500 * time.Microsecond)
	now := epoch
	run := func(rtt func(i, n int) time.Duration) {
		now = answerWindows(c, now, 60, rtt)
	}
	even := func(i, n int) time.Duration {
		// Evenly over 0.5-40 ms, in an order that mixes them.
		return 500*time.Microsecond + time.Duration(float64(i*7%n)/float64(n-1)*39.5*float64(time.Millisecond))
	}
	run(even)
	assert.GreaterOrEqual(t, c.base, 12*time.Millisecond, "the baseline rises towards the answers' own")
	assert.GreaterOrEqual(t, c.intLimit(), 16, "the limit is not cut")

	base := c.base
	run(func(i, n int) time.Duration { return even(i, n) + time.Duration(max(0, n-11))*2*time.Millisecond })
	assert.Less(t, c.base, base+base/10, "a queue's delay does not raise the baseline")
	assert.Less(t, c.intLimit(), 16, "and the limit is cut")
}

func TestDefaultCutsAWideSpreadForItsRTTOnlyOnAQueueThatStays(t *testing.T) {
	// A window at 16 in flight whose mean reads twice a baseline of 15 ms,
	// as do the windows before it. On a host whose service times spread as
	// widely as their mean, its fastest answer past twice where it
	// typically lies cuts the limit only if the window before showed that
	// too (a queue stays; the fastest of a few answers spread that widely
	// lies that high one window in seven or so), and a window that cannot
	// show where its fastest answer lies (too few answers, or alike ones)
	// does not cut it. On another host the mean alone cuts it.
	queued := windowStats{limit: 16, inFlight: 16, n: 16, mean: 30 * time.Millisecond, stderr: 3 * time.Millisecond,
		base: 15 * time.Millisecond, srtt: 28 * time.Millisecond, wideHost: true, wide: true, queued: true, floorRise: 10 * time.Millisecond}
	for _, tc := range []struct {
		name string
		w    func(w windowStats) windowStats
		cut  bool
	}{
		{"queued once", func(w windowStats) windowStats { return w }, false},
		{"queued twice", func(w windowStats) windowStats { w.again = true; return w }, true},
		{"too few answers to tell", func(w windowStats) windowStats {
			w.n, w.wide, w.queued, w.floorRise = 3, false, false, 0
			return w
		}, false},
		{"not a wide host", func(w windowStats) windowStats {
			w.wideHost, w.wide, w.queued, w.floorRise = false, false, false, 0
			return w
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &delayAlgorithm{}
			next := a.window(tc.w(queued))
			if tc.cut {
				assert.Less(t, next, 16.0)
			} else {
				assert.Equal(t, 16.0, next)
			}
		})
	}
}

func TestAFastAnswerAmongAlikeOnesIsNoWideSpread(t *testing.T) {
	// Answers of 19-21 ms and one of 0.5 ms (a cache's hit) in a window:
	// the window's spread is that one answer's, not the server's.
	c := &control{}
	c.init(Config{Initial: 16, Min: 1, Max: 100})
	c.slowStart, c.coldN = false, maxNeed*2
	c.base, c.srtt = 8*time.Millisecond, 8*time.Millisecond
	rtts := []time.Duration{500 * time.Microsecond}
	for i := range 15 {
		rtts = append(rtts, 19*time.Millisecond+time.Duration(i%3)*time.Millisecond)
	}
	for _, rtt := range rtts {
		c.noteFastest(rtt, true)
		c.add(rtt)
	}
	mean := c.sum / time.Duration(c.n)
	m := float64(mean)
	stderr := time.Duration(math.Sqrt((c.sumSq/float64(c.n) - m*m) / float64(c.n-1)))
	rise, wide, _ := c.wideBase(mean, int(c.n), stderr)
	assert.False(t, wide, "not read as a wide spread")
	assert.Zero(t, rise)
	assert.Equal(t, 8*time.Millisecond, c.base, "the baseline stays")
}

func TestDefaultGrowsAWideSpreadWhoseFastestAnswerLiesWhereItTypicallyDoes(t *testing.T) {
	// A server whose answers spread evenly over 0.5-40 ms and a baseline of
	// 8 ms that slow start took from each level's first answers, which ran
	// without a queue up to 32 in flight. Windows whose fastest answer lies
	// where it typically does grow the limit up to that level, whatever
	// their mean reads against the baseline; a queue that then delays every
	// answer by 10 ms moves the fastest too, and the limit is cut.
	c := &control{}
	c.init(Config{Initial: 16, Min: 1, Max: 100})
	c.slowStart, c.coldN, c.safe = false, maxNeed*2, 32
	c.base, c.srtt = 8*time.Millisecond, 8*time.Millisecond
	c.lowest = micros(500 * time.Microsecond)
	now := epoch
	window := func(delay time.Duration) {
		l := c.intLimit()
		for range l {
			c.onStart(l)
		}
		for i := range l {
			now = now.Add(time.Millisecond)
			// Evenly over 0.5-40 ms, in an order that mixes them, the
			// fastest a little above the host's.
			rtt := time.Millisecond + time.Duration(float64(i*7%l)/float64(l-1)*39*float64(time.Millisecond))
			c.onSuccess(now, rtt+delay, l, c.seq, c.level, nil)
		}
	}
	for range 60 {
		window(0)
	}
	assert.Positive(t, c.fastGap(), "where the fastest answer lies is learnt")
	assert.GreaterOrEqual(t, c.intLimit(), 28, "the limit grows towards the levels slow start served")
	assert.LessOrEqual(t, c.limit, c.safe, "and no further")

	grown := c.limit
	for range 10 {
		window(10 * time.Millisecond)
	}
	assert.Less(t, c.limit, grown, "a queue's delay cuts the limit")
}

func TestDefaultReadsAWideSpreadHeldByARiseByTheLevelItFellBackTo(t *testing.T) {
	// Slow start fell back to 16 on a rise, with a baseline of 15 ms from
	// each level's first answers, on a server whose answers spread evenly
	// over 10-30 ms and which has refused nothing. Whole windows at 16 read
	// 1.33 baselines, a queue to the default strategy, but their fastest
	// answer is the host's fastest: the baseline rises to the windows' mean
	// over freeRead, and the limit grows. The same windows with every
	// answer 4 ms later (a queue delays them all) leave the baseline, and
	// so do they on a host that has refused a request.
	run := func(delay time.Duration, refusals uint8) *control {
		c := &control{}
		c.init(Config{Initial: 16, Min: 1, Max: 100})
		c.slowStart, c.coldN = false, maxNeed*2
		c.base, c.srtt = 15*time.Millisecond, 15*time.Millisecond
		c.lowest = micros(10 * time.Millisecond)
		c.spreadAt, c.refusals = 16, refusals
		answerWindows(c, epoch, 30, func(i, l int) time.Duration {
			return 10*time.Millisecond + time.Duration(float64(i*7%l)/float64(l-1)*20*float64(time.Millisecond)) + delay
		})
		return c
	}
	c := run(0, 0)
	assert.GreaterOrEqual(t, c.base, 16*time.Millisecond, "the baseline rises to the whole windows' mean over freeRead")
	assert.Greater(t, c.intLimit(), 16, "and the limit grows")

	c = run(4*time.Millisecond, 0)
	assert.Less(t, c.base, 15500*time.Microsecond, "a queue that delays every answer does not raise the baseline")
	c = run(0, capOther)
	assert.Less(t, c.base, 15500*time.Microsecond, "nor do the windows of a host that refused")
}

// answerWindows hands out c's limit in permits and answers them, n windows
// in a row after now: the i-th answer of a window of l comes a millisecond
// after the one before and took rtt(i, l). It returns the last answer's
// time.
func answerWindows(c *control, now time.Time, n int, rtt func(i, l int) time.Duration) time.Time {
	for range n {
		l := c.intLimit()
		for range l {
			c.onStart(l)
		}
		for i := range l {
			now = now.Add(time.Millisecond)
			c.onSuccess(now, rtt(i, l), l, c.seq, c.level, nil)
		}
	}
	return now
}
