package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feed shows r the quotas a server of 100 per window of 5 s announces to a
// client sending 20 requests a second, one answer every 50 ms, from epoch.
func feed(r *quotaReader, remaining func(at time.Duration, sent int) int, reset func(at time.Duration) time.Time, d time.Duration) (rate float64, pause time.Time) {
	sent := 0
	for at := time.Duration(0); at < d; at += 50 * time.Millisecond {
		sent++
		q := Quota{Limit: 100, Remaining: remaining(at, sent), Reset: reset(at)}
		rate, _, pause = r.observe(epoch.Add(at), q, uint64(sent), 1, time.Hour)
	}
	return rate, pause
}

func windowEnd(at time.Duration) time.Time {
	return epoch.Add(at.Truncate(5*time.Second) + 5*time.Second)
}

func TestQuotaReaderTellsAFixedWindowByItsJumpAtReset(t *testing.T) {
	var r quotaReader
	// 20 a second use up 100 by 5 s: Remaining falls to 0, then refills.
	remaining := func(at time.Duration, _ int) int {
		return max(0, 100-int((at%(5*time.Second))/(50*time.Millisecond))-1)
	}
	_, pause := feed(&r, remaining, windowEnd, 4999*time.Millisecond)
	assert.Equal(t, refillUnknown, r.mode)
	assert.Equal(t, windowEnd(0), pause, "Remaining 0 closes the gate until Reset")
	feed(&r, remaining, windowEnd, 6*time.Second)
	assert.Equal(t, refillAtReset, r.mode)
}

func TestQuotaReaderTellsASlidingWindowByNoJumpAtReset(t *testing.T) {
	var r quotaReader
	// The previous window still counts after Reset: no jump.
	remaining := func(at time.Duration, _ int) int { return max(0, 5-int(at/time.Second)) }
	feed(&r, remaining, windowEnd, 11*time.Second)
	assert.Equal(t, refillContinuous, r.mode)
	rate, _, pause := r.observe(epoch.Add(11*time.Second), Quota{Limit: 100, Remaining: 0, Reset: windowEnd(11 * time.Second)}, 300, 1, time.Hour)
	assert.InDelta(t, 19, rate, 1e-9, "the window's steady rate less a reserve of Limit/20")
	assert.Less(t, pause.Sub(epoch.Add(11*time.Second)), time.Second, "Remaining 0 pauses for one request, not until Reset")
}

func TestQuotaReaderPacesASlidingWindowFromItsFirstEnd(t *testing.T) {
	var r quotaReader
	// This client's 20 a second use up the window's 100 by its end, read
	// exactly; right after it the previous window still counts whole. The
	// refill measured so far is none (a window's Remaining only falls), so
	// a bucket's reading would leave the host unpaced: the one window seen
	// is its length until two ends show it.
	remaining := func(at time.Duration, sent int) int {
		if at >= 5*time.Second {
			return 0
		}
		return max(0, 100-sent)
	}
	rate, _ := feed(&r, remaining, windowEnd, 5100*time.Millisecond)
	require.Equal(t, refillContinuous, r.mode)
	assert.InDelta(t, 19, rate, 1e-9, "the window's steady rate less a reserve of Limit/20")
}

func TestQuotaReaderTellsABucketByItsMovingReset(t *testing.T) {
	var r quotaReader
	// A bucket announces the seconds until it is full: Reset moves on.
	reset := func(at time.Duration) time.Time { return epoch.Add(at + time.Second) }
	remaining := func(_ time.Duration, _ int) int { return 10 }
	feed(&r, remaining, reset, 3*time.Second)
	assert.Equal(t, refillContinuous, r.mode)
	assert.True(t, r.moving)
	assert.InDelta(t, 20, r.rate, 1, "Remaining held while 20 a second were sent: it refills 20 a second at least")
}

func TestQuotaReaderDoesNotTakeASmallWindowForASlidingOne(t *testing.T) {
	// A window of 5 a second, of which the client uses 3: Remaining rises
	// by 2 when a window ends, within what the requests in flight could
	// hide, and less than a sliding window's "no jump" would allow of a
	// large quota. It is no evidence of a continuous refill.
	var r quotaReader
	for w := range 6 {
		for i := range 3 {
			at := time.Duration(w)*time.Second + time.Duration(i)*250*time.Millisecond
			q := Quota{Limit: 5, Remaining: 4 - i, Reset: epoch.Add(time.Duration(w+1) * time.Second)}
			r.observe(epoch.Add(at), q, uint64(3*w+i+1), 1, time.Hour)
		}
	}
	assert.NotEqual(t, refillContinuous, r.mode)
}

func TestQuotaReaderTellsAOneSecondWindowFromABucketByHowRemainingRefills(t *testing.T) {
	// A window of 100 a second whose Reset, in Unix seconds, is read
	// through the Date header: one second from every answer, like a
	// bucket's. The client uses a fifth of each window, so Remaining rises
	// by only 20 when a window ends; two requests are on their way, and
	// the answers around a window's end come in another order.
	for _, lag := range []int{0, 1, 2} {
		var r quotaReader
		for i := range 200 { // 10 s, an answer every 50 ms
			at := time.Duration(i) * 50 * time.Millisecond
			used := int(at%time.Second/(50*time.Millisecond)) + 1
			if i%20 < lag && i > 20 {
				used = 20 // an answer from the window before, late
			}
			q := Quota{Limit: 100, Remaining: 100 - used, Reset: epoch.Add(at + time.Second)}
			r.observe(epoch.Add(at), q, uint64(i+3), 2, time.Hour)
		}
		assert.False(t, r.moving, "lag %d: a window that refills at one instant is no bucket", lag)
		assert.NotEqual(t, refillContinuous, r.mode, "lag %d", lag)
	}

	// A bucket of 20 refilling 100 a second, with the same headers, while
	// the client sends 14 a second: Remaining stays full.
	var r quotaReader
	for i := range 20 {
		at := time.Duration(i) * 70 * time.Millisecond
		q := Quota{Limit: 100, Remaining: 19, Reset: epoch.Add(at + time.Second)}
		r.observe(epoch.Add(at), q, uint64(i+1), 1, time.Hour)
	}
	assert.True(t, r.moving, "Remaining held while 14 requests a second were sent: it refills between answers")
	assert.Equal(t, refillContinuous, r.mode)
}

func TestQuotaReaderPacesABucketWithAPolicyAtWhatItAllowsUntilReset(t *testing.T) {
	var r quotaReader
	// A bucket of 100 a second that announces, like a RateLimit-Policy of
	// q=100;w=1, what it allows over the next second: its tokens plus the
	// refill. Remaining stays near 100 while the client keeps up, which read
	// as tokens above the refill would pace the host at twice the quota; held
	// at Limit/Window it leaves no margin for a pacer that wakes late.
	var rate float64
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		q := Quota{Limit: 100, Window: time.Second, Remaining: 105, Reset: epoch.Add(at + time.Second)}
		if i == 0 {
			q.Remaining = 110 // full at first: the refill hid behind the cap
		}
		rate, _, _ = r.observe(epoch.Add(at), q, uint64(i+1), 1, time.Hour)
	}
	assert.True(t, r.moving, "a Reset that moves on with every answer is a bucket's")
	assert.True(t, r.allowance, "Remaining stays at the refill until Reset")
	assert.InDelta(t, 104, rate, 1e-9, "Remaining less one over the second to Reset, not twice the quota")
}

func TestQuotaReaderReadsARemainingThatCountsTheRefillAsAnAllowance(t *testing.T) {
	// The same bucket of 100 a second in X-RateLimit-* headers alone: no
	// policy, Limit is its burst plus the refill. Remaining stays at the
	// refill until Reset while the client sends at the refill: it is what the
	// server allows until Reset, not tokens above the refill.
	var r quotaReader
	var rate float64
	for i := 0; i < 300; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		q := Quota{Limit: 110, Remaining: 105, Reset: epoch.Add(at + time.Second)}
		if i == 0 {
			q.Remaining = 110
		}
		rate, _, _ = r.observe(epoch.Add(at), q, uint64(i+1), 1, time.Hour)
	}
	assert.True(t, r.allowance)
	assert.InDelta(t, 104, rate, 1e-9, "Remaining less one over the time to Reset, not the refill on top")

	// A bucket that keeps its tokens at the reserve is read as tokens again.
	for i := 300; i < 400; i++ {
		at := time.Duration(i) * 10 * time.Millisecond
		q := Quota{Limit: 110, Remaining: 5, Reset: epoch.Add(at + time.Second)}
		rate, _, _ = r.observe(epoch.Add(at), q, uint64(i+1), 1, time.Hour)
	}
	assert.False(t, r.allowance)
	assert.Greater(t, rate, 90.0, "the refill, plus what Remaining holds above the reserve")
}

func TestPaceHoldsHalfAnAllowancesSpareTokens(t *testing.T) {
	// An allowance of 100 a second whose Remaining holds 7 beyond the refill
	// and the one kept: a pacer that wakes late may catch up on 3 of them.
	var p pace
	paceThreeSecondsOfSpare(&p)
	// Half of 7, or of 8 as the refill measured over the first fall reads a little low.
	assert.Contains(t, []int{3, 4}, p.curBurst)
	assert.InDelta(t, 107, p.cur, 1e-9)
}

// paceThreeSecondsOfSpare gives p 3 s of an allowance of 100 a second
// whose Remaining holds 7 beyond the refill and the one kept, a request
// every 10 ms.
func paceThreeSecondsOfSpare(p *pace) {
	for i := 0; i < 300; i++ {
		at := epoch.Add(time.Duration(i) * 10 * time.Millisecond)
		rem := 108
		if i == 0 {
			rem = 110
		}
		p.setQuota(at, Quota{Limit: 110, Remaining: rem, Reset: at.Add(time.Second)}, time.Hour, uint64(i+1), 1)
		p.apply(at)
	}
}

func TestPaceDrainsAtAGatesEndABurstThatRoseWhileItHeld(t *testing.T) {
	// A 429 of that allowance says nothing remains, which paces the host
	// at a request a second with a burst of one when its gate closes; the
	// answers to requests sent before it, read while the gate holds, give
	// the burst back (the refusal's Remaining of 0 also lowered the refill
	// measured, so it comes back larger). What the pacer saves up over the
	// gate must not go out at once when it opens: in the many-hosts bench
	// it went as a dozen requests within a few ms, which emptied the
	// server's bucket of 10 and drew the next 429, gate after gate.
	var p pace
	p.init(Config{RetryAfterMax: time.Minute})
	paceThreeSecondsOfSpare(&p)
	at := epoch.Add(3 * time.Second)
	p.setQuota(at, Quota{Limit: 110, Remaining: 0, Reset: at.Add(time.Second)}, time.Hour, 301, 3)
	p.apply(at)
	require.Equal(t, 1, p.curBurst)
	until := at.Add(time.Second)
	p.onGate(at, until)
	later := at.Add(5 * time.Millisecond)
	p.setQuota(later, Quota{Limit: 110, Remaining: 108, Reset: later.Add(time.Second)}, time.Hour, 301, 2)
	p.apply(later)
	require.Greater(t, p.curBurst, 1)
	n := 0
	for ; n < 100; n++ {
		if _, ok := p.take(until); !ok {
			break
		}
	}
	assert.Equal(t, 1, n, "tokens at once when the gate opens")
}

func TestPaceTakesTheUsersBurstForTheUsersCeilingOnly(t *testing.T) {
	// The same allowance as above, under each config: Burst is the burst
	// of the user's ceiling, and caps a server's while a ceiling is set.
	for _, c := range []struct {
		cfg   Config
		burst []int
		rate  float64
	}{
		{Config{Burst: 1}, []int{3, 4}, 107},         // no ceiling: the pacer's own burst
		{Config{Burst: 20}, []int{3, 4}, 107},        // nor a larger one
		{Config{Rate: 500, Burst: 2}, []int{2}, 107}, // under a ceiling, at most the user's
		{Config{Rate: 500}, []int{3, 4}, 107},        // Burst 0 caps nothing
		{Config{Rate: 50, Burst: 1}, []int{1}, 50},   // the ceiling binds: the user's burst
		{Config{Rate: 50}, []int{5}, 50},             // rate/10
	} {
		var p pace
		p.init(c.cfg)
		paceThreeSecondsOfSpare(&p)
		assert.Contains(t, c.burst, p.curBurst, "%+v", c.cfg)
		assert.InDelta(t, c.rate, p.cur, 1e-9, "%+v", c.cfg)
	}
}

func TestQuotaReaderLeavesABucketOfOneTokenToItsRefusals(t *testing.T) {
	// A bucket of one token refilling 100 a second: Remaining 0 after every
	// request whatever the rate, Reset the whole second until it is full.
	// Its refill is not what was sent: the reader says no rate, so neither
	// a pause of a request's worth nor a refill measured from the sends
	// slows the host further with every answer.
	var r quotaReader
	var rate float64
	var pause time.Time
	for i := range 300 {
		at := epoch.Add(time.Duration(i) * 10 * time.Millisecond)
		rate, _, pause = r.observe(at, Quota{Limit: 100, Remaining: 0, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.Equal(t, refillContinuous, r.mode)
	assert.Zero(t, rate)
	assert.True(t, pause.IsZero())
}

func TestPaceKeepsTheLearntRateUnderABucketOfOneToken(t *testing.T) {
	// A rate learnt from throttles stays while the quota announced cannot
	// tell one; a quota that held more replaces it.
	p := pace{pushback: new(pushback)}
	p.learnt, p.slow = 80, true
	at := epoch
	for i := range 300 {
		at = epoch.Add(time.Duration(i) * 12 * time.Millisecond)
		p.setQuota(at, Quota{Limit: 100, Remaining: 0, Reset: at.Add(time.Second)}, time.Hour, uint64(i+1), 1)
	}
	p.apply(at)
	assert.InDelta(t, 80, p.cur, 1e-9, "the learnt rate paces the host")

	p.setQuota(at, Quota{Limit: 100, Remaining: 50, Reset: at.Add(time.Second)}, time.Hour, 301, 1)
	assert.Zero(t, p.learnt, "a quota of 50 tells the rate")
}

func TestQuotaReaderTakesABucketOfAFewTokensForOne(t *testing.T) {
	// A bucket of 5 tokens refilling 100 a second, asked once a second (as
	// a fixed window's reading of its first answer paces it): Remaining 4
	// after every request, Reset the whole second until it is full. A
	// window's end that gives back nothing beyond the 4 it held, of a Limit
	// of 100, is a bucket's: it is paced at its refill, not at a request a
	// second.
	var r quotaReader
	var rate float64
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Second)
		rate, _, _ = r.observe(at, Quota{Limit: 100, Remaining: 4, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.Equal(t, refillContinuous, r.mode)
	assert.Greater(t, rate, 2.0, "more than the request a second the reading of a fixed window allows")
}

func TestQuotaReaderKeepsAFixedWindowThatGivesBackItsLimit(t *testing.T) {
	// A fixed window of 100 a second used up by others but for 4, whose
	// end gives back its Limit: still a fixed window.
	var r quotaReader
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Second)
		rem := 4
		if i%2 == 1 {
			rem = 99
		}
		r.observe(at, Quota{Limit: 100, Remaining: rem, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.NotEqual(t, refillContinuous, r.mode)
}

func TestQuotaReaderTakesABucketOfAFewTokensAskedOftenForOne(t *testing.T) {
	// A bucket of 5 tokens refilling 20 a second, asked 3 times a second:
	// Remaining 4 of 20 after every request, Reset a second away. No
	// window's end shows, but Reset moves on further than a window's end
	// read through the Date header does.
	var r quotaReader
	for i := range 9 {
		at := epoch.Add(time.Duration(i) * time.Second / 3)
		r.observe(at, Quota{Limit: 20, Remaining: 4, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.Equal(t, refillContinuous, r.mode)
}

func TestQuotaReaderTakesABucketOfTwoTokensUnderASmallLimitForOne(t *testing.T) {
	// A bucket of 2 tokens refilling 5 a second, asked once a second (as a
	// fixed window's reading of its first answer paces it): Remaining 1 of
	// a Limit of 5 after every request. A fixed window of 5 gives back 4
	// at its end to a client with this one request counted in it; this one
	// gives back nothing beyond the token it held, so it is a bucket,
	// however small its Limit (it was paced at a request a second: 20%).
	var r quotaReader
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Second)
		r.observe(at, Quota{Limit: 5, Remaining: 1, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.Equal(t, refillContinuous, r.mode)
}

func TestQuotaReaderTakesABucketOfOneTokenUnderALimitOfTwoForOne(t *testing.T) {
	// A bucket of one token refilling 2 a second, asked once a second (as
	// a fixed window's reading of its first answer paces it): Remaining 0
	// of a Limit of 2 after every request, its half a second until full
	// rounded up to a second. A fixed window of 2 gives back one to a
	// request sent alone after its end: this is a bucket, left to its
	// refusals, and paced at a request a second no longer.
	var r quotaReader
	var rate float64
	var pause time.Time
	for i := range 3 {
		at := epoch.Add(time.Duration(i) * time.Second)
		rate, _, pause = r.observe(at, Quota{Limit: 2, Remaining: 0, Reset: at.Add(time.Second)}, uint64(i+1), 1, time.Hour)
	}
	assert.Equal(t, refillContinuous, r.mode)
	assert.Zero(t, rate)
	assert.True(t, pause.IsZero(), "no pause until Reset")
}

func TestQuotaReaderKeepsAFixedWindowOfTwoThatItsOwnRequestsUsedUp(t *testing.T) {
	// A fixed window of 2 used up at each end by this client's two
	// requests sent together: Remaining 0 is no sign of a bucket.
	var r quotaReader
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Second)
		r.observe(at, Quota{Limit: 2, Remaining: 0, Reset: at.Add(time.Second)}, uint64(2*i+2), 2, time.Hour)
	}
	assert.NotEqual(t, refillContinuous, r.mode)
}

func TestQuotaReaderKeepsASmallFixedWindowThatItsOwnRequestsUsedUp(t *testing.T) {
	// A fixed window of 5 whose end comes while 3 more of this client's
	// requests are on their way: they are counted in the new window with
	// this one, so Remaining 1 is no sign of a bucket.
	var r quotaReader
	for i := range 4 {
		at := epoch.Add(time.Duration(i) * time.Second)
		r.observe(at, Quota{Limit: 5, Remaining: 1, Reset: at.Add(time.Second)}, uint64(4*i+4), 4, time.Hour)
	}
	assert.NotEqual(t, refillContinuous, r.mode)
}

// paceAfterAGatesFirstPermit returns a pace of 100 a second against a bucket
// known to hold burst tokens, after a 1 s gate and the gate's first permit,
// and when that permit went.
func paceAfterAGatesFirstPermit(t *testing.T, burst float64) (*pace, time.Time) {
	p := new(pace)
	p.pushed()
	p.learn.known, p.learn.burst = true, burst
	p.learnt, p.slow = 100, true
	at := epoch
	p.apply(at)
	_, ok := p.take(at)
	require.True(t, ok)
	p.onGate(at, at.Add(time.Second))
	at = at.Add(time.Second)
	_, ok = p.take(at)
	require.True(t, ok, "the gate's first permit")
	return p, at
}

func TestPaceStretchesTheIntervalAfterAGatesFirstPermitForABucketOfOneToken(t *testing.T) {
	// Paced at 100 a second against a bucket known to hold one token: the
	// first permit after a gate goes at once, the next 15 ms after it (a
	// first request that reaches the server late must not bring the two
	// closer than the server's 10 ms), and the rest 10 ms apart.
	p, at := paceAfterAGatesFirstPermit(t, 1)
	p.learnt = 100.1 // a probe step applied meanwhile keeps the stretch
	p.apply(at.Add(time.Millisecond))
	next, ok := p.take(at.Add(2 * time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 15, next.Sub(at).Seconds()*1000, 0.1, "ms after the first")
	at = at.Add(15 * time.Millisecond)
	_, ok = p.take(at)
	require.True(t, ok)
	next, ok = p.take(at.Add(time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 10, next.Sub(at).Seconds()*1000, 0.1, "ms: the interval again")
}

// paceOfOneToken returns a pace of 100 a second against a bucket known to
// hold one token, fitted fits times, whose fastest success took 5 ms, and
// when its last permit went.
func paceOfOneToken(t *testing.T, fits int, noisy bool) (*pace, time.Time) {
	p := new(pace)
	p.pushed()
	p.learn.known, p.learn.burst, p.learn.fits = true, 1, int32(fits)
	p.learnt, p.slow, p.noisy = 100, true, noisy
	at := epoch
	p.apply(at)
	_, ok := p.take(at)
	require.True(t, ok)
	p.onSuccess(at.Add(5*time.Millisecond), 1, at, 1, true)
	at = at.Add(20 * time.Millisecond)
	_, ok = p.take(at)
	require.True(t, ok)
	return p, at
}

func TestPacePacesANoisyBucketOfOneTokenFromTheLastAnswer(t *testing.T) {
	// Paced at 100 a second against a bucket of one token that refused a
	// request paced under its fitted rate: a request whose answer came 3
	// ms later than the host's fastest may have reached the server that
	// late, so the next one starts 10 ms after that, not 10 ms after it
	// started.
	p, at := paceOfOneToken(t, 2, true)
	p.onSuccess(at.Add(8*time.Millisecond), 2, at, 1, true)
	next, ok := p.take(at.Add(9 * time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 13, next.Sub(at).Seconds()*1000, 0.1, "ms after the start: its answer less the fastest, plus the interval")

	// A request sent meanwhile leaves the pacer alone.
	at = next
	_, ok = p.take(at)
	require.True(t, ok)
	next, ok = p.take(at.Add(time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 10, next.Sub(at).Seconds()*1000, 0.1)
}

func TestPaceDoesNotPaceABucketOfOneTokenFromAnswersBeforeItRefusedAFittedPace(t *testing.T) {
	p, at := paceOfOneToken(t, 1, false)
	p.onSuccess(at.Add(8*time.Millisecond), 2, at, 1, true)
	next, ok := p.take(at.Add(9 * time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 10, next.Sub(at).Seconds()*1000, 0.1)
}

func TestPaceDoesNotStretchAfterAGateWhereTheBurstIsNotOneToken(t *testing.T) {
	p, at := paceAfterAGatesFirstPermit(t, 10)
	next, ok := p.take(at.Add(time.Millisecond))
	require.False(t, ok)
	assert.InDelta(t, 10, next.Sub(at).Seconds()*1000, 0.1)
}

func TestPaceTakesAFirstAnswerOfNothingLeftForABucketOfOneTokenUntilMoreRemains(t *testing.T) {
	// The host's first request, alone, is answered Remaining 0: a bucket
	// of one token, or a window others used up. Its rate is probed from
	// half its Limit over the time to Reset, and the next throttle tells
	// it; a quota that then holds more tells the rate instead, and the
	// probe's record is dropped.
	p := pace{pushback: new(pushback)}
	p.learn.sent(epoch, 1, false, false)
	p.setQuota(epoch, Quota{Limit: 100, Remaining: 0, Reset: epoch.Add(time.Second)}, time.Hour, 1, 1)
	assert.InDelta(t, 50, p.learnt, 1e-9, "half of 100 per second")
	assert.True(t, p.probing)
	assert.True(t, p.learn.first && p.learn.known, "the first throttle's bound on the burst is known: one token")

	at := epoch.Add(time.Second)
	p.setQuota(at, Quota{Limit: 100, Remaining: 99, Reset: at.Add(time.Second)}, time.Hour, 2, 1)
	assert.Zero(t, p.learnt, "a quota of 99 tells the rate")
	assert.False(t, p.learn.first, "the probe's record is dropped")
}

func TestPaceKeepsAnAllowancesRefillAfterARefusal(t *testing.T) {
	// A 429 of an allowance says nothing remains until its Reset, the wait
	// for a token: the host pauses until then, and is paced at the refill
	// measured, not at a request a second, which would hold the requests
	// waiting for a token a second after the gate opens.
	var p pace
	p.init(Config{RetryAfterMax: time.Minute})
	paceThreeSecondsOfSpare(&p)
	refill := p.reader.rate
	require.InDelta(t, 100, refill, 5)
	at := epoch.Add(3 * time.Second)
	pause := p.setQuota(at, Quota{Limit: 110, Remaining: 0, Reset: at.Add(time.Second)}, time.Hour, 301, 3)
	p.apply(at)
	assert.Equal(t, at.Add(time.Second), pause, "paused until the refusal's Reset")
	assert.InDelta(t, p.reader.rate, p.cur, 1e-9, "paced at the refill measured")
	assert.Greater(t, p.cur, 50.0)
	assert.Equal(t, 1, p.curBurst)
}

func TestPacePacesAnAllowancesRefusalNoSlowerThanARequestUntilItsReset(t *testing.T) {
	// A refill measured low (a few requests over a long span) must not pace
	// a refused host slower than a request by the refusal's Reset: with
	// nothing in flight, no answer would raise it again.
	var p pace
	p.init(Config{RetryAfterMax: time.Minute})
	paceThreeSecondsOfSpare(&p)
	p.reader.rate = 0.01
	at := epoch.Add(3 * time.Second)
	p.setQuota(at, Quota{Limit: 110, Remaining: 0, Reset: at.Add(time.Second)}, time.Hour, 301, 3)
	p.apply(at)
	assert.InDelta(t, 1, p.cur, 1e-9)
}

func TestPaceKeepsAnAllowancesBurstWhileTheCrawlUnderfeedsIt(t *testing.T) {
	// The allowance above, then 0.7 s in which the crawl sends 60 a
	// second: the server's bucket fills to its cap (Remaining 109) and
	// hides the refill. The refill measured must not fall to what was
	// sent, or the allowance's spare (Remaining less the refill until
	// Reset) raises the pacer's burst past the server's bucket, and the
	// tokens it saves up go at once when the crawl's work comes back (a
	// natural trigger of a 429 after which the host lost a second a
	// refusal).
	var p pace
	p.init(Config{RetryAfterMax: time.Minute})
	paceThreeSecondsOfSpare(&p)
	before := p.curBurst
	for i := range 42 {
		at := epoch.Add(3*time.Second + time.Duration(i)*time.Second/60)
		rem := 109
		if i == 0 {
			rem = 108
		}
		p.setQuota(at, Quota{Limit: 110, Remaining: rem, Reset: at.Add(time.Second)}, time.Hour, uint64(301+i), 1)
		p.apply(at)
	}
	assert.InDelta(t, 100, p.reader.rate, 5, "the refill measured")
	assert.LessOrEqual(t, p.curBurst, before+1, "the pacer's burst")
}

func TestAQuotasRateHoldsAHostWithNothingInFlightNoLongerThanTheQuotasEnd(t *testing.T) {
	// A quota's rate read wrong (here a request every 20 s, for a quota
	// read again within 2 s) and nothing in flight: no answer comes to
	// read the quota again, and no release to find it ended. The next
	// request waits no longer than the quota's end, and goes then to read
	// it again; the others stay paced until its answer.
	l, clk := newTestLimiter(t, Config{RetryAfterMax: time.Minute})
	h := l.Host("h")
	now := clk.Now()
	end := now.Add(2 * time.Second)
	h.mu.Lock()
	h.pace.pushed().quota, h.pace.quotaEnd = 0.05, end
	h.applyRateLocked(now)
	h.mu.Unlock()
	p, _, ok := h.TryAcquireAt(now)
	require.True(t, ok)
	p.ReleaseAt(now.Add(10*time.Millisecond), Success)

	_, retryAt, ok := h.TryAcquireAt(now.Add(20 * time.Millisecond))
	require.False(t, ok, "paced at the quota's rate until its end")
	assert.Equal(t, end, retryAt, "the wait ends at the quota's end, not at the token 20 s on")
	p, _, ok = h.TryAcquireAt(end)
	require.True(t, ok, "at the quota's end, with nothing in flight, a request goes")
	_, _, ok = h.TryAcquireAt(end)
	assert.False(t, ok, "the others stay paced until its answer")
	p.ReleaseAt(end.Add(10*time.Millisecond), Success)
}
