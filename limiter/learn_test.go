package limiter

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bucketAt is a server's token bucket of rate a second with a burst of
// burst, holding tokens at last: admit reports whether it admits a request
// at t.
type bucketAt struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *bucketAt) admit(t time.Time) bool {
	b.tokens = min(b.burst, b.tokens+b.rate*t.Sub(b.last).Seconds())
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// coldThenSteady feeds l what a bucket of 100/s with a burst of 10, full at
// epoch, does with a cold start's burst of
// requests 0.5 ms apart, until the first refusal (answered 1 ms later,
// with a 1 s gate), then with requests every 5 ms from the gate's end. It
// returns the gate's end, when the first refusal after it was answered and
// that request's number.
func coldThenSteady(t *testing.T, l *learner) (until, at time.Time, refused uint64) {
	t.Helper()
	b := bucketAt{rate: 100, burst: 10, tokens: 10, last: epoch}
	until, seq, r := bucketColdStart(t, l, &b, time.Second, false)
	assert.InDelta(t, 4*10, r, 4, "the probe starts at four times what the server admitted over the episode and its gate (a burst of about ten)")
	for i := 0; ; i++ {
		seq++
		sent := until.Add(time.Duration(i) * 5 * time.Millisecond)
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			// One more is on its way when the refusal comes back.
			seq++
			l.sent(sent.Add(time.Millisecond), seq, false, false)
			return until, sent.Add(time.Millisecond), seq - 1
		}
		l.succeeded(time.Time{}, seq)
	}
}

// bucketColdStart feeds l what bucket b, full at epoch, does with a cold
// start's burst of requests 0.5 ms apart, until the first refusal
// (answered 1 ms later, with a gate of gate). It returns the gate's end, the
// refused request's number and the probe's start throttled tells. Where
// timed, the refusal tells when its request started.
func bucketColdStart(t *testing.T, l *learner, b *bucketAt, gate time.Duration, timed bool) (until time.Time, seq uint64, probe float64) {
	t.Helper()
	for {
		seq++
		sent := epoch.Add(time.Duration(seq-1) * 500 * time.Microsecond)
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			until = sent.Add(time.Millisecond + gate)
			var start time.Time
			if timed {
				start = sent
			}
			r, first, ok := l.throttled(sent.Add(time.Millisecond), seq, start, until, 0, 5*time.Millisecond)
			require.True(t, ok)
			require.True(t, first)
			return until, seq, r
		}
		l.succeeded(time.Time{}, seq)
	}
}

// secondThrottle feeds l coldThenSteady's requests and the refusal that
// ends them (with a 1 s gate, paced at 200/s), and returns the rate settle
// fitted, when that refusal came and the refused request's number.
func secondThrottle(t *testing.T, l *learner) (r float64, at time.Time, seq uint64) {
	t.Helper()
	_, at, seq = coldThenSteady(t, l)
	_, first, ok := l.throttled(at, seq, time.Time{}, at.Add(time.Second), 200, 5*time.Millisecond)
	require.True(t, ok)
	require.False(t, first)
	r, ok = l.settle()
	require.True(t, ok)
	return r, at, seq
}

func TestLearnerFitsTheRateAtTheSecondThrottle(t *testing.T) {
	var l learner
	r, _, _ := secondThrottle(t, &l)
	assert.True(t, l.known)
	assert.InDelta(t, 97, r, 4, "99% of the server's rate")
	assert.InDelta(t, 10, l.burst, 1, "the server's burst")
	assert.Contains(t, []int{4, 5}, l.pacerBurst(100), "half the server's burst")
}

func TestLearnerBoundsAFirstFitFromAboveByItsRefusedRequest(t *testing.T) {
	// 100/s burst 10, sent 200/s after the gate: the record's lowest rate
	// (97/s) lies within a tenth under the one its refused request would
	// have needed to be admitted, which the server's lies under: the host
	// probes up to that bound, not 0.1% a second from the lowest.
	var l learner
	r, _, _ := secondThrottle(t, &l)
	require.False(t, l.wide, "a bound within looseSpan")
	assert.GreaterOrEqual(t, l.jointHi, 100.0, "the server's rate lies under the bound")
	assert.LessOrEqual(t, l.jointHi, (1+looseSpan)*r/fitMargin)
}

func TestLearnerProbesALooseFirstFitBehindALongGateAsSlowlyAsTheGateIsLong(t *testing.T) {
	// 10/s burst 10: a cold start drains the burst, and after the gate
	// requests 11.5 ms apart (87/s, the episode's rate) drain it again
	// within 0.15 s. That record's lowest rate is under 10/s and its
	// refused request bounds the rate far above it: behind a gate of 3 s
	// it is probed from (costly, at a third of the probe behind 1 s).
	for _, c := range []struct {
		gate   time.Duration
		costly bool
	}{{3 * time.Second, true}, {time.Second, false}} {
		var l learner
		b := bucketAt{rate: 10, burst: 10, tokens: 10, last: epoch}
		until, seq, _ := bucketColdStart(t, &l, &b, c.gate, false)
		for i := 0; ; i++ {
			seq++
			sent := until.Add(time.Duration(i) * 11500 * time.Microsecond)
			l.sent(sent, seq, false, false)
			if !b.admit(sent) {
				_, first, ok := l.throttled(sent.Add(time.Millisecond), seq, time.Time{}, sent.Add(time.Millisecond+c.gate), 87, 5*time.Millisecond)
				require.True(t, ok)
				require.False(t, first)
				break
			}
			l.succeeded(time.Time{}, seq)
		}
		r, ok := l.settle()
		require.True(t, ok)
		require.True(t, l.known)
		assert.Less(t, r, 10.0, "gate %v: the record's lowest, under the server's rate", c.gate)
		assert.Equal(t, c.costly, l.costly, "gate %v", c.gate)
		if c.costly {
			assert.True(t, l.wide, "gate %v: probed from", c.gate)
		}
	}
}

func TestPaceProbesALooseFirstFitBehindALongGateAsSlowlyAsTheGateIsLong(t *testing.T) {
	// A loose fit at 5/s behind a gate of 3 s: probed at 10% a second,
	// a third of 30%, the next refusal's record then tells the rate.
	p := pace{pushback: new(pushback)}
	p.learnt, p.slow, p.confirmed, p.probeG = 5, true, false, unconfirmedProbe/3
	p.lastProbe = epoch
	releaseFor30s(&p)
	assert.InEpsilon(t, 5*math.Pow(1+0.1*0.25, 120), p.learnt, 0.01, "10% a second, compounded every 250 ms")
}

func TestLearnerTakesTheFirstRefusedRequestWhateverOrderTheAnswersCameIn(t *testing.T) {
	inOrder, late := learner{}, learner{}
	_, at, seq := coldThenSteady(t, &inOrder)
	coldThenSteady(t, &late)
	_, _, ok := inOrder.throttled(at, seq, time.Time{}, at.Add(time.Second), 200, 5*time.Millisecond)
	require.True(t, ok)
	// The next request's refusal comes first, the first refused one's after.
	_, _, ok = late.throttled(at, seq+1, time.Time{}, at.Add(time.Second), 200, 5*time.Millisecond)
	require.True(t, ok)
	_, _, ok = late.throttled(at.Add(time.Millisecond), seq, time.Time{}, at.Add(time.Second), 200, 5*time.Millisecond)
	assert.False(t, ok, "a late answer only corrects the record")
	want, _ := inOrder.settle()
	got, _ := late.settle()
	assert.InDelta(t, want, got, 1e-9)
}

func TestLearnerCountsARequestHeldAtTheGateAsAdmittedAfterIt(t *testing.T) {
	for _, c := range []struct {
		answered time.Duration // after the gate ends
		admitted float64
	}{{-990 * time.Millisecond, 2}, {5 * time.Millisecond, 1}} {
		var l learner
		// A listing page, admitted; then three items taken at once, the
		// first two refused, the third's permit held at the gate the
		// first refusal closes.
		l.sent(epoch, 1, false, false)
		l.succeeded(epoch.Add(5*time.Millisecond), 1)
		for seq := uint64(2); seq <= 4; seq++ {
			l.sent(epoch.Add(6*time.Millisecond), seq, false, false)
		}
		until := epoch.Add(time.Second + 7*time.Millisecond)
		_, first, ok := l.throttled(epoch.Add(7*time.Millisecond), 2, epoch.Add(6*time.Millisecond), until, 0, 5*time.Millisecond)
		require.True(t, ok)
		require.True(t, first)
		l.succeeded(until.Add(c.answered), 4)
		assert.EqualValues(t, c.admitted, l.admitted(), "answered %v after the gate: admitted by the first episode's bucket only if before it ended", c.answered)
	}
}

func TestLearnerIsUnsureOfAFirstThrottleLongAfterTheFirstRequest(t *testing.T) {
	var l learner
	l.sent(epoch, 1, false, false)
	l.succeeded(time.Time{}, 1)
	_, first, ok := l.throttled(epoch.Add(time.Second), 2, time.Time{}, epoch.Add(2*time.Second), 0, 20*time.Millisecond)
	require.True(t, ok)
	assert.True(t, first)
	assert.True(t, l.unsure, "a second after the first request, 50 RTTs: not a cold start's burst")
	assert.True(t, l.recording(3, false), "an unsure learner records the requests after its gate, to fit them with the next record's")
}

// bucketRecord returns the record of requests sent at the given starts to
// a bucket of burst b refilling at r, full at the first: its requests up
// to the first one refused, and that one.
func bucketRecord(b, r float64, starts []time.Duration) (record, int) {
	return gateRecord(b, r, b, -1, starts)
}

func TestJointFitTellsTheBurstFromASteadyRecordAndAClimb(t *testing.T) {
	// A bucket of 10 refilling 300 a second: a probe's steady 427/s, and
	// a climb from 166/s at 100% a second, each from a full bucket.
	var steady, climb []time.Duration
	for i := range 200 {
		steady = append(steady, time.Duration(float64(i)/427*float64(time.Second)))
	}
	for at, r := 0.0, 166.0; at < 5; at += 1 / r {
		r *= 1 + 1/r
		climb = append(climb, time.Duration(at*float64(time.Second)))
	}
	a, na := bucketRecord(10, 300, steady)
	c, nc := bucketRecord(10, 300, climb)
	require.Less(t, na, len(a.sends))
	require.Less(t, nc, len(c.sends))
	// Each alone, at the first episode's bound of 50 tokens, bounds the
	// rate far under the server's.
	assert.Less(t, a.lowest(50, na), 150.0)
	assert.Less(t, c.lowest(50, nc), 290.0)
	f := jointFit(&a, na, &c, nc, 50, jointSlack)
	require.True(t, f.ok)
	assert.InDelta(t, 10, f.burst, 1, "burst")
	assert.InDelta(t, 300, f.rate, 300*0.03, "rate")
	assert.LessOrEqual(t, f.rate, 300.0, "the lowest rate both admit is under the server's")
	assert.Greater(t, f.hi, 300.0, "the refused requests bound it from above")
	assert.LessOrEqual(t, f.low, f.rate, "the span of the bursts they agree on holds the fit")
	assert.GreaterOrEqual(t, f.top, f.rate)
	// Records of no refusal, or none at all, tell nothing.
	assert.False(t, jointFit(&a, len(a.sends), &c, nc, 50, jointSlack).ok)
}

// oneTokenThenProbe feeds l what a bucket of one token refilling 20 a
// second, full at epoch, does: of a cold start's 4 requests sent together
// it admits one. After the 1 s gate, requests 60, 55 and 50 ms apart are
// admitted and the next, 45 ms later, refused. It returns the rate settle
// tells.
func oneTokenThenProbe(t *testing.T, l *learner) float64 {
	t.Helper()
	for seq := uint64(1); seq <= 4; seq++ {
		l.sent(epoch, seq, false, false)
	}
	l.succeeded(time.Time{}, 1)
	until := epoch.Add(time.Millisecond + time.Second)
	_, first, ok := l.throttled(epoch.Add(time.Millisecond), 2, time.Time{}, until, 0, 5*time.Millisecond)
	require.True(t, ok)
	require.True(t, first)
	at, seq := until, uint64(4)
	for _, gap := range []time.Duration{0, 60, 55, 50, 45} {
		at = at.Add(gap * time.Millisecond)
		seq++
		l.sent(at, seq, false, false)
		if gap != 45 {
			l.succeeded(time.Time{}, seq)
		}
	}
	_, _, ok = l.throttled(at.Add(time.Millisecond), seq, time.Time{}, at.Add(time.Second), 40, 5*time.Millisecond)
	require.True(t, ok)
	r, ok := l.settle()
	require.True(t, ok)
	return r
}

func TestLearnerTakesTheServersBurstForWholeTokens(t *testing.T) {
	// A burst of 1.4 (the bound's half a token) would fit 14 a second to
	// that record; one token fits 20.
	var l learner
	r := oneTokenThenProbe(t, &l)
	assert.InDelta(t, 1, l.burst, 1e-9, "the server's burst")
	assert.InDelta(t, 0.99*20, r, 0.1, "99% of the server's rate")
}

func TestLearnerKnowsTheRateOfABucketOfOneTokenFromAFewRequests(t *testing.T) {
	// Each gap between two admitted requests bounds a bucket of one token's
	// rate: 4 requests tell it, where a larger bucket's takes 8.
	var l learner
	oneTokenThenProbe(t, &l)
	assert.True(t, l.known)
	assert.False(t, l.unsure)
}

// nextRecord feeds l, whose last throttle's gate ended at from, requests
// started gaps after one another from from, numbered from seq on, every one
// admitted but the last, refused 1 ms after it started with another 1 s
// gate, and returns the rate settle tells then, cur being the rate paced at.
func nextRecord(t *testing.T, l *learner, from time.Time, seq uint64, cur float64, gaps ...time.Duration) float64 {
	t.Helper()
	at := from
	for i, gap := range gaps {
		at = at.Add(gap)
		l.sent(at, seq, false, false)
		if i < len(gaps)-1 {
			l.succeeded(time.Time{}, seq)
			seq++
		}
	}
	_, first, ok := l.throttled(at.Add(time.Millisecond), seq, time.Time{}, at.Add(time.Millisecond+time.Second), cur, 5*time.Millisecond)
	require.True(t, ok)
	require.False(t, first)
	r, ok := l.settle()
	require.True(t, ok)
	return r
}

func TestLearnerKeepsTheRateWhereTheGateEndedOnOneAdmittedRequest(t *testing.T) {
	// A bucket of one token holds a token when the gate ends whatever its
	// rate: one request admitted and the next refused bound the rate from
	// below by nothing. That record once fitted 2e-7 a second, and the
	// host waited a day for its next token.
	var l learner
	cur := oneTokenThenProbe(t, &l)
	require.True(t, l.known)
	from := l.cur.from
	r := nextRecord(t, &l, from, 10, cur, 0, 45*time.Millisecond)
	assert.InDelta(t, 0.99*cur, r, 1e-6, "the rate paced at, less the fit's margin")
}

func TestLearnerKeepsTheRateThroughAnOutage(t *testing.T) {
	// A server down for a while answers every request 429 + Retry-After:
	// 1, the first after each gate too. Each record bounds nothing: the
	// rate fitted before stays (halving it at each gate left a host paced
	// at a request per RetryAfterMax once the server was back).
	var l learner
	cur := oneTokenThenProbe(t, &l)
	seq := uint64(10)
	for range 20 {
		r := nextRecord(t, &l, l.cur.from, seq, cur, 0)
		assert.InDelta(t, cur, r, 1e-9)
		seq++
	}
	// Back: one request admitted and the next refused is timing, once.
	r := nextRecord(t, &l, l.cur.from, seq, cur, 0, 45*time.Millisecond)
	assert.InDelta(t, 0.99*cur, r, 1e-9)
}

func TestLearnerHalvesTheRateWhenRecordsOfOneRequestRepeat(t *testing.T) {
	// A bucket of one token whose rate fell to a tenth: after each gate
	// it admits the token it holds and refuses the next request.
	var l learner
	cur := oneTokenThenProbe(t, &l)
	r1 := nextRecord(t, &l, l.cur.from, 10, cur, 0, 50*time.Millisecond)
	assert.InDelta(t, 0.99*cur, r1, 1e-9, "once may be the timing of two requests")
	r2 := nextRecord(t, &l, l.cur.from, 12, r1, 0, 50*time.Millisecond)
	assert.InDelta(t, r1/2, r2, 1e-9, "twice in a row: the rate fell")
	r3 := nextRecord(t, &l, l.cur.from, 14, r2, 0, 100*time.Millisecond)
	assert.InDelta(t, r2/2, r3, 1e-9)
	// A record that bounds the rate again ends the run.
	r4 := nextRecord(t, &l, l.cur.from, 16, r3, 0, 250*time.Millisecond, 250*time.Millisecond, 100*time.Millisecond)
	assert.InDelta(t, 0.99*4, r4, 0.01, "99% of the gaps' rate")
}

func TestLearnerCutsAFittedRateByHalfAtMost(t *testing.T) {
	// A bucket of 10 refilling 100 a second, fitted, then a record as
	// from a bucket of 2: two requests admitted after the gate and the
	// third refused. Under a burst of 10 the gate refilled them at any rate
	// above one a second.
	var l learner
	cur, at, seq := secondThrottle(t, &l)
	require.True(t, l.known)
	r := nextRecord(t, &l, at.Add(time.Second), seq+2, cur, 0, 10*time.Millisecond, 10*time.Millisecond)
	assert.InDelta(t, cur/2, r, 1e-6, "half the rate fitted before")
}

func TestLearnerStartsTheFirstEpisodeAfterAPauseNoThrottleClosed(t *testing.T) {
	// A crawl against a bucket of one token refilling 100 a second: its
	// robots.txt (outside the quota) and first listing page go alone, and
	// the page's answer says nothing remains, which pauses the host for a
	// second. Then two pages go 6 ms apart and the second is refused. The
	// episode is those two: the bucket refilled during the pause.
	var l learner
	l.sent(epoch, 1, true, false)
	l.succeeded(time.Time{}, 1)
	l.sent(epoch.Add(time.Millisecond), 2, true, false)
	l.paused(2, 1)
	l.succeeded(time.Time{}, 2)
	resumed := epoch.Add(time.Second)
	l.sent(resumed, 3, true, false)
	l.succeeded(time.Time{}, 3)
	l.sent(resumed.Add(6*time.Millisecond), 4, true, false)
	until := resumed.Add(7*time.Millisecond + time.Second)
	_, first, ok := l.throttled(resumed.Add(7*time.Millisecond), 4, time.Time{}, until, 0, 0)
	require.True(t, ok)
	require.True(t, first)
	assert.Equal(t, 7*time.Millisecond, l.t1, "the episode starts after the pause")
	assert.InDelta(t, 1, l.admitted(), 1e-9, "the server admitted one request after the pause")
	// The probe: requests 12, 11 and 10.5 ms apart are admitted, the next,
	// 9 ms later, refused.
	at, seq := until, uint64(4)
	for _, gap := range []time.Duration{0, 12000, 11000, 10500, 9000} {
		at = at.Add(gap * time.Microsecond)
		seq++
		l.sent(at, seq, false, false)
		if gap != 9000 {
			l.succeeded(time.Time{}, seq)
		}
	}
	_, _, ok = l.throttled(at.Add(time.Millisecond), seq, time.Time{}, at.Add(time.Second), 120, 5*time.Millisecond)
	require.True(t, ok)
	r, ok := l.settle()
	require.True(t, ok)
	// Over the 7 ms of the first throttle such a bucket refills most of a
	// token: the burst is known all the same.
	assert.True(t, l.known, "a bucket that admitted one request and refused the next holds one token")
	assert.InDelta(t, 1, l.burst, 1e-9)
	assert.InDelta(t, 0.99/0.0105, r, 0.1, "99% of the rate the closest admitted requests show")
}

func TestLearnerKeepsTheColdStartsEpisodeAcrossAPauseWithRequestsInFlight(t *testing.T) {
	// A cold start's burst of 4 to a bucket of one token: the first answer
	// says nothing remains and pauses the host, the other three, sent
	// before the pause, are refused after it began. They are the episode.
	var l learner
	for seq := uint64(1); seq <= 4; seq++ {
		l.sent(epoch, seq, false, false)
	}
	l.paused(4, 4)
	l.succeeded(time.Time{}, 1)
	_, first, ok := l.throttled(epoch.Add(time.Millisecond), 2, time.Time{}, epoch.Add(time.Second), 0, 5*time.Millisecond)
	require.True(t, ok)
	assert.True(t, first)
	assert.Equal(t, time.Millisecond, l.t1)
}

func TestPaceProbesNoHigherThanTheRateARecordWasRefusedAt(t *testing.T) {
	// Refused at 100 a second and paced at 99 since: a slow probe of 0.1%
	// a second would cross 100 again in 10 s and draw the next refusal.
	p := pace{pushback: new(pushback)}
	p.learnt, p.slow, p.confirmed, p.refusedAt = 99, true, true, 100
	p.lastProbe = epoch
	releaseFor30s(&p)
	assert.Less(t, p.learnt, 100.0, "30 s later, still under the rate refused")
	assert.Greater(t, p.learnt, 99.4, "probed up to the bound")

	// Without a refusal of a fitted record the probe goes on.
	p = pace{learnt: 99, pushback: &pushback{slow: true, confirmed: true, lastProbe: epoch}}
	releaseFor30s(&p)
	assert.Greater(t, p.learnt, 100.0)
}

// releaseFor30s releases p's requests every 250 ms for 30 s from
// epoch, each window's successes its learnt rate's worth (at least one).
func releaseFor30s(p *pace) {
	at := epoch
	for range 120 {
		at = at.Add(250 * time.Millisecond)
		p.gpCount = int(math.Ceil(p.learnt / 4))
		p.onRelease(at)
	}
}

func TestLearnerTakesAFirstThrottleWithinATwentiethOfItsGateForABurst(t *testing.T) {
	// A server 1 ms away whose 100/s bucket of 10 refuses a cold start
	// whose requests the client's own work spaced 2 ms apart: the refusal
	// comes 22 ms (22 RTTs) after the first request, a fiftieth of its 1 s
	// gate.
	var l learner
	b := bucketAt{rate: 100, burst: 10, tokens: 10, last: epoch}
	seq := uint64(0)
	for {
		seq++
		sent := epoch.Add(time.Duration(seq-1) * 2 * time.Millisecond)
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			now := sent.Add(time.Millisecond)
			r, first, ok := l.throttled(now, seq, time.Time{}, now.Add(time.Second), 0, time.Millisecond)
			require.True(t, ok)
			require.True(t, first)
			assert.False(t, l.unsure, "the episode is read as the server's burst")
			assert.InDelta(t, 4*12, r, 6, "the probe starts at four times what the server admitted over the episode and its gate (a burst of about ten)")
			assert.True(t, l.recording(seq+1, false), "the learner records the requests after the gate")
			break
		}
		l.succeeded(time.Time{}, seq)
	}
	// Later than a twentieth of its gate, the same episode is a ramp's.
	var late learner
	late.sent(epoch, 1, false, false)
	late.succeeded(time.Time{}, 1)
	now := epoch.Add(60 * time.Millisecond)
	_, _, ok := late.throttled(now, 2, time.Time{}, now.Add(time.Second), 0, time.Millisecond)
	require.True(t, ok)
	assert.True(t, late.unsure, "60 ms into the work, past a twentieth of a 1 s gate and 4 RTTs")
}

func TestPaceTakesATokenWhenSettlingARecordLeavesNoBucket(t *testing.T) {
	// Paced at 100/s when a gate ended; the record learnt from says nothing
	// of the rate, and the learnt rate falls back to a rate past maxRate:
	// the bucket is gone, and the token is taken at once.
	p := pace{learnt: 100, pushback: &pushback{slow: true, fallback: 2 * maxRate}}
	p.apply(epoch)
	require.NotNil(t, p.bucket)
	p.drain = true
	p.learn.records, p.learn.pending, p.learn.fits = new(records), true, 1
	var ok bool
	require.NotPanics(t, func() { _, ok = p.take(epoch) })
	assert.True(t, ok)
	assert.Nil(t, p.bucket, "no bucket above maxRate")
	assert.False(t, p.drain)
}

func TestPaceProbeDoesNotGrowWhileTheHostIsIdle(t *testing.T) {
	// A probe at 100/s whose bucket refused a token, then no request for
	// 10 s (the crawl waited on a slow listing page): the next request
	// doubles it at most twice, not 2^100 times.
	p := pace{learnt: 100, pushback: &pushback{slow: true, probing: true, probeAt: epoch, bound: true}}
	p.apply(epoch)
	require.NotNil(t, p.bucket)
	_, ok := p.take(epoch.Add(10 * time.Second))
	assert.True(t, ok)
	assert.InDelta(t, 400, p.learnt, 1)
	require.NotNil(t, p.bucket)

	// A host that used its rate doubles it every probeDouble.
	p = pace{learnt: 100, pushback: &pushback{slow: true, probing: true, probeAt: epoch, bound: true}}
	p.apply(epoch)
	p.take(epoch.Add(probeDouble))
	assert.InDelta(t, 200, p.learnt, 1)
}

// probeUntilRefused feeds l a probe of requests numbered from seq+1, from
// sent, gap apart at first and each gap pct% of the one before, that bucket
// b admits until it refuses one; the refusal comes back 1 ms later with a
// gate of gate, the host paced at cur with a smoothed RTT of rtt. It
// returns the rate settle fitted.
func probeUntilRefused(t *testing.T, l *learner, b *bucketAt, seq uint64, sent time.Time, gap time.Duration, pct int64, gate time.Duration, cur float64, rtt time.Duration) float64 {
	t.Helper()
	for {
		seq++
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			break
		}
		l.succeeded(time.Time{}, seq)
		sent = sent.Add(gap)
		gap = gap * time.Duration(pct) / 100
	}
	_, first, ok := l.throttled(sent.Add(time.Millisecond), seq, sent, sent.Add(gate), cur, rtt)
	require.True(t, ok)
	require.False(t, first)
	r, ok := l.settle()
	require.True(t, ok)
	return r
}

func TestLearnerFitsAWholeBurstWhereTheFirstRefusedRequestsStartIsKnown(t *testing.T) {
	// The cold start's burst as in coldThenSteady, but the first refusal
	// tells when its request started: a bucket of 10 refilled at 100/s
	// admitted 11 or so requests 0.5 ms apart, and refused the next.
	var l learner
	b := bucketAt{rate: 100, burst: 10, tokens: 10, last: epoch}
	until, seq, _ := bucketColdStart(t, &l, &b, time.Second, true)
	// A probe from the gate's end, its gaps shrinking by 2% a request
	// from 20 ms, until the bucket refuses one.
	gap, sent := 20*time.Millisecond, until
	for {
		seq++
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			break
		}
		sent = sent.Add(gap)
		gap = gap * 98 / 100
	}
	_, first, ok := l.throttled(sent.Add(time.Millisecond), seq, sent, sent.Add(time.Second), 200, 5*time.Millisecond)
	require.True(t, ok)
	assert.False(t, first)
	r, ok := l.settle()
	require.True(t, ok)
	assert.Equal(t, 10.0, l.burst, "the server's burst, in whole tokens")
	assert.LessOrEqual(t, r, 100.0, "not above the server's rate")
	assert.GreaterOrEqual(t, r, 95.0, "99% of the lowest rate that admits the record at that burst")
}

func TestPaceAfterAProbeThatLeavesTheLearnerUnsurePacesUnderTheServersRate(t *testing.T) {
	for _, recorded := range []bool{false, true} {
		t.Run(fmt.Sprintf("episode recorded %v", recorded), func(t *testing.T) { paceAfterAnUnsureProbe(t, recorded) })
	}
}

// paceAfterAnUnsureProbe is the test above with the first episode's starts
// recorded (see episode) or not (a host past epMax requests, or whose work
// sampling skipped): recorded, the episode and the probe's record tell the
// burst.
func paceAfterAnUnsureProbe(t *testing.T, recorded bool) {
	// 300/s with a burst of 5: a crawl's cold start sends its first
	// requests 2 ms apart (its own work spaces them), so the first episode's
	// 12 admitted requests were mostly refill and do not tell the burst.
	// The probe after the gate doubles every 0.3 s from 50/s and is refused
	// past the rate. Its episode's estimate read the probe's rate (up to
	// four times the rate sent) over the 100 ms burst assumed, 345-458/s
	// end to end, and a pacer at that rate drained the server's bucket
	// within 0.2 s of the next gate; the first episode bounds the burst,
	// and at that bound the record's lowest rate is under the server's.
	p := pace{pushback: new(pushback)}
	l := &p.learn
	b := bucketAt{rate: 300, burst: 5, tokens: 5, last: epoch}
	seq, at := uint64(0), epoch
	for ; ; at = at.Add(2 * time.Millisecond) {
		seq++
		l.sent(at, seq, false, false)
		if !b.admit(at) {
			break
		}
		l.succeeded(time.Time{}, seq)
	}
	until := at.Add(time.Second)
	_, first, ok := l.throttled(at.Add(time.Millisecond), seq, time.Time{}, until, 0, time.Millisecond)
	require.True(t, ok)
	require.True(t, first)
	require.False(t, l.unsure, "a cold start's burst")
	if !recorded {
		l.ep = nil
	}
	var refusedAt time.Time
	for at = until; refusedAt.IsZero(); {
		probe := 50 * math.Exp2(at.Sub(until).Seconds()/0.3)
		seq++
		l.sent(at, seq, false, false)
		if b.admit(at) {
			l.succeeded(time.Time{}, seq)
		} else {
			refusedAt = at
		}
		at = at.Add(time.Duration(float64(time.Second) / probe))
	}
	now := refusedAt.Add(time.Millisecond)
	_, _, ok = l.throttled(now, seq, time.Time{}, now.Add(time.Second), 600, time.Millisecond)
	require.True(t, ok)
	p.learnt, p.slow, p.fallback = 600, true, 450
	p.apply(now)
	p.take(now.Add(time.Second))
	if recorded {
		require.True(t, l.known, "the first episode and the probe's record tell the burst")
		assert.InDelta(t, 5, l.burst, 1, "the server's burst")
		assert.LessOrEqual(t, p.learnt, 300.0, "not past the server's rate")
		assert.Greater(t, p.learnt, 0.9*300, "near it")
		return
	}
	require.True(t, l.unsure, "the first episode does not tell the burst")
	assert.LessOrEqual(t, p.learnt, 300.0, "not past the server's rate")
	assert.Greater(t, p.learnt, 0.8*300, "at the first episode's bound on the burst")
	assert.Equal(t, p.learnt, p.epLearnt, "the next episode's probe is read from the rate paced at")
}

func TestLearnerBoundsAnUntimedRefusedRequestsStartByTheRequestsTakenBeforeIt(t *testing.T) {
	// A crawl's cold start, requests 2 ms apart, against a bucket of 100/s
	// with a burst of 10: it refills two tokens over them, admits 12 and
	// refuses the 13th, whose start was not timed (a listing page, an
	// auxiliary request, is no latency sample). A loaded client reads that
	// refusal 16 ms late, and the answers of the last requests before it
	// later still. Their starts bound the refused request's from below,
	// which tells the burst in whole tokens as its own start does; without
	// that, the burst was fitted in between from the late refusal (8.5
	// tokens), and the rate above the server's (a third gate within the
	// crawl's first 10 s).
	var l learner
	b := bucketAt{rate: 100, burst: 10, tokens: 10, last: epoch}
	start := func(seq uint64) time.Time { return epoch.Add(time.Duration(seq-1) * 2 * time.Millisecond) }
	seq := uint64(0)
	for {
		seq++
		l.sent(start(seq), seq, false, false)
		if !b.admit(start(seq)) {
			break
		}
	}
	require.Equal(t, uint64(13), seq, "12 admitted")
	for s := uint64(1); s < 10; s++ {
		l.succeeded(time.Time{}, s)
		l.succeededAfter(s, start(s))
	}
	refused := start(seq).Add(16 * time.Millisecond)
	until := refused.Add(time.Second)
	_, first, ok := l.throttled(refused, seq, time.Time{}, until, 0, 10*time.Millisecond)
	require.True(t, ok)
	require.True(t, first)
	for s := uint64(10); s < seq; s++ {
		l.succeeded(time.Time{}, s)
		l.succeededAfter(s, start(s))
	}
	r := probeUntilRefused(t, &l, &b, seq, until, 20*time.Millisecond, 98, time.Second, 200, 10*time.Millisecond)
	assert.Equal(t, math.Round(l.burst), l.burst, "a whole burst")
	assert.LessOrEqual(t, r, 100.0, "not above the server's rate")
	assert.GreaterOrEqual(t, r, 93.0)
}

func TestLearnerLetsTheFirstEpisodeGoPastItsColdStart(t *testing.T) {
	var l learner
	at := epoch
	for seq := uint64(1); seq <= epMax; seq++ {
		l.sent(at, seq, false, false)
		l.started(seq, at)
		at = at.Add(time.Millisecond)
	}
	require.NotNil(t, l.ep, "a host's first requests are its first throttle's episode")
	assert.Len(t, l.ep.at, epMax)
	l.started(epMax+1, at)
	assert.Nil(t, l.ep, "a host that sent epMax requests unthrottled is past its cold start: the episode is let go")
}

// coldThenRefill feeds l what a bucket of rate a second with a burst of
// burst, full at epoch, does with a cold start's burst of requests 0.5 ms
// apart, until the first refusal (answered 1 ms later, with a 1 s gate),
// then with requests gap apart from the gate's end until the next refusal,
// whose gate it closes with cur the rate paced at. It returns the rate
// settle tells, and the requests admitted after the gate.
func coldThenRefill(t *testing.T, l *learner, rate, burst float64, gap time.Duration, cur float64) (float64, int) {
	t.Helper()
	b := bucketAt{rate: rate, burst: burst, tokens: burst, last: epoch}
	until, seq, _ := bucketColdStart(t, l, &b, time.Second, false)
	for i := 0; ; i++ {
		seq++
		sent := until.Add(time.Duration(i) * gap)
		l.sent(sent, seq, false, false)
		if !b.admit(sent) {
			_, first, ok := l.throttled(sent.Add(time.Millisecond), seq, time.Time{}, sent.Add(time.Millisecond+time.Second), cur, 5*time.Millisecond)
			require.True(t, ok)
			require.False(t, first)
			r, ok := l.settle()
			require.True(t, ok)
			return r, i
		}
		l.succeeded(time.Time{}, seq)
	}
}

func TestLearnerFitsTheGatesRefillWhereItWasUnderTheBurst(t *testing.T) {
	// 2/s burst 10: the gate of a second refills two tokens, and the
	// record after it, requests 20 ms apart, admits two. Too short for a
	// fit of the burst, it bounds the rate from both sides: from below
	// by its two admitted requests, from above by the refused third
	// (3 / 1.04 s). Left unfitted, the host was paced at the first
	// episode's estimate, far over the server's rate.
	var l learner
	r, n := coldThenRefill(t, &l, 2, 10, 20*time.Millisecond, 40)
	require.Equal(t, 2, n)
	assert.True(t, l.known, "the burst is the first episode's")
	assert.InDelta(t, 10, l.burst, 1)
	assert.Greater(t, r, 0.8, "the record's lowest")
	assert.LessOrEqual(t, r, 2.0, "under the server's rate")
	assert.True(t, l.wide, "a loose bound from below: probed from")
	assert.InDelta(t, 3/1.041, l.jointHi, 0.05, "the refused request's bound")
}

func TestLearnerFitsAGateThatAdmittedOneRequestAfterABurstItDrained(t *testing.T) {
	// 1/s burst 10: the gate refills one token, and of the requests
	// after it the first is admitted and the next, 20 ms later, refused.
	// The bucket held under a token at both ends of that span: the rate
	// is under 2 / 1.02 s.
	var l learner
	r, n := coldThenRefill(t, &l, 1, 10, 20*time.Millisecond, 40)
	require.Equal(t, 1, n)
	assert.True(t, l.known)
	assert.InDelta(t, 10, l.burst, 1, "the first episode's")
	assert.InDelta(t, 2/1.021, l.jointHi, 0.02, "the bound from above")
	assert.InDelta(t, 0.99/1.021, r, 0.02, "probed from half the bound")
	assert.True(t, l.wide)
}

func TestLearnerPacesAFitAfterAGateThatLeftNoRate(t *testing.T) {
	// A first throttle read as an outage's leaves no rate paced at (cur
	// 0): the record after its gate is fitted as any other, not cut to
	// the rate paced at (the host was paced at 0, a gate every
	// Retry-After).
	var l learner
	r, _ := coldThenRefill(t, &l, 100, 10, 5*time.Millisecond, 0)
	assert.InDelta(t, 97, r, 4)
}

// gateRecord is the record a bucket of burst b refilling at r makes of
// requests started at starts after a gate of gate (< 0: none, the bucket
// full) that it began with tokens0 tokens, to the first it refuses; it
// returns the record and the requests admitted.
func gateRecord(b, r, tokens0 float64, gate time.Duration, starts []time.Duration) (record, int) {
	c := record{gate: gate}
	tokens, at := b, time.Duration(0)
	if gate >= 0 {
		tokens = min(b, tokens0+r*gate.Seconds())
	}
	for i, s := range starts {
		tokens = min(b, tokens+r*(s-at).Seconds())
		at = s
		c.sends = append(c.sends, s)
		if tokens < 1 {
			return c, i
		}
		tokens--
	}
	return c, len(starts)
}

func TestJointFitTriesBurstsOverARecordAfterAGateThatWasNotFull(t *testing.T) {
	// 2/s burst 40: after each gate of a second the bucket holds a few
	// tokens, far under its burst, and a record admits those. Capped at
	// the records' admitted requests, the fit tried no burst over 2 here
	// (2.5/s, which these records allow too), and took a burst of 3 and
	// 965/s in the simulation. Over them, both records are the gates'
	// refill: the span of bursts they agree on reaches the server's
	// rate, and the episode's fit takes its lowest (see episodeFit).
	var fast, slow []time.Duration
	for i := range 20 {
		fast = append(fast, time.Duration(i)*20*time.Millisecond)
		slow = append(slow, time.Duration(i)*300*time.Millisecond)
	}
	a, na := gateRecord(40, 2, 0.9, time.Second, fast)
	c, nc := gateRecord(40, 2, 0.95, time.Second, slow)
	require.Less(t, na, len(a.sends))
	require.Less(t, nc, len(c.sends))
	f := jointFit(&a, na, &c, nc, 40, jointSlack)
	require.True(t, f.ok)
	assert.LessOrEqual(t, f.low, 2.0, "the span's lowest is under the server's rate")
	assert.Greater(t, f.low, 1.5)
}

func TestJointFitFindsABurstBetweenThoseTriedAFewApart(t *testing.T) {
	// 20/s burst 200: a cold start that doubles its requests every 5 ms
	// drains the bucket within 25 ms, half a token's refill, and only a
	// burst of 200 agrees with the record after the gate, which admits
	// its refill of 20. Past 100 tokens the bursts tried are three or
	// four apart (198, 201).
	var cold, after []time.Duration
	for w, k := 0, 4; w < 6; w, k = w+1, k*2 {
		for i := range k {
			cold = append(cold, time.Duration(w)*5*time.Millisecond+time.Duration(i)*time.Microsecond)
		}
	}
	for i := range 30 {
		after = append(after, time.Duration(i)*350*time.Microsecond)
	}
	a, na := bucketRecord(200, 20, cold)
	c, nc := gateRecord(200, 20, 0.2, time.Second, after)
	require.Less(t, na, len(a.sends))
	require.Less(t, nc, len(c.sends))
	f := jointFit(&a, na, &c, nc, float64(na), episodeSlack)
	require.True(t, f.ok)
	assert.InDelta(t, 200, f.burst, 1)
	assert.InDelta(t, 19.5, f.rate, 1)
	assert.LessOrEqual(t, f.rate, 20.0)
}

func TestPaceProbesABracketedRateToItsBoundWithinSeconds(t *testing.T) {
	// Paced at 90/s, under a bound of 100/s a fitted record's refused
	// request set: the probe of 1% a second reaches the bound within 15 s
	// and stays under it; 0.1% a second would take two minutes.
	p := pace{pushback: new(pushback)}
	p.learnt, p.slow, p.confirmed, p.refusedAt, p.bracket = 90, true, true, 100, true
	p.lastProbe = epoch
	releaseFor30s(&p)
	assert.LessOrEqual(t, p.learnt, refusalCap*100.5, "under the bound, which rises a tenth as fast as the probe")
	assert.Greater(t, p.learnt, 99.0, "probed up to it")

	p = pace{pushback: new(pushback)}
	p.learnt, p.slow, p.confirmed, p.refusedAt = 90, true, true, 100
	p.lastProbe = epoch
	releaseFor30s(&p)
	assert.Less(t, p.learnt, 93.0, "a rate refused at 100/s, not bracketed, probes slowly")
}

func TestPaceProbesAnUnconfirmedRateNoHigherThanItsRecordsBound(t *testing.T) {
	// A loose bound from below (a gate's refill, 1/s) is probed from at
	// 30% a second, to no higher than the bound from above its record's
	// refused request told (2.9/s), which a server of 2/s burst 10 lies
	// under: past it, each burst the gates refill ran out at once.
	p := pace{pushback: new(pushback)}
	p.learnt, p.slow, p.confirmed, p.ceiling = 1, true, false, 2.9
	p.lastProbe = epoch
	releaseFor30s(&p)
	assert.LessOrEqual(t, p.learnt, refusalCap*2.9, "under the bound")
	assert.Greater(t, p.learnt, 2.5, "probed up to it")
}

func TestLearnerDoesNotTakeABucketOfOneTokenForTheBurstItsRefillAdmitted(t *testing.T) {
	// 100/s, one token: three requests 10 ms apart are admitted on its
	// refill, the next, a millisecond later, refused, within a
	// twentieth of the gate (a cold start's burst, see throttled).
	// After the gate one request is admitted and the next, 5 ms later,
	// refused for the bucket's cap. Taken for a burst of 3 whose gate
	// refilled a token or two, the host would be paced at 1/s.
	var l learner
	b := bucketAt{rate: 100, burst: 1, tokens: 1, last: epoch}
	starts := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 21 * time.Millisecond}
	for i, s := range starts {
		seq := uint64(i + 1)
		l.sent(epoch.Add(s), seq, false, false)
		if b.admit(epoch.Add(s)) {
			l.succeeded(time.Time{}, seq)
			continue
		}
		require.Equal(t, 4, int(seq))
		at := epoch.Add(s + time.Millisecond)
		_, first, ok := l.throttled(at, seq, time.Time{}, at.Add(time.Second), 0, 5*time.Millisecond)
		require.True(t, ok)
		require.True(t, first)
	}
	require.False(t, l.unsure, "a cold start's burst")
	from := epoch.Add(22*time.Millisecond + time.Second)
	require.True(t, b.admit(from))
	l.sent(from, 5, false, false)
	l.succeeded(time.Time{}, 5)
	l.sent(from.Add(5*time.Millisecond), 6, false, false)
	require.False(t, b.admit(from.Add(5*time.Millisecond)))
	at := from.Add(6 * time.Millisecond)
	_, _, ok := l.throttled(at, 6, time.Time{}, at.Add(time.Second), 200, 5*time.Millisecond)
	require.True(t, ok)
	r, _ := l.settle()
	assert.False(t, l.known && l.burst >= 2, "taken for a burst of %v at %v/s", l.burst, r)
}

func TestLearnerStartsTheRecordOverAtAGateARequestOutsideItClosed(t *testing.T) {
	// 3/s, one token: a request whose permit was taken before the first
	// gate goes out after it, alongside the record's, and is refused,
	// closing a gate of its own. The record's gaps would span that gate
	// (a fit of 1/s, for good): it starts over from its end.
	var l learner
	l.sent(epoch, 1, false, false)
	l.succeeded(time.Time{}, 1)
	l.sent(epoch.Add(time.Millisecond), 2, false, false)
	l.sent(epoch.Add(time.Millisecond), 3, false, false)
	until := epoch.Add(time.Second + 2*time.Millisecond)
	_, first, ok := l.throttled(epoch.Add(2*time.Millisecond), 2, time.Time{}, until, 0, 5*time.Millisecond)
	require.True(t, ok)
	require.True(t, first)
	l.sent(until.Add(time.Millisecond), 4, false, false)
	l.succeeded(time.Time{}, 4)
	require.Len(t, l.cur.sends, 1)
	// Request 3, held at the gate, goes out after it and is refused.
	at := until.Add(5 * time.Millisecond)
	_, _, ok = l.throttled(at, 3, until.Add(2*time.Millisecond), at.Add(time.Second), 3, 5*time.Millisecond)
	assert.False(t, ok, "nothing to learn from it")
	assert.Empty(t, l.cur.sends, "the record starts over")
	assert.Equal(t, at.Add(time.Second), l.cur.from)
	assert.Equal(t, time.Second, l.cur.gate)
}

// TestLearnerTimesTheFirstEpisodeFromTheWorkNotFromARobotsTxtsHandshake:
// a crawl of an HTTPS host asks its robots.txt first (which the server's
// quota leaves out), on a new connection whose handshakes take 41 ms, then
// the listing and four items at once on it; a bucket of 20/s with a burst of
// 5 admits the listing and the four, and refuses the fifth item 60 ms after
// the robots.txt started (a 5 s gate). The refill over the episode is the
// one since the listing took the first token (0.4 of a token at 20/s), not
// since the robots.txt started (1.2): a burst fitted from the longer span
// reads 4.3 tokens, and a rate 10% over the server's drew a gate of 5 s
// after 2 s (an HTTP/2 crawl at 50% of the optimum, over HTTP/1.1 at 63%).
func TestLearnerTimesTheFirstEpisodeFromTheWorkNotFromARobotsTxtsHandshake(t *testing.T) {
	var l learner
	b := bucketAt{rate: 20, burst: 5, tokens: 5, last: epoch}
	ms := func(f float64) time.Time { return epoch.Add(time.Duration(f * float64(time.Millisecond))) }
	l.sent(ms(0), 1, true, true) // robots.txt: not the quota's
	l.succeeded(time.Time{}, 1)
	l.sent(ms(41), 2, true, true) // the listing page, on the same connection
	require.True(t, b.admit(ms(41)))
	l.succeeded(time.Time{}, 2)
	seq := uint64(2)
	for i := range 4 { // its items, four at once
		seq++
		at := ms(45 + float64(i)*0.2)
		l.sent(at, seq, false, false)
		require.True(t, b.admit(at))
		l.succeeded(time.Time{}, seq)
	}
	seq++
	refused := ms(60)
	l.sent(refused, seq, false, false)
	require.False(t, b.admit(refused))
	until := ms(60.8).Add(5 * time.Second)
	_, first, ok := l.throttled(ms(60.8), seq, refused, until, 0, 20*time.Millisecond)
	require.True(t, ok)
	require.True(t, first)
	// A probe from the gate's end, its gaps shrinking by a tenth a
	// request from 125 ms, until the bucket refuses one.
	r := probeUntilRefused(t, &l, &b, seq, until, 125*time.Millisecond, 90, 5*time.Second, 80, 20*time.Millisecond)
	assert.Equal(t, 5.0, l.burst, "the server's burst, in whole tokens")
	assert.LessOrEqual(t, r, 20.0, "not above the server's rate")
	assert.GreaterOrEqual(t, r, 15.0)
}
