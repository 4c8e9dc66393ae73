package limiter

import (
	"context"
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

func TestAColdStartsFirstLevelIsJudgedFromItsLastPermitsStart(t *testing.T) {
	// Many hosts share a crawl's listing: a host's first items reach it a
	// few ms apart, beside an answer that is no sample (a page read ahead),
	// which comes back first and marks the watch while the level's last
	// items are 4 ms old. On a server of 4 slots × 200 ms every item comes
	// back after 200 ms: none waited, and slow start goes on. (Reading
	// every permit as started a first answer's RTT before that mark judged
	// the last item a straggler when the first two were back, and ended
	// slow start at 3 on a server of 4 slots.)
	const service = 200 * time.Millisecond
	d := newDriver(t, Config{})
	items := []Permit{d.takeAt(0)}
	page := d.takeAt(0)
	items = append(items, d.takeAt(4*time.Millisecond), d.takeAt(5*time.Millisecond))
	d.now = epoch.Add(9 * time.Millisecond)
	page.Unsampled().ReleaseAt(d.now, Success)
	items = append(items, d.takeAt(16*time.Millisecond))
	for i, sent := range []time.Duration{0, 4 * time.Millisecond, 5 * time.Millisecond, 16 * time.Millisecond} {
		d.now = epoch.Add(sent + service + time.Duration(i)*time.Millisecond/2)
		items[i].ReleaseAt(d.now, Success)
		assert.True(t, d.h.ctl.slowStart, "slow start goes on after item %d", i)
	}
	assert.Equal(t, 5, d.limit(), "the level of 4 ran without a queue")

	// Sent together, on a server of 2 slots, the last two wait a whole
	// service time behind the first two: read as a queue, as before.
	d = newDriver(t, Config{})
	items = []Permit{d.takeAt(0)}
	page = d.takeAt(0)
	items = append(items, d.takeAt(0), d.takeAt(0))
	d.now = epoch.Add(5 * time.Millisecond)
	page.Unsampled().ReleaseAt(d.now, Success)
	items = append(items, d.takeAt(5*time.Millisecond))
	for i, back := range []time.Duration{service, service + time.Millisecond, 2 * service, 2*service + 5*time.Millisecond} {
		d.now = epoch.Add(back)
		items[i].ReleaseAt(d.now, Success)
	}
	assert.False(t, d.h.ctl.slowStart)
	assert.Less(t, d.limit(), 4, "the level of 4 queued on 2 slots")
}

func TestARobotsTxtBesideAColdStartsFirstLevelMarksNothing(t *testing.T) {
	// A crawl's first items to a host wait on its robots.txt, an auxiliary
	// request that counts in flight: three items and the robots.txt fill
	// the initial level of 4, and the fourth item is sent once the
	// robots.txt is back, at 9 ms. The server has 2 slots and 2 queued,
	// ±25% around 50 ms: the first two items come back at 55 and 58 ms,
	// the third, queued and served quickly, at 88 ms (1.6 first answers:
	// not late), the fourth at 108 ms. The robots.txt is no answer of the
	// level: the first window waits for the fourth item, which came back
	// late, and the level holds (read as a replacement for the robots.txt,
	// the fourth item was not waited for, and the level stepped to 5,
	// past slots and queue).
	d := newDriver(t, Config{})
	items := []Permit{d.takeAt(0)}
	robots, err := d.h.AcquireAuxiliary(context.Background())
	require.NoError(t, err)
	items = append(items, d.takeAt(0), d.takeAt(0))
	_, _, ok := d.h.TryAcquireAt(d.now)
	require.False(t, ok, "the robots.txt counts in flight")
	d.now = epoch.Add(5 * time.Millisecond)
	robots.ReleaseAt(d.now, Success)
	assert.Empty(t, d.h.ctl.watch.marks, "the robots.txt's answer marks nothing")
	items = append(items, d.takeAt(9*time.Millisecond))
	for i, back := range []time.Duration{55, 58, 88, 108} {
		d.now = epoch.Add(back * time.Millisecond)
		items[i].ReleaseAt(d.now, Success)
		if i < 3 {
			assert.Equal(t, 4, d.limit(), "the level's fourth item is still out after answer %d", i+1)
		}
	}
	assert.True(t, d.h.ctl.slowStart)
	assert.Equal(t, 4, d.limit(), "the level holds: its fourth item came back late")
	assert.NotZero(t, d.h.ctl.coldLow, "for a window that tells a queue from a spread")
}
