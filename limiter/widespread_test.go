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

// coldStart is a host in slow start at initial in flight whose cold
// baseline is base, the mean of its first five answers, and whose fastest
// answer took lowest.
func coldStart(initial int, base, lowest time.Duration) *control {
	c := &control{}
	c.init(Config{Initial: initial, Min: 1, Max: 100})
	c.base, c.srtt, c.coldN, c.coldSum = base, base, 5, 5*base
	c.noteFastest(lowest, false)
	return c
}

func TestColdSampleTakesALevelsLateAnswersOnAWideHost(t *testing.T) {
	ms := time.Millisecond
	c := coldStart(8, 12*ms, 1*ms)
	c.coldSample(30 * ms)
	assert.Equal(t, 15*ms, c.base, "a wide host's late answer of a lower level joins the baseline")
	c = coldStart(8, 12*ms, 8*ms)
	c.coldSample(30 * ms)
	assert.Equal(t, 12*ms, c.base, "not a narrow fast host's")
}

func TestLowerBaseDoesNotTakeAFewAnswersOfAWideHostForTheBaseline(t *testing.T) {
	ms := time.Millisecond
	c := coldStart(8, 16*ms, 500*time.Microsecond)
	c.lowerBase(epoch, 7*ms, 3, 0)
	assert.Equal(t, (80*ms+21*ms)/8, c.base, "three answers of 7 ms join a wide host's baseline")
	c = coldStart(8, 16*ms, 12*ms)
	c.lowerBase(epoch, 7*ms, 3, 0)
	assert.Equal(t, 7*ms, c.base, "and become a narrow host's")
}

func TestColdHeldIsNotReadOnAWideHost(t *testing.T) {
	ms := time.Millisecond
	// The window after a cold start's first, whose answers that did not
	// come back late averaged 8 ms: its fastest of 14 ms lies past
	// coldHeldFloor times that.
	run := func(lowest time.Duration) *control {
		c := coldStart(4, 16*ms, lowest)
		c.coldLow = math.MaxUint8 / 2
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

func TestColdHeldOnTheHostsFastestAnswerTakesTwoWindowsInARow(t *testing.T) {
	ms := time.Millisecond
	// A cold start's first level of 4 came back at 60, 64, 88 and 112 ms:
	// the last one late, the one at 88 ms (a queued request served
	// quickly) not, so that the answers that did not come back late
	// average 71 ms. On 2 slots + 2 queued the held level's answers wait
	// behind another, 1.3 to 1.6 times the host's fastest, but not
	// coldHeldFloor times 71 ms.
	window := func(c *control, at time.Duration, rtts ...time.Duration) { heldWindow(c, at, nil, rtts...) }
	held := func() *control { return heldLevel(81*ms, 60*ms, 71*ms) }

	c := held()
	window(c, 100*ms, 98*ms, 92*ms, 84*ms)
	assert.True(t, c.slowStart, "one window's fastest at 1.4 times the host's: the level holds once more")
	assert.Equal(t, 4.0, c.limit)
	assert.Equal(t, uint8(3), c.heldN)
	window(c, 190*ms, 91*ms, 95*ms, 79*ms)
	assert.False(t, c.slowStart, "two in a row: the level queued")
	assert.Less(t, c.limit, 4.0, "and slow start ends below it")

	c = held()
	window(c, 100*ms, 98*ms, 92*ms, 84*ms)
	window(c, 170*ms, 62*ms, 75*ms, 66*ms)
	assert.True(t, c.slowStart, "the next window's fastest back near the host's: a server with room")
	assert.Zero(t, c.heldN)
	assert.Zero(t, c.coldLow)

	c = held()
	window(c, 100*ms, 98*ms, 84*ms)
	window(c, 170*ms, 91*ms, 79*ms)
	assert.True(t, c.slowStart, "two windows of two answers each: too few to tell")
	assert.Equal(t, 4.0, c.limit, "the level holds a third window")
	assert.Equal(t, uint8(4), c.heldN)
	window(c, 240*ms, 90*ms, 85*ms)
	assert.False(t, c.slowStart, "whose answers wait too")
	assert.Less(t, c.limit, 4.0)

	c = held()
	window(c, 100*ms, 63*ms, 70*ms, 88*ms)
	assert.True(t, c.slowStart, "a held window with an answer near the host's fastest")
	assert.Zero(t, c.heldN, "goes on without holding again")
	assert.Zero(t, c.coldLow)
}

func TestAColdHeldWindowReadLateHoldsTheLevelForTheNext(t *testing.T) {
	ms := time.Millisecond
	// A 2 + 2 server of 20 ms: the first window's answers that did not
	// come back late averaged 29 ms, the host's fastest 24 ms. The held
	// level's window read while the process ran late (see
	// readLate): its answers hold the process's own delay, and tell
	// neither a queue nor its absence. The level holds, and the window
	// after it is read as the held one would have been. (Its hold let go,
	// the next window stepped past 2 slots + 2 queued.)
	late := func(time.Time) float64 { return 1 }
	window := heldWindow
	held := func() *control { return heldLevel(33*ms, 24*ms, 29*ms) }

	c := held()
	window(c, 50*ms, late, 45*ms, 48*ms, 43*ms)
	assert.True(t, c.slowStart, "read late: no queue read, even past coldHeldFloor")
	assert.Equal(t, 4.0, c.limit, "and the level holds")
	assert.NotZero(t, c.coldLow, "for the next window to read")
	assert.Zero(t, c.heldN)
	window(c, 95*ms, nil, 40*ms, 38*ms, 35*ms)
	assert.True(t, c.slowStart)
	assert.Equal(t, uint8(3), c.heldN, "read as the first held window")
	window(c, 140*ms, late, 39*ms, 41*ms, 33*ms)
	assert.Equal(t, uint8(3), c.heldN, "a late one between counts nothing")
	assert.True(t, c.slowStart)
	window(c, 185*ms, nil, 39*ms, 41*ms, 33*ms)
	assert.False(t, c.slowStart, "the level queued")
	assert.Less(t, c.limit, 4.0)

	c = held()
	window(c, 50*ms, late, 45*ms, 48*ms, 43*ms)
	window(c, 95*ms, nil, 25*ms, 30*ms, 27*ms)
	assert.True(t, c.slowStart, "a server with room goes on")
	assert.Zero(t, c.coldLow)
}

// heldLevel is a cold start held at the initial limit of 4 after a coldLate
// first window (see windowStats.coldHeld): its baseline base, its fastest
// answer lowest, and the mean of the answers that did not come back late
// low.
func heldLevel(base, lowest, low time.Duration) *control {
	c := coldStart(4, base, lowest)
	c.coldLow = uint8(math.Round(math.MaxUint8 * float64(low) / float64(base)))
	c.winStart, c.winInFlight = epoch, 4
	return c
}

// heldWindow closes c's window of rtts at epoch+at, the process's lateness
// read from late (nil: never late).
func heldWindow(c *control, at time.Duration, late func(time.Time) float64, rtts ...time.Duration) {
	for _, rtt := range rtts {
		c.noteFastest(rtt, true)
		c.add(rtt)
	}
	c.closeWindow(epoch.Add(at), 4, 0, false, 0, 0, late)
}
