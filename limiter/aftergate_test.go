package limiter

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedControl is a control after slow start at limit 8 on a host whose
// fastest answer is 10.5 ms, with a baseline of 17 ms that a loaded cold
// start raised, just after a refusal that closed a gate of 1 s: the
// requests out when it closed are permits of the level count before it.
// With min 8 the cut leaves the limit where it was.
func gatedControl(t *testing.T, floor int) (*control, time.Time, uint32) {
	t.Helper()
	var c control
	c.init(Config{Initial: 8, Min: floor, Max: 64})
	c.slowStart, c.coldN = false, maxNeed*2
	c.base, c.srtt, c.lowest = 17*time.Millisecond, 17*time.Millisecond, micros(10500*time.Microsecond)
	now := epoch
	for i := range 9 {
		c.onStart(i + 1)
	}
	before := c.level
	require.True(t, c.onDrop(now, 8, c.cuts, now.Add(time.Second), false, 0, 9))
	require.NotZero(t, c.gatedAt, "the gate is noted")
	return &c, now, before
}

// answers feeds c one answer of each RTT in rtts, 5 ms apart from now, to
// permits of the level count level, and returns the time after them.
func answers(c *control, now time.Time, level uint32, rtts ...time.Duration) time.Time {
	for _, d := range rtts {
		now = now.Add(5 * time.Millisecond)
		c.onSuccess(now, d, 7, c.seq, level, nil)
	}
	return now
}

func TestTheRestartsAnswersLowerABaselineALoadedStartRaised(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name    string
		restart []time.Duration
		lowered bool // to the mean of the answers the window closes on; else a quarter of the way at most (see observeRTT)
	}{
		{"alike answers of an emptied server", []time.Duration{ms(11), ms(11.5), ms(11.2), ms(11.8)}, true},
		{"answers that spread", []time.Duration{ms(8), ms(14), ms(10), ms(12.5)}, false},
		{"too few", []time.Duration{ms(11)}, false},
		{"none below the baseline", []time.Duration{ms(17), ms(17.5), ms(17.2), ms(17.8)}, false},
	} {
		for _, floor := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s, min %d", tc.name, floor), func(t *testing.T) {
				c, now, before := gatedControl(t, floor)
				// The requests out when the gate closed come back, queued.
				now = answers(c, now, before, ms(20), ms(20.5), ms(19.8), ms(20.2), ms(20.1), ms(19.9), ms(20.3), ms(20))
				require.NotZero(t, c.gatedAt, "their answers are not the restart's")
				now = now.Add(time.Second)
				for range len(tc.restart) {
					c.onStart(1)
				}
				n := min(c.need(), len(tc.restart))
				var sum time.Duration
				for _, d := range tc.restart[:n] {
					sum += d
				}
				answers(c, now, c.level, tc.restart[:n]...)
				if n >= gateAnswers {
					require.Zero(t, c.gatedAt, "the restart's window closed")
				}
				if tc.lowered {
					assert.InDelta(t, sum/time.Duration(n), c.base, float64(time.Microsecond), "lowered to their mean")
				} else {
					assert.Greater(t, c.base, ms(15), "not lowered")
				}
			})
		}
	}
}

func TestTheRestartsFastestAnswerDoesNotLetARefusalInSlowStartsStepGo(t *testing.T) {
	// A refusal in slow start's step at 9, not at the peak: held once a
	// window shows that the requests out with it waited in a queue. The
	// window after it holds their answers, 20 ms on a host whose fastest
	// is 10.5 ms, and the restart's first, 11 ms, sent into a server the
	// gate emptied: the refusal is held, not let go as a flap's.
	ms := time.Millisecond
	c, now, before := gatedControl(t, 1)
	a := c.alg.(*delayAlgorithm)
	a.seen, a.gateLevel, a.gateUntil = 9, 0, now.Add(9*time.Second).UnixNano()
	now = answers(c, now, before, 20*ms, 21*ms, 20*ms)
	now = now.Add(time.Second)
	c.onStart(1)
	answers(c, now, c.level, 11*ms, 11*ms, 11*ms)
	assert.Equal(t, int32(9), a.gateLevel, "the level refused is held")
}
