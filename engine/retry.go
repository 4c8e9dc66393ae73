package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/internal/clocktimer"
	"github.com/politely/politely/limiter"
)

// Retry is the retry policy: how many attempts, how long between them, and
// how many retries the whole run may make. The zero value is the default
// policy. Run applies it to every item (WithRetry), with the attempts and
// backoff Job.WithRetryFor gives an item; Do applies it to one call.
//
// The wait before retry n (n = 1 for the first retry) is drawn uniformly from
// [0, min(Max, Base·2^(n-1))] ("full jitter"), and is never shorter than a
// Retry-After carried by the error (*limiter.RetryAfterError), itself capped
// at RetryAfterMax so that a hostile value cannot park an item for a year.
//
// The budget: a retry starts only while the retries granted during the last
// BudgetWindow stay below max(BudgetMin, BudgetRatio × the items read from
// the source during that window); the window slides in tenths of
// BudgetWindow. A retry the budget has no room for waits, without holding a
// consumer or the source back, and asks again at the next tenth: so under a
// storm of failures retries add at most BudgetRatio to the load while new
// items go on, and no item fails for want of budget. Once the source has
// ended, no new item can take a retry's place, and retries go as their
// backoff says. Throttled attempts (errors.Is limiter.ErrThrottled) retry
// outside the budget: the limiter's gate and rate already pace them.
//
// Run counts an item's throttled attempts apart: they spend none of its
// MaxAttempts and do not double its backoff, so a server that throttles (a
// blackout with a Retry-After, a quota used up until its reset) delays
// items and fails none while it lasts less than MaxThrottledFor; an item
// fails after MaxAttempts attempts that failed otherwise, or at a throttled
// attempt MaxThrottledFor or more after its first, so that a server that
// throttles an item for ever cannot hold the run for ever. Do counts a
// call's throttled attempts the same way.
type Retry struct {
	MaxAttempts  int           // attempts per item, the first included, not counting Run's throttled ones; default 5; 1 means no retry
	Base         time.Duration // default 250ms
	Max          time.Duration // cap on one wait; default 30s
	BudgetRatio  float64       // default 0.2; +Inf turns the budget off
	BudgetMin    int           // retries always allowed per window; default 10
	BudgetWindow time.Duration // default 10s

	RetryAfterMax time.Duration // cap on the wait a Retry-After asks for; default limiter.DefaultRetryAfterMax (5m)
	// MaxThrottledFor: how long Run (or Do) goes on asking for an item (a
	// call) that the server throttles, from its first throttled answer;
	// default 2h (an hourly quota's whole window, with room to spare).
	MaxThrottledFor time.Duration
}

func (r Retry) withDefaults() (Retry, error) {
	bad := func(field string, v any, want string) (Retry, error) {
		return r, fmt.Errorf("engine: WithRetry: Retry.%s %v must be %s", field, v, want)
	}
	switch {
	case r.MaxAttempts < 0:
		return bad("MaxAttempts", r.MaxAttempts, ">= 0")
	case r.Base < 0:
		return bad("Base", r.Base, ">= 0")
	case r.Max < 0:
		return bad("Max", r.Max, ">= 0")
	case r.BudgetRatio < 0 || math.IsNaN(r.BudgetRatio):
		return bad("BudgetRatio", r.BudgetRatio, ">= 0")
	case r.BudgetMin < 0:
		return bad("BudgetMin", r.BudgetMin, ">= 0")
	case r.BudgetWindow < 0:
		return bad("BudgetWindow", r.BudgetWindow, ">= 0")
	case r.RetryAfterMax < 0:
		return bad("RetryAfterMax", r.RetryAfterMax, ">= 0")
	case r.MaxThrottledFor < 0:
		return bad("MaxThrottledFor", r.MaxThrottledFor, ">= 0")
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 5
	}
	if r.Base == 0 {
		r.Base = 250 * time.Millisecond
	}
	if r.Max == 0 {
		r.Max = 30 * time.Second
	}
	if r.BudgetRatio == 0 {
		r.BudgetRatio = 0.2
	}
	if r.BudgetMin == 0 {
		r.BudgetMin = 10
	}
	if r.BudgetWindow == 0 {
		r.BudgetWindow = 10 * time.Second
	}
	if r.RetryAfterMax == 0 {
		r.RetryAfterMax = limiter.DefaultRetryAfterMax
	}
	if r.MaxThrottledFor == 0 {
		r.MaxThrottledFor = 2 * time.Hour
	}
	if r.Base > r.Max {
		return r, fmt.Errorf("engine: WithRetry: Retry.Base %v is above Retry.Max %v", r.Base, r.Max)
	}
	return r, nil
}

// Do calls fn until it returns nil or a permanent error (see Permanent), or
// until MaxAttempts of its calls have failed otherwise than throttled, or
// until it has been throttled for MaxThrottledFor, waiting on clock before
// each retry as the policy says (see next). Its throttled calls (errors.Is
// limiter.ErrThrottled) count as Run's do: in neither the attempts nor the
// backoff's doubling. It is the loop for one request that needs the
// policy's retries; Run applies the same policy to its items without
// holding a consumer while an item waits. The budget is Run's alone: Do
// does not consult it.
//
// It returns nil, the permanent error, or the last attempt's error (for a
// call throttled too long, wrapped in one that says for how long). When ctx
// ends first, it returns ctx.Err() wrapped, with the last attempt's error if
// there was one.
func (r Retry) Do(ctx context.Context, clock clockwork.Clock, fn func(context.Context) error) error {
	r, err := r.withDefaults()
	if err != nil {
		return err
	}
	var last error
	var th throttles
	var timer clocktimer.Timer
	defer timer.Stop()
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return stopped(err, last)
		}
		last = fn(ctx)
		if last == nil || IsPermanent(last) {
			return last
		}
		now := clock.Now()
		if err := th.add(now, last, r); err != nil {
			return err
		}
		if n-th.n >= r.MaxAttempts {
			return last
		}
		if ctx.Err() != nil {
			continue // reported at the top of the loop
		}
		if timer.Set(clock, r.next(now, max(1, n-th.n), last)) {
			continue // its time came before the timer was set
		}
		select {
		case <-timer.C():
		case <-ctx.Done():
		}
	}
}

// throttles counts the throttled attempts of an item (or of Do's call):
// they spend none of its attempts, and it fails once it has been throttled
// for the policy's MaxThrottledFor.
type throttles struct {
	n     int   // throttled attempts
	first int64 // the first one's time, in Unix nanoseconds; 0 if none
}

// add counts err, the answer to an attempt at now, if it is a throttle,
// and returns the error to fail with when that throttle comes
// MaxThrottledFor or more after the first; nil otherwise.
func (t *throttles) add(now time.Time, err error, r Retry) error {
	if !errors.Is(err, limiter.ErrThrottled) {
		return nil
	}
	t.n++
	if t.first == 0 {
		t.first = now.UnixNano()
	}
	if d := now.Sub(time.Unix(0, t.first)); d >= r.MaxThrottledFor {
		return fmt.Errorf("throttled for %v since its first throttled answer (%d throttled attempts): %w", d.Round(time.Second), t.n, err)
	}
	return nil
}

func stopped(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last attempt: %w)", ctxErr, last)
}

// next returns when retry n (n >= 1) of an attempt that failed with err at
// now may start: after the backoff, and no earlier than a Retry-After that
// err carries, capped at RetryAfterMax.
func (r Retry) next(now time.Time, n int, err error) time.Time {
	at := now.Add(r.backoff(n))
	var ra *limiter.RetryAfterError
	if errors.As(err, &ra) {
		until := ra.Until
		if ceil := now.Add(r.RetryAfterMax); until.After(ceil) {
			until = ceil
		}
		if until.After(at) {
			at = until
		}
	}
	return at
}

// backoff returns the wait before retry n (n >= 1): full jitter over
// [0, ceiling(n)].
func (r Retry) backoff(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(r.ceiling(n)) + 1))
}

// ceiling is the longest wait before retry n (n >= 1) of a policy with its
// defaults: min(Max, Base·2^(n-1)).
func (r Retry) ceiling(n int) time.Duration {
	if n-1 < 62 && r.Base <= r.Max>>(n-1) {
		return r.Base << (n - 1)
	}
	return r.Max
}

// Ceiling is the longest wait the policy allows before retry n (n >= 1),
// min(Max, Base·2^(n-1)), its zero fields taken at their defaults.
func (r Retry) Ceiling(n int) time.Duration {
	if d, err := r.withDefaults(); err == nil {
		r = d
	}
	return r.ceiling(max(1, n))
}

// budgetBuckets is how many slices the budget's sliding window has.
const budgetBuckets = 10

// budget limits the retries of a run to a fraction of the items read over a
// sliding window (see Retry). It is consulted only when an attempt failed.
type budget struct {
	ratio float64
	min   int64
	width int64 // nanoseconds per bucket

	mu      sync.Mutex
	epoch   int64                // index of the current bucket since the Unix epoch
	reads   [budgetBuckets]int64 // items read before each bucket began
	retries [budgetBuckets]int64 // retries granted in each bucket
}

func newBudget(r Retry) *budget {
	return &budget{ratio: r.BudgetRatio, min: int64(r.BudgetMin), width: max(1, int64(r.BudgetWindow)/budgetBuckets)}
}

// observe moves the window to now; read is the number of items read so far.
// Buckets begun since the last call all record read.
func (b *budget) observe(now time.Time, read int64) {
	b.mu.Lock()
	b.advance(now, read)
	b.mu.Unlock()
}

func (b *budget) advance(now time.Time, read int64) {
	cur := now.UnixNano() / b.width
	if b.epoch == 0 || cur-b.epoch > budgetBuckets {
		// First use, or the whole window passed since: start afresh.
		b.epoch = cur - budgetBuckets
	}
	for b.epoch < cur {
		b.epoch++
		i := b.epoch % budgetBuckets
		b.reads[i], b.retries[i] = read, 0
	}
}

// next is when the window slides next after now: when the budget may have
// room again.
func (b *budget) next(now time.Time) time.Time {
	return time.Unix(0, (now.UnixNano()/b.width+1)*b.width)
}

// allow reports whether one more retry fits the budget, and counts it if so.
func (b *budget) allow(now time.Time, read int64) bool {
	if math.IsInf(b.ratio, 1) {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now, read)
	var granted int64
	for _, n := range b.retries {
		granted += n
	}
	oldest := b.reads[(b.epoch+1)%budgetBuckets]
	if float64(granted) >= max(float64(b.min), b.ratio*float64(read-oldest)) {
		return false
	}
	b.retries[b.epoch%budgetBuckets]++
	return true
}

// waiting is an item waiting for its next attempt.
type waiting[T any] struct {
	at time.Time
	e  entry[T]
	// budgeted: the retry needs the budget's grant before it starts.
	// parked: the budget refused it once; it no longer counts in pending,
	// so that it does not hold the source back.
	budgeted, parked bool
}

type retryHeap[T any] []waiting[T]

func (h retryHeap[T]) Len() int           { return len(h) }
func (h retryHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h retryHeap[T]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap[T]) Push(x any)        { *h = append(*h, x.(waiting[T])) }
func (h *retryHeap[T]) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = waiting[T]{}
	*h = old[:len(old)-1]
	return w
}

// schedule owns the items waiting for a retry: it takes them from r.retries,
// puts each back on the queue once its time has come and the budget grants
// it, and when the run stops reports the ones still waiting as interrupted.
// A waiting item never holds a consumer.
func (r *run[T]) schedule() {
	defer r.wg.Done()
	var h retryHeap[T]
	var timer clocktimer.Timer
	defer timer.Stop()
	var armed time.Time // when the timer fires; zero when stopped
	for {
		var out chan<- entry[T]
		var next entry[T]
		if len(h) > 0 {
			now := r.clock.Now()
			if w := &h[0]; !w.at.After(now) {
				if w.budgeted && !r.producerDone.Load() && !r.budget.allow(now, r.read.Load()) {
					if !w.parked {
						w.parked = true
						r.unpend()
					}
					w.at = r.budget.next(now)
					heap.Fix(&h, 0)
					continue
				}
				w.budgeted = false
				out, next = r.queue, w.e
			} else if !armed.Equal(w.at) {
				if timer.Set(r.clock, w.at) {
					armed = time.Time{}
					continue // its time came before the timer was set
				}
				armed = w.at
			}
		}
		select {
		case w := <-r.retries:
			heap.Push(&h, w)
		case out <- next:
			r.arrived()
			if w := heap.Pop(&h).(waiting[T]); !w.parked {
				r.unpend()
			}
		case <-timer.C():
			armed = time.Time{}
		case <-r.done:
			for _, w := range h {
				r.interrupted(w.e)
			}
			return
		}
	}
}

// unpend takes an item off the pending ones, and tells the producer when that
// makes room to read.
func (r *run[T]) unpend() {
	if r.pending.Add(-1) < int64(r.queueSize) {
		r.readMore()
	}
}
