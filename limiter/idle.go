package limiter

import (
	"fmt"
	"time"
)

// DefaultMaxHosts is how many hosts a Limiter keeps before it forgets idle
// ones (WithMaxHosts).
const DefaultMaxHosts = 10_000

// WithMaxHosts makes the Limiter forget idle hosts once it holds more than n,
// so that a crawl over any number of hosts holds a bounded number: each new
// host beyond n forgets up to two idle ones, found by a second-chance sweep
// (a host acquired since the sweep last passed it is skipped once). A host is
// idle when it has no permit out and no waiter, its gate has passed, and
// nothing it learnt would be lost: no announced quota in force, no learnt
// rate, no ceiling lowered by SetCeiling, a full bucket. A forgotten host
// starts afresh (Config's initial limit) when used again. n = 0 never
// forgets; default DefaultMaxHosts.
func WithMaxHosts(n int) Option {
	return func(l *Limiter) { l.idle.max = n }
}

// idleHosts is the sweep's state: the hosts in creation order (give or take
// the swaps of removals) and the sweep's hand.
type idleHosts struct {
	max  int
	ring []*Host
	hand int
}

func (ih *idleHosts) check() error {
	if ih.max < 0 {
		return fmt.Errorf("limiter: WithMaxHosts(%d): must be >= 0", ih.max)
	}
	return nil
}

// keepLocked records the new host h and, beyond the maximum, forgets up to
// two idle hosts. l.mu is held.
func (l *Limiter) keepLocked(h *Host) {
	ih := &l.idle
	if ih.max == 0 {
		return
	}
	ih.ring = append(ih.ring, h)
	if len(ih.ring) <= ih.max {
		return
	}
	now := l.clock.Now()
	forgot := 0
	for tries := 0; tries < 8 && forgot < 2 && len(ih.ring) > ih.max; tries++ {
		if ih.hand >= len(ih.ring) {
			ih.hand = 0
		}
		x := ih.ring[ih.hand]
		if x == h || !x.forget(now) {
			ih.hand++
			continue
		}
		// The newest host takes x's place, behind the hand: the sweep
		// passes it after the others, not at once, as it would a host
		// that has waited since it was made.
		last := len(ih.ring) - 1
		ih.ring[ih.hand], ih.ring[last] = ih.ring[last], nil
		ih.ring = ih.ring[:last]
		ih.hand++
		l.hosts.Delete(x.key)
		l.count.Add(-1)
		forgot++
	}
}

// forget marks h forgotten if it is idle (see WithMaxHosts) and was not used
// since the sweep last passed it, and takes its limit out of the total.
func (h *Host) forget(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.used {
		h.used = false
		return false
	}
	p := &h.pace
	switch {
	case h.inFlight > h.ledLocked() || len(h.waiters) > 0,
		!h.gateUntil.IsZero() && now.Before(h.gateUntil),
		p.learnt > 0 || p.quotaActive(now) || p.ceiling != h.configuredRate(),
		p.bucket != nil && p.bucket.TokensAt(now) < float64(p.curBurst):
		return false
	}
	h.gone.Store(true)
	h.l.total.Add(-int64(h.limit))
	return true
}

// Forgotten reports whether the Limiter forgot h (see WithMaxHosts): callers
// that keep a *Host should get it again from Limiter.Host.
func (h *Host) Forgotten() bool { return h.gone.Load() }
