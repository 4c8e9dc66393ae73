package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storm sends to d's host, for span, every request it allows, each answered
// with a server error after latency, and returns how many were sent.
func (d *driver) storm(span, latency time.Duration) int {
	d.t.Helper()
	end, sent := d.now.Add(span), 0
	for d.now.Before(end) {
		ps := d.takeAll()
		if len(ps) == 0 {
			d.now = d.now.Add(time.Millisecond) // paused: look again later
			continue
		}
		sent += len(ps)
		d.now = d.now.Add(latency)
		for _, p := range ps {
			p.ReleaseAt(d.now, Errored)
		}
	}
	return sent
}

func TestAServerAnsweringOnlyErrorsIsPausedNotAskedAsFastAsItAnswers(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	before := d.limit()
	// A server that fails every request in 0.2 ms would be asked ~5,000
	// times a second per slot if its errors said nothing.
	sent := d.storm(2*time.Second, 200*time.Microsecond)
	s := d.h.Snapshot()
	assert.LessOrEqual(t, sent, before+10, "the limit's worth, then one request a pause, the pauses doubling")
	assert.Less(t, s.Limit, before, "the run is overload: the limit shrinks")
	assert.Greater(t, s.Limit, before/2, "once: a server in trouble fails every level alike")
	assert.True(t, s.GateUntil.After(d.now), "the host is paused")

	// The server recovers: after the pause one request goes alone; its
	// success ends the run, and a new run starts from nothing.
	d.now = s.GateUntil
	ps := d.takeAll()
	require.Len(t, ps, 1, "one request at a time until one succeeds")
	d.now = d.now.Add(20 * time.Millisecond)
	ps[0].ReleaseAt(d.now, Success)
	dropped := d.h.Snapshot().Dropped
	d.round(20*time.Millisecond, Errored)
	assert.Equal(t, dropped, d.h.Snapshot().Dropped, "one error after a success says nothing")
	assert.Zero(t, d.h.Snapshot().GateUntil)
}

func TestServerErrorsAmongSuccessesSayNothingAboutLoad(t *testing.T) {
	d := newDriver(t, Config{})
	d.rounds(10, 20*time.Millisecond, Success)
	// A third of the host's pages fail (pages the server cannot render),
	// every round: runs of errors stay far shorter than the limit.
	for range 200 {
		ps := d.takeAll()
		d.now = d.now.Add(20 * time.Millisecond)
		for i, p := range ps {
			o := Success
			if i%3 == 0 {
				o = Errored
			}
			p.ReleaseAt(d.now, o)
		}
	}
	s := d.h.Snapshot()
	assert.Zero(t, s.Dropped, "no error read as overload")
	assert.Zero(t, s.GateUntil, "no pause")
	assert.Positive(t, s.Ignored)
}

func TestARunOfErrorsAsLongAsTheLimitOpensTheHost(t *testing.T) {
	d := newDriver(t, Config{Algorithm: Fixed, Initial: 8})
	d.rounds(3, 20*time.Millisecond, Success)
	ps := d.takeAll()
	require.Len(t, ps, 8)
	d.now = d.now.Add(time.Millisecond)
	for _, p := range ps[:7] {
		p.ReleaseAt(d.now, Errored)
	}
	s := d.h.Snapshot()
	assert.Zero(t, s.Dropped, "7 errors in a row at a limit of 8: not yet a run")
	assert.Zero(t, s.GateUntil)
	ps[7].ReleaseAt(d.now, Errored)
	s = d.h.Snapshot()
	assert.Equal(t, int64(1), s.Dropped, "the 8th is: every request in flight failed")
	assert.Equal(t, int64(7), s.Ignored)
	assert.Equal(t, d.now.Add(bareWait), s.GateUntil, "a pause, as for a 503 without Retry-After")

	// Each probe that fails doubles the pause.
	for _, wait := range []time.Duration{2 * bareWait, 4 * bareWait} {
		d.now = d.h.Snapshot().GateUntil
		var probe []Permit
		for range 20 { // the probe's answer takes 20 ms
			probe = append(probe, d.takeAll()...)
			d.now = d.now.Add(time.Millisecond)
		}
		require.Len(t, probe, 1, "one request at a time while the host is open")
		probe[0].ReleaseAt(d.now, Errored)
		assert.Equal(t, d.now.Add(wait), d.h.Snapshot().GateUntil)
	}
	d.now = d.h.Snapshot().GateUntil
	d.round(20*time.Millisecond, Success)
	taken := 0
	for range 40 { // the restart after a pause spreads the limit over an RTT
		taken += len(d.takeAll())
		d.now = d.now.Add(time.Millisecond)
	}
	assert.Equal(t, 8, taken, "a success closes it: the whole limit again")
}

func TestServerErrorsInFlightWhenTheHostOpenedChangeNothing(t *testing.T) {
	d := newDriver(t, Config{Algorithm: Fixed, Initial: 8})
	d.rounds(3, 20*time.Millisecond, Success)
	ps := d.takeAll()
	require.Len(t, ps, 8)
	more := make([]Permit, 0, 4)
	d.now = d.now.Add(time.Millisecond)
	for _, p := range ps[:4] {
		p.ReleaseAt(d.now, Errored)
	}
	more = append(more, d.takeAll()...) // four more go out before the run is complete
	require.Len(t, more, 4)
	for _, p := range ps[4:] {
		p.ReleaseAt(d.now, Errored)
	}
	pause := d.h.Snapshot().GateUntil
	require.Equal(t, d.now.Add(bareWait), pause)
	d.now = d.now.Add(time.Millisecond)
	for _, p := range more {
		p.ReleaseAt(d.now, Errored)
	}
	s := d.h.Snapshot()
	assert.Equal(t, pause, s.GateUntil, "the errors of requests sent before it opened neither lengthen the pause nor double it")
	assert.Equal(t, int64(1), s.Dropped)
}

func TestRetriesFailingInARowDoNotOpenTheHostButFirstAttemptsDo(t *testing.T) {
	d := newDriver(t, Config{Algorithm: Fixed, Initial: 8})
	d.rounds(3, 20*time.Millisecond, Success)
	// A crawl's end: only the retries of a few broken items are left, and
	// the server fails each of them, 40 in a row with no success between.
	for range 5 {
		ps := d.takeAll()
		require.Len(t, ps, 8)
		d.now = d.now.Add(time.Millisecond)
		for _, p := range ps {
			p.Retried().ReleaseAt(d.now, Errored)
		}
	}
	s := d.h.Snapshot()
	assert.Zero(t, s.Dropped, "retries failing say the items are broken, not the server")
	assert.Zero(t, s.GateUntil, "no pause")
	assert.Equal(t, 8, s.Limit)

	// First attempts failing as long a run as the limit are a storm.
	ps := d.takeAll()
	require.Len(t, ps, 8)
	d.now = d.now.Add(time.Millisecond)
	for _, p := range ps {
		p.ReleaseAt(d.now, Errored)
	}
	s = d.h.Snapshot()
	assert.Equal(t, int64(1), s.Dropped, "the host opens")
	assert.Equal(t, d.now.Add(bareWait), s.GateUntil)

	// Once open, a retry is a probe like any request: its error doubles the pause.
	d.now = s.GateUntil
	var probe []Permit
	for range 20 {
		probe = append(probe, d.takeAll()...)
		d.now = d.now.Add(time.Millisecond)
	}
	require.Len(t, probe, 1, "one request at a time while the host is open")
	probe[0].Retried().ReleaseAt(d.now, Errored)
	assert.Equal(t, d.now.Add(2*bareWait), d.h.Snapshot().GateUntil)
}
