package limiter

import (
	"sync/atomic"
	"time"
)

// How a Limiter on the real clock measures whether its process waits for
// a CPU.
const (
	lateEvery = 15 * time.Millisecond  // the least time between two readings
	lateStale = 100 * time.Millisecond // a reading older than this, or over a span longer than this, is none
)

// Slow start holds a window read while the process waited for a CPU (see
// control.readLate).
const (
	lateWait  = 0.5 // threads of the process waiting on a run queue, on average, from which it runs late (a quiet 2-core machine reads 0.1-0.3, three busy loops beside a crawl 1.0-1.8)
	lateHolds = 8   // windows in a row slow start holds at most: past them the machine is loaded, not its start
)

// runQueueWait, where the system tells it, returns the time all the
// process's threads have waited for a CPU on a run queue since they
// started (see late_linux.go); nil elsewhere.
var runQueueWait func() (time.Duration, bool)

// lateness measures how many of the process's threads waited for a CPU,
// on average over the wall time between two readings of runQueueWait, read
// at most once every lateEvery and only while some host asks. Where the
// machine's CPUs are busy (other processes, a crawl's own start), a
// goroutine that reads an answer waits for a thread that waits for a CPU,
// and each answer reads the server's time plus that wait: time the
// runtime's own clocks (a timer's wake delay, its scheduler latency) do not
// see, as the kernel takes it from the whole process.
type lateness struct {
	read func() (time.Duration, bool)

	waiting atomic.Int64 // the last readings' threads waiting, in thousandths
	fresh   atomic.Int64 // Unix ns of the last reading of waiting; 0: none
	readAt  atomic.Int64 // Unix ns of the last read
	total   atomic.Int64 // runQueueWait at the last read, in ns
	busy    atomic.Bool  // a read is under way
}

// newLateness returns a lateness that reads read, primed with one reading,
// or nil if read is nil or fails.
func newLateness(read func() (time.Duration, bool)) *lateness {
	if read == nil {
		return nil
	}
	lt := &lateness{read: read}
	if !lt.sample(time.Now()) {
		return nil
	}
	return lt
}

// threads returns how many of the process's threads waited for a CPU
// lately (see lateness), 0 if no reading is recent; if the last read is
// lateEvery old it reads again in a goroutine of its own (a glob and a
// small read per thread, tens of µs, off the request's path; a host's new
// peak in slow start asks too, so that its level's window finds a reading).
func (lt *lateness) threads(now time.Time) float64 {
	ns := now.UnixNano()
	if ns-lt.readAt.Load() >= int64(lateEvery) && lt.busy.CompareAndSwap(false, true) {
		go func() {
			lt.sample(now)
			lt.busy.Store(false)
		}()
	}
	if ns-lt.fresh.Load() > int64(lateStale) {
		return 0
	}
	return float64(lt.waiting.Load()) / 1000
}

// sample reads runQueueWait at now and, if the read before it is at most
// lateStale old, takes the threads waiting between them into the reading
// (halving the old one's weight). It reports whether the read succeeded.
func (lt *lateness) sample(now time.Time) bool {
	total, ok := lt.read()
	if !ok {
		return false
	}
	ns := now.UnixNano()
	prevAt, prevTotal := lt.readAt.Load(), lt.total.Load()
	lt.readAt.Store(ns)
	lt.total.Store(int64(total))
	span := ns - prevAt
	if prevAt == 0 || span <= 0 || span > int64(lateStale) {
		return true
	}
	w := max(0, (int64(total)-prevTotal)*1000/span)
	if ns-lt.fresh.Load() <= int64(lateStale) {
		old := lt.waiting.Load()
		w = old + (w-old)/2
	}
	lt.waiting.Store(w)
	lt.fresh.Store(ns)
	return true
}
