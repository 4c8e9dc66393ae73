package mockapi

import (
	"sync"
	"time"
)

// slots is the Capacity model: a counting semaphore whose size follows the
// schedule, with a bounded FIFO queue of waiters in front of it.
type slots struct {
	cfg   Capacity
	start time.Time
	now   func() time.Time

	mu      sync.Mutex
	inUse   int
	waiters []*slotWaiter
}

type slotWaiter struct {
	ready     chan struct{}
	granted   bool      // set under slots.mu when ready is closed
	grantedAt time.Time // real time of the grant, set with granted
}

func newSlots(cfg Capacity, start time.Time, now func() time.Time) *slots {
	return &slots{cfg: cfg, start: start, now: now}
}

// size is the number of slots at instant t.
func (s *slots) size(t time.Time) int { return s.cfg.slotsAt(t.Sub(s.start)) }

// acquire takes a slot, waiting in the queue if all slots are busy and the
// queue has room, and returns the real time the slot became its own: service
// time counts from then, so a loaded scheduler's delay in waking a waiter
// does not lengthen it. It reports false when the request must be turned away
// (queue full) or stopped waiting because gone or closed was closed; the
// caller tells these apart by checking the channels.
func (s *slots) acquire(gone, closed <-chan struct{}) (time.Time, bool) {
	s.mu.Lock()
	s.grantLocked()
	if s.inUse < s.size(s.now()) && len(s.waiters) == 0 {
		s.inUse++
		s.mu.Unlock()
		return time.Now(), true
	}
	if len(s.waiters) >= s.cfg.Queue {
		s.mu.Unlock()
		return time.Time{}, false
	}
	w := &slotWaiter{ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return w.grantedAt, true
	case <-gone:
	case <-closed:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		// Granted while the wait ended: hand the slot on.
		s.inUse--
		s.grantLocked()
		return time.Time{}, false
	}
	for i, q := range s.waiters {
		if q == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			break
		}
	}
	return time.Time{}, false
}

// release gives back a slot taken by acquire.
func (s *slots) release() {
	s.mu.Lock()
	s.inUse--
	s.grantLocked()
	s.mu.Unlock()
}

// grantLocked hands free slots to waiters in arrival order. A schedule step
// up takes effect at the next acquire or release, which comes within one
// service time since waiters only exist while every slot is busy.
func (s *slots) grantLocked() {
	size := s.size(s.now())
	for len(s.waiters) > 0 && s.inUse < size {
		w := s.waiters[0]
		s.waiters[0] = nil
		s.waiters = s.waiters[1:]
		w.granted, w.grantedAt = true, time.Now()
		s.inUse++
		close(w.ready)
	}
}
