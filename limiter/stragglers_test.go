package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLevelWatchCountsPermitsStillOutOrBackLate(t *testing.T) {
	var w levelWatch
	w.reset(10)
	age := 25 * time.Millisecond
	// Permits 11-14 start by epoch, 15-16 by 5 ms.
	w.mark(epoch, 14, time.Millisecond)
	w.mark(epoch.Add(time.Millisecond/2), 14, time.Millisecond) // within the gap: no new mark
	w.mark(epoch.Add(5*time.Millisecond), 16, time.Millisecond)
	for _, seq := range []uint64{9, 11, 12, 15} { // 9 started before the level: ignored
		w.returned(seq)
	}
	assert.False(t, w.ready(epoch.Add(20*time.Millisecond), 16, age, 0), "13, 14, 16 out, the first 20 ms old")
	out, judged := w.stragglers(epoch.Add(20*time.Millisecond), age, 0)
	assert.Equal(t, [2]int{0, 0}, [2]int{out, judged}, "none old enough to judge")

	now := epoch.Add(26 * time.Millisecond)
	assert.True(t, w.ready(now, 16, age, 0))
	out, judged = w.stragglers(now, age, 0)
	assert.Equal(t, [2]int{2, 4}, [2]int{out, judged}, "13 and 14 of 11-14 still out; 15-16 too young")
	assert.InDelta(t, 2.0, w.waited(now, age, 0), 1e-9, "4 judged over the 2 that did not wait")

	w.late = 2
	assert.Equal(t, slowExitRatio, w.waited(now, age, 0), "all judged waited")

	w.reset(16)
	assert.Zero(t, w.waited(now, age, 0), "a new level: nothing judged")
	w.mark(now, 18, time.Millisecond)
	w.returned(17)
	w.returned(18)
	assert.True(t, w.ready(now, 18, age, 0), "every permit of the level is back")
}
