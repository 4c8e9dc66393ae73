package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/source"
)

// memState is an in-memory Checkpointer: the low-water mark and the items
// done beyond it, as a state store would keep them.
type memState struct {
	mu    sync.Mutex
	mark  source.Cursor
	done  map[source.Cursor]map[int]bool
	pages []source.Cursor // pages marked, in order
	check func(page source.Cursor) error
	fail  error // returned by Mark once set
}

func newMemState() *memState { return &memState{done: map[source.Cursor]map[int]bool{}} }

func (m *memState) Done(page source.Cursor, index int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[page] == nil {
		m.done[page] = map[int]bool{}
	}
	m.done[page][index] = true
	return nil
}

func (m *memState) Mark(page, next source.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.check != nil {
		if err := m.check(page); err != nil {
			return err
		}
	}
	delete(m.done, page)
	m.mark = next
	m.pages = append(m.pages, page)
	return nil
}

func (m *memState) skip(it source.Item[int]) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done[it.Page][it.Index]
}

// TestMarkNeverAheadOfAnUnfinishedItem drives the tracker with random pages
// and random completion orders, and checks after every step that each marked
// page, and every page before it, is finished, and that Done is only
// reported for items of unmarked pages.
func TestMarkNeverAheadOfAnUnfinishedItem(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		type it struct{ page, index int }
		var all []it
		var counts []int
		for p := range 1 + rng.IntN(12) {
			n := 1 + rng.IntN(6)
			counts = append(counts, n)
			for i := range n {
				all = append(all, it{p, i})
			}
		}
		st := newMemState()
		tr := &tracker{cp: st}
		pages := make([]*page, len(counts))
		// The producer reads in order; items finish in any order once read.
		var read, open []it
		finished := map[it]bool{}
		for len(all) > 0 || len(open) > 0 {
			if len(all) > 0 && (len(open) == 0 || rng.IntN(2) == 0) {
				x := all[0]
				all = all[1:]
				p, err := tr.add(pageCursor(x.page), pageCursor(x.page+1), x.index, counts[x.page])
				require.NoError(t, err)
				pages[x.page] = p
				read = append(read, x)
				open = append(open, x)
				continue
			}
			k := rng.IntN(len(open))
			x := open[k]
			open = append(open[:k], open[k+1:]...)
			finished[x] = true
			require.NoError(t, tr.finish(pages[x.page], x.index, rng.IntN(5) != 0))
			for _, marked := range st.pages {
				var p int
				_, err := fmt.Sscanf(string(marked), "page:%d", &p)
				require.NoError(t, err)
				for _, y := range read {
					if y.page <= p {
						require.True(t, finished[y], "seed %d: page %d is marked but item %v is unfinished", seed, p, y)
					}
				}
			}
		}
		require.Len(t, st.pages, len(counts), "seed %d: every page is marked in the end", seed)
		for i, p := range st.pages {
			require.Equal(t, pageCursor(i), p, "seed %d: pages are marked in the order read", seed)
		}
		assert.Equal(t, pageCursor(len(counts)), st.mark)
		assert.Empty(t, st.done, "seed %d: no Done record outlives its page's mark", seed)
	}
}

func TestCheckpointRejectsItemsOutsideTheirPage(t *testing.T) {
	defer goleak.VerifyNone(t)
	src := make(feed, 1)
	src <- 7 // feed yields items with Count 1 ... and this one with Index 3
	bad := func(ctx context.Context) (source.Item[int], error) {
		it, err := src.Next(ctx)
		it.Index, it.Page = 3, "p"
		return it, err
	}
	_, err := Run[int](context.Background(), sourceFunc[int](bad), func(context.Context, int) error { return nil },
		WithCheckpoint(newMemState()))
	require.ErrorContains(t, err, `engine: source: item 3 of 1 on page "p": a checkpointed run needs 0 <= Index < Count`)
}

// sourceFunc adapts a function to source.Source.
type sourceFunc[T any] func(context.Context) (source.Item[T], error)

func (f sourceFunc[T]) Next(ctx context.Context) (source.Item[T], error) { return f(ctx) }

func TestCheckpointedRunMarksOnlyFinishedPages(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 3000
	var finished sync.Map
	st := newMemState()
	st.check = func(page source.Cursor) error {
		// Every item of the marked page has returned from its handler.
		var first int
		if _, err := fmt.Sscanf(string(page), "range:%d", &first); err != nil {
			return err
		}
		for v := first; v < min(first+100, n); v++ {
			if _, ok := finished.Load(v); !ok {
				return fmt.Errorf("page %s marked while item %d is unfinished", page, v)
			}
		}
		return nil
	}
	var fs failures[int]
	stats, err := NewJob(rangeOf(t, n, 100), func(_ context.Context, v int) error {
		time.Sleep(time.Duration(rand.IntN(100)) * time.Microsecond)
		finished.Store(v, true)
		if v%97 == 0 {
			return Permanent(errors.New("410 gone")) // failed for good is finished too
		}
		return nil
	}).WithFailureSink(fs.add).Run(context.Background(), limitOf(8), WithCheckpoint(st))
	require.NoError(t, err)
	assert.Len(t, st.pages, n/100)
	assert.Equal(t, source.End, st.mark)
	assert.EqualValues(t, (n+96)/97, stats.Failed)
}

func TestResumeDoesEveryItemExactlyOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n, stopAfter = 5000, 1500
	var handled [n]atomic.Int32
	st := newMemState()
	handler := func(cancel context.CancelFunc, count *atomic.Int64) func(context.Context, int) error {
		return func(_ context.Context, v int) error {
			time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
			handled[v].Add(1)
			if count.Add(1) == stopAfter {
				cancel() // a crash, or ^C
			}
			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var count atomic.Int64
	first, err := Run(ctx, rangeOf(t, n, 64), handler(cancel, &count), limitOf(8), WithCheckpoint(st))
	require.NoError(t, err)
	require.True(t, first.Interrupted)
	require.Less(t, first.Succeeded, int64(n))

	src, err := source.Range(0, n, 1, source.WithGroup(64), source.WithCursor(st.mark))
	require.NoError(t, err)
	second, err := NewJob(src, handler(func() {}, &atomic.Int64{})).WithSkip(st.skip).Run(context.Background(), limitOf(8),
		WithCheckpoint(st))
	require.NoError(t, err)
	for v := range handled {
		require.EqualValues(t, 1, handled[v].Load(), "item %d", v)
	}
	assert.EqualValues(t, n, first.Succeeded+second.Succeeded)
	assert.Equal(t, source.End, st.mark)
	assert.Positive(t, second.Skipped, "items done beyond the mark are skipped")
}

func TestCheckpointErrorEndsTheRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := newMemState()
	st.fail = errors.New("bbolt: database not open")
	var fs failures[int]
	stats, err := NewJob(rangeOf(t, 100000, 10), func(context.Context, int) error { return nil }).WithFailureSink(fs.add).Run(context.Background(),
		limitOf(2), WithCheckpoint(st))
	require.ErrorIs(t, err, st.fail)
	assert.Contains(t, err.Error(), "engine: checkpoint: bbolt")
	assert.True(t, stats.Interrupted)
	assert.Less(t, stats.Read, int64(100000))
	requireBalanced(t, stats)
}

// TestChaosResumeFinishesEveryItemOnce interrupts a checkpointed run whose
// handlers fail, panic and time out at random, resumes it from the mark with
// the items done beyond it skipped, and checks that every item is finished
// for good (succeeded, or failed for good) exactly once over the two runs,
// and that no page is marked before all its items are finished.
func TestChaosResumeFinishesEveryItemOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n, per = 2000, 50
	for round := range 5 {
		var finished [n]atomic.Int32
		st := newMemState()
		st.check = func(page source.Cursor) error {
			var first int
			if _, err := fmt.Sscanf(string(page), "range:%d", &first); err != nil {
				return err
			}
			for v := first; v < min(first+per, n); v++ {
				if finished[v].Load() == 0 {
					return fmt.Errorf("page %s marked while item %d is unfinished", page, v)
				}
			}
			return nil
		}
		sink := func(f Failure[int]) {
			if f.Reason != ReasonInterrupted {
				finished[f.Item.Value].Add(1)
			}
		}
		handler := func(stop func(), calls *atomic.Int64, stopAt int64) func(context.Context, int) error {
			return func(ctx context.Context, v int) error {
				if calls.Add(1) == stopAt {
					stop()
				}
				switch rand.IntN(25) {
				case 0:
					panic("chaos")
				case 1, 2:
					return errors.New("retry me")
				case 3:
					return Permanent(errors.New("give up"))
				case 4:
					<-ctx.Done()
					return ctx.Err()
				}
				finished[v].Add(1)
				return nil
			}
		}
		opts := []Option{WithLimitFunc(func() int { return 1 + rand.IntN(12) }), WithQueueSize(16),
			WithTaskTimeout(time.Millisecond), WithDrainTimeout(2 * time.Millisecond),
			WithRetry(Retry{MaxAttempts: 3, Base: time.Microsecond, Max: 20 * time.Microsecond, BudgetRatio: math.Inf(1)}),
			WithCheckpoint(st)}

		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int64
		first, err := NewJob(rangeOf(t, n, per), handler(cancel, &calls, int64(200+rand.IntN(n)))).WithFailureSink(sink).Run(ctx, opts...)
		cancel()
		require.NoError(t, err, "round %d", round)
		requireBalanced(t, first)

		src, err := source.Range(0, n, 1, source.WithGroup(per), source.WithCursor(st.mark))
		require.NoError(t, err)
		second, err := NewJob(src, handler(func() {}, &atomic.Int64{}, -1)).WithFailureSink(sink).WithSkip(st.skip).Run(context.Background(), opts...)
		require.NoError(t, err, "round %d", round)
		requireBalanced(t, second)
		for v := range finished {
			require.EqualValues(t, 1, finished[v].Load(), "round %d: item %d finished for good once over both runs", round, v)
		}
		require.Equal(t, source.End, st.mark)
	}
}
