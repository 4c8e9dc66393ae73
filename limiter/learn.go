package limiter

import (
	"math"
	"slices"
	"time"
)

// Learning a server's rate from throttles that close a gate (a Retry-After)
// where no quota is announced.
const (
	probeDouble  = 100 * time.Millisecond // while the host uses its rate, a probe doubles it this often
	maxSends     = 2048                   // the request starts a record keeps
	fitMargin    = 0.99                   // the rate paced at, relative to the lowest that fits
	coldThrottle = 4                      // a first throttle within this many RTTs of the first request came from a cold start's burst
	coldGate     = 20                     // or within its gate over this (see throttled)
	minFit       = 8                      // the fewest requests a record must hold to fit a rate
	minFitOne    = 3                      // or against a bucket of one token
	probeStart   = 2.0                    // a probe starts at this many times what the server admitted over the first throttle's episode and gate
	tightEpisode = 10 * time.Second       // a bucket of one token's refusal this soon after the gate before cuts twice as far as the last
	maxTight     = 4                      // and at most 2^maxTight times fitMargin's cut

	// A first throttle's episode that admitted from drainMin to under
	// drainMax requests (a burst of about ten) starts its probe from
	// drainStart times what it admitted over the episode and the gate, and
	// once the probe's record holds more requests than that, doubles
	// drainDouble times slower (see drainProbe). wholeMax: a first episode
	// that admitted under this many has its burst fitted in whole tokens
	// (see wholeBurst).
	drainMin    = 8
	drainMax    = 20
	drainStart  = 4.0
	drainDouble = 3.0
	wholeMax    = 20
	wholeSpan   = 0.03             // and where the record, at that burst, bounds the rate to within this
	reachSlack  = time.Millisecond // how much sooner than its start says a request may reach a server, next to one started before it

	// A first fit of a burst from looseMin to looseMax tokens whose record
	// bounds the rate to no better than looseSpan is probed from as from an
	// unconfirmed rate (see settle), where the gate before it was a
	// token's time (under outageRA). A narrower bound, or one of a larger
	// burst within bracketSpan, is probed up to at bracketProbe: the rate
	// lies under it, and the slow probe took minutes to close it (a host
	// up to a tenth under the server's rate for a whole crawl). Bursts of
	// one or two have probes of their own (their refused request's bound
	// is the client's timing noise: 50/s burst 2 probed so lost 5 points in
	// simulation); and a larger burst is not probed as unconfirmed: fitted
	// from a first record, it is as often a fixed window's count, which a
	// probe past its average refuses for nothing. A server whose
	// Retry-After is longer than a token takes (outageRA or more) makes
	// every refusal cost seconds, and a host paced at its lowest stays
	// there: its first fit, of a burst up to drainMax, is probed from where
	// its bound is looser by looseSpan for each second of the gate, as many
	// times slower (costly; see pushback.probeG).
	looseMin  = 3
	looseMax  = 10
	looseSpan = 0.12

	// bracketSpan is how far above its lowest a first fit's refused
	// request may bound the rate for the host to probe up to that bound at
	// bracketProbe (the fits seen bounded it within 2-16%). A looser bound
	// says little: a fixed window's count, fitted as a burst, has its
	// refused request need many times the window's average.
	bracketSpan = 0.25
)

// learner learns the rate and burst of a server taken for a token bucket,
// from when requests started and which were refused. Its inputs are sent
// (each request's start, numbered in order), succeeded (a request's
// number) and throttled (a refused request's number, when its refusal came
// and the gate it closed); its outputs are the rates throttled and settle
// return, lowest, and pacerBurst.
//
// The first throttle bounds the burst: at most the requests admitted
// before it (the successes of the requests sent before its gate). Each later one tells the rate: the lowest at which a bucket,
// refilled during the last gate, admits every request started since that
// gate ended, at the times they started. At the second, the burst is taken
// as the first throttle's requests less what the bucket refilled while they
// were sent at that rate; where that refill is more than half of them (the
// client did not start with a burst, so it may have sent below the rate for
// a while), the burst is not known and the learner is unsure. An unsure
// learner (from the first throttle, where that came long after the first
// request, or from that fit) fits its next record with the first throttle's
// episode, recorded (see episode), and where those two do not tell the
// burst, holds that record and fits it with the one after (jointFit): two
// records of different shapes tell the burst.
type learner struct {
	base    uint64        // the first throttle's episode holds the requests numbered above base
	firstAt time.Time     // the episode's first request's start
	work    time.Duration // the episode's first request that was not auxiliary, after firstAt (see worked)
	s1      float64       // requests admitted before the first throttle, once known
	t1      time.Duration // from the episode's drain (see drainFrom) to that throttle
	burst   float64       // the server's burst
	first   bool          // a throttle was seen: s1, t1 and burst are set
	known   bool          // the burst is known: the first throttle's requests were mostly the burst
	unsure  bool          // they were not: the burst is not known, and fit's rates are not to be trusted
	pending bool          // records.prev is to be learnt from when the gate ends
	aux     uint8         // 1 if the host's first request was auxiliary and is in the episode
	tight   uint8         // a bucket of one token's refusals in a row, each within tightEpisode of the gate before
	wide    bool          // the first fit is a loose bound from below (see settle)
	worked  bool          // work is set

	*records         // made at the first throttle, which most hosts never see
	cur0     float64 // the rate paced at when prev was closed
	s1ok     int32   // successes of the requests sent before the first throttle
	fits     int32   // the records learnt from
	weak     uint16  // the records in a row (but for empty ones) that bounded the rate from below by nothing

	// The first throttle's episode's last request that started with no
	// other in flight, after its first (see wholeBurst): its number less
	// base (0: none), and its start in microseconds after firstAt.
	aloneSeq uint8
	costly   bool // wide from a first fit behind a gate of outageRA or longer (see looseSpan): probed slower
	aloneAt  int32

	ep *episode // the first throttle's episode's request starts, until its first record is learnt from (nil: none)
}

// episode records the request starts of the first throttle's episode, from
// a host's first request (a cold start: the server's bucket full) to its
// first throttle, for the record after that throttle's gate to be fitted
// with (see episodeFit). It keeps the first epMax requests at most: a host
// that sent that many unthrottled is past its cold start. Starts are kept
// in microseconds after the learner's firstAt, as each request's answer
// comes with its permit's start (see started): made at a host's second
// request, 4 KB at most, let go at the first fit.
type episode struct {
	at    []int32  // the start of the request numbered base+1+i (-1: not known)
	ref   uint64   // the lowest number of the episode's refused requests (0: none yet)
	first [6]int32 // at's first requests, in the one allocation a host makes for its episode
}

// started notes that the request numbered seq started at start (zero: it
// was taken, and its start comes with its answer, as its permit's latency
// sample), for the first throttle's episode: before that throttle any
// request of the host's first epMax, after it those taken before it.
func (l *learner) started(seq uint64, start time.Time) {
	if !l.episodeWants(seq) {
		return
	}
	ep := l.ep
	if ep == nil {
		// A host's second request: one sent alone needs no episode
		// (most hosts of a crawl over many), and the first started at
		// firstAt.
		ep = new(episode)
		ep.at = append(ep.first[:0], 0)
		l.ep = ep
	}
	i := seq - l.base - 1
	if l.first && i >= uint64(len(ep.at)) {
		return
	}
	if i >= epMax {
		l.ep = nil
		return
	}
	for uint64(len(ep.at)) <= i {
		ep.at = append(ep.at, -1)
	}
	if !start.IsZero() {
		ep.at[i] = int32(min(max(0, start.Sub(l.firstAt).Microseconds()), math.MaxInt32))
	}
}

// episodeWants reports whether started wants the request numbered seq:
// the first throttle's episode is being recorded, or begins with it (its
// second request). After that throttle, started takes the starts of the
// episode's requests still in flight.
func (l *learner) episodeWants(seq uint64) bool {
	if seq <= l.base || l.firstAt.IsZero() {
		return false
	}
	return l.ep != nil || (!l.first && seq == l.base+2)
}

// epMax is the most requests of a first throttle's episode that a learner
// records: in the simulation a cold start sent 280 of them before its first
// throttle at 1,000/s behind 20 ms (burst 10), 540 with a burst of 100.
const epMax = 1024

// episodeSlack is jointSlack for the first throttle's episode (see
// episodeFit): its starts are read where each permit's is (its latency
// sample's, when its request began, or when it was taken, a listing
// page's or one sampling skipped), and a cold start's requests go out a
// few together: the episode's lowest rate read 4.5% over the server's end
// to end (700/s burst 10, 13 requests over 4.4 ms at its end).
const episodeSlack = 0.06

// episodeSpan is how far apart the rates of the bursts on which the first
// throttle's episode and the record after it agree may lie, for their joint
// fit to be taken as the server's (see episodeFit).
const episodeSpan = 0.06

// records are the learner's records of request starts.
type records struct {
	cur  record // the requests since the last learning gate ended
	prev record // the record before, closed by the last throttle

	// refusedAt is when the first throttle's refused request started,
	// after the first request of its episode that a server counts (0: not
	// known; see wholeBurst); refusedSeq is its number, and later counts
	// the episode's successes that started after it (see succeededAfter).
	// Where its start was not timed (a permit latency sampling skipped),
	// untimed is its number, and refusedAt the latest start of a request
	// of the episode numbered below it: a bound from below.
	refusedAt  time.Duration
	refusedSeq uint64
	untimed    uint64
	later      int
	whole      float64 // the first record's lowest rate, where its burst was fitted whole (see wholeBurst)
	low        float64 // the first record's lowest rate at the first episode's bound on the burst, where the first fit left the learner unsure (see settle)
	loose      float64 // the rate a loose first fit paced at, until the next record is learnt from (see learner.wide)

	// held is a record of an unsure learner (the first after a gate),
	// to its refused request, to be fitted with the next record (see
	// jointFit); heldN is its requests admitted.
	held     record
	heldN    int
	measure  float64 // the steady rate to pace at after holding a record that climbed (0: none)
	climbed  bool    // the pace rose by a tenth or more over the record the last throttle closed
	measured float64 // the rate paced at before that steady pace, until the record it leaves is learnt from
	jointHi  float64 // the rate the last joint fit's refused requests bound the server's by from above (0: none)
}

// record holds the requests started since from, the end of a gate that
// lasted gate (< 0: the bucket is taken as full at from, the record having
// dropped what came before).
type record struct {
	from    time.Time
	gate    time.Duration
	seq0    uint64          // the number of sends[0]
	sends   []time.Duration // each request's start, since from
	refused uint64          // once closed: the number of the first request refused
}

// recording reports whether sent wants the request numbered seq, aux if it
// is auxiliary.
func (l *learner) recording(seq uint64, aux bool) bool {
	return seq == l.base+1 || (l.records != nil && l.cur.sends != nil) || (!aux && !l.worked)
}

// recordingAlone reports whether sent wants the request numbered seq,
// started with no other of the host's in flight: one of the first
// throttle's episode that a burst fitted in whole tokens may start from
// (see wholeBurst).
func (l *learner) recordingAlone(seq uint64) bool {
	return !l.first && seq > l.base+1 && seq-l.base <= wholeMax+1
}

// sent notes that the request numbered seq started at now, alone if no
// other request of the host was in flight. An auxiliary request (a
// robots.txt, a listing page) counts as a request, but for a first one: a
// crawl's robots.txt, which servers commonly leave out of their quotas.
func (l *learner) sent(now time.Time, seq uint64, aux bool, alone bool) {
	if seq == l.base+1 {
		l.firstAt = now
		if aux && seq == 1 {
			l.aux = 1
		}
		// The episode is made at its second request (see started).
		l.ep = nil
	}
	if !aux && !l.worked {
		l.worked, l.work = true, now.Sub(l.firstAt)
	}
	l.started(seq, now)
	if alone && l.recordingAlone(seq) {
		l.aloneSeq, l.aloneAt = uint8(seq-l.base), int32(min(now.Sub(l.firstAt).Microseconds(), math.MaxInt32))
	}
	if l.records == nil {
		return
	}
	c := &l.cur
	if c.sends == nil {
		return
	}
	if len(c.sends) == 0 {
		c.seq0 = seq
	}
	if seq != c.seq0+uint64(len(c.sends)) {
		return
	}
	if len(c.sends) == maxSends {
		// Keep the later half, from a bucket taken as full: a lower bound
		// of what it held.
		h := maxSends / 2
		base := c.sends[h]
		for i, s := range c.sends[h:] {
			c.sends[i] = s - base
		}
		c.sends = c.sends[:maxSends-h]
		c.from, c.gate, c.seq0 = c.from.Add(base), -1, c.seq0+uint64(h)
	}
	c.sends = append(c.sends, max(0, now.Sub(c.from)))
}

// throttled learns from the request numbered seq, started at start (zero:
// not timed) and refused at now with a gate until until, cur being the rate
// the host was paced at (0: none) and rtt the host's smoothed RTT. At the
// first throttle it returns a probe's start and first set (the burst is
// bounded, the rate not known); at a later one it closes the record, returns
// cur, and settle tells the rate when the gate has ended. ok is false when
// there is nothing to learn: the request started before the record (it was
// refused for the throttle already learnt from), or it is a late answer that
// only corrects the record.
func (l *learner) throttled(now time.Time, seq uint64, start, until time.Time, cur float64, rtt time.Duration) (rate float64, first, ok bool) {
	gate := until.Sub(now)
	if !l.first {
		if l.firstAt.IsZero() || seq <= l.base {
			return 0, false, false
		}
		// The refill over the episode runs from when its bucket began to
		// drain: a robots.txt left out of it may have started long
		// before the work (on an HTTPS host it waits for its
		// connection's handshakes, 40 ms here), and a refill counted
		// over that time reads the burst short and the rate high.
		l.first, l.t1 = true, now.Sub(l.drainFrom())
		if l.ep != nil {
			l.ep.ref = seq
		}
		// A throttle later than a few round trips after the first request
		// of the host's work, and later than a twentieth of its gate, did
		// not come from a burst sent at a cold start. The twentieth holds
		// where round trips are short (a server near the client, whose
		// cold start is paced by the client's own supply of work, not by
		// its answers): should such an episode have been mostly the
		// server's rate and not its burst, the probe, from twice what the
		// server admitted over the episode and the gate, reaches that rate
		// within four doublings; an episode that was mostly burst, read as
		// a client's ramp, sends at once far above the rate and costs a
		// whole gate.
		el := now.Sub(l.firstAt.Add(l.work))
		l.unsure = rtt > 0 && el > coldThrottle*rtt && el > gate/coldGate
		l.restart(until, gate)
		if !start.IsZero() {
			l.refusedAt, l.refusedSeq = max(0, start.Sub(l.drainFrom())), seq
		} else {
			l.untimed = seq
		}
		// Twice what the server admitted over the episode and its gate: a
		// start from which doubling finds the rate in a few steps.
		// (The successes of the requests sent before it are not all in
		// yet: those sent before it were admitted, but for a first
		// auxiliary one.)
		n := seq - l.base - 1
		sent := float64(n - min(n, uint64(l.aux)))
		from := probeStart
		if a := l.admitted(); a >= drainMin && a < drainMax {
			// A burst of about ten: its requests said nothing of the
			// rate, and a probe from twice them over the gate spends
			// its first few hundred milliseconds far under a rate that
			// refills such a burst within a gate.
			from = drainStart
		}
		return from * max(1, sent, l.admitted()) / (l.t1 + gate).Seconds(), true, true
	}
	if l.ep != nil && seq > l.base && seq < l.ep.ref {
		// Of the first episode, refused before the request its
		// throttle came for, answered after it.
		l.ep.ref = seq
		return 0, false, false
	}
	c := &l.cur
	if l.unsure && !l.recordsUnsure() {
		// Without a record: a refusal that arrives before the last
		// gate ended was refused for the throttle that closed it.
		if now.Before(c.from) {
			return 0, false, false
		}
		l.restart(until, gate)
		return 0, false, true
	}
	if l.prev.holds(seq) && seq < l.prev.refused {
		// Refused before the request the record was closed at, answered
		// after it (the answers of requests in flight together come in
		// any order): that one was not the first refused.
		l.prev.refused = seq
		return 0, false, false
	}
	if !c.holds(seq) {
		if len(c.sends) > 0 && now.After(c.from) && until.After(c.from) {
			// A request outside the record (its permit taken before
			// the last gate, sent after it) was refused after the
			// record began, and closed a gate of its own: the
			// record's gaps would span that gate, and a bucket of
			// one token's fit read them as its rate (0.98/s for
			// 3/s, a crawl at a third of it). The record starts
			// over from that gate.
			c.sends = c.sends[:0]
			c.from, c.gate = until, gate
		}
		return 0, false, false
	}
	c.refused = seq
	l.restart(until, gate)
	l.pending, l.cur0 = true, cur
	return cur, false, true
}

// paused restarts the first throttle's episode after a pause that no
// throttle closed (a quota that said nothing remains), taken when seq
// requests were sent and none but the last is in flight: the server's
// bucket refilled during it, so the episode is the requests sent after it.
// A first throttle of a request sent before it (a cold start's burst, in
// flight when the pause began) would belong to the episode before: with
// requests in flight the episode is kept.
func (l *learner) paused(seq uint64, inFlight int) {
	if l.first || inFlight > 1 {
		return
	}
	l.base, l.firstAt, l.work, l.worked, l.aux, l.s1ok, l.aloneSeq = seq, time.Time{}, 0, false, 0, 0, 0
}

// oneToken takes the server, at now, for a bucket of one token (its quota
// headers said so) that admitted the requests numbered up to sent: the
// first throttle's bound on the burst is known, and the next throttle
// tells the rate from the requests started from now on.
func (l *learner) oneToken(now time.Time, sent uint64) {
	l.first, l.known, l.unsure = true, true, false
	l.base, l.firstAt, l.s1, l.burst, l.s1ok, l.ep = sent, now, 1, 1, 1, nil
	l.restart(now, 0)
	l.cur.sends = l.cur.sends[:0]
}

// oneTokenProbe reports whether the probe is to find the rate of a bucket
// of one token (its first record not yet fitted).
func (l *learner) oneTokenProbe() bool {
	return l.known && l.burst < 2 && l.fits == 0 && l.records != nil
}

// drainProbe reports whether the probe is past the burst of a first
// episode that admitted a burst of about ten (drainMin to drainMax): its
// record holds more requests than that burst, so a probe above the server's
// rate is draining the server's bucket. Doubling slower from there, the
// probe is refused nearer the rate, over a longer record: the record then
// bounds the rate to about 2% instead of 4-5% (a probe doubling every
// 100 ms is refused at about 2.6 times a rate of 100/s that a burst of 10
// holds 0.1 s; doubling every 300 ms, at 1.8 times, after 0.2 s more).
// Against a rate far above the probe the slower doubling costs little: it
// refills such a burst in a fraction of the probe's step.
func (l *learner) drainProbe() bool {
	if !l.first || l.fits != 0 || l.records == nil || l.unsure || l.pending {
		return false
	}
	a := l.admitted()
	return a >= drainMin && a < drainMax && float64(len(l.cur.sends)) > a
}

// admitted is what the server admitted before the first throttle: the
// successes of the requests sent before it, but for a first auxiliary one.
func (l *learner) admitted() float64 {
	return float64(l.s1ok) - float64(min(l.s1ok, int32(l.aux)))
}

// settle returns the rate to pace at from the record the last throttle
// closed, once its gate has ended (its requests' answers are in by then,
// whatever order they came in), and whether there was one to learn from.
func (l *learner) settle() (float64, bool) {
	if !l.pending {
		return 0, false
	}
	l.pending = false
	c, cur := &l.prev, l.cur0
	n := min(int(c.refused-c.seq0), len(c.sends))
	var r float64
	if l.fits == 0 && l.unsure {
		// Unsure since the first throttle (a cold start's ramp, not its
		// burst): the record since its gate is held, to be fitted with
		// the next one (see jointFit). A record that climbed (a probe
		// that grew) is followed by a steady pace just under the one it
		// was refused at: two records of different shapes tell the
		// burst.
		l.s1 = l.admitted()
		if b, lo, hi, ok := l.episodeFit(c, n); ok {
			l.burst, l.known, l.unsure, l.jointHi = b, true, false, hi
			r = min(lo, hi)
			l.refilled(c, n, r)
			return l.fitted(c, n, cur, r)
		}
		if r, ok := l.oneRefilled(c, n); ok {
			l.unsure = false
			return l.fitted(c, n, cur, r)
		}
		l.fits++
		if n >= minFit && n < len(c.sends) {
			l.hold(c, n)
			if cur > 0 && l.climbed {
				l.measure = fitMargin * cur
			}
		}
		return 0, false
	}
	if l.fits == 0 {
		told := l.known // by its headers (see oneToken)
		l.s1 = l.admitted()
		r = l.fit(c, n)
		// Too few requests, or a first throttle whose requests were
		// mostly refill, tell neither the burst nor the rate. Against a
		// bucket of one token each gap between two admitted requests
		// bounds the rate: three requests tell it. A bucket that admitted
		// one request and refused the next holds one token, however much
		// it refilled in between.
		l.known = (n >= minFit || (l.s1 <= 1 && n >= minFitOne)) && (l.s1 == 1 || r*l.t1.Seconds() <= l.s1/2)
		// A record after a gate that admitted fewer requests than the
		// burst was the gate's refill: where the first episode was
		// mostly the burst (under half a token's refill), it bounds the
		// rate from both sides however few it holds (see refillHi). A
		// quota of a few a second, whose gate refills a few tokens, was
		// left to the episode's estimate (87/s for 5/s burst 20), and
		// drew a gate every second or two.
		refill := !told && n >= 2 && r*l.t1.Seconds() <= 0.5 && refillHi(c, n, l.burst) > 0
		l.known = l.known || refill
		if l.s1 == 1 && !told && n > 0 && !l.known {
			// A bucket of one token holds none once it admits a
			// request: the first request after the gate, admitted,
			// came at most this long after the one the first episode
			// admitted, which started no sooner than the episode.
			// Fewer requests tell no more than that: the probe
			// crossed the rate between two of them (at a rate of a
			// few a second, a probe's step is a gap).
			r = max(r, 1/max(c.from.Add(c.sends[0]).Sub(l.drainFrom()), time.Millisecond).Seconds())
			l.known, l.burst = true, 1
			// The probe crossed the server's rate within a step or
			// two, up to four times the bound: probe from it as from
			// an unconfirmed rate.
			l.wide = true
		} else if !told && !l.known && n > 1 && l.s1 >= 2 && l.s1 < drainMin {
			if lo := c.lowest(l.s1, n); lo > 0 && lo*l.t1.Seconds() <= 0.5 {
				// Fewer than a few tokens admitted within less
				// than half a token's refill: the bucket held
				// that many.
				r, l.burst, l.known, l.wide = lo, l.s1, true, true
			}
		}
		if !told && !l.known && l.whole > 0 && n >= minFit {
			// The first episode's bounds fitted a burst of whole
			// tokens (see wholeBurst), though its refill was more than
			// half of what it admitted: a fast server, whose bucket a
			// cold start's requests, a few milliseconds apart, refill
			// by a token each. Those bounds lean on when each request
			// started and reached the server: a token lost to the
			// bucket's cap while the client waited for its first
			// answer, or a refused request that reached it late, puts
			// the fit a token short, and its lowest rate above the
			// server's. At a token more, the record's lowest is under
			// the server's rate either way.
			l.burst++
			l.whole = c.lowest(l.burst, n)
			r, l.known = l.whole, true
		}
		if !told && !l.known {
			if r1, ok := l.oneRefilled(c, n); ok {
				r = r1
			}
		}
		l.unsure = !l.known
		if !l.unsure {
			l.ep = nil
		} else if b, lo, hi, ok := l.episodeFit(c, n); ok {
			l.burst, l.known, l.unsure, l.jointHi, r = b, true, false, hi, min(lo, hi)
			l.refilled(c, n, r)
		}
		if l.unsure && n >= minFit && l.s1 >= 1 {
			// The record does not tell the burst, but the first
			// episode bounds it: a bucket that admitted s1 requests
			// held no more. At that burst the record's lowest rate
			// is under the server's, whatever its burst was.
			l.low = c.lowest(l.s1, n)
			if n < len(c.sends) {
				l.hold(c, n)
			}
		}
		if l.known && !told && !l.wide && l.whole == 0 && l.burst >= looseMin && n < len(c.sends) {
			switch hi := c.lowest(l.burst, n+1); {
			case c.gate >= outageRA:
				// Each refusal costs its gate, seconds of the rate,
				// but a host paced at the lowest and probing 0.1% a
				// second stays there: 5/s burst 10 behind 3 s, whose
				// record after the gate (paced at 85/s, the episode's
				// rate) bounded it at 3-5.7/s, got 57-68% of what it
				// allows over 30 s, 10/s burst 10 50-75%. Where the
				// bound is loose for the gate's cost, probe from the
				// lowest, as slowly as the gate is long: the next
				// refusal's record, paced near the rate for seconds,
				// tells it (74-82%, with one gate more).
				if l.burst <= drainMax && hi > (1+looseSpan*c.gate.Seconds())*r {
					l.wide, l.costly = true, true
				}
			case l.burst <= looseMax && hi > (1+looseSpan)*r:
				// The refused request bounds the rate from above,
				// far over the record's lowest: the probe crossed the
				// rate within a few tokens of the burst, and the
				// server's rate may be anywhere in between. Paced at
				// the lowest and probing slowly, the host would stay
				// up to a fifth under it for good: probe from it as
				// from an unconfirmed rate, whose next refusal's
				// record, paced near the rate, tells it.
				l.wide = true
			case hi > r && hi <= (1+bracketSpan)*r:
				// The refused request bounds the rate from above
				// within bracketSpan: the host probes up to that bound
				// faster than slowly (see pushback.bracket), since the
				// rate lies under it.
				l.jointHi = hi
			}
		}
		if refill {
			l.refilled(c, n, r)
		}
	} else if l.unsure {
		f := jointFit(&l.held, l.heldN, c, n, l.s1, jointSlack)
		b, lo, hi := f.burst, f.rate, f.hi
		if !f.ok {
			// The records disagree (timing, or a server that
			// changed): the episode's estimate stays (see
			// pace.estimate), and no record is kept.
			l.held = record{}
			return 0, false
		}
		l.burst, l.known, l.unsure, r, l.jointHi = b, true, false, min(lo, hi), hi
		l.held = record{}
	} else {
		r = c.lowest(l.burst, n)
		// A later record may be the gate's refill too (a pace that
		// drained the burst before its refusal): its lowest is a bound
		// from below only, which confirmed would hold the host there
		// (75% of 5/s burst 20).
		l.refilled(c, n, r)
	}
	return l.fitted(c, n, cur, r)
}

// refillHi returns the rate that record c's refused request bounds the
// server's by from above where its bucket, of burst b, never filled after
// the gate: a gate closed by a refusal opens on a bucket of under a token,
// which refills at the rate r until the record's request n+1 (the refused
// one) finds under a token again, so r·(gate + its start) < n+1 whatever the
// burst, as long as n+1 < b (the refill never reached the cap). 0 where the
// record tells no such bound: no gate before it, fewer than two requests
// admitted (a gate's end and its first request's jitter weigh on one), or
// a bucket that may have filled.
func refillHi(c *record, n int, b float64) float64 {
	if c.gate <= 0 || n < 2 || n >= len(c.sends) || float64(n+1) >= b {
		return 0
	}
	return float64(n+1) / (c.gate + c.sends[n]).Seconds()
}

// refilled marks a fit at r of record c, whose first n requests were
// admitted, as a loose bound from below where c was the gate's refill and
// its refused request bounds the rate (see refillHi) well over r: the host
// probes from r as from an unconfirmed rate (see learner.wide), to no
// higher than that bound (jointHi). A record of a few requests after a
// gate of a second spans its refill, which bounds the rate within a token
// of the gate's: 2/s burst 10 read at 1-2.7/s.
func (l *learner) refilled(c *record, n int, r float64) {
	if hi := refillHi(c, n, l.burst); hi > (1+looseSpan)*r {
		l.wide, l.jointHi = true, hi
	}
}

// oneRefilled fits a first record c after a gate that admitted one request
// (n == 1) and refused the next, where the first episode admitted at least
// three within less than half a token's refill of the rate the record bounds
// it by: the episode drained the burst, and the gate refilled a token or
// two. The bucket held under a token when the gate opened and under a token
// at the refused request, so r·(gate + its start) < 2: the rate lies under
// that bound, and no lower than half of it where the gate refilled the
// token admitted, which a server whose Retry-After is the time to its next
// token makes about a token's time (r·gate ≈ 1). The burst is the
// episode's; the rate is probed from half the bound, unconfirmed (see
// refilled), to no higher than the bound. A quota of one a second, burst
// 10, behind a Retry-After of a second, fitted nothing from such records
// and drew a gate every second or two.
func (l *learner) oneRefilled(c *record, n int) (float64, bool) {
	if n != 1 || c.gate <= 0 || n >= len(c.sends) || l.s1 < 3 {
		return 0, false
	}
	hi := 2 / (c.gate + c.sends[1]).Seconds()
	if hi*l.t1.Seconds() > 0.5 {
		return 0, false
	}
	// A bucket of one token refuses the second request for its cap,
	// whatever it refilled during the gate: that bound holds only where
	// the episode rules such a bucket out. One admits s1 requests over
	// t1 at (s1-1)/t1 at least, a rate that would have admitted the
	// second request too. A bucket of one token at 100/s that admitted
	// three requests 10 ms apart, refused the next and, after the gate,
	// one of two 5 ms apart was taken for a burst of 3 and paced at
	// 1/s.
	if (l.s1-1)/l.t1.Seconds()*(c.sends[1]-c.sends[0]).Seconds() < 1 {
		return 0, false
	}
	l.burst, l.known, l.wide, l.jointHi = l.s1, true, true, hi
	return hi / 2, true
}

// fitted returns the rate to pace at from record c, whose first n requests
// were admitted, fitted at r; cur is the rate paced at when c was closed.
func (l *learner) fitted(c *record, n int, cur, r float64) (float64, bool) {
	// The rate a loose first fit paced at (see wide), for the record the
	// probe from it left.
	loose := l.loose
	l.loose = 0
	l.fits++
	// A bucket of one token refused a request while paced at cur: two
	// requests reached it closer than its interval, however far apart
	// they were sent (their ways to it differ by some jitter). Each such
	// refusal within tightEpisode of the gate before cuts twice as far as
	// the last (tightCut), so that the pace finds its margin under the
	// server's rate in a few gates, not one percent a gate.
	tightCut := cur
	if l.fits > 1 && l.known && l.burst < 2 && cur > 0 && n > 0 {
		tightCut = cur * (1 - (1-fitMargin)*float64(uint(1)<<l.tight))
		if c.sends[len(c.sends)-1] < tightEpisode {
			l.tight = min(l.tight+1, maxTight)
		} else {
			l.tight = 0
		}
		if n == 2 {
			// Its one gap is the first after the gate, which the
			// pacer stretched (see pace.stretchAfterGate): it bounds
			// the rate at two thirds of cur, not at the server's.
			l.weak = 0
			if loose > 0 {
				return min(loose, tightCut), true
			}
			return tightCut, true
		}
	}
	weak := l.weak
	l.weak = 0
	if l.fits > 1 && c.admits(l.burst, 0, n) {
		// A bucket admits these requests at any rate (none, or the token
		// it held when the gate ended): the record bounds the rate from
		// below by nothing.
		l.weak = weak + 1
		switch {
		case cur <= 0:
			return 0, true
		case n == 0:
			// Refused as the gate ended: the server is down, or its
			// Retry-After too short for a token. The gates hold the
			// host; an outage of many must not take its rate away.
			l.weak = weak
			return cur, true
		case weak == 0 && loose > 0:
			// The probe from a loose bound crossed the server's rate
			// and left nothing better: back to that bound.
			return min(loose, fitMargin*cur, tightCut), true
		case weak == 0:
			// Its refusal says only that the rate paced at was not
			// under the server's, as a record fitted at that rate says
			// (once, it may be the timing of two requests).
			return min(fitMargin*cur, tightCut), true
		default:
			// Again: the server's rate has fallen under it.
			return cur / 2, true
		}
	}
	rate := fitMargin * r
	if l.fits == 1 && l.whole > 0 {
		// The record bounds the rate from below, at a burst the first
		// episode tells to the token and to within wholeSpan from
		// above: its lowest is under the server's rate already.
		rate = r
	}
	if cur > 0 {
		rate = min(rate, fitMargin*cur)
		if l.fits > 1 {
			// A record fitted under a burst the server no longer has
			// may bound the rate far under it: one record cuts a
			// fitted rate by half at most.
			rate = max(rate, cur/2)
		}
	}
	if rate <= 0 {
		rate = cur / 2
	}
	if cur > 0 {
		// With no rate paced at (a first throttle read as an outage's),
		// tightCut is 0: the record's fit stands.
		rate = min(rate, tightCut)
	}
	if l.wide {
		l.loose = rate
	}
	return rate, true
}

// succeeded notes that the request numbered seq succeeded at now (zero: not
// timed): the server admitted it. Until the first throttle's record is
// learnt from, the successes of the requests numbered before its gate count
// as what its episode admitted, but for one answered after the gate ended:
// a request whose permit was taken before the throttle and that waited at
// the gate (see Host.AwaitGate), sent after it on the bucket's refill. A
// crawl's listing page read ahead, and the items taken with it, so counted
// made a bucket of one token at 10/s look like one of two or three, fitted
// at 0.4-0.7/s.
func (l *learner) succeeded(now time.Time, seq uint64) {
	if seq <= l.base {
		return
	}
	if !l.first || (l.fits == 0 && !l.pending && !l.cur.holds(seq) && (now.IsZero() || now.Before(l.cur.from))) {
		l.s1ok++
	}
}

// drainFrom is when the first episode's bucket began to drain: the first
// request's start, or the first work request's where the first was left
// out of the episode (a robots.txt sent alone before the work; see aux).
func (l *learner) drainFrom() time.Time {
	if l.aux == 1 && l.worked {
		return l.firstAt.Add(l.work)
	}
	return l.firstAt
}

// succeededAfter notes that the request numbered seq, started at start,
// succeeded: one of the first throttle's episode that started after its
// refused request (by more than reachSlack, so that it cannot have reached
// the server before it) was admitted on a token refilled since (see
// wholeBurst).
//
// Where the refused request's start was not timed, a request of the episode
// numbered below it, taken before it, started no later but for the
// scheduling of the two (reachSlack): its start, if timed, bounds the
// refused request's from below (the answers of the requests taken just
// before it mostly come after its refusal).
func (l *learner) succeededAfter(seq uint64, start time.Time) {
	if l.records != nil && l.untimed != 0 && seq > l.base && seq < l.untimed && !start.IsZero() && l.fits == 0 && !l.pending {
		l.refusedAt = max(l.refusedAt, start.Sub(l.drainFrom())-reachSlack)
		return
	}
	if l.records == nil || l.refusedSeq == 0 || seq <= l.refusedSeq || start.IsZero() || l.fits != 0 || l.pending || l.cur.holds(seq) {
		return
	}
	if start.Sub(l.drainFrom()) > l.refusedAt+reachSlack {
		l.later++
	}
}

// holds reports whether the request numbered seq is in the record.
func (c *record) holds(seq uint64) bool {
	return len(c.sends) > 0 && seq >= c.seq0 && seq < c.seq0+uint64(len(c.sends))
}

// restart closes the current record, kept until its answers are in, and
// begins a new one at until, after a gate of gate, with the next request
// that starts (none start while the gate is closed).
func (l *learner) restart(until time.Time, gate time.Duration) {
	if l.records == nil {
		l.records = new(records)
	}
	if l.unsure && !l.recordsUnsure() {
		l.cur, l.prev = record{from: until}, record{}
		return
	}
	l.prev, l.cur = l.cur, record{sends: l.prev.sends[:0]}
	if l.cur.sends == nil {
		l.cur.sends = make([]time.Duration, 0, 64)
	}
	l.cur.from, l.cur.gate = until, gate
}

// fit returns the lowest rate at which a bucket admits the record's first n
// requests, with the burst that goes with it (left in l.burst): at most s1
// less the refill at that rate over t1, but at least the smallest with
// which the record is consistent (a bucket admitting the first n requests
// must be able to refuse request n).
func (l *learner) fit(c *record, n int) float64 {
	if b, ok := l.wholeBurst(c, n); ok {
		l.burst = b
		l.whole = c.lowest(b, n)
		return l.whole
	}
	top := max(1, l.s1+1)
	b := bisect(1, top, func(b float64) bool { return l.s1+0.5-c.lowest(b, n)*l.t1.Seconds() >= b })
	// A server's bucket holds whole tokens: of the bounds a token apart
	// (it admitted s1 requests and refused the next, less the refill over
	// t1), b is the middle, and the whole number between them the
	// nearest. That holds where the refill over t1 is under half a token
	// (t1 runs to the refusal's answer, not to the refused request's
	// start, so a larger refill is over-stated). The half a token of slack
	// would let a bucket of one or two admit a short gap, and the rate
	// fitted to it fall far under the server's.
	if c.lowest(b, n)*l.t1.Seconds() <= 0.5 {
		// b is the middle of [s1 - refill, s1 + 1 - refill): the whole
		// number in that span is the one below b+0.5 (a bucket that
		// admitted s1 with no refill holds s1, not s1+1).
		b = max(1, math.Ceil(b-0.5))
	}
	if n < len(c.sends) {
		fits := func(b float64) bool { return c.lowest(b, n) < c.lowest(b, n+1) }
		if !fits(b) {
			b = max(b, bisect(1, top, func(b float64) bool { return !fits(b) }))
			if !fits(b) {
				b = min(top, b+0.05)
			}
		}
	}
	l.burst = b
	return c.lowest(b, n)
}

// wholeBurst returns the largest burst of whole tokens with which the first
// throttle's episode and the record's first n requests agree, where the
// first throttle's refused request's start is known and that episode
// admitted from 2 to under wholeMax requests. A bucket full at the episode's
// first request admitted s1 requests but for those that started after the
// refused one (see succeededAfter) and refused it, which reached it
// refusedAt later: b + r·refusedAt < s1 + 1 (refusedAt less reachSlack: the
// first request of a cold start may reach the server late, on a new
// connection), and b ≥ s1 − r·t1 (its tokens and the refill until the
// refusal came back), r being the lowest rate at which a bucket of b admits
// the record's requests, and the record (refused at request n+1) bounds the
// rate at that burst to within wholeSpan. A server's bucket holds whole
// tokens; of those that agree, the largest is the one whose rate is lowest.
// A burst fitted half a token short puts the rate half a token over the
// record's span above the server's (at 100/s over a probe of 0.4 s, 1.3%),
// where a pace drains a burst of 10 within seconds: the fitted burst of a
// few tokens is what decided whether a host drew a third gate within its
// first 10 s. A larger burst keeps the fit's middle (a token is a smaller
// share of it).
func (l *learner) wholeBurst(c *record, n int) (float64, bool) {
	s1 := l.s1 - float64(l.later)
	if l.refusedAt <= 0 || s1 < 2 || s1 >= wholeMax || n == 0 {
		return 0, false
	}
	t := max(0, l.refusedAt-reachSlack).Seconds()
	// A request that started alone after the episode's first, all the
	// requests before it answered, may have found the bucket full again:
	// a client that paused between its first request and the rest (a
	// crawl writing its first listing page's items before it fetches
	// them) had the bucket refill up to its cap meanwhile, and the refill
	// over the whole episode over-states what it held. The bucket held no
	// more than it would from either start; a burst is too large only if
	// from both it would have admitted the refused request. That request
	// went on the connection of the one answered before it: it reached
	// the server when it started. Where the episode's refill is more than
	// half of what it admitted, settle's token more covers that loss.
	ta, pre := -1.0, 0.0
	if l.aloneSeq > 0 {
		at := time.Duration(l.aloneAt)*time.Microsecond - l.drainFrom().Sub(l.firstAt)
		pre = float64(l.aloneSeq) - 1 - float64(l.aux)
		if at > 0 && at < l.refusedAt && pre >= 1 && pre < s1 {
			ta = (l.refusedAt - at).Seconds()
		}
	}
	for k := math.Floor(s1); k >= 1; k-- {
		r := c.lowest(k, n)
		if k+r*t >= s1+1 && (ta < 0 || k+r*ta >= s1-pre+1 || r*l.t1.Seconds() > s1/2) {
			continue
		}
		if k < s1-r*l.t1.Seconds()-0.5 || n >= len(c.sends) {
			return 0, false
		}
		if hi := c.lowest(k, n+1); r >= hi || hi > (1+wholeSpan)*r {
			// The record bounds the rate too loosely for its lowest
			// to be the rate: the middle fit errs both ways, and
			// fitMargin under it mostly under the server's.
			return 0, false
		}
		return k, true
	}
	return 0, false
}

// hold keeps a copy of record c to its refused request, the n before it
// admitted, to fit it with the next record (see jointFit).
func (l *learner) hold(c *record, n int) {
	l.held = record{from: c.from, gate: c.gate, seq0: c.seq0, sends: slices.Clone(c.sends[:n+1]), refused: c.refused}
	l.heldN = n
}

// recordsUnsure reports whether an unsure learner records its requests:
// from its first throttle's gate, until it holds a record to fit the next
// one with, and while it does.
func (l *learner) recordsUnsure() bool {
	return l.fits == 0 || (l.records != nil && l.held.sends != nil)
}

// holds reports whether the learner, unsure, holds a record to fit the next
// one with (see jointFit).
func (l *learner) holds() bool { return l.unsure && l.records != nil && l.held.sends != nil }

// jointSlack is how far over the rate one record's refused request bounds
// the server's by the other's lowest may be, for the two to agree: a
// request's start is not when it reached the server (a connection, a
// runtime, a loaded loopback), and a record a few hundred requests long
// read so bounds the rate a percent or two off. The fit then takes the
// lower of the two.
const jointSlack = 0.03

// jointSteps is the bisection steps of jointFit's bounds: to a few parts
// in a million, far under what the records' timing tells, for fewer passes
// over them under the host's lock.
const jointSteps = 20

// joint is what jointFit found: the burst on which two records agree best
// and the lowest rate at which a bucket of it admits both (hi: the lowest
// that admits the refused one of either too), and the lowest and highest
// such rates of the bursts they agree on about as well (a span that tells
// how well the two records tell the burst apart).
type joint struct {
	burst, rate, hi float64
	low, top        float64
	kmin            float64 // the smallest of those bursts
	ok              bool
}

// jointFit returns the burst of at most bmax tokens on which both records
// agree best, a bucket full when each began, and the lowest rate at which
// such a bucket admits the first n of each (hi: the lowest that admits the
// refused one of either too). Each record's requests up to its refused one
// bound the rate from below at a given burst, and its refused one from
// above; one record alone leaves the burst open, and its lowest rate at the
// first episode's bound on the burst is far under the server's. Two records
// sent at different paces (a steady rate, a climb) agree only near the
// server's burst. Bursts are tried from one token, a fiftieth apart (a token
// at least), and the one whose lowest over highest rate is least is taken:
// about a hundred tries over two records of a few hundred requests, 5-17 ms
// on a loaded 2-core machine, once per throttle of an unsure host.
func jointFit(a *record, na int, c *record, nc int, bmax, slack float64) (f joint) {
	if na == 0 || nc == 0 || na >= len(a.sends) || nc >= len(c.sends) || bmax < 1 {
		return f
	}
	agree := func(k float64) (lo, hi float64, ok bool) {
		lo = max(a.lowestTo(k, na, jointSteps), c.lowestTo(k, nc, jointSteps))
		hi = min(a.lowestTo(k, na+1, jointSteps), c.lowestTo(k, nc+1, jointSteps))
		// A burst too small for either record's requests at any rate
		// (two went out together to a bucket of one) agrees on none.
		return lo, hi, lo < (1+slack)*hi && a.admits(k, lo, na) && c.admits(k, lo, nc)
	}
	// A burst over a record's admitted requests would have admitted its
	// refused one at any rate, where its bucket was full when it began
	// (no gate before it) or may have been (a gate's refill of one).
	// After a gate, a bucket refilled by fewer tokens than its burst
	// admits fewer requests than that: 2/s burst 40, whose record after
	// a gate of a second admitted 3, was fitted at burst 3 and 965/s.
	if a.gate < 0 || na < 2 {
		bmax = min(bmax, float64(na))
	}
	if c.gate < 0 || nc < 2 {
		bmax = min(bmax, float64(nc))
	}
	best := math.Inf(1)
	var agreed [][3]float64 // each agreeing burst's lowest rate, its lowest over highest, and the burst
	near, nearest := 0.0, math.Inf(1)
	try := func(k float64) {
		lo, h, ok := agree(k)
		if lo/h < nearest {
			near, nearest = k, lo/h
		}
		if !ok {
			return
		}
		agreed = append(agreed, [3]float64{lo, lo / h, k})
		if lo/h < best {
			best, f.burst, f.rate, f.hi = lo/h, k, lo, h
		}
	}
	for k := 1.0; k <= bmax; k += max(1, math.Floor(k/50)) {
		try(k)
	}
	// Past 100 tokens the bursts tried are a few apart, where a record
	// that drained a bucket within its refill of a token or two (a cold
	// start's burst of 200 at 20/s) agrees with the other on one burst
	// alone: the whole bursts around the one nearest to agreeing are
	// tried too.
	if step := math.Floor(near / 50); step > 1 {
		for k := near - step + 1; k < near+step && k <= bmax; k++ {
			if k != near {
				try(k)
			}
		}
	}
	// The span: the bursts that agree within jointSlack of the best (of
	// one, where the best overlaps).
	f.low = math.Inf(1)
	for _, g := range agreed {
		if g[1] < max(1, best)*(1+jointSlack) {
			f.low, f.top = min(f.low, g[0]), max(f.top, g[0])
			if f.kmin == 0 || g[2] < f.kmin {
				f.kmin = g[2]
			}
		}
	}
	f.ok = f.burst > 0
	return f
}

// bisect returns the largest x in [lo, hi], to 0.05, at which ok holds,
// assuming ok holds below some x and not above it; lo if it holds nowhere.
func bisect(lo, hi float64, ok func(float64) bool) float64 {
	if ok(hi) {
		return hi
	}
	if !ok(lo) {
		return lo
	}
	for hi-lo > 0.05 {
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// admits reports whether a bucket of burst b refilling at r admits the
// record's first n requests.
func (c *record) admits(b, r float64, n int) bool {
	tokens := b
	if c.gate >= 0 {
		tokens = min(b, 1+r*c.gate.Seconds())
	}
	var at time.Duration
	for _, s := range c.sends[:n] {
		tokens = min(b, tokens+r*(s-at).Seconds())
		at = s
		if tokens < 1 {
			return false
		}
		tokens--
	}
	return true
}

// lowest returns the lowest rate at which a bucket of burst b admits the
// record's first n requests (0 for none).
func (c *record) lowest(b float64, n int) float64 { return c.lowestTo(b, n, 32) }

// lowestTo is lowest to steps steps of bisection: to within 2^-steps of a
// bound at least twice it.
func (c *record) lowestTo(b float64, n, steps int) float64 {
	if n == 0 {
		return 0
	}
	hi := float64(n)/max(c.sends[n-1].Seconds(), 1e-3) + 1
	for i := 0; i < 64 && !c.admits(b, hi, n); i++ {
		hi *= 2
	}
	lo := 0.0
	for range steps {
		mid := (lo + hi) / 2
		if c.admits(b, mid, n) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// episodeFit fits the first throttle's episode (see episode) with record
// c, whose first n requests were admitted (see jointFit), and lets the
// episode go. A bucket full at a cold start and drained by the client's
// ramp, and the same bucket refilled during a gate and drained at a pace,
// agree near the server's burst, where the two drained it over different
// times. Where they drained it over about the same time (a first pace
// near the episode's rate, which its burst inflated), they agree on a line
// of bursts and rates: 200/s burst 10 fitted at burst 4 to 13 for 288 to
// 160/s, 2,000/s burst 10 at 9 to 97 for 2,054 to 206/s. Only where the
// bursts they agree on span rates within episodeSpan is the fit taken;
// otherwise the record is held as before.
func (l *learner) episodeFit(c *record, n int) (burst, rate, hi float64, ok bool) {
	ep := l.ep
	l.ep = nil
	a := uint64(l.aux)
	if ep == nil || n == 0 || n >= len(c.sends) || ep.ref <= l.base+1+a || ep.ref-l.base > uint64(len(ep.at)) {
		return 0, 0, 0, false
	}
	// Requests sent together reach the server in any order: of the
	// episode's, the bucket admitted s1 before it ran dry, whichever
	// they were. Their starts, in order, and the next one's are the
	// record: each must be known (a request whose permit was not timed,
	// in-process work's, leaves the episode's shape open).
	ne := max(int(ep.ref-(l.base+1+a)), int(l.s1))
	if ne+int(a) >= len(ep.at) {
		return 0, 0, 0, false
	}
	e := record{from: l.firstAt, gate: -1, seq0: l.base + 1 + a, sends: make([]time.Duration, ne+1)}
	for i := range e.sends {
		us := ep.at[int(a)+i]
		if us < 0 {
			return 0, 0, 0, false
		}
		e.sends[i] = time.Duration(us) * time.Microsecond
	}
	slices.Sort(e.sends)
	f := jointFit(&e, ne, c, n, max(1, l.s1), episodeSlack)
	if !f.ok {
		return 0, 0, 0, false
	}
	if f.top > (1+episodeSpan)*f.low {
		// Where the record is the gate's refill at every burst they
		// agree on (see refillHi), its refused request bounds the rate
		// whatever the burst: the lowest of the span is a bound from
		// below, probed from up to that one (see refilled).
		if refillHi(c, n, f.kmin) <= 0 {
			return 0, 0, 0, false
		}
		return f.burst, f.low, f.hi, true
	}
	return f.burst, f.rate, f.hi, true
}

// pacerBurst is the burst a pacer under the learnt rate r may use: half the
// server's, so that a pacer that woke late catches up on tokens the server
// holds. Where the server's burst is not known, a token and what r refills
// over wakeSlack, rounded: a host paced a few milliseconds or less between
// requests waits for each token on a timer, which on a loaded runtime fires
// up to a millisecond or two late, and a pacer that may save no token loses
// each late wake (2,000/s was paced at 850/s).
func (l *learner) pacerBurst(r float64) int {
	if !l.known {
		return 1 + int(math.Round(r*wakeSlack.Seconds()))
	}
	return max(1, int(math.Floor(l.burst/2)))
}

// lowest returns the lowest rate the first record bounds the server's
// rate by, at the first episode's bound on the burst, where the first fit
// left the learner unsure (0: none).
func (l *learner) lowest() float64 {
	if l.records == nil {
		return 0
	}
	return l.low
}
