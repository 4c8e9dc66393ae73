package limiter

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Shared is a host's politeness shared with other processes: a rate
// enforced for all of them together and a gate any of them can close. The
// Limiter calls it outside the host's lock; an implementation talks to a
// store such as Redis. Errors are logged and the process goes on under its
// own limits.
type Shared interface {
	// Allow counts one request to key against the shared rate built from r
	// and returns how long it must wait before it starts: 0 to start now.
	// With again set, the wait is for key's shared gate and the request
	// asks again after it; otherwise it starts after the wait (its place
	// under the shared rate is booked).
	Allow(ctx context.Context, key string, r SharedRate) (wait time.Duration, again bool, err error)
	// Gate closes key's gate for every process until the given time; a gate
	// never moves earlier.
	Gate(ctx context.Context, key string, until time.Time) error
}

// SharedRate is what a host's rate is made of, as this process sees it. The
// shared rate is the lowest of the ceiling, the quota and what every process
// learnt together.
type SharedRate struct {
	Ceiling float64 // the user's ceiling, requests/s; 0 = none
	Quota   float64 // the rate an announced quota allows now; 0 = none
	Learnt  float64 // the rate this process learnt from throttles; 0 = none
	Burst   int     // the local bucket's burst; 0 when no rate applies
}

// sharedTimeout bounds each call to the Shared store, so that a store that
// hangs does not hold requests for longer than this.
const sharedTimeout = 2 * time.Second

// WithShared makes every Acquire also ask s (after the host's own gate,
// bucket and concurrency limit allow it) and every Gate close s's gate too.
// Each process keeps its own adaptive concurrency limit.
func WithShared(s Shared) Option { return func(l *Limiter) { l.shared = s } }

// acquireShared is Acquire with a Shared store: the local permit first, then
// the shared gate and rate; the permit's latency is timed from when both
// allow the request.
func (h *Host) acquireShared(ctx context.Context) (Permit, error) {
	p, err := h.acquire(ctx)
	if err != nil {
		return p, err
	}
	return h.admitShared(ctx, p)
}

// admitShared waits until the shared gate and rate allow p's request.
func (h *Host) admitShared(ctx context.Context, p Permit) (Permit, error) {
	waited := false
	for {
		h.mu.Lock()
		r := SharedRate{Ceiling: h.pace.ceiling, Learnt: h.pace.learnt, Burst: h.pace.curBurst}
		if h.pace.quotaActive(h.l.clock.Now()) {
			r.Quota = h.pace.quota
		}
		h.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		wait, again, err := h.l.shared.Allow(cctx, h.key, r)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				p.Release(Ignored)
				return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
			}
			h.l.sharedFailed(h.key, err)
			break
		}
		h.l.sharedOK()
		if wait <= 0 {
			break
		}
		waited = true
		select {
		case <-ctx.Done():
			p.Release(Ignored)
			return Permit{}, fmt.Errorf("limiter: acquire %s: %w", h.key, ctx.Err())
		case <-h.l.clock.After(wait):
		}
		if !again {
			break
		}
	}
	if waited && !p.start.IsZero() {
		p.start = h.l.clock.Now()
	}
	return p, nil
}

// shareGate closes the shared gate of h until until.
func (h *Host) shareGate(until time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := h.l.shared.Gate(ctx, h.key, until); err != nil {
		h.l.sharedFailed(h.key, err)
		return
	}
	h.l.sharedOK()
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
