package engine

import (
	"sync/atomic"
	"time"
)

// Counts are the item and attempt counters of a run. Once the run has ended,
// Read == Skipped + Succeeded + Failed + Unfinished.
type Counts struct {
	Read       int64 // items read from the source, skipped ones included
	Skipped    int64 // items skipped (Job.WithSkip)
	Succeeded  int64 // items whose handler returned nil
	Failed     int64 // items failed for good (the sink got them)
	Unfinished int64 // items left unfinished by an interrupted run (the sink got them as ReasonInterrupted)
	Attempts   int64 // handler calls
	Retries    int64 // attempts after an item's first
	Throttled  int64 // attempts that failed with an error that Is limiter.ErrThrottled
	Timeouts   int64 // attempts that failed after their task timeout
	Panics     int64 // attempts whose handler panicked
}

// Progress is a snapshot of a running run, see WithProgress. Consumers add
// to the counts after every attempt, so a snapshot counts every attempt that
// had returned when it was taken.
type Progress struct {
	Counts
	Elapsed   time.Duration
	InFlight  int     // consumers holding an item: running its handler (or, WithLimitFunc, waiting for its permit)
	Consumers int     // live consumers
	Limit     int     // the limit the consumers follow, clamped to [1, max consumers]
	Rate      float64 // items finished (succeeded or failed) per second since the previous snapshot
}

// Stats is what a run did.
type Stats struct {
	Counts
	Elapsed      time.Duration
	MaxConsumers int  // the most consumers live at once
	FinalLimit   int  // the limit followed at the end, clamped
	Interrupted  bool // the run stopped before finishing what it read: ctx was cancelled or the checkpointer failed
}

// tally is what a consumer counted since it last flushed.
type tally struct {
	succeeded, failed, unfinished int64
	attempts, retries, throttled  int64
	timeouts, panics              int64
	finished                      int64 // items finished for good
}

// flush adds t to slot s and the run's count of finished items, and ends the
// run's work if that was the last item.
func (r *run[T]) flush(s *slot, t *tally) {
	s.succeeded.Add(t.succeeded)
	s.failed.Add(t.failed)
	s.unfinished.Add(t.unfinished)
	s.attempts.Add(t.attempts)
	s.retries.Add(t.retries)
	s.throttled.Add(t.throttled)
	s.timeouts.Add(t.timeouts)
	s.panics.Add(t.panics)
	if t.finished > 0 {
		r.finished.Add(t.finished)
	}
	*t = tally{}
	r.checkDrained()
}

// slot holds the counters of one consumer. Each consumer writes only its own
// slot, which sits on its own cache lines, so counting costs no contention;
// a slot is reused by later consumers and its counts add up. busy is false
// while the consumer waits for an item.
type slot struct {
	succeeded, failed, unfinished atomic.Int64
	attempts, retries, throttled  atomic.Int64
	timeouts, panics              atomic.Int64
	busy                          atomic.Bool
	_                             [128 - 8*8 - 4]byte
}

// counts sums the counters of the run so far.
func (r *run[T]) counts() Counts {
	var c Counts
	for i := range r.slots {
		s := &r.slots[i]
		c.Succeeded += s.succeeded.Load()
		c.Failed += s.failed.Load()
		c.Unfinished += s.unfinished.Load()
		c.Attempts += s.attempts.Load()
		c.Retries += s.retries.Load()
		c.Throttled += s.throttled.Load()
		c.Timeouts += s.timeouts.Load()
		c.Panics += s.panics.Load()
	}
	c.Skipped = r.skipped.Load()
	c.Read = r.read.Load() + c.Skipped
	c.Unfinished += r.lost.Load()
	return c
}

func (r *run[T]) inFlight() int {
	n := 0
	for i := range r.slots {
		if r.slots[i].busy.Load() {
			n++
		}
	}
	return n
}
