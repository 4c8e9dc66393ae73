package limiter

import (
	"math"
	"time"
)

// steadySpread is the spread of a slow-start window's answers (standard
// deviation over mean) under which its level's requests are taken to start
// and end together: a server with steady service times, where requests
// beyond its slots wait a whole service time instead of spreading the wait
// over every request.
const steadySpread = 0.02

// stragglerAge is how many baselines a permit of a steady level may take
// before it counts as one that waited in a queue: well beyond the spread of
// such a level's answers, well short of the whole service time a queued
// request waits on top of its own.
const stragglerAge = 1.25

// coldStragglerAge is, in a cold start's first window, how many times its
// first answer's RTT an answer of its level takes at least to count as one
// that waited (see lateRTT). The initial limit's requests start together;
// one it queued starts once a slot is free, at the first answer at the
// earliest, and then takes a service time of its own: about twice the
// first answer. A server whose service times spread ±25% without a queue
// answers within 1.25/0.75 = 1.67 first answers.
const coldStragglerAge = 1.7

// coldSpreadAge is how many times its first answer's RTT a cold start's
// first window whose answers spread waits for its level's answers: those
// that come back by then join the window, late or not (see coldLate).
const coldSpreadAge = 3

// coldHeldFloor is how many times the mean of the first window's answers
// that did not come back late the fastest answer of the window after takes
// at least where the level queued (see windowStats.coldHeld): at a server
// of two slots every request of a level of four waits behind another and
// takes about two service times, while at a server with room the fastest
// answer lies near that mean. Over held-out cold starts it read so for 98%
// of 2 + 2 servers at ±25%, 77% at ±50%, and 9% of servers with room at
// ±50%.
const coldHeldFloor = 1.4

// coldHeldFastest is how many times the host's fastest answer (one of the
// first window's, served at once) the fastest answer of the window after a
// coldLate one takes at least for the level to hold for a window more
// where it misses coldHeldFloor, and the next windows' for slow start to
// end as there. The first window's answers that did not come back late
// may hold a queued one: on 2 slots + 2 queued at ±25%, a queued request
// sent a few ms after the others (behind a robots.txt), or one served
// quickly after a slow first answer, comes back within coldStragglerAge
// first answers. Their mean then sits so high that the held level's
// fastest answer, 1.4 to 1.7 first answers on such a server, misses
// coldHeldFloor times it, and the step after the held level was refused.
// A server with room whose service times spread widely passes
// coldHeldFastest in one window by chance, rarely in two in a row: its
// next window's fastest lies back near the host's fastest. Two windows of
// two answers each from a server answering in 0-40 ms did so in 2 of 100
// held-out simulated runs, and one of them, held there, ran at a tenth of
// the optimum instead of 90%: the level holds window after window while
// each passes, until the held windows hold coldHeldAnswers answers or
// more, two windows at least (three windows of two answers at most).
const (
	coldHeldFastest = 1.25
	coldHeldAnswers = 5
)

// maxWatched bounds the permits a level's watch follows.
const maxWatched = 1 << 14

// levelWatch follows the permits handed out since slow start last closed a
// window: which have come back, and when they started. A window closes on
// the first answers of its level, the fastest. When a server's service
// times are steady, the level's requests start and end together, and past
// the server's slots the requests beyond them wait in its queue for a whole
// service time: every one of them comes back after that window closed, and
// the level reads as having no queue. So a window whose answers are that
// alike (steadySpread) waits until the level's first permits have been out
// stragglerAge baselines (or all its permits are back), and the level's
// permits still out then or back only after that are taken as requests that
// waited (see control.slowStartWindow).
type levelWatch struct {
	from  uint64   // the seq before the level's first permit
	back  []uint64 // bit i: the permit of seq from+1+i came back
	backN uint32   // the permits after from that came back (maxWatched at most)
	late  int32    // the permits after from that came back stragglerAge baselines or more after they started, while a window waited
	// fastest is the open window's fastest answer, in microseconds, 0 if
	// none (see control.floorRise).
	fastest int32
	// took is when the last permit before the first mark started, in
	// microseconds of the Unix clock modulo 2^32, 0 if not noted (a cold
	// start's first window: see control.coldLead).
	took  uint32
	marks []seqMark
}

// seqMark says that the permits up to seq started at or before at.
type seqMark struct {
	at  time.Time
	seq uint64
}

// reset starts watching the permits after seq.
func (w *levelWatch) reset(seq uint64) {
	w.from, w.backN, w.late, w.took = seq, 0, 0, 0
	w.back = w.back[:0]
	w.marks = w.marks[:0]
}

// returned notes that the permit of seq came back, whatever its outcome.
func (w *levelWatch) returned(seq uint64) {
	if seq <= w.from || seq-w.from > maxWatched {
		return
	}
	i := seq - w.from - 1
	for uint64(len(w.back)) <= i/64 {
		w.back = append(w.back, 0)
	}
	if w.back[i/64]&(1<<(i%64)) == 0 {
		w.back[i/64] |= 1 << (i % 64)
		w.backN++
	}
}

// mark notes at now that the permits up to seq have started, at most once
// per gap.
func (w *levelWatch) mark(now time.Time, seq uint64, gap time.Duration) {
	if seq <= w.from {
		return
	}
	if n := len(w.marks); n > 0 && (now.Sub(w.marks[n-1].at) < gap || w.marks[n-1].seq == seq) {
		return
	}
	w.marks = append(w.marks, seqMark{at: now, seq: seq})
}

// ready reports whether the permits up to seq, the last one handed out,
// can be told from ones that waited: all have come back, or the first have
// been out for age. lead is how long before the first mark its permits
// started (see control.coldLead), 0 if not known.
func (w *levelWatch) ready(now time.Time, seq uint64, age, lead time.Duration) bool {
	return uint64(w.backN) >= seq-w.from || len(w.marks) > 0 && now.Sub(w.marks[0].at)+lead >= age
}

// firstBack reports whether every permit that had started by the first
// mark has come back.
func (w *levelWatch) firstBack() bool {
	if len(w.marks) == 0 {
		return false
	}
	for seq := w.from + 1; seq <= w.marks[0].seq && seq-w.from <= maxWatched; seq++ {
		i := seq - w.from - 1
		if i/64 >= uint64(len(w.back)) || w.back[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// stragglers returns how many of the permits that started age or more
// before now are still out, and how many permits started that long ago
// (lead: see ready).
func (w *levelWatch) stragglers(now time.Time, age, lead time.Duration) (out, started int) {
	prev := w.from
	for i, m := range w.marks {
		if el := now.Sub(m.at); el < age && (i > 0 || el+lead < age) {
			break
		}
		for seq := prev + 1; seq <= m.seq && seq-w.from <= maxWatched; seq++ {
			started++
			i := seq - w.from - 1
			if i/64 >= uint64(len(w.back)) || w.back[i/64]&(1<<(i%64)) == 0 {
				out++
			}
		}
		prev = m.seq
	}
	return out, started
}

// waited returns the level's permits judged over those that did not wait
// in a queue, at now: 0 if none waited (lead: see ready).
func (w *levelWatch) waited(now time.Time, age, lead time.Duration) float64 {
	out, judged := w.stragglers(now, age, lead)
	switch n := out + int(w.late); {
	case n == 0:
		return 0
	case n >= judged:
		return slowExitRatio
	default:
		return float64(judged) / float64(judged-n)
	}
}

// stragglerWait is the age of a straggler: stragglerAge baselines (see
// queueBase), or in a cold start's first window lateRTT, and where its
// answers spread coldSpreadAge first answers (counted from the level's
// start: see coldFirst).
func (c *control) stragglerWait() time.Duration {
	if f := c.coldFirst(); f > 0 {
		if !c.alike() {
			return time.Duration(coldSpreadAge * float64(f))
		}
		return c.lateRTT()
	}
	return time.Duration(math.Round(stragglerAge * float64(max(c.base, queueBase))))
}

// lateRTT is the RTT from which an answer of the level the watch follows
// waited in a queue: stragglerWait, or in a cold start's first window
// coldStragglerAge times its first answer's.
func (c *control) lateRTT() time.Duration {
	if f := c.coldFirst(); f > 0 {
		return time.Duration(math.Round(coldStragglerAge * float64(f)))
	}
	return c.stragglerWait()
}

// coldFirst is, in a cold start's first window, its first answer's RTT
// (queueBase at least): the level's requests started together, that long
// before the watch's first mark. 0 in any other window.
func (c *control) coldFirst() time.Duration {
	if c.base != 0 || c.n == 0 {
		return 0
	}
	f := time.Duration(c.watch.fastest) * time.Microsecond
	if f == 0 {
		f = c.sum / time.Duration(c.n)
	}
	return max(f, queueBase)
}

// coldLead is how long before the watch's first mark the permits up to it
// had all started (see levelWatch.ready): in a cold start's first window
// the age at that mark of the last of them, its first answer's RTT at most
// (see coldFirst); 0 in any other window. A level's permits start together
// only where its work was there to take: a crawl's listing may hand a host
// its first items a page or two apart, and an answer that is no sample (a
// listing page read beside the items) may mark the watch a few ms after
// the level filled. Read as started a whole first answer's RTT before such
// a mark, the permits taken last would be judged stragglers before they
// could be back, and slow start would end on a queue there is not.
func (c *control) coldLead() time.Duration {
	f := c.coldFirst()
	if f == 0 || len(c.watch.marks) == 0 || c.watch.took == 0 {
		return f
	}
	last := time.Duration(int32(uint32(c.watch.marks[0].at.UnixMicro())-c.watch.took)) * time.Microsecond
	return max(0, min(f, last))
}

// coldFilling reports whether a permit handed out now belongs to a cold
// start's first level before its first mark, whose start coldLead reads.
func (c *control) coldFilling() bool {
	return c.slowStart && c.base == 0 && len(c.watch.marks) == 0
}

// watchReady reports whether the level the due window watches can be told
// from ones that waited (see levelWatch.ready). A cold start's first window
// is ready too once the permits out at its first answer are all back: its
// level is the initial limit's, sent together, and the permits that
// replace its first answers wait behind no queue it did not already show.
func (c *control) watchReady(now time.Time) bool {
	if c.base == 0 && c.watch.firstBack() {
		return true
	}
	return c.watch.ready(now, c.seq, c.stragglerWait(), c.coldLead())
}

// coldLevelBack reports whether a permit that came back with busy permits
// out, its own included, is the first of a cold start's first level in
// full (no baseline yet, the limit in use) to come back before the watch
// has a mark. Where its answer is no sample (a crawl's listing page, read
// ahead beside the items) it marks the watch as a sample's would (see
// control.onSuccess): the permits handed out after it replace an answer
// and wait behind no queue the level did not already show, so the first
// window does not wait for them (see watchReady). Requests sent alone
// before the level (robots.txt, the listing's first page) mark nothing,
// and nor does any answer after the first mark: a host none of whose
// answers is a sample (every one a redirect) closes no window that would
// drop its marks. Nor does an auxiliary request's (Host.AcquireAuxiliary:
// a robots.txt the level's first items wait on), whatever the permits out
// beside it: its server answers it at once, beside the slots the work
// fills, so the item sent once it is back is one of the level, and on a
// server of 2 slots and 2 queued it is the last of the level's queue. Read
// as a replacement, it was not waited for, and the window closed on the
// level's first three answers, the queued one among them fast enough to
// pass for a spread: the limit stepped past slots and queue.
func (c *control) coldLevelBack(busy int) bool {
	return c.base == 0 && busy >= c.intLimit() && len(c.watch.marks) == 0
}

// coldWait reports whether the open window, a cold start's first (no
// baseline yet), waits for its level's stragglers before it closes: its
// first answers took queueBase or more. The initial limit may already pass
// a small server's slots (2 slots and 2 queued under an initial 4): the
// requests beyond them come back a service time after the first answers,
// which would otherwise set the baseline and step past slots and queue.
// Where the first answers came back alike (a server with steady service
// times), a straggler ends slow start at once (see coldQueue); where they
// spread, a straggler may be a slow answer of a server with room, and the
// level holds for a window instead (see coldLate). The level's answers
// that come back within coldSpreadAge first answers join the window, the
// late ones too where the answers spread: the baseline is the level's, not
// only its fastest answers'. A slow host (slowBase) waits only where they
// came back alike: its level's slowest answers, which a spread of seconds
// puts past coldStragglerAge without any queue, join its baseline after
// the window instead (see coldSample).
func (c *control) coldWait() bool {
	if c.base != 0 || c.n == 0 {
		return false
	}
	mean := c.sum / time.Duration(c.n)
	return mean >= queueBase && (mean < slowBase || c.alike())
}
