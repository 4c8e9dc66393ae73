package limiter

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Hosts whose service times spread about as widely as their mean (0-40 ms):
// slow start's readings of a few answers are taken against the host's
// spread, not a window's own, and a mean of a few answers is no baseline.

func TestFloorRiseReadsAWideSpreadsAlikeAnswersAgainstTheHostsSpread(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name    string
		lowest  float64
		answers []float64
		queue   bool
	}{
		// Four answers within 6 ms of each other, their fastest 5 ms
		// over the host's: where service times spread over 0-40 ms, the
		// fastest of four lies 8 ms over the lowest on average.
		{"four alike answers of a wide spread", 0.4, []float64{5.5, 8.0, 10.5, 11.6}, false},
		{"a queue of 20 ms on a wide spread", 0.4, []float64{21.0, 24.0, 26.0, 28.0}, true},
		// The same answers on a host whose fastest answer lies near its
		// baseline: their own spread is the host's.
		{"four alike answers of a narrow spread", 9.0, []float64{14.5, 17.0, 19.5, 20.6}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := control{base: ms(13)}
			c.noteFastest(ms(tc.lowest), false)
			for _, a := range tc.answers {
				c.noteFastest(ms(a), true)
				c.add(ms(a))
			}
			assert.Equal(t, tc.queue, c.floorRise() > 0, "floor rise %v", c.floorRise())
		})
	}
}

func TestSpreadIsReadOnSlowAndWideHostsOnly(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		base, lowest time.Duration
		want         time.Duration
	}{
		{"a fast host whose fastest answer lies near its baseline", 16 * ms, 10 * ms, 0},
		{"a fast host whose fastest answer lies under half its baseline", 16 * ms, 1 * ms, time.Duration(float64(15*ms) / math.Sqrt(3))},
		{"a slow host", 1000 * ms, 700 * ms, time.Duration(float64(300*ms) / math.Sqrt(3))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := control{base: tc.base, lowest: micros(tc.lowest)}
			assert.InDelta(t, float64(tc.want), c.spread(), float64(time.Microsecond))
		})
	}
}

func TestColdSampleTakesALevelsLateAnswersOnAWideHost(t *testing.T) {
	ms := time.Millisecond
	start := func(lowest time.Duration) *control {
		c := &control{}
		c.init(Config{Initial: 8, Min: 1, Max: 100})
		c.base, c.coldN, c.coldSum, c.lowest = 12*ms, 5, 60*ms, micros(lowest)
		return c
	}
	c := start(1 * ms)
	c.coldSample(30 * ms)
	assert.Equal(t, 15*ms, c.base, "a wide host's late answer of a lower level joins the baseline")
	c = start(8 * ms)
	c.coldSample(30 * ms)
	assert.Equal(t, 12*ms, c.base, "not a narrow fast host's")
}

func TestLowerBaseDoesNotTakeAFewAnswersOfAWideHostForTheBaseline(t *testing.T) {
	ms := time.Millisecond
	start := func(lowest time.Duration) *control {
		c := &control{}
		c.init(Config{Initial: 8, Min: 1, Max: 100})
		c.base, c.srtt, c.coldN, c.coldSum, c.lowest = 16*ms, 16*ms, 5, 80*ms, micros(lowest)
		return c
	}
	c := start(500 * time.Microsecond)
	c.lowerBase(epoch, 7*ms, 3, 0)
	assert.Equal(t, (80*ms+21*ms)/8, c.base, "three answers of 7 ms join a wide host's baseline")
	c = start(12 * ms)
	c.lowerBase(epoch, 7*ms, 3, 0)
	assert.Equal(t, 7*ms, c.base, "and become a narrow host's")
}

func TestColdHeldIsNotReadOnAWideHost(t *testing.T) {
	ms := time.Millisecond
	// The window after a cold start's first, whose answers that did not
	// come back late averaged 8 ms: its fastest of 14 ms lies past
	// coldHeldFloor times that.
	run := func(lowest time.Duration) *control {
		c := &control{}
		c.init(Config{Initial: 4, Min: 1, Max: 100})
		c.base, c.srtt, c.coldN, c.coldSum = 16*ms, 16*ms, 5, 80*ms
		c.coldLow = math.MaxUint8 / 2
		c.noteFastest(lowest, false)
		c.winStart = epoch
		c.winInFlight = 4
		for _, rtt := range []time.Duration{14 * ms, 30 * ms, 35 * ms} {
			c.noteFastest(rtt, true)
			c.add(rtt)
		}
		c.closeWindow(epoch.Add(40*ms), 4, 0, false, 0, 0, nil)
		return c
	}
	c := run(500 * time.Microsecond)
	assert.True(t, c.slowStart, "a wide host's cold start goes on")
	c = run(10 * ms)
	assert.False(t, c.slowStart, "a narrow host's level held")
	assert.Less(t, c.limit, 4.0, "and ends below it")
}
