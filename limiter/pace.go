package limiter

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// maxRate is the highest rate a bucket is given; above it the bucket is
// skipped as if no rate applied.
const maxRate = 1e9

// maxWait bounds the wait for a token (a quota's or a learnt rate is at
// least the floor, so only a user's ceiling is ever this slow).
const maxWait = 24 * time.Hour

// Rate learning from Throttled outcomes when no quota is announced.
const (
	learnCut      = 0.95                   // the learnt rate after a throttle without a Retry-After, relative to the success rate
	slowProbe     = 0.001                  // upward probe per second of a rate learnt from throttles with a Retry-After
	refusalCap    = 0.995                  // and the most it probes to, relative to the last rate a fitted record was refused at
	bracketProbe  = 0.01                   // upward probe per second of such a rate up to fitted records' bound on the server's rate (see pushback.bracket)
	fastProbe     = 0.5                    // upward probe per second after throttles without a Retry-After
	forgetAt      = 2.0                    // a fast-learnt rate this far above the success rate is forgotten
	goodputWindow = 250 * time.Millisecond // success rate measurement window
	gateEvidence  = 10 * time.Millisecond  // a Gate this soon after a throttle came with it
	probeStep     = 5 * time.Millisecond   // a probe's rate grows at most this often
	probeSends    = 0.5                    // and doubles over this many requests at least
	oneTokenSends = 3                      // or this many, against a bucket of one token
	maxProbeSteps = 2                      // and at most this many times between two of its requests
	afterGate     = 1.5                    // the interval after a gate's first permit, in intervals, for a pacer of one token at a time
	wakeSlack     = 2 * time.Millisecond   // a pacer under a learnt rate of an unknown burst saves up this long of it (see learner.pacerBurst)
	spendBurst    = time.Second            // a burst learnt in whole tokens at a gate's end is spent over this on top of the rate, but for two tokens

	// Where the learner is unsure (see learner):
	unconfirmedProbe = 0.3                    // upward probe per second until a throttle comes while paced by the learnt rate
	heldProbe        = 1.0                    // or while a record is held to tell the burst with the next (see jointFit)
	serverBurst      = 100 * time.Millisecond // the server's burst assumed, in time at its rate
	confirmEpisode   = 10 * serverBurst       // an episode this long confirms the learnt rate

	// A throttle without a Retry-After that a rate explains closes a pause
	// of its own: bareWait at first, doubling while no request succeeds
	// between two of them, up to bareWaitMax.
	bareWait    = 100 * time.Millisecond
	bareWaitMax = 3200 * time.Millisecond

	// A first throttle after the host's ramp with a gate of outageRA or
	// more, over which what the episode admitted a second would refill
	// outageTokens (see outageGate), is an outage's.
	outageRA     = 2 * time.Second
	outageTokens = 10

	// capSlack is how far below the level of the refusals the last cut
	// answered an in-flight cap's refusal may start (see capped).
	capSlack = 0.9
)

// pace is a host's rate: the lowest of the user's ceiling, the announced
// quota and the learnt rate, enforced by a token bucket that exists only
// while a rate applies.
type pace struct {
	cfgBurst int
	ceiling  float64 // user's ceiling, 0 = none
	floor    float64 // the lowest rate a quota or a learnt rate paces at: a request per RetryAfterMax
	learnt   float64 // rate learnt from throttles, 0 = none
	cur      float64 // the bucket's rate, 0 = no bucket
	curBurst int
	bucket   *rate.Limiter

	// success rate, measured over windows of goodputWindow
	gpStart time.Time
	gpCount int
	goodput float64

	epCount int     // successes in the episode (see pushback.epStart)
	learn   learner // the server's rate and burst, from throttles with a Retry-After or a pause of their own

	// *pushback is made when the host first pushes back (a throttle, a
	// gate, an announced quota), which most hosts never do: until then its
	// fields read as zero, and a host's memory stays small.
	*pushback
}

// pushback is the state of a host's rate that only a host that pushed back
// needs: the announced quota and the learning of a rate from throttles.
// While it is nil, learnt is 0 and no quota applies.
type pushback struct {
	quota     float64 // rate the announced quota allows, 0 = none
	quotaEnd  time.Time
	lastProbe time.Time
	drain     bool          // drop saved-up tokens when the gate opens
	moved     chan struct{} // closed when the rate rises or ends, to wake the requests held for a token (nil: none waits; see sleep)
	stretch   uint8         // a pacer of one token at a time after a gate: 1 = its first permit is to go, 2 = the next one's interval is stretched

	// rate learning
	slow          bool          // the learnt rate came from throttles with a Retry-After or a pause of their own
	lastGate      time.Time     // when Gate was last called
	lastGateUntil time.Time     // and until when
	lastThrottle  time.Time     // when a throttle last arrived
	throttleSeq   uint64        // and the number of the request it refused
	throttleStart time.Time     // and when that request started (zero: not timed)
	spendUntil    time.Time     // until then the learnt rate spends the server's burst (see spendBurst)
	cutInFlight   int           // the fewest in flight a throttle the last cut answered arrived with (the cut's own included)
	refusedLow    int           // the fewest in flight a refused request started with, of those the last cut answered (see capped)
	admittedHigh  int           // successes since that cut that started with at least refusedLow in flight
	bareWait      time.Duration // the pause the last throttle without a Retry-After closed
	dropWait      time.Duration // the pause the last drop without a gate closed at the floor (see dropPause)
	outageEnd     time.Time     // when the last outage of throttles ended (see forgetOutage)
	dropOK        int64         // the host's successes when it closed
	dropAt        time.Time     // and when
	cutSeq        uint64        // the requests taken when a bare drop last cut the limit (0: none; see Host.refusedAgainLocked)
	epStart       time.Time     // start of the current episode: the end of the last learning gate
	epLearnt      float64       // the learnt rate when the episode began
	confirmed     bool          // a throttle came while the learnt rate paced the host, after an episode long enough
	probing       bool          // the learnt rate is a probe that doubles while it is used
	fallback      float64       // the rate estimated from the last episode, should the learner turn unsure
	refusedAt     float64       // the learnt rate the last fitted record was refused at (0: none), rising slowly
	probeG        float64       // an unconfirmed rate's probe per second where it is not unconfirmedProbe: a loose first fit behind a long gate (learner.costly)
	bracket       bool          // refusedAt is fitted records' bound on the server's rate from above (learner.jointHi), probed up to at bracketProbe
	ceiling       float64       // the rate a loose fit's record bounds the server's by from above, which its probe does not pass (0: none; see learner.refilled)
	probeAt       time.Time     // when the probe last grew
	bound         bool          // the bucket refused a token since probeAt

	reader   *quotaReader  // how the announced quota refills; made at the first quota, which few hosts announce
	others   uint64        // the requests other processes sent to the host, as a shared store last counted them (see SharedAnswer.Others)
	led      int           // the other processes' requests counted in the host's requests in flight while this process leads it (see SharedAnswer.Lead)
	hidden   bool          // a throttle came while the announced quota held more than the requests in flight: a limit its headers do not describe
	warned   time.Time     // the end of the last long wait the host warned of (see noteWait)
	sendRate float64       // requests in flight over the smoothed RTT when the last throttle came
	rtt      time.Duration // the smoothed RTT then

	// a bucket of one token paced from answers (see fromAnswer)
	noisy    bool          // it refused a request paced under the rate fitted to it
	answered time.Time     // when the last request sent succeeded, none sent since (zero: none such)
	fastest  time.Duration // the host's fastest success, start to answer

	bg background // the share of requests refused at any load
}

// sleep returns a channel closed when the rate rises or ends.
func (p *pace) sleep() <-chan struct{} {
	pb := p.pushed()
	if pb.moved == nil {
		pb.moved = make(chan struct{})
	}
	return pb.moved
}

// pushed returns the host's pushback state, made on first need.
func (p *pace) pushed() *pushback {
	if p.pushback == nil {
		p.pushback = new(pushback)
	}
	return p.pushback
}

func (p *pace) init(cfg Config) {
	p.cfgBurst = cfg.Burst
	p.ceiling = cfg.Rate
	if cfg.RetryAfterMax > 0 {
		p.floor = 1 / cfg.RetryAfterMax.Seconds()
	}
}

// effective returns the rate to apply and whether it comes from the ceiling.
// A quota's or a learnt rate is at least the floor: no server's headers or
// refusals hold a host longer between two requests than the longest gate
// the user allows (the user's own ceiling may).
func (p *pace) effective(now time.Time) (float64, bool) {
	r, fromCeiling := p.ceiling, true
	if p.quotaActive(now) {
		if q := max(p.quota, p.floor); r == 0 || q < r {
			r, fromCeiling = q, false
		}
	}
	if l := max(p.learnt, p.floor); p.learnt > 0 && (r == 0 || l < r) {
		r, fromCeiling = l, false
	}
	if r > maxRate {
		r = 0
	}
	return r, fromCeiling
}

// apply makes the bucket follow the effective rate, and wakes the requests
// held for a token (see Host.AwaitGate) when it rises or ends.
func (p *pace) apply(now time.Time) {
	r, fromCeiling := p.effective(now)
	if (r == 0 || r > p.cur) && p.pushback != nil && p.moved != nil {
		close(p.moved)
		p.moved = nil
	}
	if r == 0 {
		p.bucket, p.cur = nil, 0
		return
	}
	burst := 1
	switch {
	case fromCeiling:
		burst = p.cfgBurst
		if burst == 0 {
			burst = max(1, int(r/10))
		}
	case p.pushback != nil && r == p.quota && p.reader != nil && p.reader.spare > 1:
		// The server holds tokens beyond its refill: a pacer that
		// wakes late may catch up on half of them.
		burst = p.reader.spare / 2
	case p.pushback != nil && r == p.learnt && p.slow && !p.probing:
		burst = p.learn.pacerBurst(r)
	}
	if !fromCeiling && p.ceiling > 0 && p.cfgBurst > 0 {
		// Under the user's ceiling, no burst beyond the user's.
		burst = min(burst, p.cfgBurst)
	}
	switch {
	case p.bucket == nil:
		p.bucket = rate.NewLimiter(rate.Limit(r), burst)
	case r != p.cur || burst != p.curBurst:
		lim := r
		if p.pushback != nil && p.stretch == 2 {
			lim /= afterGate
		}
		p.bucket.SetLimitAt(now, rate.Limit(lim))
		if burst != p.curBurst {
			p.bucket.SetBurstAt(now, burst)
		}
	}
	p.cur, p.curBurst = r, burst
}

// take takes a token at now, or returns when one will be available, or
// the announced quota's end if that is sooner (see reread). Settling or
// growing a learnt rate may take the effective rate past maxRate, which
// leaves no bucket: the token is then taken at once.
func (p *pace) take(now time.Time) (time.Time, bool) {
	if p.pushback != nil && p.drain {
		// Cap what was saved up during the pause at one token.
		if p.bucket != nil {
			p.bucket.SetBurstAt(now, 1)
			p.bucket.SetBurstAt(now, p.curBurst)
		}
		p.drain = false
	}
	if p.learn.pending && p.pushback != nil {
		// The gate a throttle closed has ended: learn from its record.
		measured := p.learn.measured
		p.learn.measured = 0
		if r, ok := p.learn.settle(); ok {
			if p.learn.unsure || r <= 0 {
				r = p.fallback
				if lo := p.learn.lowest(); lo > 0 {
					// The episode's estimate assumes a burst of
					// serverBurst, and after a probe that doubled
					// it reads the probe's rate, which ran ahead of
					// what the host sent: it landed 300/s burst 5
					// at 345-458/s, whose pacer then drained the
					// server's bucket within 0.2 s of the gate.
					r = min(r, fitMargin*lo)
				}
			}
			prev, wide := p.learnt, p.learn.wide
			p.learnt, p.probing, p.confirmed = r, false, !p.learn.unsure || p.confirmed
			p.ceiling = 0
			if p.learn.unsure {
				// The episode since the gate is paced from r: a
				// probe's growth past it, not past the rate the
				// record was refused at, tells that it crossed
				// the server's (see estimate).
				p.epLearnt = r
			}
			p.probeG = 0
			if p.learn.wide {
				// A loose bound from below (see learner.settle):
				// probe from it as from an unconfirmed rate.
				p.confirmed, p.learn.wide = false, false
				if p.learn.costly {
					// Behind a long gate: as many times slower
					// as the gate is seconds long.
					p.probeG = unconfirmedProbe / p.learn.prev.gate.Seconds()
				}
				p.learn.costly = false
			}
			if !p.learn.unsure {
				p.refusedAt, p.bracket = p.learn.cur0, false
				if hi := p.learn.jointHi; hi > 0 {
					// The two records bound the rate from above
					// too: probe no higher than that bound. Their
					// lowest is a bound from below at the burst
					// they agree on best; where they agree on a
					// wide span of bursts, the episode's estimate
					// (already applied) may be the higher, but not
					// above that bound either: an estimate read
					// from a first episode that drained a burst of
					// 50 (61-85/s against a server of 10/s, whose
					// records bounded it at 12-20/s) was paced at,
					// and each record after it cut the pace by half
					// at most, one refusal a halving.
					// A first fit, with the first throttle's
					// episode (see learner.episodeFit), agrees
					// only on bursts whose rates lie within
					// episodeSpan (its lowest is the rate), or
					// on a record that was the gate's refill. A
					// loose bound from below (wide, a refill) is
					// paced at and probed from, up to the bound.
					if p.refusedAt == 0 || hi < p.refusedAt {
						p.refusedAt, p.bracket = hi, true
					}
					if wide {
						p.ceiling = hi
					}
					p.learn.jointHi = 0
					if p.learn.fits > 1 && !wide {
						p.learnt = min(max(p.learnt, prev), hi)
					}
				}
				if p.learn.fits == 1 && p.learn.whole > 0 {
					// Paced at the lowest rate its record
					// allows (see learner.wholeBurst), the
					// host probes no higher until that bound
					// rises: the rate is within wholeSpan
					// above it, and a probe past it drains a
					// burst of a few tokens within seconds.
					p.refusedAt = p.learn.whole / refusalCap
					if p.learn.burst >= drainMin {
						// The gate refilled the server's
						// bucket: spend it over a second,
						// but for two tokens, on top of
						// the rate (no burst).
						p.learnt += (p.learn.burst - 2) / spendBurst.Seconds()
						p.spendUntil = now.Add(spendBurst)
					}
				}
			}
			if p.learn.fits > 1 && p.learn.known && p.learn.burst < 2 {
				p.noisy = true
			}
			p.lastProbe = now
			p.apply(now)
		} else if m := p.learn.measure; m > 0 {
			// The record held climbed: pace steadily just under
			// where it was refused, so that the next record, if
			// any, tells the burst with it (see jointFit).
			p.learn.measure, p.learn.measured = 0, p.learnt
			p.learnt, p.probing, p.confirmed = max(p.learnt, m), false, true
			p.lastProbe = now
			p.apply(now)
		}
		if measured > 0 && p.learnt < measured {
			// The steady pace was refused within a short episode,
			// whose estimate says little: no lower than before it.
			p.learnt = measured
			p.apply(now)
		}
	}
	if p.pushback != nil && !p.spendUntil.IsZero() && !now.Before(p.spendUntil) {
		p.spendUntil = time.Time{}
		if p.learn.fits == 1 && !p.learn.pending {
			p.learnt = min(p.learnt, p.learn.whole)
			p.apply(now)
		}
	}
	if p.pushback != nil && p.probing && p.grow(now) {
		p.apply(now)
	}
	if p.bucket == nil {
		return time.Time{}, true
	}
	if at := p.fromAnswer(); now.Before(at) {
		return at, false
	}
	if p.bucket.AllowN(now, 1) {
		if p.pushback != nil {
			p.answered = time.Time{}
			if p.stretch != 0 {
				p.stretchAfterGate(now)
			}
		}
		return time.Time{}, true
	}
	if p.pushback != nil {
		p.bound = true
	}
	missing := 1 - p.bucket.TokensAt(now)
	d := math.Ceil(missing / float64(p.bucket.Limit()) * float64(time.Second))
	at := now.Add(time.Duration(max(1, min(d, float64(maxWait)))))
	if p.quotaActive(now) && p.quotaEnd.Before(at) {
		at = p.quotaEnd
	}
	return at, false
}

// reread lets a request go at now on credit (the bucket's next token),
// where the bucket paces at the announced quota's rate, the quota's end
// has passed and no answer is on its way to read the quota again (the
// caller knows nothing is in flight): it reports whether it did. The rate
// a quota's answer set holds until the next answer sets another, past its
// end too (a refusal's rate paces the requests after its gate), but with
// nothing in flight no answer comes, and a rate read wrong (a refill
// measured low) would hold the host for its own token, seconds on: the
// request it lets go reads the quota again. The other requests stay paced.
func (p *pace) reread(now time.Time) bool {
	if p.pushback == nil || p.quota == 0 || p.quotaActive(now) || p.bucket == nil || p.cur != max(p.quota, p.floor) {
		return false
	}
	p.bucket.ReserveN(now, 1)
	return true
}

// fromAnswer returns the earliest time the next request may start, where
// the host is paced at the learnt rate of a bucket of one token that
// refused a request paced under the rate fitted to it (noisy), and the last
// request sent has succeeded (zero: no bound but the pacer's). A
// bucket of one token refuses a request that reaches it less than an
// interval after the one before, however far apart they were sent: a
// request held up on its way (the client's own timing noise: a runtime, a
// connection, a loaded machine) and the next one not would reach it closer
// than the pacer spaced them. The answer bounds when the request reached
// the server: no later than the answer less the host's fastest success
// (which took at least the least time to reach it), so a start an interval
// after that reaches it an interval after that request at least, whatever
// the delay on its own way was. The bound costs the time the answer took
// beyond the fastest, where the pacer alone costs refusals, each a gate.
func (p *pace) fromAnswer() time.Time {
	if p.pushback == nil || !p.noisy || p.answered.IsZero() || p.fastest == 0 || p.cur == 0 || !p.slow || p.probing || p.learnt != p.cur ||
		!p.learn.known || p.learn.burst >= 2 {
		return time.Time{}
	}
	return p.answered.Add(time.Duration(float64(time.Second)/p.cur) - p.fastest)
}

// stretchAfterGate stretches the interval after a gate's first permit by
// half (afterGate), and ends the stretch at the next permit. A client's first
// request after a pause may reach the server later than the next one does
// (a runtime or a connection woken from idle): a bucket of one token then
// sees the two closer than the pacer spaced them, and refuses the second.
func (p *pace) stretchAfterGate(now time.Time) {
	if p.stretch == 1 {
		p.bucket.SetLimitAt(now, rate.Limit(p.cur/afterGate))
		p.stretch = 2
		return
	}
	p.bucket.SetLimitAt(now, rate.Limit(p.cur))
	p.stretch = 0
}

// onGate notes a pause: saved-up tokens must not burst out when it ends,
// and a throttle that came with it teaches the rate. The tokens are
// drained whatever the bucket's burst now: the refusal's own quota may
// have just set it to one (an allowance that says nothing remains), and
// answers read while the gate holds may raise it again.
func (p *pace) onGate(now, until time.Time) {
	p.pushed()
	p.drain = p.bucket != nil
	if p.bucket != nil && p.curBurst == 1 && p.stretch == 0 && p.learn.known && p.learn.burst < 2 {
		p.stretch = 1
	}
	p.lastGate, p.lastGateUntil = now, until
	if !p.lastThrottle.IsZero() && now.Sub(p.lastThrottle) <= gateEvidence {
		p.learnFromGate(now, p.throttleSeq, until)
	}
}

// setQuota applies q, seen at now after sent permits were handed out with
// inFlight not yet released, and returns until when the host must pause
// (zero: no pause). horizon caps the time to Reset a quota is spread over (a
// hostile Reset a year away must not slow the host to a request a day).
func (p *pace) setQuota(now time.Time, q Quota, horizon time.Duration, sent uint64, inFlight int) time.Time {
	p.pushed()
	if !q.Reset.After(now) {
		p.forget()
		// A passed reset lifts the quota's rate, or with a known window
		// spreads the refilled quota over it.
		p.quota, p.quotaEnd = 0, time.Time{}
		if q.Limit > 0 && q.Window > 0 {
			p.quota, p.quotaEnd = float64(q.Limit)/q.Window.Seconds(), now.Add(q.Window)
		}
		return time.Time{}
	}
	if p.reader == nil {
		p.reader = new(quotaReader)
	}
	// The server refills for every process's requests: the reader
	// counts the others' with this one's.
	rate, end, pause := p.reader.observe(now, q, sent+p.others, inFlight, horizon)
	if rate > 0 && p.reader.most > 1 && !p.hidden {
		// A quota that held more than a token or two tells the rate;
		// a smaller one may be a bucket of a token or two, whose rate
		// only its refusals teach.
		p.forget()
		if p.learn.oneTokenProbe() {
			// Not a bucket of one token after all (a window others
			// had used up): its probe's record is no one's.
			p.learn = learner{base: sent}
		}
	}
	p.quota, p.quotaEnd = rate, end
	if !pause.IsZero() {
		p.learn.paused(sent, inFlight)
	}
	if rate == 0 && q.Remaining == 0 && p.reader.mode != refillAtReset && p.reader.most == 0 && inFlight <= 1 && p.learnt == 0 && !p.learn.first && !p.hidden {
		// A bucket of one token, told by its headers (it said nothing
		// remains after every request, full again by Reset): its
		// refusals teach its rate, and the first of them need not be a
		// cold start's burst. Probe from the rate its Limit over the
		// time to Reset suggests, from the next request on.
		left := max(q.Reset.Sub(now), time.Second)
		r0 := 1 / left.Seconds()
		if q.Limit > 1 {
			r0 = float64(q.Limit) / left.Seconds() / 2
		}
		p.learn.oneToken(now, sent)
		p.learnt, p.probing, p.confirmed, p.slow = r0, true, false, true
		p.epStart, p.epCount, p.epLearnt = now, 0, r0
		p.probeAt, p.bound, p.lastProbe = now, false, now
	}
	return pause
}

// forget drops the learnt rate: an announced quota that tells a rate
// replaces it.
func (p *pace) forget() { p.learnt, p.slow, p.probing = 0, false, false }

// refusalPaced reports whether a rate learnt from refusals with a
// Retry-After or a pause of their own paces the host.
func (p *pace) refusalPaced() bool { return p.pushback != nil && p.learnt > 0 && p.slow }

func (p *pace) quotaActive(now time.Time) bool {
	return p.pushback != nil && p.quota > 0 && now.Before(p.quotaEnd)
}

// onSuccess notes that the request numbered seq, started at start (zero:
// not timed) with started requests in flight (its own included), succeeded
// at now (zero: not timed); last reports whether it is the last request
// sent.
func (p *pace) onSuccess(now time.Time, seq uint64, start time.Time, started int, last bool) {
	if p.pushback != nil {
		if p.refusedLow > 0 && started >= p.refusedLow {
			p.admittedHigh++
		}
		if !start.IsZero() && !now.IsZero() {
			if d := now.Sub(start); d > 0 && (p.fastest == 0 || d < p.fastest) {
				p.fastest = d
			}
			if last {
				p.answered = now
			}
		}
	}
	p.gpCount++
	p.epCount++
	p.learn.succeeded(now, seq)
	p.learn.succeededAfter(seq, start)
}

// onThrottle learns from a throttle of the request numbered seq, started at
// start (zero: not timed), and returns the end of a pause it closes (zero:
// none). With a Retry-After (the throttle is released while a gate holds, or
// within gateEvidence of the Gate call) the learner learns from it; a Gate
// that follows the throttle is handled by onGate. Without one the throttle
// is first a concurrency signal (cut reports whether this one cut the
// concurrency limit, inFlight is the count when it arrived, started the
// count the refused request started with, its own included). When it cut a
// limit already at its floor (floor), the server limits a rate, not
// concurrency: the throttle closes a pause of its own (see bareWait) and
// teaches the rate as one with a Retry-After does. When throttles go on at
// fewer requests in flight than the throttles the last cut answered saw, and
// not at a level the server refused before (see capped), a rate is learnt
// relative to the recent success rate, and it probes upward fast so that it
// gets out of the way of a concurrency limit that holds the line.
func (p *pace) onThrottle(now time.Time, seq uint64, start time.Time, cut, floor bool, inFlight, started int) time.Time {
	p.pushed()
	p.lastThrottle, p.throttleSeq, p.throttleStart = now, seq, start
	if p.quotaActive(now) && p.reader != nil && p.reader.rem > inFlight {
		// Refused while the quota said more remained than the requests
		// in flight could take: a limit its headers do not describe
		// (a per-endpoint or secondary one). Learn it as where no
		// quota is announced, and pace at the lower of the two.
		p.hidden = true
	}
	var until time.Time
	switch {
	case p.quotaActive(now) && !p.hidden:
	case !p.lastGate.IsZero() && (now.Before(p.lastGateUntil) || now.Sub(p.lastGate) <= gateEvidence):
		// The gate came first (the transport releases when the body is
		// closed, which may be a while after it gated).
		p.learnFromGate(now, seq, p.lastGateUntil)
	case !cut:
	case floor:
		until = p.pause(now)
	case p.slow || p.goodput == 0:
	case p.cutInFlight > 0 && float64(inFlight) < 0.9*float64(p.cutInFlight) && !p.capped(started):
		r := learnCut * p.goodput
		if p.learnt == 0 || r < p.learnt {
			p.learnt = r
		}
		p.lastProbe = now
	}
	if cut {
		p.cutInFlight, p.refusedLow, p.admittedHigh = inFlight, started, 0
		return until
	}
	// The requests sent past a cap before the cut came back drain away:
	// their refusals arrive with ever fewer in flight, and the last of
	// them tells the level the cap holds, the first an overshoot past it.
	if started > 0 && started < p.refusedLow {
		p.refusedLow = started
	}
	if inFlight < p.cutInFlight {
		p.cutInFlight = inFlight
	}
	return until
}

// capped reports whether a refused request that started with started
// requests in flight (its own included) reads as refused by an in-flight
// cap rather than by a rate: a request the last cut answered was refused
// starting with about as few (capSlack), and fewer than that many requests
// have started with as many since and succeeded. A cap refuses by the count
// in flight, whatever the rate: it refuses the requests that start above
// its level and none below it, so its refusals come back at the same level,
// cut after cut (a little lower at times: a request counts the answers
// still on their way back, which the server no longer holds). A rate quota
// refuses by time, whatever the count: it refuses at a level it admitted
// for a round trip, once its tokens run out. The count in flight when the
// refusal arrives does not tell them apart: after an overshoot past a cap,
// the requests the cut stopped drain away, and the refusals of those sent
// past it arrive with ever fewer in flight.
func (p *pace) capped(started int) bool {
	return p.refusedLow > 0 && float64(started) >= capSlack*float64(p.refusedLow) && p.admittedHigh < p.refusedLow
}

// pause closes a pause at now for a throttle without a Retry-After and
// returns its end: bareWait, or twice the last one if no request succeeded
// since that ended (it was too short for the server to admit one). The
// throttle teaches the rate as if the pause were its Retry-After.
func (p *pace) pause(now time.Time) time.Time {
	if p.bareWait == 0 || p.epCount > 0 {
		p.bareWait = bareWait
	} else {
		p.bareWait = min(2*p.bareWait, bareWaitMax)
	}
	until := now.Add(p.bareWait)
	p.onGate(now, until)
	return until
}

// outageWait is the pause without a Retry-After (see pause) past which a
// request refused alone reads as refused by an outage, not by a rate: the
// refusals alone it doubled over, with nothing admitted between, spanned
// 1.5 s, longer than a rate of 0.7 per second takes to refill a token.
const outageWait = 16 * bareWait

// outageGap is how long after an outage ended (see forgetOutage) another
// reads as one: a server that refuses everything again this soon after it
// came back limits a rate too slow for outageWait (a token every few
// seconds), and forgetting its rate each time would hammer it.
const outageGap = 10 * time.Second

// outage reports whether the last pause without a Retry-After, at now,
// doubled to outageWait, outageGap or more after the last outage ended:
// see outageWait.
func (p *pace) outage(now time.Time) bool {
	return p.pushback != nil && p.bareWait >= outageWait && (p.outageEnd.IsZero() || now.Sub(p.outageEnd) >= outageGap)
}

// forgetOutage drops, at now, what the throttles of an outage (see outage)
// taught: the learnt rate and the learner's records. A server that refused
// every request for a while says nothing of its rate; should it limit one,
// its next throttle is learnt from as a first, in an episode of the
// requests numbered above sent.
func (p *pace) forgetOutage(now time.Time, sent uint64) {
	p.outageEnd = now
	p.forgetLearnt(now, sent)
}

// forgetLearnt drops, at now, the learnt rate and the learner's records:
// the host's next throttle is learnt from as a first, in an episode of the
// requests numbered above sent.
func (p *pace) forgetLearnt(now time.Time, sent uint64) {
	p.forget()
	p.learn = learner{base: sent}
	p.confirmed, p.refusedAt, p.ceiling, p.fallback, p.probeG = false, 0, 0, 0, 0
	p.apply(now)
}

// dropPause closes a pause at now for a drop without a gate at the floor
// (see Host.pauseDropLocked) and returns its end: bareWait, or twice the last
// one if the host's count of successes is still ok, what it was when that
// one closed (the pause was too short for the server to recover). Unlike
// pause it teaches no rate.
func (p *pace) dropPause(now time.Time, ok int64) time.Time {
	pb := p.pushed()
	if pb.dropWait == 0 || ok != pb.dropOK {
		pb.dropWait = bareWait
	} else {
		pb.dropWait = min(2*pb.dropWait, bareWaitMax)
	}
	pb.dropOK, pb.dropAt = ok, now
	return now.Add(pb.dropWait)
}

// learnDrop learns from the drop of the request numbered seq, refused at
// now with no gate while the host sends one request at a time, whose pause
// (see dropPause) ends at until: such refusals, again and again with
// requests served between them, are a rate limit's answering a bare 503
// (see Host.refusedBetweenLocked), and teach the rate as a bare 429 at the
// floor does, the pause read as its Retry-After. inFlight, started,
// sendRate and rtt are as for a throttle (sendRate 0: not known).
func (p *pace) learnDrop(now time.Time, seq uint64, until time.Time, inFlight, started int, sendRate float64, rtt time.Duration) {
	pb := p.pushed()
	if sendRate > 0 {
		pb.sendRate = sendRate
	}
	pb.rtt = rtt
	p.onThrottle(now, seq, time.Time{}, false, false, inFlight, started)
	p.onGate(now, until)
}

// learnFromGate learns from the request numbered seq, refused at now with a
// gate until until: the first such throttle starts a probe from until, the
// next ones set the rate the learner fits.
func (p *pace) learnFromGate(now time.Time, seq uint64, until time.Time) {
	if p.quotaActive(now) && !p.hidden {
		return
	}
	cur := 0.0
	if p.slow {
		cur = p.learnt
	}
	start := p.throttleStart
	if seq != p.throttleSeq {
		start = time.Time{}
	}
	r, first, ok := p.learn.throttled(now, seq, start, until, cur, p.rtt)
	if !ok {
		return
	}
	switch {
	case first && p.learn.unsure && p.outageGate(now, until):
		// No rate: should the server refuse again, that episode's
		// estimate applies (see estimate).
		p.learnt, p.confirmed = 0, false
	case first && p.learn.unsure:
		// A client still ramping up when refused under-states the
		// server's rate over the episode: the rate it was sending at says
		// more (but it also drained the server's burst, so at most half as
		// much again).
		el := now.Sub(p.learn.firstAt).Seconds()
		ep := float64(p.epCount) / el
		p.learnt, p.confirmed = learnCut*max(ep, min(p.sendRate, 1.5*ep)), false
	case p.learn.unsure:
		if p.learn.records != nil {
			p.learn.climbed = p.epLearnt > 0 && p.learnt >= 1.1*p.epLearnt
		}
		p.estimate(now)
	case first:
		p.learnt, p.probing, p.confirmed = r, true, false
	default:
		// The learner fits its record when the gate ends; should it then
		// turn unsure, the episode's estimate applies.
		p.estimate(now)
		p.fallback, p.learnt = p.learnt, r
	}
	p.slow = true
	p.epStart, p.epCount, p.epLearnt = until, 0, p.learnt
	p.probeAt, p.bound, p.lastProbe = until, false, until
}

// outageGate reports whether the first throttle, at now, refused after the
// host's ramp (the learner is unsure) with a gate until until, reads as an
// outage's and not a rate's: the gate is at least outageRA long, and a
// token bucket that admitted what the episode did would have refilled
// outageTokens tokens over it, less the second a Retry-After's rounding
// adds. A token bucket's Retry-After is the time to its next token, which
// is that long only for a bucket that refills a token in a second or more,
// far less than the requests it admitted a second: a server that refused
// everything for a while (a ban, maintenance behind a gateway answering
// 429) names its end. A rate learnt from such an episode is the client's
// own ramp, and would hold the host under it long after the server is
// back.
func (p *pace) outageGate(now, until time.Time) bool {
	gate := until.Sub(now)
	el := now.Sub(p.learn.firstAt).Seconds()
	if gate < outageRA || el <= 0 {
		return false
	}
	return float64(p.epCount)/el*(gate-time.Second).Seconds() >= outageTokens
}

// estimate sets the learnt rate, where the learner is unsure, from the
// success rate of the episode that ends now. Paced by the learnt rate and
// still refused, assume the server's bucket held about serverBurst of its
// rate when the gate ended: what it admitted over the episode is then at
// most that plus its rate over the episode, and a rate probing upward at g
// per second drains it when it is sqrt(2·serverBurst·g) above the server's.
func (p *pace) estimate(now time.Time) {
	el := now.Sub(p.epStart)
	if el < gateEvidence || p.epCount == 0 {
		p.learnt *= learnCut
		return
	}
	g := slowProbe
	switch {
	case p.learn.holds():
		g = heldProbe
	case !p.confirmed:
		g = unconfirmedProbe
	}
	over := 1 + math.Sqrt(2*serverBurst.Seconds()*g)
	est := float64(p.epCount) / (el + serverBurst).Seconds()
	if p.probing || p.learnt >= over*p.epLearnt {
		// The probe carried the rate across the server's during the
		// episode: before that the server's bucket sat full, so the
		// episode's success rate says little; the rate at the end does.
		est = max(est, p.learnt/over)
	}
	if p.learnt > 0 {
		est = min(est, p.learnt)
	}
	p.learnt = learnCut * est
	p.probing = false
	// The estimate assumes a server burst of serverBurst: only an episode
	// many times longer makes it reliable enough to probe slowly from; a
	// shorter one keeps probing fast, or a rate learnt too low would stay
	// there. A shorter episode after one that confirmed the rate was
	// refused past it: the estimate lowers a rate already found, and a fast
	// probe from it would be refused again within a second or two.
	p.confirmed = p.confirmed || el >= confirmEpisode
}

// probeBelowRefusal returns the learnt rate probed slowly upward over dt
// seconds, but not past refusalCap of the last rate a fitted record was
// refused at: a server's bucket refused it, so probing past it again only
// draws the next refusal and its gate (at a slow probe a gate every few
// seconds). That bound itself rises a tenth as fast, so that a server that
// raises its rate is followed, slowly. Where it is the records' bound on
// the server's rate (bracket), the rate lies under it, and the probe
// closes the gap at bracketProbe: a rate paced at its records' lowest and
// probed 0.1% a second stayed up to a tenth under the server's for a
// whole crawl.
func (p *pace) probeBelowRefusal(dt float64) float64 {
	g := slowProbe
	if p.bracket {
		g = bracketProbe
	}
	r := p.learnt * (1 + g*dt)
	if p.refusedAt == 0 {
		return r
	}
	p.refusedAt *= 1 + slowProbe/10*dt
	return min(r, max(p.learnt, refusalCap*p.refusedAt))
}

// grow doubles a probe every probeDouble that the host used its rate
// (the bucket refused a token), and reports whether the rate changed.
func (p *pace) grow(now time.Time) bool {
	dt := now.Sub(p.probeAt)
	if dt < probeStep {
		return false
	}
	p.probeAt = now
	if !p.bound {
		return false
	}
	p.bound = false
	// At least probeSends requests a doubling, so that a low rate does
	// not double many times between two of its requests. A host that used
	// its rate took a token at least every two doublings (a request every
	// 1/learnt seconds): a longer step was idle, and doubles no more.
	sends := probeSends
	if p.learn.oneTokenProbe() {
		// Its gaps bound a bucket of one token's rate: a probe doubling
		// every request or so leaves too few of them near the rate.
		sends = oneTokenSends
	}
	double := probeDouble.Seconds()
	if p.learn.drainProbe() {
		double *= drainDouble
	}
	p.learnt *= math.Exp2(min(maxProbeSteps, dt.Seconds()/max(double, sends/p.learnt)))
	return true
}

// onRelease measures the success rate and probes the learnt rate upward; it
// reports whether the rate to apply changed.
func (p *pace) onRelease(now time.Time) bool {
	if p.gpStart.IsZero() {
		p.gpStart = now
	}
	el := now.Sub(p.gpStart)
	if el < goodputWindow {
		return false
	}
	p.goodput = float64(p.gpCount) / el.Seconds()
	p.gpCount = 0
	p.gpStart = now
	if p.pushback == nil {
		return false // no quota, nothing learnt
	}
	if p.quota > 0 && !p.quotaActive(now) {
		p.quota = 0 // the quota was reset: its rate no longer applies
		return true
	}
	if p.learnt == 0 {
		return false
	}
	dt := now.Sub(p.lastProbe).Seconds()
	if dt <= 0 {
		return false // still gated: probing starts when the gate opens
	}
	p.lastProbe = now
	switch {
	case p.probing:
	case p.slow && p.confirmed:
		p.learnt = p.probeBelowRefusal(dt)
	case p.slow:
		if p.goodput >= 0.8*p.learnt {
			g := unconfirmedProbe
			if p.learn.holds() {
				g = heldProbe
			} else if p.probeG > 0 {
				g = p.probeG
			}
			r := p.learnt * (1 + g*dt)
			if p.ceiling > 0 {
				// A loose fit's record bounds the rate from above
				// (see learner.refilled): probe no higher. A quota
				// of 2/s burst 10 probed past its bound drew a gate
				// each time the burst ran out. The rate a record
				// was refused at is no such bound: a bucket of one
				// token refuses a pace under its rate now and then
				// (two requests that reach it closer than its
				// interval).
				r = min(r, max(p.learnt, refusalCap*p.ceiling))
			}
			p.learnt = r
		}
	default:
		p.learnt *= 1 + fastProbe*dt
		if p.learnt > forgetAt*p.goodput {
			p.learnt = 0 // out of the way: the concurrency limit holds the line
		}
	}
	return true
}
