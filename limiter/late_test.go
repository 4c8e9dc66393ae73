package limiter

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRunQueue is a runQueueWait whose total the test sets.
type fakeRunQueue struct {
	mu    sync.Mutex
	total time.Duration
	reads int
}

func (f *fakeRunQueue) read() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.total, true
}

func TestLatenessReadsTheThreadsWaitingPerWallTimeBetweenTwoReads(t *testing.T) {
	f := &fakeRunQueue{}
	lt := newLateness(f.read, nil)
	require.NotNil(t, lt)
	t0 := time.Unix(0, lt.readAt.Load())
	assert.Zero(t, lt.threads(t0), "one read: no reading yet")
	// Two threads waited all along 20 ms.
	f.total = 40 * time.Millisecond
	require.True(t, lt.sample(t0.Add(20*time.Millisecond)))
	assert.InDelta(t, 2.0, lt.threads(t0.Add(21*time.Millisecond)), 0.01)
	// None waited the next 20 ms: the old reading counts half.
	require.True(t, lt.sample(t0.Add(40*time.Millisecond)))
	assert.InDelta(t, 1.0, lt.threads(t0.Add(41*time.Millisecond)), 0.01)
	assert.Zero(t, lt.threads(t0.Add(40*time.Millisecond+lateStale+time.Millisecond)), "a stale reading is none")
	require.Eventually(t, func() bool { return !lt.busy.Load() }, 5*time.Second, time.Millisecond)
	// A read over a span longer than lateStale gives no reading.
	f.total += time.Second
	require.True(t, lt.sample(t0.Add(time.Second)))
	assert.Zero(t, lt.threads(t0.Add(time.Second)))
}

func TestLatenessReadsTheGoroutinesWaitingWhereMoreThanTheThreads(t *testing.T) {
	f := &fakeRunQueue{}
	var goTotal atomic.Int64
	lt := newLateness(f.read, func() time.Duration { return time.Duration(goTotal.Load()) })
	require.NotNil(t, lt)
	t0 := time.Unix(0, lt.readAt.Load())
	// Over 20 ms, one thread waited for a CPU and three goroutines for a
	// thread (a collector's mark worker held one of two).
	f.total = 20 * time.Millisecond
	goTotal.Store(int64(60 * time.Millisecond))
	require.True(t, lt.sample(t0.Add(20*time.Millisecond)))
	assert.InDelta(t, 3.0, lt.threads(t0.Add(21*time.Millisecond)), 0.01, "the goroutines: more than the threads")
	require.Eventually(t, func() bool { return !lt.busy.Load() }, 5*time.Second, time.Millisecond)

	// The runtime's own reading alone, where the system tells no run queue.
	goOnly := newLateness(nil, func() time.Duration { return time.Duration(goTotal.Load()) })
	require.NotNil(t, goOnly)
	g0 := time.Unix(0, goOnly.readAt.Load())
	goTotal.Add(int64(10 * time.Millisecond))
	require.True(t, goOnly.sample(g0.Add(20*time.Millisecond)))
	assert.InDelta(t, 0.5, goOnly.threads(g0.Add(21*time.Millisecond)), 0.01)
	require.Eventually(t, func() bool { return !goOnly.busy.Load() }, 5*time.Second, time.Millisecond)
	assert.Nil(t, newLateness(nil, nil), "nothing to read")
}

func TestSchedLatencyGrowsWithTheTimeGoroutinesWaitToRun(t *testing.T) {
	before := schedLatency()
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	for range 64 * procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(2 * time.Millisecond); time.Now().Before(end); {
			}
		}()
	}
	wg.Wait()
	// 64 goroutines for each thread, each busy 2 ms: they waited about
	// 64 ms on average, 8 s in all on two threads; the runtime times one
	// goroutine in eight, so about 1 s of it. 20 ms is far below either.
	assert.Greater(t, schedLatency()-before, 20*time.Millisecond, "goroutines that waited for a thread add their wait")
}

func TestLatenessReadsAtMostOnceEveryLateEvery(t *testing.T) {
	f := &fakeRunQueue{}
	lt := newLateness(f.read, nil)
	now := time.Unix(0, lt.readAt.Load())
	for i := range 30 {
		lt.threads(now.Add(time.Duration(i) * time.Millisecond))
		require.Eventually(t, func() bool { return !lt.busy.Load() }, 5*time.Second, time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 2, f.reads, "the priming read and one lateEvery after it")
}

func TestALimiterOnAnotherClockReadsNoLateness(t *testing.T) {
	l, _ := newTestLimiter(t, Config{})
	assert.Nil(t, l.late)
	real, err := New(Config{})
	require.NoError(t, err)
	assert.NotNil(t, real.late, "the real clock reads it: the runtime's scheduler latency everywhere, the run queue where the system tells it")
}

func TestSlowStartHoldsWindowsReadWhileItsProcessWaitsForACPUAndTakesOnlyTheirLowerMeans(t *testing.T) {
	// A 20 ms server read 30-45 ms late by a process whose threads wait
	// for a CPU: slow start neither grows nor takes the late means into its
	// baseline but the lowest, for lateHolds windows at most.
	var c control
	c.init(Config{Initial: 4, Min: 1, Max: 100})
	threads := 1.2
	late := func(time.Time) float64 { return threads }
	now := epoch
	round := func(rtt time.Duration) {
		n := c.intLimit()
		for range n {
			c.onStart(n)
		}
		// Each answer of its own permit, marked back as Host does.
		first := c.seq - uint64(n) + 1
		for i := range n {
			now = now.Add(rtt / time.Duration(n))
			seq := first + uint64(i)
			c.watch.returned(seq)
			c.onSuccess(now, rtt, n-1-i, seq, c.level, late)
		}
	}
	rtts := []time.Duration{40, 32, 45, 38, 30, 44}
	for _, ms := range rtts {
		round(ms * time.Millisecond)
	}
	assert.Equal(t, 4, c.intLimit(), "held while read late")
	assert.True(t, c.slowStart)
	assert.LessOrEqual(t, c.base, 32*time.Millisecond, "the lowest late means, not their mean (38 ms)")
	for range 2 * lateHolds {
		round(30 * time.Millisecond)
	}
	assert.Greater(t, c.intLimit(), 4, "past lateHolds windows in a row the machine is loaded, not its start: it grows")
}
