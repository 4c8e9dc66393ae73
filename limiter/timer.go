package limiter

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// lazyTimer is a clock's timer for a wait, made at its first set.
type lazyTimer struct{ t clockwork.Timer }

// set makes the timer fire at at, by c, or stops it and reports that at has
// passed. A timer counts its duration from the clock as it reads when the
// timer is set, so a clock that moved past at after the read the duration
// came from (a fake clock that a test moves in one step) would leave it
// firing that much later: set reads the clock again once the timer is set.
func (l *lazyTimer) set(c clockwork.Clock, at time.Time) (passed bool) {
	if d := at.Sub(c.Now()); d > 0 {
		if l.t == nil {
			l.t = c.NewTimer(d)
		} else {
			l.t.Reset(d)
		}
		if c.Now().Before(at) {
			return false
		}
	}
	l.stop()
	return true
}

// c is the timer's channel; nil (never ready) before the first set.
func (l *lazyTimer) c() <-chan time.Time {
	if l.t == nil {
		return nil
	}
	return l.t.Chan()
}

func (l *lazyTimer) stop() {
	if l.t != nil {
		l.t.Stop()
	}
}
