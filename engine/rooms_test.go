package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/internal/clocktimer"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

func TestAGatedHostHoldsNoConsumer(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := clockwork.NewFakeClock()
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 1}, limiter.WithClock(clk))
	require.NoError(t, err)
	hostOf := func(v int) string { return fmt.Sprintf("h%d", v%5) } // h0 is gated
	until := clk.Now().Add(time.Hour)
	l.Host("h0").Gate(until)
	var healthy, gated atomic.Int64
	var early atomic.Bool
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, 200, 20), func(_ context.Context, v int) error {
		if hostOf(v) != "h0" {
			healthy.Add(1)
			return nil
		}
		if clk.Now().Before(until) {
			early.Store(true)
		}
		gated.Add(1)
		return nil
	}).WithLimiter(l, hostOf), WithClock(clk))
	waitFor(t, "every healthy host's items are done while h0 is gated", func() bool { return healthy.Load() == 160 })
	assert.Zero(t, gated.Load())
	clk.Advance(time.Hour)
	waitFor(t, "h0's items are done once its gate opens", func() bool {
		clk.Advance(time.Millisecond)
		return gated.Load() == 40
	})
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 200, st.Succeeded)
	assert.False(t, early.Load(), "no request to h0 before its Retry-After")
}

// The clock reaches a gated host's time while the rooms' alarm sets its
// timer: the host's item starts then, not once the clock has moved as far
// again.
func TestAGatedHostsItemStartsWhenTheClockReachesItsTimeAsTheAlarmIsSet(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := &clocktimer.Stepping{FakeClock: clockwork.NewFakeClock(), Step: time.Minute}
	l, err := limiter.New(limiter.Config{}, limiter.WithClock(clk.FakeClock))
	require.NoError(t, err)
	l.Host("gated").Gate(clk.Now().Add(time.Minute))
	// The item is read once the alarm waits: it then sets its timer once, as
	// the room parks (had it read the room's time before it waited, the
	// room's rearm would make it set its timer again, after the step).
	read, sent := make(chan struct{}), false
	src := sourceFunc[int](func(ctx context.Context) (source.Item[int], error) {
		if sent {
			return source.Item[int]{}, io.EOF
		}
		select {
		case <-read:
		case <-ctx.Done():
			return source.Item[int]{}, ctx.Err()
		}
		sent = true
		return source.Item[int]{Count: 1}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the run if the wake-up is lost, before goleak looks
	wait := runAsync(ctx, t, NewJob(src, func(context.Context, int) error { return nil }).WithLimiter(l, func(int) string { return "gated" }), WithClock(clk))
	waitFor(t, "the rooms' alarm waits", func() bool { return parkedIn("engine.(*run[...]).alarm") == 1 })
	close(read)
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Succeeded)
}

// counting counts the items read from a source.
type counting[T any] struct {
	source.Source[T]
	n atomic.Int64
}

func (c *counting[T]) Next(ctx context.Context) (source.Item[T], error) {
	it, err := c.Source.Next(ctx)
	if err == nil {
		c.n.Add(1)
	}
	return it, err
}

func TestRoomsAndQueueHoldAtMostTwiceTheQueueSize(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	l.Host("gated").Gate(time.Now().Add(time.Hour))
	src := &counting[int]{Source: rangeOf(t, 10_000, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob(src, func(context.Context, int) error { return nil }).WithLimiter(l, func(int) string { return "gated" }), WithQueueSize(10))
	// Once the producer waits for room on the queue and the consumer waits
	// for a room to start, nothing more is read. One consumer: no other
	// starts while none holds a task.
	waitFor(t, "the rooms and the queue fill up, and the producer and consumer wait", func() bool {
		return src.n.Load() >= 20 && parkedIn("engine.(*run[...]).produce") == 1 &&
			parkedIn("engine.(*run[...]).awaitRoom") == 1
	})
	// 20 in the rooms and on the queue together (and one more per consumer
	// that took an item as they filled), one in the producer's hand.
	assert.LessOrEqual(t, src.n.Load(), int64(22))
	cancel()
	st, err := wait()
	require.NoError(t, err)
	assert.Equal(t, src.n.Load(), st.Unfinished, "every item read is reported")
	assert.Zero(t, st.Attempts)
}

// A listing whose first items are a gated host's: with a queue of 4, the
// rooms take all 7 of them and reach the healthy host's item behind them,
// where a queue in listing order would hold it until the gate opens.
func TestAHostsItemIsReachedPastTheItemsOfAGatedHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	l.Host("gated").Gate(time.Now().Add(time.Hour))
	hostOf := func(v int) string {
		if v < 7 {
			return "gated"
		}
		return "healthy"
	}
	var healthy atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob(rangeOf(t, 8, 8), func(_ context.Context, v int) error {
		if hostOf(v) == "healthy" {
			healthy.Add(1)
		}
		return nil
	}).WithLimiter(l, hostOf), WithQueueSize(4))
	waitFor(t, "the healthy host's item is done while the gated host's 7 wait", func() bool { return healthy.Load() == 1 })
	cancel()
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 7, st.Unfinished, "the gated host's items are reported")
}

func TestTheHandlerHandsItsPermitToTheFirstRequestOfItsHost(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 2})
	require.NoError(t, err)
	h := l.Host("api:443")
	var taken atomic.Int64
	st, err := NewJob(rangeOf(t, 100, 10), func(ctx context.Context, v int) error {
		if v%2 == 1 {
			return nil // no request: the engine releases the permit
		}
		p, ok := limiter.TakePermit(ctx, h)
		if !ok {
			return errors.New("no permit in the handler's context")
		}
		taken.Add(1)
		p.Release(limiter.Throttled) // the request's own verdict, not the handler's nil
		return nil
	}).WithLimiter(l, func(int) string { return "api:443" }).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 100, st.Succeeded)
	assert.EqualValues(t, 50, taken.Load())
	snap := h.Snapshot()
	assert.EqualValues(t, 50, snap.Throttled, "the taker's outcome counts")
	assert.EqualValues(t, 50, snap.Successes, "the engine released only the permits nobody took")
	assert.Zero(t, snap.InFlight)
}

func TestAHandlersPermitIsTimedWhenTheLimiterSamplesIt(t *testing.T) {
	defer goleak.VerifyNone(t)
	// The limiter's clock stands still: no window closes, so every permit
	// stays sampled.
	l, err := limiter.New(limiter.Config{}, limiter.WithClock(clockwork.NewFakeClock()))
	require.NoError(t, err)
	h := l.Host("api:443")
	var timed, untimed atomic.Int64
	st, err := NewJob(rangeOf(t, 100, 10), func(ctx context.Context, v int) error {
		p, ok := limiter.TakePermit(ctx, h)
		if !ok {
			return errors.New("no permit in the handler's context")
		}
		if p.Sampled() {
			timed.Add(1)
		} else {
			untimed.Add(1)
		}
		p.Release(limiter.Success)
		return nil
	}).WithLimiter(l, func(int) string { return "api:443" }).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 100, st.Succeeded)
	assert.EqualValues(t, 100, timed.Load())
	assert.Zero(t, untimed.Load())
}

func TestItemsWithAnEmptyKeyNeedNoPermit(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	l.Host("").Gate(time.Now().Add(time.Hour))
	st, err := NewJob(rangeOf(t, 50, 10), func(context.Context, int) error { return nil }).WithLimiter(l, func(int) string { return "" }).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 50, st.Succeeded)
}

func TestAHostsItemsStartInTheOrderTheyWereRead(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 1})
	require.NoError(t, err)
	var mu sync.Mutex
	order := map[string][]int{}
	hostOf := func(v int) string { return fmt.Sprintf("h%d", v%3) }
	st, err := NewJob(rangeOf(t, 300, 30), func(_ context.Context, v int) error {
		mu.Lock()
		order[hostOf(v)] = append(order[hostOf(v)], v)
		mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		return nil
	}).WithLimiter(l, hostOf).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 300, st.Succeeded)
	for h, vs := range order {
		assert.True(t, slices.IsSorted(vs), "%s started out of order: %v", h, vs)
	}
}

// Many hosts at a limit of 1 keep their rooms coming and going while
// consumers take items: direct looks a host's room up under takeMu, a release
// (giveBack) under roomsMu, and rooms are made and forgotten under both. Under
// -race this catches a room table changed under one of the locks only.
func TestRoomsComeAndGoWhileConsumersTakeAndReleaseItems(t *testing.T) {
	defer goleak.VerifyNone(t)
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 1})
	require.NoError(t, err)
	const hosts, n = 16, 4000
	hostOf := func(v int) string { return fmt.Sprintf("h%d", v%hosts) }
	var inFlight [hosts]atomic.Int64
	var done [n]atomic.Int64
	var over atomic.Bool
	st, err := NewJob(rangeOf(t, n, 50), func(_ context.Context, v int) error {
		if inFlight[v%hosts].Add(1) > 1 {
			over.Store(true)
		}
		done[v].Add(1)
		if v%3 == 0 {
			time.Sleep(20 * time.Microsecond) // a release while others are taken
		}
		inFlight[v%hosts].Add(-1)
		return nil
	}).WithLimiter(l, hostOf).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Succeeded)
	assert.False(t, over.Load(), "a host ran more attempts at once than its limit of 1")
	for v := range done {
		require.EqualValues(t, 1, done[v].Load(), "item %d", v)
	}
}

// A listing that holds each host's items together: the consumers' limit
// counts every host whose items were read, so every host starts its limit's
// worth of items at once, and not only the first host, whose items fill the
// consumers while the next hosts' wait behind them on the queue.
func TestAListingThatGroupsHostsStartsEveryHostAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	const hosts, perHost, limit = 5, 10, 2
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: limit})
	require.NoError(t, err)
	hostOf := func(v int) string { return fmt.Sprintf("h%d", v/perHost) }
	var pk peak
	release := make(chan struct{})
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, hosts*perHost, 10), func(_ context.Context, v int) error {
		pk.enter()
		defer pk.leave()
		<-release
		return nil
	}).WithLimiter(l, hostOf), WithQueueSize(hosts*perHost))
	waitFor(t, "every host's limit of items in flight at once", func() bool { return pk.now.Load() == hosts*limit })
	close(release)
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, hosts*perHost, st.Succeeded)
	assert.EqualValues(t, hosts*limit, pk.max.Load())
}

func TestConsumersStartAsNewHostsRaiseTheLimitWithoutWaitingForItsPoll(t *testing.T) {
	defer goleak.VerifyNone(t)
	const hosts, limit = 20, 2
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: limit})
	require.NoError(t, err)
	var pk peak
	release := make(chan struct{})
	// The run's clock never moves, so the controller never polls the limit:
	// a consumer that meets a new host raises it, and the next starts at once.
	wait := runAsync(context.Background(), t, NewJob(rangeOf(t, hosts, 10), func(_ context.Context, v int) error {
		pk.enter()
		defer pk.leave()
		<-release
		return nil
	}).WithLimiter(l, func(v int) string { return fmt.Sprintf("h%d", v) }), WithClock(clockwork.NewFakeClock()), WithQueueSize(hosts))
	waitFor(t, "every host's item in flight at once", func() bool { return pk.now.Load() == hosts })
	close(release)
	st, err := wait()
	require.NoError(t, err)
	assert.EqualValues(t, hosts, st.Succeeded)
}
