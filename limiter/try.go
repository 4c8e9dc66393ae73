package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/politely/politely/internal/clocktimer"
)

// TryAcquire is the non-blocking Acquire, for schedulers that keep their
// work out of goroutines while a host may not start: it takes a permit as
// Acquire would, or returns when to try again as TryAcquireAt does (zero:
// after a release). Unlike TryAcquireAt it reads the clock only when the
// gate, the bucket or latency sampling needs it, and it does not overtake
// Acquire's waiters: while any wait it fails with a zero retryAt.
func (h *Host) TryAcquire() (p Permit, retryAt time.Time, ok bool) {
	p, start, retryAt, ok := h.TryAcquireUntimed()
	if start {
		p = p.Started()
	}
	return p, retryAt, ok
}

// TryAcquireUntimed is TryAcquire for a caller that starts a permit's latency
// sample itself, when its request begins, so that it does not read the clock
// while it holds locks of its own: when sampling picked the permit and no
// time was read for it, p comes back untimed and start is true, and
// p.Started() makes it a sample.
func (h *Host) TryAcquireUntimed() (p Permit, start bool, retryAt time.Time, ok bool) {
	var now time.Time
	if h.clocked.Load() {
		now = h.l.clock.Now()
	}
	h.mu.Lock()
	if len(h.waiters) > 0 {
		h.mu.Unlock()
		return Permit{}, false, time.Time{}, false
	}
	p, retryAt, ok = h.tryLocked(now)
	sampled := ok && h.ctl.sampled()
	h.mu.Unlock()
	if !ok {
		return Permit{}, false, retryAt, false
	}
	if !sampled {
		return p.untimed(), false, time.Time{}, true
	}
	return p, p.start.IsZero(), time.Time{}, true
}

// Started returns p with its latency sampled from now, by its limiter's
// clock, to its release.
func (p Permit) Started() Permit {
	if p.h != nil {
		p.start = p.h.l.clock.Now()
	}
	return p
}

// stamp times a permit that sampling picked, and leaves the others untimed:
// when the time was read for the gate or the bucket only, an untimed permit
// spares Release a clock read.
func (h *Host) stamp(p Permit, sampled bool) Permit {
	switch {
	case !sampled:
		p.start = time.Time{}
	case p.start.IsZero():
		p.start = h.l.clock.Now()
	}
	return p
}

// Admit readies a permit taken before its request was ready to go (by
// TryAcquire, then handed off): it waits while a gate closed since then (a
// Retry-After that arrived meanwhile) is still closed, and with WithShared
// until the shared gate and rate allow the request, as Acquire does. A timed
// permit's latency is then measured from Admit's return. If ctx ends first it
// releases p (Ignored) and returns an error wrapping ctx.Err().
func (h *Host) Admit(ctx context.Context, p Permit) (Permit, error) {
	if _, err := h.AwaitGate(ctx); err != nil {
		p.Release(Ignored)
		return Permit{}, err
	}
	if !p.start.IsZero() {
		// The latency sample starts now: the time since the permit was
		// taken was the caller's, not the host's.
		p.start = h.l.clock.Now()
		if p.peak {
			// So does the host's peak (see atPeakLocked).
			h.mu.Lock()
			if int(p.busy) == int(h.maxInFlight) {
				h.peakAt = p.start.UnixNano()
			}
			h.mu.Unlock()
		}
	}
	if h.l.shared != nil {
		return h.admitShared(ctx, p, h.acquire)
	}
	return p, nil
}

// AwaitGate waits while the host's gate is closed, for a request whose permit
// was taken before a Retry-After closed it and that is not on the wire yet
// (Admit's wait; a request that waited for a connection meanwhile), and
// then, where the host is paced, for a token: the requests held so would
// otherwise all go the instant the gate opens, next to the first one paced,
// and a bucket of a token or two refuses all but one of them (and closes the
// gate again). A rate that rises or ends wakes it to take its token
// anew: a rate that rose since (the gate's refusal paced the host at a
// request a second, the answers read during the gate at a hundred) would
// otherwise hold it for the old rate's token. It reports whether it waited,
// and returns an error wrapping ctx.Err() if ctx ended first. An open gate
// costs it no clock read.
func (h *Host) AwaitGate(ctx context.Context) (waited bool, err error) {
	var timer clocktimer.Timer
	defer timer.Stop()
	for h.clocked.Load() {
		now := h.l.clock.Now()
		h.mu.Lock()
		until := h.gateUntil
		var at time.Time
		var moved <-chan struct{}
		switch {
		case !until.IsZero() && now.Before(until):
			at = until
		case waited && h.pace.bucket != nil:
			if next, ok := h.pace.take(now); !ok && !(h.inFlight <= 1+h.ledLocked() && h.pace.reread(now)) {
				at, moved = next, h.pace.sleep()
			}
		}
		h.mu.Unlock()
		if at.IsZero() {
			break
		}
		waited = true
		if timer.Set(h.l.clock, at) {
			continue // its time came before the timer was set
		}
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
		case <-timer.C():
		case <-moved:
		}
	}
	return waited, nil
}

// AcquireAuxiliary is Acquire for the few requests a host's work waits on (a
// robots.txt): it waits for the gate and a token, and with
// WithShared for the shared gate and rate, but not for a concurrency slot,
// so that work holding every slot while it waits on such a request cannot
// deadlock. Its permit counts in flight like any other; its latency is not a
// sample.
func (h *Host) AcquireAuxiliary(ctx context.Context) (Permit, error) {
	var timer clocktimer.Timer
	defer timer.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, err)
		}
		now := h.l.clock.Now()
		h.mu.Lock()
		p, at, ok := h.takeLocked(now, false)
		h.mu.Unlock()
		if ok {
			p = p.untimed()
			p.aux = true
			if h.l.shared != nil {
				return h.admitShared(ctx, p, nil)
			}
			return p, nil
		}
		if timer.Set(h.l.clock, at) {
			continue // its time came before the timer was set
		}
		select {
		case <-ctx.Done():
		case <-timer.C():
		}
	}
}
