package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/source"
)

// waitFor polls cond for up to 10 s: long enough for a loaded 2-core machine,
// and only a bound, never the behaviour under test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, what)
}

// parkedIn counts the goroutines parked on a channel send or a select with
// fn on their stack: a producer parked there reads no more until a consumer
// takes an item.
func parkedIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		parked := strings.Contains(header, "[select") || strings.Contains(header, "[chan send")
		if parked && strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// rounds makes handlers wait for the end of the round they started in.
type rounds struct {
	mu      sync.Mutex
	cur     chan struct{}
	n       int                   // the current round
	started map[int]*atomic.Int64 // handlers started per round
	running atomic.Int64
	over    bool
}

func newRounds() *rounds {
	return &rounds{cur: make(chan struct{}), n: 1, started: map[int]*atomic.Int64{1: {}}}
}

func (r *rounds) handler(ctx context.Context, _ int) error {
	r.mu.Lock()
	ch, started := r.cur, r.started[r.n]
	r.mu.Unlock()
	started.Add(1)
	r.running.Add(1)
	defer r.running.Add(-1)
	<-ch
	return nil
}

// next ends the current round and starts another.
func (r *rounds) next() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over {
		return
	}
	close(r.cur)
	r.cur = make(chan struct{})
	r.n++
	r.started[r.n] = &atomic.Int64{}
}

// end lets every handler, present and future, return at once.
func (r *rounds) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.over {
		r.over = true
		close(r.cur)
	}
}

func (r *rounds) inRound(n int) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started[n].Load()
}

// polls runs a run's controller in step with the test: the run's clock is
// fake, and each step advances it by one poll interval and waits until the
// controller has handled the tick (its progress function, called from the
// controller, hands a snapshot to the test).
type polls struct {
	clock   *clockwork.FakeClock
	snaps   chan Progress
	stop    chan struct{}
	started bool
}

func newPolls() *polls {
	return &polls{clock: clockwork.NewFakeClock(), snaps: make(chan Progress), stop: make(chan struct{})}
}

// options give the run the fake clock and the progress function.
func (p *polls) options() []Option {
	return []Option{WithClock(p.clock), WithProgress(pollInterval, func(s Progress) {
		select {
		case p.snaps <- s:
		case <-p.stop: // the run ends: its last report is not awaited
		}
	})}
}

// step advances n poll intervals, one at a time, and returns the snapshot
// taken at the last: every poll before it has been handled.
func (p *polls) step(t *testing.T, n int) Progress {
	t.Helper()
	if !p.started {
		// The poll and progress tickers: a tick before they exist is lost.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.clock.BlockUntilContext(ctx, 2), "the run starts its tickers")
		p.started = true
	}
	var s Progress
	for range n {
		p.clock.Advance(pollInterval)
		select {
		case s = <-p.snaps:
		case <-time.After(10 * time.Second):
			t.Fatal("the controller did not handle a poll")
		}
	}
	return s
}

// until steps until cond holds, for at most 1000 polls. Between polls it
// waits a millisecond of real time, so that on a loaded machine the
// goroutines cond awaits (consumers that leave, say) get to run before the
// polls run out.
func (p *polls) until(t *testing.T, what string, cond func(Progress) bool) {
	t.Helper()
	for range 1000 {
		if cond(p.step(t, 1)) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s: not after 1000 polls", what)
}

// end lets the run end without the test taking its reports.
func (p *polls) end() { close(p.stop) }

func TestConsumersFollowLimitDown50To5WithinOneTaskDuration(t *testing.T) {
	defer goleak.VerifyNone(t)
	var limit atomic.Int64
	limit.Store(50)
	rd := newRounds()
	pl := newPolls()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Stats)
	go func() {
		st, err := Run(ctx, rangeOf(t, 100000, 1000), rd.handler, append(pl.options(), fixed(&limit), WithQueueSize(64))...)
		assert.NoError(t, err)
		done <- st
	}()
	waitFor(t, "50 handlers run", func() bool { return rd.running.Load() == 50 })

	limit.Store(5)
	rd.next() // every handler of round 1 returns: one task duration
	waitFor(t, "5 handlers run in round 2", func() bool { return rd.inRound(2) == 5 })
	waitFor(t, "round 1 is over", func() bool { return rd.running.Load() == 5 })
	pl.step(t, 5) // the controller reads the limit 5 times: no extra consumer may show up
	assert.EqualValues(t, 5, rd.inRound(2), "no more than 5 handlers start after the drop")

	limit.Store(20)
	pl.until(t, "the pool grows back to 20", func(Progress) bool { return rd.inRound(2) == 20 })
	pl.step(t, 5)
	assert.EqualValues(t, 20, rd.inRound(2))

	pl.end()
	cancel()
	rd.end()
	st := <-done
	assert.True(t, st.Interrupted)
	assert.Equal(t, 50, st.MaxConsumers)
	assert.Equal(t, 20, st.FinalLimit)
	requireBalanced(t, st)
}

// feed is a source whose items the test sends one by one.
type feed chan int

func (f feed) Next(ctx context.Context) (source.Item[int], error) {
	select {
	case v := <-f:
		return source.Item[int]{Value: v, Count: 1}, nil
	case <-ctx.Done():
		return source.Item[int]{}, ctx.Err()
	}
}

func TestIdleConsumersLeaveWhenLimitDrops(t *testing.T) {
	defer goleak.VerifyNone(t)
	var limit atomic.Int64
	limit.Store(10)
	rd := newRounds()
	pl := newPolls()
	src := make(feed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Stats)
	go func() {
		st, err := Run[int](ctx, src, rd.handler, append(pl.options(), fixed(&limit))...)
		assert.NoError(t, err)
		done <- st
	}()
	pl.until(t, "10 idle consumers", func(p Progress) bool { return p.Consumers == 10 })
	limit.Store(2)
	pl.until(t, "idle consumers leave", func(p Progress) bool { return p.Consumers == 2 })
	for i := range 10 {
		src <- i
	}
	waitFor(t, "2 handlers run", func() bool { return rd.running.Load() == 2 })
	pl.step(t, 5) // the controller reads the limit 5 times: no extra consumer may take an item
	assert.EqualValues(t, 2, rd.inRound(1), "only the consumers within the limit take items")
	pl.end()
	cancel()
	rd.end()
	st := <-done
	assert.EqualValues(t, 2, st.Succeeded)
	requireBalanced(t, st)
}

func TestBackpressureBoundsReadAhead(t *testing.T) {
	defer goleak.VerifyNone(t)
	const queue = 5
	src := &items{n: 1000, per: 10}
	rd := newRounds()
	done := make(chan Stats)
	go func() {
		st, err := Run[int](context.Background(), src, rd.handler, limitOf(2), WithQueueSize(queue))
		assert.NoError(t, err)
		done <- st
	}()
	waitFor(t, "2 handlers run", func() bool { return rd.running.Load() == 2 })
	waitFor(t, "the producer waits for room on the queue", func() bool {
		return src.reads.Load() >= 2+queue+1 && parkedIn("engine.(*run[...]).produce") == 1
	})
	assert.EqualValues(t, 2+queue+1, src.reads.Load(), "read ahead: the queue plus the one item the producer holds")
	rd.end()
	st := <-done
	assert.EqualValues(t, 1000, st.Succeeded)
}

func TestPanickingHandlerDoesNotCostConsumers(t *testing.T) {
	defer goleak.VerifyNone(t)
	const panics, limit = 100, 4
	var together atomic.Int64
	all := make(chan struct{})
	var fs failures[int]
	st, err := NewJob(rangeOf(t, panics+limit, 50), func(ctx context.Context, v int) error {
		if v < panics {
			panic("bad item")
		}
		// The last items only return once all four run at the same time:
		// a consumer lost to a panic would leave them waiting.
		if together.Add(1) == limit {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return Permanent(context.DeadlineExceeded)
		}
	}).WithFailureSink(fs.add).Run(context.Background(), limitOf(limit), WithQueueSize(8))
	require.NoError(t, err)
	assert.EqualValues(t, limit, st.Succeeded, "the others ran %d at a time", limit)
	assert.EqualValues(t, panics, st.Panics)
	assert.EqualValues(t, panics, st.Failed)
	assert.Equal(t, map[Reason]int{ReasonPanic: panics}, fs.byReason())
	f := fs.all[0]
	assert.Equal(t, 1, f.Attempts, "a panic is not retried")
	assert.EqualError(t, f.Err, "handler panicked: bad item")
	assert.Contains(t, string(f.Stack), "engine.TestPanickingHandlerDoesNotCostConsumers")
	requireBalanced(t, st)
}

func TestCancelDrainsInFlightAndReportsTheRest(t *testing.T) {
	defer goleak.VerifyNone(t)
	rd := newRounds()
	var fs failures[int]
	clock := clockwork.NewFakeClock() // the drain timeout does not pass unless the test says so
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := NewJob(rangeOf(t, 1000, 100), rd.handler).WithFailureSink(fs.add).Run(ctx, WithClock(clock), limitOf(3), WithQueueSize(10))
		done <- result{st, err}
	}()
	waitFor(t, "3 handlers run", func() bool { return rd.running.Load() == 3 })
	cancel()
	// The poll ticker and the drain timer: Run waits for the attempts in flight.
	waitCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	require.NoError(t, clock.BlockUntilContext(waitCtx, 2), "Run waits with the drain timeout")
	select {
	case <-done:
		t.Fatal("Run returned before the attempts in flight finished")
	default:
	}
	rd.next()
	res := <-done
	require.NoError(t, res.err)
	st := res.st
	assert.True(t, st.Interrupted)
	assert.EqualValues(t, 3, st.Succeeded, "the attempts in flight finish")
	assert.EqualValues(t, 3, rd.inRound(1))
	assert.Zero(t, rd.inRound(2), "nothing starts after the cancellation")
	assert.Positive(t, st.Unfinished)
	assert.Equal(t, map[Reason]int{ReasonInterrupted: int(st.Unfinished)}, fs.byReason())
	requireBalanced(t, st)
}

func TestDrainTimeoutCancelsTheAttemptsInFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	var running atomic.Int64
	var fs failures[int]
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob(rangeOf(t, 100, 10), func(ctx context.Context, _ int) error {
		running.Add(1)
		<-ctx.Done() // a handler that only stops when told to
		return ctx.Err()
	}).WithFailureSink(fs.add), WithClock(clock), limitOf(3), WithDrainTimeout(time.Minute))
	waitFor(t, "3 handlers run", func() bool { return running.Load() == 3 })
	cancel()
	// The waiters: the controller's ticker and the drain timer.
	require.NoError(t, clock.BlockUntilContext(context.Background(), 2))
	clock.Advance(time.Minute)
	st, err := wait()
	require.NoError(t, err)
	assert.True(t, st.Interrupted)
	assert.EqualValues(t, 3, st.Attempts)
	assert.Zero(t, st.Succeeded+st.Failed)
	assert.Equal(t, st.Read, st.Unfinished)
	cut := 0
	for _, f := range fs.all {
		assert.Equal(t, ReasonInterrupted, f.Reason)
		if f.Attempts == 1 {
			cut++
			assert.ErrorIs(t, f.Err, context.Canceled)
		}
	}
	assert.Equal(t, 3, cut, "the attempts cut at the drain timeout are reported with their error")
}

func TestProgressIsReportedEveryIntervalAndAtTheEnd(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	rd := newRounds()
	var mu sync.Mutex
	var seen []Progress
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 10, 10), rd.handler), WithClock(clock), limitOf(3),
		WithProgress(time.Second, func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p)
		}))
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	waitFor(t, "3 handlers run", func() bool { return rd.running.Load() == 3 })
	clock.Advance(time.Second)
	waitFor(t, "a snapshot", func() bool { return count() == 1 })
	mu.Lock()
	p := seen[0]
	mu.Unlock()
	assert.Equal(t, 3, p.InFlight)
	assert.Equal(t, 3, p.Consumers)
	assert.Equal(t, 3, p.Limit)
	assert.Equal(t, time.Second, p.Elapsed)
	assert.Zero(t, p.Succeeded)

	rd.end()
	st, err := wait()
	require.NoError(t, err)
	require.Equal(t, 2, count(), "one more snapshot at the end")
	last := seen[1]
	assert.Equal(t, st.Counts, last.Counts)
	assert.EqualValues(t, 10, last.Succeeded)
	assert.Zero(t, last.InFlight)
	assert.Zero(t, last.Consumers)
}

func TestSkippedItemsAreCountedNotRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	var ran atomic.Int64
	st, err := NewJob(rangeOf(t, 100, 10), func(context.Context, int) error {
		ran.Add(1)
		return nil
	}).WithSkip(func(it source.Item[int]) bool { return it.Value%4 == 0 }).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 75, ran.Load())
	assert.EqualValues(t, 25, st.Skipped)
	assert.EqualValues(t, 100, st.Read)
	requireBalanced(t, st)
}

func TestCursorLoopEndsTheRunCleanly(t *testing.T) {
	defer goleak.VerifyNone(t)
	next := map[string]string{"": "b", "b": "c", "c": "b"} // c points back to b
	src, err := source.Tokens(func(_ context.Context, token string) (source.Page[string], error) {
		return source.Page[string]{Items: []string{token + "1", token + "2"}, Next: next[token]}, nil
	})
	require.NoError(t, err)
	var mu sync.Mutex
	var got []string
	st := newMemState()
	stats, err := Run[string](context.Background(), src, func(_ context.Context, v string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, v)
		return nil
	}, WithCheckpoint(st))
	require.ErrorIs(t, err, source.ErrLoop)
	assert.ElementsMatch(t, []string{"1", "2", "b1", "b2", "c1", "c2"}, got, "each page before the loop is handled once")
	assert.EqualValues(t, 6, stats.Succeeded)
	assert.False(t, stats.Interrupted)
	assert.Len(t, st.pages, 3, "the pages before the loop are checkpointed")
}

// TestChaosKeepsEveryItemAccountedFor runs with a limit that jumps at every
// read, handlers that fail, panic and time out at random, and a cancellation
// at a random moment: every item read is still accounted for exactly once.
func TestChaosKeepsEveryItemAccountedFor(t *testing.T) {
	defer goleak.VerifyNone(t)
	for round := range 20 {
		var sunk atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		stopAt := int64(rand.IntN(1000))
		var calls atomic.Int64
		st, err := NewJob(rangeOf(t, 1000, 50), func(ctx context.Context, v int) error {
			if calls.Add(1) == stopAt {
				cancel()
			}
			switch rand.IntN(20) {
			case 0:
				panic("chaos")
			case 1:
				return errors.New("retry me")
			case 2:
				return Permanent(errors.New("give up"))
			case 3:
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}).WithFailureSink(func(Failure[int]) { sunk.Add(1) }).Run(ctx, WithLimitFunc(func() int { return 1 + rand.IntN(20) }), WithMaxConsumers(16), WithQueueSize(8),
			WithTaskTimeout(time.Millisecond), WithDrainTimeout(5*time.Millisecond),
			WithRetry(Retry{Base: time.Microsecond, Max: 50 * time.Microsecond}))
		cancel()
		require.NoError(t, err)
		requireBalanced(t, st)
		require.Equal(t, st.Failed+st.Unfinished, sunk.Load(), "round %d: every item that did not succeed reaches the sink once", round)
		require.LessOrEqual(t, st.MaxConsumers, 16)
	}
}

func TestProgressCountsEveryAttemptThatReturned(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := clockwork.NewFakeClock()
	release := make(chan struct{})
	var blocked atomic.Bool
	snaps := make(chan Progress, 2)
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 20, 20), func(_ context.Context, v int) error {
		if v == 5 {
			blocked.Store(true)
			<-release
		}
		return nil
	}), WithClock(clock), limitOf(1), WithProgress(time.Second, func(p Progress) { snaps <- p }))

	waitFor(t, "the sixth item's handler runs", blocked.Load)
	clock.Advance(time.Second)
	p := <-snaps
	assert.EqualValues(t, 5, p.Succeeded, "the five items before it, although the consumer never went idle")
	assert.EqualValues(t, 5, p.Attempts, "the attempt in flight is not counted yet")
	close(release)
	_, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 20, (<-snaps).Succeeded)
}

func TestAttemptNumbersTheHandlersCalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	seen := map[int][]int{}
	st, err := Run(context.Background(), rangeOf(t, 3, 3), func(ctx context.Context, v int) error {
		mu.Lock()
		seen[v] = append(seen[v], Attempt(ctx))
		n := len(seen[v])
		mu.Unlock()
		if n <= v {
			return errors.New("not yet")
		}
		return nil
	}, WithRetry(Retry{Base: time.Microsecond, Max: time.Microsecond}))
	require.NoError(t, err)
	assert.Equal(t, map[int][]int{0: {1}, 1: {1, 2}, 2: {1, 2, 3}}, seen)
	assert.EqualValues(t, 3, st.Retries)
	assert.Equal(t, 1, Attempt(context.Background()), "outside a run")
}
