package mockapi

import (
	"sync/atomic"
	"time"
)

// timerLag is how late this process's timers fire, so that Handler.wait sets
// its timer that much early and a service time lasts what the scenario says.
// Go's netpoller on Linux sleeps in whole milliseconds (epoll_wait), so a
// timer fires up to a millisecond late, half a millisecond at the median: 2.5%
// of a 20 ms service time that the server would otherwise charge to its
// client's goodput. The lag starts there and follows the median lateness of
// the waits that run to their end, a step per wait, so that no single late
// wait (a loaded machine's) moves it much: a client's cold start sees service
// times as steady as the scenario's. The zero value is ready to use.
type timerLag struct {
	ns atomic.Int64 // the lag less lagStart
}

const (
	// lagStart is the lag before any wait is seen: the netpoller's median
	// lateness.
	lagStart = 500 * time.Microsecond
	// lagMax is the most a timer is set early: a loaded machine's
	// lateness beyond it is the machine's, not the timers' resolution.
	lagMax = 2 * time.Millisecond
	// lagStep is how far one wait moves the lag, towards its own lateness.
	lagStep = 10 * time.Microsecond
)

// lag is how early a timer is set.
func (l *timerLag) lag() time.Duration { return lagStart + time.Duration(l.ns.Load()) }

// early is d less the lag, at least 0.
func (l *timerLag) early(d time.Duration) time.Duration { return max(d-l.lag(), 0) }

// observe learns from a wait that ended late past its due time (early when
// negative).
func (l *timerLag) observe(late time.Duration) {
	step := int64(lagStep)
	if late < 0 {
		step = -step
	} else if late == 0 {
		return
	}
	for {
		old := l.ns.Load()
		n := min(max(old+step, -int64(lagStart)), int64(lagMax-lagStart))
		if n == old || l.ns.CompareAndSwap(old, n) {
			return
		}
	}
}
