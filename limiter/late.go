package limiter

import (
	"math"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// How a Limiter on the real clock measures whether its process waits for
// a CPU.
const (
	lateEvery = 15 * time.Millisecond  // the least time between two readings
	lateStale = 100 * time.Millisecond // a reading older than this, or over a span longer than this, is none
)

// Slow start holds a window read while the process waited for a CPU or its
// goroutines to run (see control.readLate).
const (
	lateWait  = 0.5 // threads of the process waiting on a run queue, or sampled goroutines waiting to run (see schedLatency), on average, from which it runs late (a quiet 2-core machine reads 0.1-0.3 threads, three busy loops beside a crawl 1.0-1.8; a crawl of 8 hosts × 200/s reads 0.06-0.24 goroutines, of 30 hosts 1.7-3.1 in its first 300 ms)
	lateHolds = 8   // windows in a row slow start holds at most: past them the machine is loaded, not its start
)

// runQueueWait, where the system tells it, returns the time all the
// process's threads have waited for a CPU on a run queue since they
// started (see late_linux.go); nil elsewhere.
var runQueueWait func() (time.Duration, bool)

// schedLatency returns the time the process's goroutines have waited to run
// since it started, as the runtime samples it (runtime/metrics'
// /sched/latencies:seconds times one goroutine in eight): each bucket's
// count at its middle, the last, unbounded one's at its lower bound.
func schedLatency() time.Duration {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s[0].Value.Float64Histogram()
	sum := 0.0
	for i, n := range h.Counts {
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		sum += float64(n) * (lo + hi) / 2
	}
	return time.Duration(sum * float64(time.Second))
}

// lateness measures how many of the process's threads waited for a CPU,
// or of its sampled goroutines waited to run, whichever is more, on average over
// the wall time between two readings of runQueueWait and schedLatency, read
// at most once every lateEvery and only while some host asks. Where the
// machine's CPUs are busy (other processes, a crawl's own start), a
// goroutine that reads an answer waits for a thread that waits for a CPU,
// and each answer reads the server's time plus that wait: time the
// runtime's own clocks do not see, as the kernel takes it from the whole
// process. Where the runtime's own work holds its threads (the garbage
// collector's mark workers take one of two, 6-9 ms a cycle, several cycles
// a second while a crawl's heap grows at its start), goroutines wait for a
// thread that the kernel runs: only the runtime's scheduler latency sees
// that.
type lateness struct {
	read   func() (time.Duration, bool) // runQueueWait, or nil
	goRead func() time.Duration         // schedLatency, or nil

	waiting atomic.Int64 // the last readings' threads or goroutines waiting, in thousandths
	fresh   atomic.Int64 // Unix ns of the last reading of waiting; 0: none
	readAt  atomic.Int64 // Unix ns of the last read
	total   atomic.Int64 // read's total at the last read, in ns
	goTotal atomic.Int64 // goRead's total at the last read, in ns
	busy    atomic.Bool  // a read is under way
}

// newLateness returns a lateness that reads read and goRead (either may be
// nil), primed with one reading, or nil if both are nil or read fails.
func newLateness(read func() (time.Duration, bool), goRead func() time.Duration) *lateness {
	if read == nil && goRead == nil {
		return nil
	}
	lt := &lateness{read: read, goRead: goRead}
	if !lt.sample(time.Now()) {
		return nil
	}
	return lt
}

// threads returns how many of the process's threads waited for a CPU, or
// of its goroutines to run, lately (see lateness), 0 if no reading is recent; if the last read is
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

// sample reads runQueueWait and schedLatency at now and, if the read before
// it is at most lateStale old, takes the threads or goroutines waiting
// between them, whichever are more, into the reading (halving the old one's
// weight). It reports whether the read succeeded.
func (lt *lateness) sample(now time.Time) bool {
	var total, goTotal time.Duration
	if lt.read != nil {
		var ok bool
		if total, ok = lt.read(); !ok {
			return false
		}
	}
	if lt.goRead != nil {
		goTotal = lt.goRead()
	}
	ns := now.UnixNano()
	prevAt, prevTotal, prevGo := lt.readAt.Load(), lt.total.Load(), lt.goTotal.Load()
	lt.readAt.Store(ns)
	lt.total.Store(int64(total))
	lt.goTotal.Store(int64(goTotal))
	span := ns - prevAt
	if prevAt == 0 || span <= 0 || span > int64(lateStale) {
		return true
	}
	w := max(0, (int64(total)-prevTotal)*1000/span, (int64(goTotal)-prevGo)*1000/span)
	if ns-lt.fresh.Load() <= int64(lateStale) {
		old := lt.waiting.Load()
		w = old + (w-old)/2
	}
	lt.waiting.Store(w)
	lt.fresh.Store(ns)
	return true
}
