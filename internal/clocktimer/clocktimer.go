// Package clocktimer holds a timer for a wait until a time on an injected
// clock (clockwork), for the limiter's and the engine's waits. It imports
// nothing of politely's, so that every package may use it.
package clocktimer

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Timer is a clock's timer for a wait, made at its first Set: a timer made
// and stopped at once would, for that moment, be one more waiter on a fake
// clock, and a test that moves its clock while timers wait could move it
// then. The zero Timer is ready to use.
type Timer struct{ t clockwork.Timer }

// Set makes the timer fire at at, by c, or stops it and reports that at has
// passed. A timer counts its duration from the clock as it reads when the
// timer is set, so a clock that moved past at after the read the duration
// came from (a fake clock that a test moves in one step) would leave it
// firing that much later: Set reads the clock again once the timer is set.
//
// A timer that fired while nobody read it (the clock passed at between the
// two reads, or its reader left for another reason) keeps that tick in its
// channel: a fake clock's timer does even after Stop or Reset. Set drains
// it whenever it stops or resets the timer, so that C never hands the next
// wait an old tick and ends it early.
func (l *Timer) Set(c clockwork.Clock, at time.Time) (passed bool) {
	if d := at.Sub(c.Now()); d > 0 {
		if l.t == nil {
			l.t = c.NewTimer(d)
		} else {
			l.drain()
			l.t.Reset(d)
		}
		if c.Now().Before(at) {
			return false
		}
	}
	l.Stop()
	return true
}

// drain stops the timer and takes a tick left in its channel, if any.
func (l *Timer) drain() {
	l.t.Stop()
	select {
	case <-l.t.Chan():
	default:
	}
}

// C is the timer's channel; nil (never ready) before the first Set.
func (l *Timer) C() <-chan time.Time {
	if l.t == nil {
		return nil
	}
	return l.t.Chan()
}

// Stop stops the timer, if one was made, and drops a tick it left unread.
func (l *Timer) Stop() {
	if l.t != nil {
		l.drain()
	}
}

// Stepping is a fake clock for tests that moves by Step as its first timer
// is made, before making it: a test's Advance that lands between the read of
// the clock a timer's duration comes from and the timer.
type Stepping struct {
	*clockwork.FakeClock
	Step time.Duration
	once sync.Once
}

// NewTimer moves the clock by Step the first time, then makes the timer.
func (c *Stepping) NewTimer(d time.Duration) clockwork.Timer {
	c.once.Do(func() { c.Advance(c.Step) })
	return c.FakeClock.NewTimer(d)
}

// After is NewTimer's channel.
func (c *Stepping) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).Chan() }
