package limiter

import (
	"errors"
	"fmt"
	"time"
)

// Outcome says what a request's answer tells about the host's load.
type Outcome int

// The outcomes a Permit is released with.
const (
	// Success did its work; its latency is a sample.
	Success Outcome = iota + 1
	// Ignored says nothing about load: 404, a request the caller cancelled.
	Ignored
	// Dropped is overload: 503, timeout, connection reset. The concurrency
	// limit shrinks.
	Dropped
	// Throttled was refused for rate (429, quota-exhausted 403). The limit
	// shrinks and, where no quota is announced, the host's rate is learnt
	// (cut on throttle, probe upward slowly).
	Throttled
	// Errored is a server error (500): alone it says nothing about load, a
	// page the server fails to render. A run of them with no success between
	// that is as long as the host's limit (at least 4), not counting retries
	// (see Permit.Retried), is a server in trouble: the limit shrinks once, and the host pauses, then sends one
	// request at a time until one succeeds (see Host.Snapshot's Dropped). A
	// server that answers errors at once would otherwise be asked again as
	// fast as it answers.
	Errored
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Ignored:
		return "ignored"
	case Dropped:
		return "dropped"
	case Throttled:
		return "throttled"
	case Errored:
		return "errored"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Permit allows one request to a host to run. It is a value (no allocation
// per request). Release it exactly once: a second Release of the same permit
// (or of a copy) panics. Releasing the zero Permit does nothing.
type Permit struct {
	h     *Host
	start time.Time // zero: untimed (latency sampling skipped this permit)
	seq   uint32    // the low bits of the host's count of permits when it was taken
	epoch uint32    // the host's cut count when the permit was taken
	level uint32    // the host's count of limit changes when the permit was taken
	slot  uint32    // the permit's entry in the host's ledger
	gen   uint32
	busy  uint32 // the host's requests in flight, this one's included, when it was taken

	answered bool // released for an answer the server sent (see Answered)
	peak     bool // taken as the host's in-flight count rose past any it had reached
	retry    bool // taken for a request its caller already tried and failed (see Retried)
	aux      bool // taken by AcquireAuxiliary
}

// Release returns the permit's concurrency slot and reports the outcome. The
// latency is measured from Acquire's return to Release by the Limiter's
// clock. When windows hold more than 64 permits, Acquire times only a sample
// of them (32 to 64 per window) and the others' latency is not read.
func (p Permit) Release(o Outcome) {
	if p.h == nil {
		return
	}
	p.h.releaseAt(time.Time{}, p, o)
}

// Unsampled returns p with its latency left out of the host's samples, for a
// request that is not like the host's work (a robots.txt, a listing page):
// answered much faster or slower than the work, it would mislead the RTT
// baseline and slow start. Its release still counts for the concurrency
// limit, drops, throttles and the rate, and when it started still counts for
// what the host learns from its first throttle. Release the returned permit
// instead of p.
func (p Permit) Unsampled() Permit {
	if p.h != nil && !p.start.IsZero() {
		// When it started still counts for the host's first throttle's
		// episode (see learner.started).
		p.h.mu.Lock()
		if p.h.pace.learn.ep != nil {
			p.h.pace.learn.started(p.h.seqOf(p), p.start)
		}
		p.h.mu.Unlock()
	}
	return p.untimed()
}

// untimed returns p with no latency sample.
func (p Permit) untimed() Permit {
	p.start = time.Time{}
	return p
}

// Answered returns p marked as released for an answer the server sent,
// such as a 503 without a usable Retry-After, rather than for a timeout or
// a refused or reset connection. Released Dropped while the host sends one
// request at a time and no gate holds, such an answer closes a pause of its
// own, as a 429 without a Retry-After does: a server that answers every
// request at once with a bare 503 would otherwise get the next request as
// soon as the last came back, thousands a second. Where such answers come
// again and again with requests served between them, the host learns a
// rate from them, as from bare 429s. Release the returned permit instead
// of p.
func (p Permit) Answered() Permit {
	p.answered = true
	return p
}

// Retried returns p marked as taken for a request that its caller already
// sent and that failed: a retry. A retry's server error (Errored) does not
// count toward the run of errors that opens the host (see Errored): the
// last requests of a crawl are often the retries of a few items the server
// always fails, failing in a row with nothing else to succeed between, and
// they tell of broken items, not of a server in trouble. First attempts
// still open the host in a storm; once it is open, a retry's error pauses
// it as any probe's does. Release the returned permit instead of p.
func (p Permit) Retried() Permit {
	p.retry = true
	return p
}

// Excluding returns p with d left out of its latency sample, for time the
// request spent on something other than the host's work, such as opening a
// connection (DNS, TCP and TLS handshakes cost round trips that a reused
// connection does not). A permit whose latency is not sampled is returned
// unchanged. Release the returned permit instead of p.
func (p Permit) Excluding(d time.Duration) Permit {
	if !p.start.IsZero() && d > 0 {
		p.start = p.start.Add(d)
	}
	return p
}

// Sampled reports whether p's latency will be a sample of its host's RTT
// (Acquire times only a share of permits when many are in flight).
func (p Permit) Sampled() bool { return !p.start.IsZero() }

// ReleaseAt is Release at the time now: the non-blocking core's counterpart
// of TryAcquireAt, for callers that keep their own (virtual) time.
func (p Permit) ReleaseAt(now time.Time, o Outcome) {
	if p.h == nil {
		return
	}
	if now.IsZero() {
		now = p.h.l.clock.Now()
	}
	p.h.releaseAt(now, p, o)
}

// ErrThrottled marks an error caused by the remote host refusing for rate.
var ErrThrottled = errors.New("throttled")

// RetryAfterError says the host asked not to be called again before Until.
// It matches ErrThrottled with errors.Is.
type RetryAfterError struct {
	Until time.Time
	Err   error
}

func (e *RetryAfterError) Error() string {
	if e.Err == nil {
		return "throttled: retry after " + e.Until.UTC().Format(time.RFC3339Nano)
	}
	return e.Err.Error() + ": retry after " + e.Until.UTC().Format(time.RFC3339Nano)
}

// Unwrap returns the underlying error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Is reports whether target is ErrThrottled.
func (e *RetryAfterError) Is(target error) bool { return target == ErrThrottled }
