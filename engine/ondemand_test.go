package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/limiter"
)

// With rooms, a run starts one consumer and another only when work waits and
// every live one holds a task. These tests hold the only consumer in a
// handler (item 0, host "hold") and then make another host's room ready in
// each way a room becomes ready: that room's item must start while item 0
// still holds the first consumer, in a consumer started for it. The clock is
// fake and moved less than a poll interval, so the controller's poll (which
// also starts a consumer for a ready room) does not run: the wake-up path
// under test is the only one.

// onDemand is a run over a feed whose item 0 (host "hold") holds its consumer
// until release is closed.
type onDemand struct {
	clk     *clockwork.FakeClock
	l       *limiter.Limiter
	src     feed
	release chan struct{}
	ended   sync.Once
	held    atomic.Bool  // item 0's handler runs
	handled chan int     // the other items, as their handlers run
	others  atomic.Int64 // the other items' handlers run
	wait    func() (Stats, error)
	cancel  context.CancelFunc
}

// startOnDemand starts the run; cfg is the limiter's (Fixed, so that the
// limit does not move), host the host of every item but item 0. Both hosts
// count in the limit from the start: twice cfg.Initial.
func startOnDemand(t *testing.T, cfg limiter.Config, host string) *onDemand {
	t.Helper()
	o := &onDemand{clk: clockwork.NewFakeClock(), src: make(feed), release: make(chan struct{}), handled: make(chan int, 16)}
	cfg.Algorithm = limiter.Fixed
	var err error
	o.l, err = limiter.New(cfg, limiter.WithClock(o.clk))
	require.NoError(t, err)
	o.l.Host("hold")
	o.l.Host(host)
	key := func(v int) string {
		if v == 0 {
			return "hold"
		}
		return host
	}
	var ctx context.Context
	ctx, o.cancel = context.WithCancel(context.Background())
	wait := runAsync(ctx, t, NewJob[int](o.src, func(_ context.Context, v int) error {
		if v == 0 {
			o.held.Store(true)
			<-o.release
			return nil
		}
		o.others.Add(1)
		o.handled <- v
		return nil
	}).WithLimiter(o.l, key), WithClock(o.clk))
	var once sync.Once
	var st Stats
	o.wait = func() (Stats, error) {
		once.Do(func() { st, err = wait() })
		return st, err
	}
	t.Cleanup(func() { // a failed test leaves no run behind for the next
		o.end()
		o.cancel()
		_, _ = o.wait()
	})
	return o
}

// end lets item 0's handler return.
func (o *onDemand) end() { o.ended.Do(func() { close(o.release) }) }

// hold sends item 0 and waits until its handler holds the run's only
// consumer: no consumer waits for work.
func (o *onDemand) hold(t *testing.T) {
	t.Helper()
	o.src <- 0
	waitFor(t, "item 0 holds the only consumer", func() bool {
		return o.held.Load() && parkedIn("engine.(*run[...]).awaitRoom") == 0
	})
}

// parked waits until the run's consumer waits for work: the items sent
// before are in their rooms.
func (o *onDemand) parked(t *testing.T) {
	t.Helper()
	waitFor(t, "the consumer waits for a room to start", func() bool {
		return parkedIn("engine.(*run[...]).awaitRoom") == 1
	})
}

// served waits for item v's handler while item 0 still holds its consumer,
// then ends the run and checks that it started exactly one more consumer.
func (o *onDemand) served(t *testing.T, v int) {
	t.Helper()
	select {
	case got := <-o.handled:
		assert.Equal(t, v, got)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the ready room's item did not start while every consumer held a task", "item %d", v)
	}
	assert.True(t, o.held.Load())
	o.end()
	o.cancel()
	st, err := o.wait()
	require.NoError(t, err)
	assert.Equal(t, 1+o.others.Load(), st.Succeeded)
	assert.Equal(t, 2, st.MaxConsumers, "one consumer, and one started for the ready room")
}

func TestANewItemStartsAConsumerWhenEveryOneHoldsATask(t *testing.T) {
	defer goleak.VerifyNone(t)
	o := startOnDemand(t, limiter.Config{Initial: 2}, "other")
	o.hold(t)
	o.src <- 1
	o.served(t, 1)
}

func TestAGatesEndStartsAConsumerWhenEveryOneHoldsATask(t *testing.T) {
	defer goleak.VerifyNone(t)
	o := startOnDemand(t, limiter.Config{Initial: 2}, "gated")
	o.l.Host("gated").Gate(o.clk.Now().Add(5 * time.Millisecond))
	o.src <- 1
	o.parked(t)
	o.hold(t)
	o.clk.Advance(6 * time.Millisecond) // the gate ends; the next poll is at 10 ms
	o.served(t, 1)
}

func TestATokenStartsAConsumerWhenEveryOneHoldsATask(t *testing.T) {
	defer goleak.VerifyNone(t)
	// 200/s with a burst of 1: a request outside the run takes the token,
	// and item 1 waits 5 ms for the next.
	o := startOnDemand(t, limiter.Config{Initial: 2, Rate: 200, Burst: 1}, "paced")
	p, _, ok := o.l.Host("paced").TryAcquire()
	require.True(t, ok)
	p.Release(limiter.Success)
	o.src <- 1
	o.parked(t)
	o.hold(t)
	o.clk.Advance(6 * time.Millisecond)
	o.served(t, 1)
}

// A release outside the run (a request of another caller) is found when the
// rooms that wait for one are polled, every poll interval.
func TestAReleaseStartsAConsumerWhenEveryOneHoldsATask(t *testing.T) {
	defer goleak.VerifyNone(t)
	o := startOnDemand(t, limiter.Config{Initial: 1}, "busy")
	p, _, ok := o.l.Host("busy").TryAcquire()
	require.True(t, ok)
	o.src <- 1
	o.parked(t)
	o.hold(t)
	p.Release(limiter.Success)
	o.clk.Advance(pollInterval)
	o.served(t, 1)
}

// A run cancelled while its consumer holds a task and other items wait in a
// room starts no consumer for them: they are reported, and every goroutine
// ends (goleak).
func TestACancelledRunStartsNoConsumerForItsRooms(t *testing.T) {
	defer goleak.VerifyNone(t)
	o := startOnDemand(t, limiter.Config{Initial: 2}, "gated")
	o.l.Host("gated").Gate(o.clk.Now().Add(time.Hour))
	for v := 1; v <= 3; v++ {
		o.src <- v
	}
	o.parked(t)
	o.hold(t)
	o.cancel()
	o.end()
	st, err := o.wait()
	require.NoError(t, err)
	assert.True(t, st.Interrupted)
	assert.EqualValues(t, 1, st.Succeeded)
	assert.EqualValues(t, 3, st.Unfinished)
	assert.Zero(t, len(o.handled))
	assert.Equal(t, 1, st.MaxConsumers)
}

// Handlers that all hold their consumer until six run at once: consumers
// start one by one, each as the last one took a task while work waited, up
// to the limit (three hosts at 2).
func TestConsumersStartUpToTheLimitWhileEveryOneHoldsATask(t *testing.T) {
	defer goleak.VerifyNone(t)
	const hosts, limit = 3, 2
	l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: limit})
	require.NoError(t, err)
	var together atomic.Int64
	all := make(chan struct{})
	st, err := NewJob(rangeOf(t, 60, 6), func(ctx context.Context, v int) error {
		if v >= hosts*limit {
			return nil
		}
		if together.Add(1) == hosts*limit {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-time.After(10 * time.Second):
			return Permanent(context.DeadlineExceeded)
		}
	}).WithLimiter(l, func(v int) string { return []string{"a", "b", "c"}[v%hosts] }).Run(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 60, st.Succeeded, "the first six ran at once")
	assert.Equal(t, hosts*limit, st.MaxConsumers)
}
