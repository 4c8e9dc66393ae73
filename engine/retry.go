package engine

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// backoff returns the wait before retry n (n >= 1): full jitter over
// [0, min(Max, Base·2^(n-1))].
func (r Retry) backoff(n int) time.Duration {
	ceil := r.Max
	if n-1 < 62 && r.Base <= r.Max>>(n-1) {
		ceil = r.Base << (n - 1)
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
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
// puts each back on the queue once its time has come, and when the run stops
// reports the ones still waiting as interrupted. A waiting item never holds
// a consumer.
func (r *run[T]) schedule() {
	defer r.wg.Done()
	var h retryHeap[T]
	timer := r.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var armed time.Time // when the timer fires; zero when stopped
	for {
		var out chan<- entry[T]
		var next entry[T]
		if len(h) > 0 {
			now := r.clock.Now()
			if at := h[0].at; !at.After(now) {
				out, next = r.queue, h[0].e
			} else if !armed.Equal(at) {
				timer.Reset(at.Sub(now))
				armed = at
			}
		}
		select {
		case w := <-r.retries:
			heap.Push(&h, w)
		case out <- next:
			heap.Pop(&h)
			if r.pending.Add(-1) < int64(r.queueSize) {
				select {
				case r.room <- struct{}{}:
				default:
				}
			}
		case <-timer.Chan():
			armed = time.Time{}
		case <-r.done:
			for _, w := range h {
				r.interrupted(w.e)
			}
			return
		}
	}
}
