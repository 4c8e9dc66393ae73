package limiter

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/internal/clocktimer"
)

// Shared is a host's politeness shared with other processes: a rate
// enforced for all of them together, a gate any of them can close, and a
// rate they learn together from throttles. The Limiter calls it outside the
// host's lock; an implementation talks to a store such as Redis and bounds
// its own round trips, so that a store that hangs does not hold requests
// for long. Errors are logged and the process goes on under its own limits.
type Shared interface {
	// Allow counts one request to key against the shared rate built from r
	// and says how long it must wait before it starts.
	Allow(ctx context.Context, key string, r SharedRate) (SharedAnswer, error)
	// Gate closes key's gate for every process until the given time; a gate
	// never moves earlier. r is the host as this process sees it now.
	Gate(ctx context.Context, key string, until time.Time, r SharedRate) error
}

// SharedGates is a Shared that pushes the gates other processes close as
// they close them. A Limiter made WithShared of one applies each pushed gate
// to the host's own gate at once (as a gate read from Allow, see
// Host.sharedGate), so that a request whose permit was taken before the
// gate, and that has not been written yet (see AwaitGate), waits for it
// too, not only the requests that ask the store after the push.
type SharedGates interface {
	Shared
	// OnGate makes the store call apply with each gate another process
	// closes or moves later, from its own goroutine; apply does not block.
	OnGate(apply func(key string, until time.Time))
}

// SharedRate is what a host's rate is made of, as this process sees it, and
// what this process tells the others to learn from. The shared rate is the
// lower of the ceiling and the quota, or where no quota is announced, of the
// ceiling and the rate learnt together.
type SharedRate struct {
	Ceiling float64 // the user's ceiling, requests/s; 0 = none
	Quota   float64 // the rate an announced quota allows now; 0 = none
	Burst   int     // the local bucket's burst; 0 when no rate applies

	// This process's answers from the host so far: successes, and throttles
	// that may teach a rate (refusals for rate while no quota is announced).
	Successes, Throttles int64

	// Booked says the request has waited for its place under the shared
	// rate: it asks only whether the shared gate lets it go.
	Booked bool

	// Auxiliary says the request asking is not the host's work but one its
	// work waits on (a robots.txt, see AcquireAuxiliary): it does not wait
	// for another process's lead of a cold start (see SharedAnswer.Again).
	Auxiliary bool

	// Limit is this process's concurrency limit for the host, which the
	// others count against the level the processes were refused at.
	Limit int

	// Probing says Limit is still in slow start: this process has not
	// found the level the host takes yet. Full says its requests fill
	// Limit, so that its slow start's windows judge it. AtMost says Limit
	// is at its most: the host takes more than this process sends.
	Probing, Full, AtMost bool
}

// SharedAnswer is Allow's answer.
type SharedAnswer struct {
	// Wait is how long the request waits before it starts: 0 to start now.
	Wait time.Duration
	// Again says the wait is for the shared gate (or part of it), or for
	// another process that leads the host's cold start, and the request
	// asks again after it; otherwise its place under the shared rate
	// is booked, and after the wait it asks again, Booked, whether the gate
	// closed meanwhile.
	Again bool
	// Learnt is the rate the processes learnt together from throttles with
	// a Retry-After (0: none yet). It replaces what this process learnt
	// from its own share of the answers.
	Learnt float64
	// Gate is when the shared gate opens, while it is closed (zero: open
	// or not told).
	Gate time.Time
	// Cap is the most this process's concurrency limit may be (0: no
	// cap): the level at which the processes together were last refused
	// with a gate, less one and less the other processes' limits. Each
	// process's own limit judges only its share of the answers, and their
	// sum would grow past that level again. From a cold start, while
	// another process leads the host's concurrency for all of them, it is
	// one; for the leader, once its slow start has ended, the highest
	// level its slow start reached (its strategy reads the queue from its
	// own answers, which the others' requests make a thinner one than
	// the same level of its own would).
	Cap int
	// Lead is, while this process leads the host's concurrency for all
	// of them once its slow start has ended (see Cap), how many other
	// processes send to the host, capped at one request each: this
	// process counts that many requests of its own in flight, so that its
	// limit bounds what all of them send, as one process's limit would
	// (0: none).
	Lead int
	// Others is how many requests the other processes sent to the host so
	// far, counted while it announces a quota (0: not counted). A quota
	// refills for every process's requests, and this process reads its
	// refill from Remaining and the requests sent.
	Others uint64
}

// WithShared makes every Acquire also ask s (after the host's own gate,
// bucket and concurrency limit allow it) and every Gate close s's gate too.
// Each process keeps its own adaptive concurrency limit.
func WithShared(s Shared) Option { return func(l *Limiter) { l.shared = s } }

// listenShared subscribes l to the gates its Shared store pushes, if it
// pushes them (see SharedGates).
func (l *Limiter) listenShared() {
	if sg, ok := l.shared.(SharedGates); ok {
		sg.OnGate(l.pushedGate)
	}
}

// pushedGate applies a gate another process closed to the host key, if
// this process has it: a host it has not made yet reads the gate from the
// store at its first request.
func (l *Limiter) pushedGate(key string, until time.Time) {
	if h, ok := l.hosts.Load(key); ok {
		h.(*Host).sharedGate(until)
	}
}

// acquireShared is Acquire with a Shared store: the local permit first, then
// the shared gate and rate; the permit's latency is timed from when both
// allow the request.
func (h *Host) acquireShared(ctx context.Context) (Permit, error) {
	p, err := h.acquire(ctx)
	if err != nil {
		return p, err
	}
	return h.admitShared(ctx, p, h.acquire)
}

// admitShared waits until the shared gate and rate allow p's request. With
// reacquire (p holds a concurrency slot: the host's work, not an auxiliary
// request), a request held by a shared gate
// that another process closed gives its slot back and takes a new permit
// through the host's own gate (see sharedGate): the permits held when the
// gate closed would all start the instant it opens, past the limit the gate
// cut.
func (h *Host) admitShared(ctx context.Context, p Permit, reacquire func(context.Context) (Permit, error)) (Permit, error) {
	waited, booked := false, false
	var timer clocktimer.Timer
	defer timer.Stop()
	// retake gives p's slot back and takes a new permit through the host's
	// own limit and gate.
	retake := func() error {
		p.Release(Ignored)
		np, err := reacquire(ctx)
		if err != nil {
			return err
		}
		p, booked = np, false
		return nil
	}
	for {
		r := h.sharedRate()
		r.Booked, r.Auxiliary = booked, reacquire == nil
		a, err := h.l.shared.Allow(ctx, h.key, r)
		if err != nil {
			if ctx.Err() != nil {
				p.Release(Ignored)
				return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
			}
			h.l.sharedFailed(h.key, err)
			// Without the store this process runs alone: the others'
			// requests it counted are theirs to bound.
			h.useSharedLead(0)
			break
		}
		h.l.sharedOK()
		h.useSharedLearnt(a.Learnt)
		h.useSharedOthers(a.Others)
		if h.useSharedLead(a.Lead) && reacquire != nil {
			// The others' requests took p's slot: it waits for one.
			if err := retake(); err != nil {
				return Permit{}, err
			}
			continue
		}
		if a.Cap > 0 && h.capShared(a.Cap) && reacquire != nil {
			// p's slot is past the processes' share: it waits for one
			// under the capped limit.
			if err := retake(); err != nil {
				return Permit{}, err
			}
			continue
		}
		if a.Wait <= 0 {
			break
		}
		waited = true
		if a.Again && reacquire != nil && h.sharedGate(a.Gate) {
			if err := retake(); err != nil {
				return Permit{}, err
			}
			continue
		}
		// The wait counts from the answer, read here.
		if !timer.Set(h.l.clock, h.l.clock.Now().Add(a.Wait)) {
			select {
			case <-ctx.Done():
				p.Release(Ignored)
				return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
			case <-timer.C():
			}
		}
		// After a gate the place is booked anew: places booked before it
		// would all start when it opens.
		booked = !a.Again
	}
	if waited && !p.start.IsZero() {
		p.start = h.l.clock.Now()
	}
	return p, nil
}

// sharedGate applies the shared gate, open at until, to the host's own gate,
// and reports whether the host's gate is closed now. A gate this process
// did not know of (another process's throttle closed it) cuts the host's
// concurrency limit as a drop that closed that gate does (the level it
// held is remembered as a refusal's, see delayAlgorithm.gated): the
// processes together sent more than the server takes, and each one's limit
// is its share of the sum; without the cut, every process would start its
// whole limit again when the gate opens, and grow back past its share. The
// host's own gate then paces the reopening (see restart).
func (h *Host) sharedGate(until time.Time) bool {
	if until.IsZero() {
		return false
	}
	now := h.l.clock.Now()
	if !until.After(now) {
		return false
	}
	if limit := now.Add(h.l.cfg.RetryAfterMax); until.After(limit) {
		until = limit
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	known := now.Before(h.gateUntil)
	if until.After(h.gateUntil) {
		h.gateUntil = until
	}
	if !known {
		h.ctl.onDrop(now, h.inFlight, h.ctl.cuts, h.gateUntil, false, 0, 0)
		h.syncLimitLocked()
	}
	h.syncClockedLocked()
	return true
}

// capShared lowers the host's concurrency limit to limit when it is above
// it, and reports whether the requests in flight are more than limit.
func (h *Host) capShared(limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctl.limit > float64(limit) {
		h.ctl.set(float64(limit))
		h.syncLimitLocked()
	}
	return h.inFlight > limit
}

// sharedRate is the host as this process sees it now.
func (h *Host) sharedRate() SharedRate {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := SharedRate{Ceiling: h.pace.ceiling, Burst: h.pace.curBurst, Successes: h.successes, Throttles: h.throttled,
		Limit: h.limit, Probing: h.ctl.slowStart, AtMost: h.ctl.limit >= h.ctl.max}
	r.Full = r.Probing && h.inFlight >= h.limit
	if h.pace.quotaActive(h.l.clock.Now()) {
		r.Quota, r.Throttles = h.pace.quota, 0
	}
	return r
}

// useSharedLearnt paces the host by the rate learnt together (when there is
// one) instead of the rate this process learnt from its own share of the
// answers, which would hold it below the shared rate.
func (h *Host) useSharedLearnt(learnt float64) {
	if learnt <= 0 {
		return
	}
	now := h.l.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pace.learnt == learnt || h.pace.quotaActive(now) {
		return
	}
	h.pace.learnt, h.pace.pushed().slow = learnt, true
	h.applyRateLocked(now)
}

// useSharedLead counts n of the other processes' requests in h's requests
// in flight (see SharedAnswer.Lead), and reports whether n grew past the
// room under the limit for the permit just taken, which is kept when it is
// the process's only one (see takeLocked).
func (h *Host) useSharedLead(n int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	led := h.ledLocked()
	if n == led {
		return false
	}
	h.inFlight += n - led
	h.pace.pushed().led = n
	if n < led {
		h.wakeHeadLocked()
		return false
	}
	return h.inFlight > h.limit && h.inFlight-n > 1
}

// ledLocked is how many of h's requests in flight are other processes'
// (see useSharedLead).
func (h *Host) ledLocked() int {
	if pb := h.pace.pushback; pb != nil {
		return pb.led
	}
	return 0
}

// useSharedOthers notes the requests the other processes sent to the host,
// for the quota's reader (see SharedAnswer.Others).
func (h *Host) useSharedOthers(n uint64) {
	if n == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if pb := h.pace.pushed(); n > pb.others {
		pb.others = n
	}
}

// shareGate closes the shared gate of h until until.
func (h *Host) shareGate(until time.Time) {
	if err := h.l.shared.Gate(context.Background(), h.key, until, h.sharedRate()); err != nil {
		h.l.sharedFailed(h.key, err)
		return
	}
	h.l.sharedOK()
}

// shareThrottle tells the shared store at once of a throttle (a refusal
// for rate) whose gate is closed: the other processes must not take that
// gate for a refusal of their concurrency (see SharedAnswer.Cap).
func (h *Host) shareThrottle() {
	h.mu.Lock()
	until := h.gateUntil
	h.mu.Unlock()
	if until.IsZero() || !until.After(h.l.clock.Now()) {
		return
	}
	h.shareGate(until)
}

// sharedState logs a failing Shared store once per streak of failures.
type sharedState struct{ failing atomic.Bool }

func (l *Limiter) sharedFailed(key string, err error) {
	if !l.sharedErr.failing.Swap(true) {
		l.log.Warn("limiter: shared politeness unavailable; going on under this process's own limits until it is back",
			zap.String("host", key), zap.Error(err))
	}
}

func (l *Limiter) sharedOK() {
	if l.sharedErr.failing.Load() && l.sharedErr.failing.Swap(false) {
		l.log.Info("limiter: shared politeness is back")
	}
}
