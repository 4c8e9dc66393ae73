package limiter

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/internal/clocktimer"
)

// Host is the state of one host: its gate, token bucket and concurrency
// limit. Get it from Limiter.Host; it is safe for concurrent use. Most
// callers use Acquire; event loops with their own time use TryAcquireAt.
type Host struct {
	key string
	l   *Limiter

	mu       sync.Mutex
	inFlight int
	// peakAt is when, in Unix nanoseconds, the permit that took inFlight
	// to maxInFlight, the highest it has been, was taken, or sent if it
	// was handed off first (see Admit).
	peakAt  int64
	limit   int // int(ctl.limit), what Acquire compares inFlight with
	ctl     control
	waiters []*waiter // FIFO; only the head tries to acquire
	out     ledger    // the permits out, to catch a second Release

	gateUntil time.Time // zero when open
	pace      pace
	restart   restart // paces the first permits after the gate opens, when no rate does
	// clocked is set while the gate is closed or a rate applies: only then
	// does Acquire need the time before it decides.
	clocked     atomic.Bool
	maxInFlight int32

	successes, dropped, throttled, ignored int64
	okSeq                                  uint64 // the highest number of a request that succeeded (see Overtaken)

	used bool // acquired since the idle sweep last passed (see idle.go)
	// errOpen is set from a run of server errors as long as the limit until
	// the next success, and errRun counts the errors since that success, up
	// to its most (see erroredLocked); they fill used's padding.
	errOpen bool
	errRun  uint16
	gone    atomic.Bool // forgotten by the Limiter: Host(key) makes a new one
}

type waiter struct{ wake chan struct{} }

// poke tells w to try again.
func (w *waiter) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func newHost(l *Limiter, key string, now time.Time) *Host {
	cfg := l.configFor(key)
	// A host is made for a request to come: the idle sweep passes it once
	// (see WithMaxHosts) however long that request waits in a queue.
	h := &Host{key: key, l: l, used: true}
	h.ctl.init(cfg)
	h.limit = h.ctl.intLimit()
	h.pace.init(cfg)
	h.pace.apply(now)
	h.syncClockedLocked()
	return h
}

// TryAcquireAt is the non-blocking core of Acquire at the time now. When the
// gate is open, a token is available and a concurrency slot is free, it takes
// them and returns ok. Otherwise retryAt says when the gate or the bucket
// allows the next try, or is zero when a permit must be released (or the
// limit must grow) first. It does not queue: callers that mix it with Acquire
// may overtake Acquire's waiters.
func (h *Host) TryAcquireAt(now time.Time) (p Permit, retryAt time.Time, ok bool) {
	h.mu.Lock()
	p, retryAt, ok = h.tryLocked(now)
	h.mu.Unlock()
	return p, retryAt, ok
}

// tryLocked takes a permit at now if it can. A zero now means the caller did
// not read the clock; it is read here if the gate or the bucket needs it, and
// the permit is then untimed unless sampling picks it.
func (h *Host) tryLocked(now time.Time) (Permit, time.Time, bool) {
	return h.takeLocked(now, true)
}

// takeLocked is tryLocked; without needSlot it does not wait for a
// concurrency slot (see AcquireAuxiliary).
func (h *Host) takeLocked(now time.Time, needSlot bool) (Permit, time.Time, bool) {
	if now.IsZero() && h.clockedLocked() {
		now = h.l.clock.Now()
	}
	if !h.gateUntil.IsZero() {
		if now.Before(h.gateUntil) {
			h.noteWaitLocked(now, h.gateUntil, "gate")
			return Permit{}, h.gateUntil, false
		}
		h.gateUntil = time.Time{}
		if h.pace.bucket == nil {
			h.restart.begin(h.limit, h.ctl.srtt)
		}
		h.syncClockedLocked()
	}
	// The other processes' requests a leader counts (see useSharedLead)
	// never hold its own first one: with none of its own in flight, no
	// answer of its own would come to lower that count or close errOpen.
	if needSlot && h.inFlight > h.ledLocked() && (h.inFlight >= h.limit || h.errOpen) {
		return Permit{}, time.Time{}, false
	}
	switch {
	case h.pace.bucket != nil:
		h.restart.stop()
		settling := h.pace.learn.pending
		at, ok := h.pace.take(now)
		if settling && !h.pace.learn.pending {
			h.l.log.Debug("limiter: rate learnt from throttles", zap.String("host", h.key), zap.Float64("rate", h.pace.learnt),
				zap.Float64("burst", h.pace.learn.burst), zap.Bool("burst_known", h.pace.learn.known))
		}
		if !ok && !(h.inFlight <= h.ledLocked() && h.pace.reread(now)) {
			if _, fromCeiling := h.pace.effective(now); !fromCeiling {
				h.noteWaitLocked(now, at, "rate")
			}
			return Permit{}, at, false
		}
	case h.restart.active():
		at, ok := h.restart.take(now)
		if !ok {
			return Permit{}, at, false
		}
		if !h.restart.active() {
			h.syncClockedLocked()
		}
	}
	h.used = true
	h.inFlight++
	peak := h.inFlight > int(h.maxInFlight)
	if peak {
		h.maxInFlight = int32(h.inFlight)
		if now.IsZero() {
			now = h.l.clock.Now()
		}
		h.peakAt = now.UnixNano()
		if h.ctl.slowStart && h.l.late != nil {
			// A reading of the process's wait ready for the level's window.
			h.l.late(now)
		}
	}
	h.ctl.onStart(h.inFlight)
	if h.ctl.coldFilling() {
		at := now
		if at.IsZero() {
			at = h.l.clock.Now()
		}
		h.ctl.watch.took = uint32(at.UnixMicro())
	}
	alone := h.inFlight == 1
	if h.pace.learn.recording(h.ctl.seq, !needSlot) {
		if now.IsZero() {
			now = h.l.clock.Now()
		}
		h.pace.learn.sent(now, h.ctl.seq, !needSlot, alone)
	} else {
		// The learner's own readings: the permit stays untimed until
		// its caller starts it (see TryAcquireUntimed).
		var at time.Time
		if h.pace.learn.episodeWants(h.ctl.seq) && !h.pace.learn.first {
			// The first throttle's episode counts every request's
			// start (see learner.started). A sampled permit's comes
			// with its answer; an auxiliary request (a listing page)
			// is no sample, nor is a permit sampling skipped (one in
			// two or more where a window holds many), so theirs is
			// read here: for a host's first requests at most, and not
			// for in-process work, whose clock reads sampling spares.
			if !needSlot || !now.IsZero() || (!h.ctl.sampled() && !h.ctl.inProcess()) {
				at = now
				if at.IsZero() {
					at = h.l.clock.Now()
				}
			}
			h.pace.learn.started(h.ctl.seq, at)
		}
		if alone && h.pace.learn.recordingAlone(h.ctl.seq) {
			if at.IsZero() {
				at = now
			}
			if at.IsZero() {
				at = h.l.clock.Now()
			}
			h.pace.learn.sent(at, h.ctl.seq, !needSlot, true)
		}
	}
	slot, gen := h.out.open()
	return Permit{h: h, start: now, seq: uint32(h.ctl.seq), epoch: h.ctl.cuts, level: h.ctl.level, slot: slot, gen: gen, busy: uint32(h.inFlight), peak: peak}, time.Time{}, true
}

// clockedLocked reports whether the gate, the bucket or a restart needs the
// time to decide.
func (h *Host) clockedLocked() bool {
	return !h.gateUntil.IsZero() || h.pace.bucket != nil || h.restart.active()
}

func (h *Host) syncClockedLocked() { h.clocked.Store(h.clockedLocked()) }

// Acquire blocks until the gate is open, a token is available and a
// concurrency slot is free, and returns a Permit to release when the request
// ends. Waiters are served in arrival order. It returns an error wrapping
// ctx.Err() when ctx ends first. With WithShared, the shared gate and rate
// must allow the request too.
func (h *Host) Acquire(ctx context.Context) (Permit, error) {
	if h.l.shared != nil {
		return h.acquireShared(ctx)
	}
	return h.acquire(ctx)
}

// acquire is Acquire under this process's own limits.
func (h *Host) acquire(ctx context.Context) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, err)
	}
	var now time.Time
	if h.clocked.Load() {
		now = h.l.clock.Now()
	}
	h.mu.Lock()
	if len(h.waiters) == 0 {
		if p, _, ok := h.tryLocked(now); ok {
			sampled := h.ctl.sampled()
			h.mu.Unlock()
			return h.stamp(p, sampled), nil
		}
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	h.waiters = append(h.waiters, w)
	h.wakeHeadLocked()
	h.mu.Unlock()
	return h.wait(ctx, w)
}

// wait parks w until it is the head of the queue and acquires, or ctx ends.
// Only the head tries, so at most one timer per host is armed at a time.
func (h *Host) wait(ctx context.Context, w *waiter) (Permit, error) {
	var timer clocktimer.Timer
	var timerC <-chan time.Time
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.removeWaiterLocked(w)
			h.mu.Unlock()
			return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
		case <-w.wake:
		case <-timerC:
			timerC = nil
		}
		now := h.l.clock.Now()
		h.mu.Lock()
		if len(h.waiters) == 0 || h.waiters[0] != w {
			h.mu.Unlock()
			continue
		}
		p, retryAt, ok := h.tryLocked(now)
		if ok {
			h.waiters[0] = nil
			h.waiters = h.waiters[1:]
			h.wakeHeadLocked()
			h.mu.Unlock()
			return p, nil
		}
		h.mu.Unlock()
		if retryAt.IsZero() {
			continue // a release, a larger limit or a rate change wakes us
		}
		if timer.Set(h.l.clock, retryAt) {
			timerC = nil
			w.poke() // its time came before the timer was set
		} else {
			timerC = timer.C()
		}
	}
}

func (h *Host) removeWaiterLocked(w *waiter) {
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			if i == 0 {
				h.wakeHeadLocked()
			}
			return
		}
	}
}

// wakeHeadLocked tells the head waiter to try again.
func (h *Host) wakeHeadLocked() {
	if len(h.waiters) > 0 {
		h.waiters[0].poke()
	}
}

// releaseAt ends the permit p with o at now (zero: not read yet; read here
// only if needed). It panics if p was released already.
func (h *Host) releaseAt(now time.Time, p Permit, o Outcome) {
	start, epoch := p.start, p.epoch
	timed := !start.IsZero()
	switch {
	case !now.IsZero():
	case timed:
		now = start.Add(h.l.since(start))
	case o == Dropped || o == Throttled || o == Errored:
		now = h.l.clock.Now()
	}
	if o == Throttled && h.l.shared != nil {
		defer h.shareThrottle() // after the unlock below
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.out.close(p.slot, p.gen) {
		panic("limiter: a Permit of host " + h.key + " was released twice")
	}
	h.inFlight--
	if timed && h.pace.learn.ep != nil {
		h.pace.learn.started(h.seqOf(p), start)
	}
	if h.ctl.slowStart {
		h.ctl.watch.returned(h.seqOf(p))
		if !timed && !p.aux && h.ctl.coldLevelBack(h.inFlight+1) {
			at := now
			if at.IsZero() {
				at = h.l.clock.Now()
			}
			h.ctl.watch.mark(at, h.ctl.seq, queueBase/8)
		}
	}
	switch o {
	case Success:
		h.errRun, h.errOpen = 0, false
		h.outageOverLocked(p)
		h.successes++
		h.ctl.answered(int(p.busy), false)
		h.okSeq = max(h.okSeq, h.seqOf(p))
		if pb := h.pace.pushback; pb != nil {
			pb.bg.answer(int(p.busy), false, p.epoch == h.ctl.cuts, h.ctl.limit)
		}
		h.pace.onSuccess(now, h.seqOf(p), p.start, int(p.busy), h.seqOf(p) == h.ctl.seq)
		if timed {
			h.ctl.onSuccess(now, max(0, now.Sub(start)), h.inFlight, h.seqOf(p), p.level, h.l.late)
		}
	case Dropped:
		h.dropped++
		h.ctl.answered(int(p.busy), true)
		bare := h.ungatedLocked(now)
		again := bare && h.refusedAgainLocked(p)
		cut := false
		switch {
		case bare && h.pace.pushed().bg.drop(int(p.busy), p.epoch == h.ctl.cuts, h.ctl.limit) && h.withinBackgroundLocked(now, p):
			// Refused at any load: counted, not cut for.
		case !h.refusedAloneLocked(now, p) && !h.droppedAloneLocked(p):
			first := 0
			if h.dropped == 1 {
				first = int(p.busy)
			}
			limit, slow := h.ctl.limit, h.ctl.slowStart
			if cut = h.ctl.onDrop(now, h.inFlight, epoch, h.gateUntil, h.atPeakLocked(p), first, int(p.busy)); cut {
				h.cutLocked(limit, slow)
				if bare {
					h.pace.bg.cut(int(p.busy), h.ctl.limit, slow)
					h.pace.cutSeq = h.ctl.seq
				}
			}
		case p.answered && h.restart.before != 0 && h.pausedInVainLocked():
			// A refusal of a request sent alone, with no gate, during a run
			// of cuts, after a pause that let none succeed: the server
			// refuses every level, for a while.
			h.restart.alone = true
		}
		if p.answered {
			// A drop that cut while a rate learnt from refusals paces the
			// host is the rate's (the cut alone would only hold the host
			// a request or two under the level it refused, to be refused
			// again once the server's burst is spent): it pauses and
			// teaches the rate as at the floor.
			h.pauseDropLocked(now, p, again || cut && h.pace.refusalPaced())
		}
	case Throttled:
		h.throttled++
		if h.throttleLossLocked(now, p) {
			limit, slow := h.ctl.limit, h.ctl.slowStart
			if h.ctl.onDrop(now, h.inFlight, epoch, time.Time{}, false, 0, int(p.busy)) {
				h.cutLocked(limit, slow)
			}
			break
		}
		pb := h.pace.pushed()
		if h.ctl.srtt > 0 {
			pb.sendRate = float64(h.inFlight+1) / h.ctl.srtt.Seconds()
		}
		pb.rtt = h.ctl.srtt
		if h.ungatedLocked(now) {
			h.ctl.refusedAt(h.inFlight + 1)
		}
		h.throttleLocked(now, p)
		h.applyRateLocked(now)
	case Ignored:
		h.ignored++
	case Errored:
		h.erroredLocked(now, p)
	default:
		h.ignored++
		h.l.log.Warn("limiter: release with an unknown outcome, counted as ignored", zap.String("host", h.key), zap.Int("outcome", int(o)))
	}
	if !now.IsZero() && h.pace.onRelease(now) {
		h.pace.apply(now)
		h.syncClockedLocked()
	}
	h.syncLimitLocked()
	h.wakeHeadLocked()
}

// errorRun is the shortest run of server errors read as overload (see
// Errored), for a host whose limit is below it.
const errorRun = 4

// erroredLocked counts the server error of p at now in the host's run of
// them. Until the run, with no success between, is as long as the host's
// limit (and errorRun) it says nothing: a share of failing pages among
// answers that succeed never makes such a run, a server that fails
// everything makes it within one round trip. The error that completes it
// is a drop (the limit shrinks once) and opens the host as a circuit
// breaker does: a pause (the doubling one of a 503 without Retry-After,
// see pace.dropPause), then one request at a time until one succeeds, each
// error of such a probe doubling the pause. The other requests of the run
// that were in flight when it opened change nothing: they teach no level,
// since a server in trouble fails every level alike. A retry's error (see
// Permit.Retried) counts only once the host is open.
func (h *Host) erroredLocked(now time.Time, p Permit) {
	if p.retry && !h.errOpen {
		// A retry's error: the item's, not the server's (see Retried).
		h.ignored++
		return
	}
	if h.errRun < math.MaxUint16 {
		h.errRun++
	}
	switch {
	case !h.errOpen && int(h.errRun) < max(errorRun, min(h.limit, math.MaxUint16)):
		h.ignored++
		return
	case !h.errOpen:
		h.errOpen = true
		h.dropped++
		h.ctl.onDrop(now, h.inFlight, p.epoch, time.Time{}, false, 0, int(p.busy))
	case now.Before(h.gateUntil):
		h.ignored++
		return
	default:
		h.dropped++
	}
	if until := h.pace.dropPause(now, h.successes); until.After(h.gateUntil) {
		h.gateUntil = until
	}
	h.syncClockedLocked()
}

// ungatedLocked reports whether no gate holds the host at now: an answer
// that comes then is bare (no Retry-After or quota closed the host).
func (h *Host) ungatedLocked(now time.Time) bool {
	return h.gateUntil.IsZero() || !now.Before(h.gateUntil)
}

// withinBackgroundLocked reports whether the bare drop of p at now, which
// the host's share of requests refused at any load explains (see
// background.drop), is not to be cut for, as a cut would not stop it:
// after slow start, with the default strategy, at a limit of bgMinLimit or
// more whose smoothed RTT shows no queue (a full server that queues
// refuses past a rise), no rate learnt or announced, and the refused
// request started after the last cut.
func (h *Host) withinBackgroundLocked(now time.Time, p Permit) bool {
	return p.epoch == h.ctl.cuts && h.ctl.limit >= bgMinLimit && h.ctl.quiet() &&
		h.pace.learnt == 0 && !h.pace.quotaActive(now)
}

// throttleLossLocked reports whether the throttle of p at now is loss, as a
// bare drop after a level held a while is (see delayAlgorithm.window): it
// came without a Retry-After or a quota (no gate holds, no quota paces the
// host), no rate has been learnt but one from such throttles above the floor
// (which probes up fast, out of the concurrency limit's way), the limit is
// above its floor, the refused request started after the last cut, and the
// default strategy's limit filled lossThrottleAfter windows since it last
// rose or was cut. A server that refuses a share of requests with a bare 429
// whatever the load (one sick backend behind a load balancer) does so at
// every level: read as a rate or a cap, each refusal would take the limit
// lower, to one request at a time paced at a rate learnt from refusals that
// have no rate. Such a throttle is cut for as loss: it names no level,
// learns no rate and closes no pause. A rate quota or an in-flight cap
// refuses again within a few windows of the level it refused, so its
// throttles are read as before.
func (h *Host) throttleLossLocked(now time.Time, p Permit) bool {
	return h.ungatedLocked(now) && p.epoch == h.ctl.cuts &&
		(h.pace.learnt == 0 || !h.pace.slow) && !h.pace.quotaActive(now) && h.ctl.limit > h.ctl.min+1 && h.ctl.heldFor(lossThrottleAfter)
}

// throttleLocked cuts the concurrency limit for the throttle of p at now
// (see refusedAloneLocked) and lets the rate side learn from it; a pause it
// closes holds the gate. A limit that lets no more requests in flight than
// its floor does is at its floor too, when the refused request started and
// came back alone (a limit cut to between 1 and 2 sends one at a time): the
// server limits a rate, not concurrency.
func (h *Host) throttleLocked(now time.Time, p Permit) {
	cut := false
	if !h.refusedAloneLocked(now, p) {
		limit, slow := h.ctl.limit, h.ctl.slowStart
		if cut = h.ctl.onDrop(now, h.inFlight, p.epoch, time.Time{}, false, 0, int(p.busy)); cut {
			h.cutLocked(limit, slow)
		}
	}
	until := h.pace.onThrottle(now, h.seqOf(p), p.start, cut, h.atFloorLocked(p), h.inFlight+1, int(p.busy))
	if h.pace.learnt > 0 || !until.IsZero() {
		// A rate, not an in-flight cap (see control.refusals).
		h.ctl.refusals |= capOther
	}
	if until.After(h.gateUntil) {
		h.gateUntil = until
	}
	if !until.IsZero() && p.busy <= 1 && h.restart.before != 0 && h.pace.outage(now) {
		// Refused alone, without a Retry-After, past pauses long enough
		// for any but the slowest rate's token (see outageWait): the
		// server refuses every level (a gateway whose backend is down),
		// an outage.
		h.restart.alone = true
	}
}

// cutLocked notes that a drop cut the concurrency limit from limit, with
// slow start on if slow: the first cut of a run (see restart.before) keeps
// the level to go back to if the run turns out to be an outage.
func (h *Host) cutLocked(limit float64, slow bool) {
	if h.restart.before == 0 {
		h.restart.before = uint16(max(1, min(limit, math.MaxUint16)))
		h.restart.slow = slow
	}
}

// outageOverLocked ends the run of cuts, if any, at the success of p taken
// after its last cut, and where the run was an outage (a server down,
// restarting or shedding everything refuses a request sent alone as it
// refuses a burst) puts the limit back to the level held before it, and
// slow start if it was on then, paced over a round trip as after a gate:
// the cuts a blackout's refusals made, one a refusal's round trip, take
// any limit to its floor in a few milliseconds and say nothing of how
// many requests at once the server takes once it is back. A server whose
// capacity did fall refuses the burst past it, which cuts as any drop.
func (h *Host) outageOverLocked(p Permit) {
	r := &h.restart
	if r.before == 0 || p.epoch != h.ctl.cuts {
		return
	}
	before, slow, alone := r.before, r.slow, r.alone
	r.before, r.slow, r.alone = 0, false, false
	if !alone || !h.ctl.restore(float64(before), slow) {
		return
	}
	if now := h.l.clock.Now(); h.pace.outage(now) {
		// The outage's throttles taught a rate the server never had.
		h.pace.forgetOutage(now, h.ctl.seq)
	}
	if h.pace.bucket == nil {
		r.begin(h.ctl.intLimit(), h.ctl.srtt)
		h.syncClockedLocked()
	}
}

// pausedInVainLocked reports whether the host's last drop pause (see
// pauseDropLocked) was followed by no success: the refusal being counted
// came after it with none between. A server down refuses the request after
// a pause as it refused the one before; a rate limit or a server of one
// slot refuses a request sent alone now and then and serves the next one
// after a short pause (a token, the slot, is free again), and taking that
// for an outage would send it the level before at once.
func (h *Host) pausedInVainLocked() bool {
	pb := h.pace.pushback
	return pb != nil && pb.dropWait != 0 && pb.dropOK == h.successes
}

// rateRepeat is the longest time between two drop pauses of a host (see
// refusedBetweenLocked) that shows a rate limit: one that refuses a
// request sent alone less often than this lets through more than a
// request a second or so between its refusals.
const rateRepeat = 2 * time.Second

// refusedBetweenLocked reports whether a drop at the floor at now comes
// within rateRepeat of the host's last drop pause, with requests served
// since: a server that refuses one request at a time now and then and
// serves the next ones limits a rate. The first such refusal of a server
// that goes down after serving for a while is not one: the pause before
// it, if any, is long past. Once such refusals taught a rate that paces
// the host, any later one, however long after, is the rate's: a pace
// near the server's rate is refused seconds apart.
func (h *Host) refusedBetweenLocked(now time.Time) bool {
	pb := h.pace.pushback
	return pb != nil && pb.dropWait != 0 && pb.dropOK != h.successes && (now.Sub(pb.dropAt) <= rateRepeat || h.pace.refusalPaced())
}

// againMax is the highest limit a run of cuts may start from for a bare
// drop after its last cut to pause the host (see refusedAgainLocked).
const againMax = 4

// refusedAgainLocked reports whether the bare drop of p, an answer not yet
// cut for, is of a request taken after the last bare drop's cut, with at
// most two in flight, none of the requests taken since that cut having
// succeeded, in a run of cuts that began at a limit of againMax or less: a
// host that sent a few requests at a time, whose cut did not stop the
// refusals (a rate limit whose burst is spent refuses every request until
// its next token, each refusal back in a moment), pauses as at its floor
// (see pauseDropLocked) instead of sending into it while its limit comes
// down. A server down after a higher level is an outage's (see
// outageOverLocked), which the cuts take to the floor.
func (h *Host) refusedAgainLocked(p Permit) bool {
	pb := h.pace.pushback
	return p.answered && p.busy <= 2 && p.epoch == h.ctl.cuts && h.restart.before != 0 && h.restart.before <= againMax &&
		pb != nil && pb.cutSeq != 0 && h.okSeq <= pb.cutSeq
}

// atFloorLocked reports whether the host sends one request at a time for
// the refusal of p, already counted: its limit is at its floor, or a limit
// that lets no more in flight than the floor does (a limit cut to between 1
// and 2) when p's request started and came back alone.
func (h *Host) atFloorLocked(p Permit) bool {
	return h.ctl.limit <= h.ctl.min || h.ctl.intLimit() <= int(h.ctl.min) && p.busy == 1 && h.inFlight == 0
}

// pauseDropLocked closes a pause of its own at now for the drop of p, an
// answer (see Permit.Answered) already counted, that came with no gate
// while the host sends one request at a time, or where force says the
// drop is to pause the host all the same. The pause doubles while no
// request succeeds, as a 429's without a Retry-After does (see
// pace.dropPause). It teaches no rate, as a drop alone says nothing of
// one, unless such drops come again and again with requests served between
// them (see refusedBetweenLocked): a rate limit answering a bare 503 (as
// nginx's limit_req does by default) is then learnt as one answering a
// bare 429 is. A timeout or a refused connection closes none: the crawl's
// rule for unresponsive hosts paces those.
func (h *Host) pauseDropLocked(now time.Time, p Permit, force bool) {
	if now.Before(h.gateUntil) || !force && !h.atFloorLocked(p) && !h.droppedAloneLocked(p) {
		return
	}
	between := h.refusedBetweenLocked(now)
	h.gateUntil = h.pace.dropPause(now, h.successes)
	if between {
		// Refused one at a time again and again, with requests served
		// between the refusals: a rate limit answering a bare 503. The
		// pause teaches the rate as a bare 429's does.
		sendRate := 0.0
		if h.ctl.srtt > 0 {
			sendRate = float64(h.inFlight+1) / h.ctl.srtt.Seconds()
		}
		h.pace.learnDrop(now, h.seqOf(p), h.gateUntil, h.inFlight+1, int(p.busy), sendRate, h.ctl.srtt)
		h.applyRateLocked(now)
	}
}

// droppedAloneLocked reports whether p's drop, already counted, is a
// server's answer to a request that started and came back with no other
// of the host's in flight: a server that
// refuses one request at a time is down or shedding everything, not
// full, so the drop cuts no concurrency limit and leaves slow start on
// (a server out for a few seconds refused the crawl's robots.txt alone:
// the work, once it is back, would climb from a limit of one, additively,
// for seconds). It pauses the host instead, as a drop at the floor does
// (see pauseDropLocked); the burst that follows the pause, if the server
// still refuses it, cuts as any drop does.
func (h *Host) droppedAloneLocked(p Permit) bool {
	return p.answered && p.busy <= 1 && h.inFlight == 0
}

// refusedAloneLocked reports whether the refusal of p at now, already
// counted, says when to come back but nothing of how many requests at once
// the host serves: it came with a Retry-After (the gate holds), and p's
// request started with no other in flight, or it is the host's first
// refusal, before any answer, of a request unlike its work (an unsampled
// permit: a blackout's answer to the robots.txt that the work holding
// permits waits on). It cuts no concurrency limit; a server that refuses a
// burst of work for its concurrency refuses one that started with others.
func (h *Host) refusedAloneLocked(now time.Time, p Permit) bool {
	first := p.start.IsZero() && h.successes == 0 && h.dropped+h.throttled == 1
	return now.Before(h.gateUntil) && (p.busy <= 1 || first)
}

// atPeakLocked reports whether p's request took the host's in-flight
// count to its highest, or, timed and sent at that count, went out within a
// moment of the one that did: a server's capacity ends where the count
// first rises past it, and refuses a request sent then, while a server that
// flaps refuses one at any time and mostly below the peak. The moment is
// the tolerance slow start gives a level's first permits.
func (h *Host) atPeakLocked(p Permit) bool {
	if p.peak && int(p.busy) == int(h.maxInFlight) {
		return true
	}
	if p.start.IsZero() || int(p.busy) != int(h.maxInFlight) {
		return false
	}
	d := p.start.UnixNano() - h.peakAt
	tol := int64(max(h.ctl.base, queueBase) / 8)
	return d >= -tol && d <= tol
}

// seqOf returns the number of the request p was taken for (the host's
// count of permits when it was taken).
func (h *Host) seqOf(p Permit) uint64 {
	return h.ctl.seq - uint64(uint32(h.ctl.seq)-p.seq)
}

// syncLimitLocked publishes a changed concurrency limit.
func (h *Host) syncLimitLocked() {
	n := h.ctl.intLimit()
	if n != h.limit {
		if !h.gone.Load() {
			h.l.total.Add(int64(n - h.limit))
		}
		h.limit = n
	}
}

func (h *Host) applyRateLocked(now time.Time) {
	h.pace.apply(now)
	h.syncClockedLocked()
	h.wakeHeadLocked()
}

// Key returns the host's key.
func (h *Host) Key() string { return h.key }

// Snapshot returns the host's current state.
func (h *Host) Snapshot() Snapshot {
	now := h.l.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{
		Key:         h.key,
		Limit:       h.limit,
		InFlight:    h.inFlight - h.ledLocked(),
		MaxInFlight: int(h.maxInFlight),
		SlowStart:   h.ctl.slowStart,
		Successes:   h.successes,
		Dropped:     h.dropped,
		Throttled:   h.throttled,
		Ignored:     h.ignored,
	}
	s.Rate = h.pace.cur
	if !h.gateUntil.IsZero() && now.Before(h.gateUntil) {
		s.GateUntil = h.gateUntil
	}
	return s
}

// Snapshot is a host's state at one moment, for progress and metrics.
type Snapshot struct {
	Key         string
	Rate        float64   // the bucket's current rate in requests/s; 0 means unlimited
	Limit       int       // current concurrency limit
	InFlight    int       // permits not yet released
	MaxInFlight int       // largest in-flight count seen
	GateUntil   time.Time // zero when open
	SlowStart   bool      // the limit is still in slow start

	Successes, Dropped, Throttled, Ignored int64
}
