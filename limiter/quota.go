package limiter

import "time"

// Reading announced quotas: what Remaining = 0 means depends on how the
// server refills, which its headers do not say, so a host learns it.
const (
	refillSpan   = 250 * time.Millisecond  // the shortest span the refill rate is measured over
	quotaReserve = 20                      // a continuous quota is paced to keep Limit/quotaReserve in Remaining
	movingReset  = refillSpan              // a Reset that moved this far in small steps may be a bucket's
	spreadSpan   = 1900 * time.Millisecond // the longest span a continuous refill is looked for in: at most two ends of windows of a second or more
	resetSlack   = time.Second             // how late a Reset in Unix seconds may be read (the Date header's rounding)
	resetJitter  = 10 * time.Millisecond   // how much earlier a Reset may be read than the one before it in the same window
	fullSpan     = 1500 * time.Millisecond // how far a bucket kept full names its Reset in Unix seconds, read through the Date header
)

// refill is how an announced quota was seen to refill.
type refill int

const (
	refillUnknown    refill = iota
	refillAtReset           // Remaining jumps back up when Reset passes: a fixed window
	refillContinuous        // Remaining climbs before Reset, or does not jump at it: a sliding window or a token bucket
)

// quotaReader learns, from the quotas a host announces one response after
// another, how the quota refills and at what rate, and turns each into the
// rate to pace the host at and whether it must pause.
type quotaReader struct {
	mode    refill
	moving  bool          // Reset moves with every answer (the time until a bucket is full), not a window's end
	window  time.Duration // the distance between successive windows' Resets, 0 = not seen
	span    time.Duration // until then, the distance between the Resets of a window and the next, where Remaining did not jump
	curMin  time.Time     // the earliest Reset seen in the current window
	prevMin time.Time     // and in the window before
	ends    int           // the windows' ends seen
	at      time.Time     // when the last quota was seen
	reset   time.Time     // the last Reset seen
	first   time.Time     // the first Reset of the current run of Resets moving forward in small steps
	step    time.Duration // the longest of those steps
	spread  spread        // how the quota refilled during that run
	rem     int           // the last Remaining seen
	most    int           // the highest Remaining seen, for a Limit the server does not give

	// the answers that first showed a window's refill, the last two: where
	// Reset is rounded to whole seconds ahead (a delay), they tell when a
	// window really ends; unless Remaining plus the requests sent rose
	// since one (refillsBetween), from jumpX
	jumpAt, jumpPrev time.Time
	jumpX            int64
	jumpFlight       int // the most requests in flight since jumpAt
	refillsBetween   bool

	// Remaining held at least the refill until Reset since allowSince: it
	// counts what is allowed until Reset, refill included (allowance), not
	// the tokens above it
	allowSince time.Time
	allowance  bool
	spare      int // an allowance's requests beyond the refill until Reset: the tokens the server holds now

	// the refill rate: Remaining's rise plus the requests sent, over time
	anchorAt   time.Time
	quiet      time.Time // an allowance's refusal holds the host until then: no span begins before
	anchorRem  int
	anchorSent uint64
	rate       float64
}

// observe reads q, announced at now after sent permits were handed out with
// inFlight of them not yet released. It returns the rate the quota allows
// (0: none) until end, and the time the host must pause until (zero: none).
func (r *quotaReader) observe(now time.Time, q Quota, sent uint64, inFlight int, horizon time.Duration) (rate float64, end, pause time.Time) {
	r.classify(now, q, sent, inFlight)
	r.measure(now, q, sent)
	r.at, r.reset, r.rem, r.most = now, q.Reset, q.Remaining, max(r.most, q.Remaining)

	limit := q.Limit
	if limit == 0 {
		limit = r.most
	}
	window := q.Window
	if window == 0 {
		window = r.window
	}
	if window == 0 {
		window = r.span
	}
	left := min(q.Reset.Sub(now), horizon)
	reserve := max(1, limit/quotaReserve)
	r.spare = 0
	r.learnAllowance(now, q, left)
	if r.mode == refillContinuous {
		if r.most <= 1 {
			// A bucket of a token or two says Remaining 0 or 1 whatever
			// the rate it is sent at: its refill shows only in its
			// refusals, which teach the rate as where no quota is
			// announced.
			return 0, time.Time{}, time.Time{}
		}
		end = now.Add(max(left, time.Second, window))
		switch {
		case r.allowance && q.Remaining == 0 && r.rate > 0:
			// A refusal: it holds the host until its Reset (the wait
			// for a token), and the server refills meanwhile and after
			// at its rate. Nothing remaining spread over that wait, a
			// request a second, would slow the host long after it (the
			// requests waiting for a token wake only at theirs). Nor
			// slower than that: a refill measured low would hold a
			// host with nothing in flight, no answer to raise it.
			rate = max(r.rate, 1/left.Seconds())
			return rate, end, now.Add(left)
		case r.allowance:
			// Remaining already counts the refill until Reset: spread it
			// over that time, less one, like a window's. Each answer
			// spreads it anew, so a pacer that wakes late finds the
			// tokens it left unused added to the rate. It is the server's
			// own figure for the time to Reset: Limit/Window does not cap
			// it.
			rate = float64(max(1, q.Remaining-1)) / left.Seconds()
			r.spare = q.Remaining - 1 - int(r.rate*left.Seconds())
		case window > 0 && !r.moving && limit > reserve:
			// A sliding window: Remaining reacts a window late to the rate
			// (the previous window weighs in), so pace at its steady rate
			// less the reserve, which keeps Remaining above it.
			rate = float64(limit-reserve) / window.Seconds()
			// What Remaining holds above the reserve the server admits
			// now: a pacer that wakes late may catch up on half of it.
			r.spare = q.Remaining - reserve - inFlight
		default:
			// A bucket: pace at the refill rate, plus what Remaining holds
			// above the reserve, so Remaining settles at the reserve. While
			// it stays full the refill hides behind the bucket's cap.
			// A bucket smaller than the reserve keeps a quarter of it.
			reserve = max(1, min(reserve, r.most/4))
			rate = max(r.rate/2, r.rate+float64(q.Remaining-reserve))
			if r.full(q.Remaining) {
				// What it refilled beyond what was sent was lost to its
				// cap: the rate measured is only a floor. At least
				// double it, and spend what it holds above the reserve
				// (less what the requests in flight take) within a
				// span the refill is measured over, so the next span
				// shows the refill or starts from a rate that much
				// higher.
				excess := float64(q.Remaining-reserve-inFlight) / refillSpan.Seconds()
				rate = max(rate, 2*r.rate, r.rate+excess)
			}
			// The server holds Remaining now, less what the requests in
			// flight take: a pacer that wakes late may catch up on half.
			r.spare = q.Remaining - inFlight
		}
		if q.Limit > 0 && q.Window > 0 && !r.allowance {
			rate = min(rate, float64(q.Limit)/q.Window.Seconds())
		}
		if q.Remaining == 0 && rate > 0 {
			// It refills before Reset: wait for one request's worth.
			pause = now.Add(min(left, time.Duration(float64(time.Second)/rate)))
		}
		return rate, end, pause
	}
	next, ended := r.nextEnd(now)
	ended = ended && next.Before(q.Reset)
	if q.Remaining == 0 {
		if ended {
			return 0, time.Time{}, next
		}
		return 0, time.Time{}, q.Reset
	}
	spread, over := q.Remaining, left
	switch {
	case ended:
		// The refills seen show when it refills: what the requests in
		// flight will take is spent already.
		left = min(left, next.Sub(now))
		over = left
		spread = max(1, spread-inFlight)
	case r.mode == refillUnknown && q.Limit >= quotaReserve:
		// Until a Reset shows the quota refills then, keep the reserve: a
		// sliding window used up at its Reset stays used up after it.
		// A quota full again by the next second or so (a bucket's Reset
		// is when it is full) that never held four reserves keeps a
		// quarter of the most it held: a bucket smaller than the reserve
		// could never keep it, and would be paced at a request a second.
		if left < fullSpan {
			reserve = max(1, min(reserve, r.most/4))
		}
		spread = max(1, spread-reserve)
		if left < fullSpan && 2*r.most <= q.Limit {
			// Nor did it ever hold half its Limit: a bucket of fewer
			// tokens than its Limit (or a window others use). Until
			// Reset it allows no more than Remaining whatever the pace:
			// spent within a span the refill is measured over, less
			// what the requests in flight take, it shows sooner whether
			// it refills between answers. Spread over the second, a
			// bucket refilling faster hides its refill behind its cap.
			spread = max(1, spread-inFlight)
			over = min(left, refillSpan)
		}
	}
	rate = float64(spread) / over.Seconds()
	if q.Limit > 0 && q.Window > 0 {
		rate = min(rate, float64(q.Limit)/q.Window.Seconds())
	}
	return rate, now.Add(left), time.Time{}
}

// classify learns how the quota refills from q and the last quota seen.
func (r *quotaReader) classify(now time.Time, q Quota, sent uint64, inFlight int) {
	if r.reset.IsZero() {
		r.first, r.step = q.Reset, 0
		r.spread.restart(now, int64(q.Remaining)+int64(sent))
		return
	}
	// The answers since the last window began, without this one, and
	// whether they all named the same Reset.
	within, still := r.spread, r.reset.Sub(r.first) <= resetJitter
	r.spread.observe(now, int64(q.Remaining)+int64(sent), inFlight)
	r.jumpFlight = max(r.jumpFlight, inFlight)
	switch x := int64(q.Remaining) + int64(sent); {
	case !within.at.IsZero() && x-within.x > int64(max(inFlight, within.flight)+1):
		r.jumpPrev, r.jumpAt, r.jumpX, r.jumpFlight = r.jumpAt, now, x, inFlight
	case !r.jumpAt.IsZero() && x-r.jumpX > int64(r.jumpFlight+1):
		// It refilled after a window's refill, before the next: a
		// bucket emptied and asked again once it refilled.
		r.refillsBetween = true
	}
	if q.Reset.Before(r.curMin) || r.curMin.IsZero() {
		r.curMin = q.Reset
	}
	limit := q.Limit
	if limit == 0 {
		limit = r.most
	}
	d := q.Reset.Sub(r.reset)
	if d > 0 && d < time.Second/2 {
		r.step = max(r.step, d)
	}
	switch {
	case r.moving:
	case r.mode != refillContinuous && (still && d.Abs() <= resetJitter && r.spread.refilled() || r.spread.steady()) &&
		q.Limit > 0 && 2*max(r.most, q.Remaining) <= q.Limit && r.full(q.Remaining) && q.Reset.Sub(now) < fullSpan:
		// Remaining plus the requests sent rose within the window in
		// progress while it stayed at its highest, under half its
		// Limit, and full again by the next second: a bucket of fewer
		// tokens than its Limit (see below), told without waiting for
		// the window's end. Its Reset names the same instant answer
		// after answer (a Unix second), or moves on with each (the
		// whole seconds until it is full) while the rise came a request
		// or so at a time, never a window's end at once.
		r.mode, r.moving = refillContinuous, true
	case d < -resetJitter:
		// Back: a Reset in Unix seconds, shifted by the Date header's
		// rounding, which wraps every second.
		r.first, r.step = q.Reset, 0
		r.spread.restart(now, int64(q.Remaining)+int64(sent))
	case d >= time.Second/2 && !now.Add(resetSlack).Before(r.reset):
		// A Reset passed and the next window began.
		r.first, r.step = q.Reset, 0
		r.spread.restart(now, int64(q.Remaining)+int64(sent))
		if !r.prevMin.IsZero() {
			// The earliest Reset of each window is the least shifted by
			// the Date header's rounding: their distance is the window.
			// One half again as long spans a window no answer came in
			// (a gate's): it does not lengthen the window. The first
			// window's Resets may have been read before the answers'
			// Date showed the server's clock (up to a second late): a
			// window of a second read so takes in the next one's end, or
			// ends early, so its distance to the next counts only near
			// whole seconds (a Unix second's windows are).
			d := r.curMin.Sub(r.prevMin)
			whole := d.Round(time.Second)
			if (r.ends > 1 || whole > 0 && 20*(d-whole).Abs() <= whole) && (r.window == 0 || 2*d < 3*r.window) {
				r.window = max(r.window, d)
			}
		}
		r.prevMin, r.curMin = r.curMin, q.Reset
		r.ends++
		if r.mode != refillContinuous && still && within.refilled() {
			// Remaining plus the requests sent rose within the window
			// that ended, every answer naming the same Reset: the quota
			// refilled before its Reset, which a fixed window never does
			// (a bucket emptied and asked again only once it refilled
			// looks like one). A quota that never held half its
			// Limit and was still at its highest when the window ended
			// refilled faster than it was used: a bucket of fewer
			// tokens than its Limit, whose Reset (when it is full) is
			// read in whole seconds. Its refill is measured, like a
			// bucket's whose Reset moves. Otherwise a sliding window
			// (used near its Limit, it holds few), or a bucket of its
			// Limit's size, paced at its steady rate.
			r.mode = refillContinuous
			if limit := q.Limit; limit > 0 && 2*r.most <= limit && r.full(r.rem) {
				r.moving = true
			} else {
				r.span = d
			}
			return
		}
		if q.Remaining == 0 && r.most == 0 && inFlight <= 1 && q.Limit >= 2 {
			// A request sent alone after a Reset passed, answered that
			// nothing remains, by a quota that never said more and
			// allows more than one: a fixed window would have given
			// back all but this request. A bucket of one token, whose
			// Reset (when it is full) is rounded up to whole seconds:
			// that of a bucket of 2 a second names a second for its
			// half a second's refill.
			r.mode = refillContinuous
			return
		}
		if r.small(q) && q.Remaining+inFlight < q.Limit {
			// Remaining never above a quarter of Limit, a window's end
			// giving back no more than was held before, nor what a fixed
			// window's Limit gives back to the requests of this client
			// it may count (this one and those in flight): a bucket of a
			// few tokens, whose Reset is when it is full.
			r.mode = refillContinuous
			return
		}
		// Only a window used up to its end, seen again right after it,
		// shows whether Remaining jumps back at Reset.
		if r.rem > r.most/2 || r.reset.Sub(r.at) > d/4+resetSlack || now.Sub(r.reset) > d/4 {
			return
		}
		switch {
		case q.Remaining-r.rem > max(r.most/2, inFlight+1) && r.mode != refillContinuous:
			// A sliding window jumps back so too after a window it was
			// sent nothing in (a gate's): one read as sliding stays so.
			r.mode = refillAtReset
		case q.Remaining-r.rem <= max(r.most/8, 2*inFlight+1) && 2*(q.Remaining-r.rem) < limit-r.rem-inFlight-1:
			// No jump, and less than half of what a window's end would
			// give back beyond the requests in flight: a sliding window,
			// whose length the two Resets bound until two ends show it.
			r.mode, r.span = refillContinuous, d
		}
	case d >= time.Second/2:
		r.first, r.step = q.Reset, 0
		r.spread.restart(now, int64(q.Remaining)+int64(sent))
	case q.Reset.Sub(r.first)-r.step > movingReset && r.spread.continuous():
		// Reset keeps moving away in small steps and the quota refilled
		// between answers, not at one instant: the time until a bucket is
		// full, not a window's end (a window of a second whose Reset in
		// Unix seconds is read through the Date header moves like it, but
		// refills all at once). Its longest step is left out: the
		// transport puts a Reset in Unix seconds on our clock by the
		// answers' Date, up to a second late until the Date first
		// turns, and a sliding window of a second read so (it refills
		// between answers too) moves on in one step when it does.
		r.mode, r.moving = refillContinuous, true
	case q.Reset.Sub(r.first) > 2*resetSlack && r.small(q):
		// Reset moved away in small steps further than a window's end
		// read through the Date header moves, with Remaining a few of
		// Limit all along: a bucket of a few tokens asked too slowly for
		// its refill to show between answers.
		r.mode, r.moving = refillContinuous, true
	}
}

// nextEnd returns when the window in progress at now ends, told by the
// last two refills seen (ok false without them): windows of whole seconds,
// each starting at the first answer that showed its refill, which is at or
// after the instant it refilled. A Reset sent as whole seconds until the
// window's end (a 1 s window's "1") names a time up to a second later.
func (r *quotaReader) nextEnd(now time.Time) (time.Time, bool) {
	if r.jumpPrev.IsZero() || r.refillsBetween {
		return time.Time{}, false
	}
	d := r.jumpAt.Sub(r.jumpPrev)
	w := d.Round(time.Second)
	if w < time.Second || (d-w).Abs() > w/20 {
		return time.Time{}, false
	}
	next := r.jumpAt.Add(w)
	if next.After(now) {
		return next, true
	}
	return next.Add(now.Sub(next).Truncate(w) + w), true
}

// small reports whether q holds no more than the most seen before (at least
// one), under a quarter of its Limit: a bucket of a few tokens, or a window
// others have used up.
func (r *quotaReader) small(q Quota) bool {
	held := max(1, r.most)
	return q.Remaining <= held && 4*held < q.Limit
}

// spread tells a quota that refills between answers (a token bucket, a
// sliding window) from one that refills at one instant (a fixed window's
// end) by the answers' Remaining plus the requests sent: over a span with no
// refill it moves only by the requests on their way (counted by the server
// or not yet), and a window's end raises it in one step (a few, when the
// answers around it come in another order).
type spread struct {
	at     time.Time // the span's start
	x0, x  int64     // Remaining plus the requests sent, at the span's start and at the last answer
	top    [2]int64  // the two largest rises from one answer to the next in the span
	flight int       // the most requests in flight seen in the span
}

// restart begins a span at now, where Remaining plus the requests sent is x.
func (s *spread) restart(now time.Time, x int64) {
	*s = spread{at: now, x0: x, x: x}
}

// observe notes an answer at now, x being its Remaining plus the requests
// sent, with inFlight requests on their way. A span lasts at most
// spreadSpan, so it holds the ends of at most two windows of a second or
// more.
func (s *spread) observe(now time.Time, x int64, inFlight int) {
	if s.at.IsZero() || now.Sub(s.at) >= spreadSpan || now.Before(s.at) {
		s.restart(now, x)
	}
	if d := x - s.x; d > s.top[1] {
		s.top[1] = d
		if d > s.top[0] {
			s.top[0], s.top[1] = d, s.top[0]
		}
	}
	s.x, s.flight = x, max(s.flight, inFlight)
}

// refilled reports whether the span's refill is more than the requests in
// flight can account for: over a span within one window, a quota that
// refills only at the window's end cannot rise by more than them (less the
// one answered).
func (s *spread) refilled() bool {
	return !s.at.IsZero() && s.x-s.x0 > int64(s.flight)
}

// steady reports whether the span's refill is more than the requests in
// flight can account for by two, in steps none of which is more than they
// account for: a quota refilling between answers, with no window's end
// among them.
func (s *spread) steady() bool {
	return !s.at.IsZero() && s.x-s.x0 >= int64(s.flight+2) && s.top[0] <= int64(s.flight+1)
}

// continuous reports whether the span's refill, less its two largest steps
// (the ends of two windows), is more than the requests in flight can account
// for.
func (s *spread) continuous() bool {
	return s.x-s.x0-s.top[0]-s.top[1] >= int64(2*s.flight+3)
}

// learnAllowance learns whether a bucket's Remaining counts what it allows
// until Reset (its tokens plus the refill until then) rather than its tokens:
// read as tokens, that Remaining would pace the host at twice the refill.
// Tokens kept at a reserve stay far below the refill until Reset; an
// allowance does not fall below it while the client keeps up. So Remaining
// at least 0.9 of the measured refill over the time to Reset, answer after
// answer for that time (and at least a second), is an allowance; one answer
// below it that is not a refusal is tokens again.
func (r *quotaReader) learnAllowance(now time.Time, q Quota, left time.Duration) {
	if !r.moving || r.rate == 0 || q.Remaining == 0 || q.Remaining >= r.most {
		// A bucket at its highest may hide its refill behind its cap:
		// the refill measured is then only what was sent.
		return
	}
	if float64(q.Remaining) < 0.9*r.rate*left.Seconds() {
		r.allowSince, r.allowance = time.Time{}, false
		return
	}
	if r.allowSince.IsZero() {
		r.allowSince = now
	}
	r.allowance = now.Sub(r.allowSince) >= max(left, time.Second)
}

// measure updates the refill rate: over spans of at least refillSpan, what
// Remaining rose plus what was sent is what the server refilled.
func (r *quotaReader) measure(now time.Time, q Quota, sent uint64) {
	if r.allowance && (q.Remaining == 0 || now.Before(r.quiet)) {
		// A refusal's Remaining is not what the server holds plus its
		// refill, as the allowance's others are, and the host waits
		// until its Reset, over which the server's bucket fills to its
		// cap and hides the refill: the first answer after it begins a
		// span afresh.
		if q.Remaining == 0 && q.Reset.After(r.quiet) {
			r.quiet = q.Reset
		}
		r.anchorAt = time.Time{}
		return
	}
	el := now.Sub(r.anchorAt)
	if r.anchorAt.IsZero() || el < 0 || (r.mode == refillAtReset && !now.Before(r.reset)) {
		r.anchor(now, q, sent)
		return
	}
	if el < refillSpan {
		return
	}
	refilled := q.Remaining - r.anchorRem + int(sent-r.anchorSent)
	s := max(0, float64(refilled)/el.Seconds())
	switch {
	case r.rate == 0:
		r.rate = s
	case r.full(q.Remaining) || r.full(r.anchorRem):
		// Full at an end (but for the request answered): the refill hid
		// behind the cap for part of the span, and s only bounds it from
		// below. A host sent less than its quota allows (its crawl
		// underfed it) fills the server's bucket: averaged in, what was
		// sent would lower the refill measured, and raise the burst an
		// allowance's spare gives the pacer past the server's.
		r.rate = max(r.rate, s)
	default:
		r.rate = (r.rate + s) / 2
	}
	r.anchor(now, q, sent)
}

// full reports whether Remaining rem is the highest seen, but for the
// request it answers.
func (r *quotaReader) full(rem int) bool { return rem > 0 && rem+1 >= r.most }

func (r *quotaReader) anchor(now time.Time, q Quota, sent uint64) {
	r.anchorAt, r.anchorRem, r.anchorSent = now, q.Remaining, sent
}
