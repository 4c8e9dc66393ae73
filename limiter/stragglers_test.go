package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestAColdStartsFirstWindowWaitsOnlyForItsLevel(t *testing.T) {
	// A crawl's cold start: its listing's next page is read ahead beside the
	// items, a permit whose answer is no sample. The initial level of 4
	// holds three items and a page; the page comes back first, and the page
	// after it is out when the items come back at 22-25 ms. The first
	// window closes on the items: it does not wait for that page, which
	// replaced an answer of the level, as a sample's replacement would not
	// be waited for either.
	const page = 20 * time.Millisecond
	release := func(p Permit, d *driver, at time.Duration) {
		d.now = epoch.Add(at)
		p.ReleaseAt(d.now, Success)
	}
	t.Run("a page read ahead", func(t *testing.T) {
		d := newDriver(t, Config{})
		ps := d.takeAll()
		require.Len(t, ps, 4)
		release(ps[3].Unsampled(), d, page)
		next, _, ok := d.h.TryAcquireAt(d.now)
		require.True(t, ok)
		release(ps[0], d, 22*time.Millisecond)
		release(ps[1], d, 23500*time.Microsecond)
		assert.Equal(t, 4, d.limit(), "two answers, the third still out")
		release(ps[2], d, 25*time.Millisecond)
		assert.Equal(t, 5, d.limit(), "the level's answers are all back")
		next.Unsampled().ReleaseAt(d.now, Success)
	})
	t.Run("a page alone before the level", func(t *testing.T) {
		// The listing's first page, before any item: no level yet, and
		// the level after it still waits for its stragglers.
		d := newDriver(t, Config{})
		first, _, ok := d.h.TryAcquireAt(d.now)
		require.True(t, ok)
		release(first.Unsampled(), d, page)
		ps := d.takeAll()
		require.Len(t, ps, 4)
		release(ps[0], d, page+22*time.Millisecond)
		release(ps[1], d, page+23500*time.Microsecond)
		assert.Equal(t, 4, d.limit(), "two answers, two of the level still out")
		release(ps[2], d, page+24*time.Millisecond)
		release(ps[3], d, page+25*time.Millisecond)
		assert.Equal(t, 5, d.limit(), "the level's answers are all back")
	})
	t.Run("no answer a sample", func(t *testing.T) {
		// A host whose every answer is a redirect: no window closes, and
		// the watch keeps the one mark.
		d := newDriver(t, Config{})
		ps := d.takeAll()
		for i := range 1000 {
			d.now = d.now.Add(time.Millisecond)
			ps[i%len(ps)].Unsampled().ReleaseAt(d.now, Success)
			p, _, ok := d.h.TryAcquireAt(d.now)
			require.True(t, ok)
			ps[i%len(ps)] = p
		}
		assert.Equal(t, 4, d.limit())
		assert.Len(t, d.h.ctl.watch.marks, 1)
		for _, p := range ps {
			p.Unsampled().ReleaseAt(d.now, Success)
		}
	})
}
