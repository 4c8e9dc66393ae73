package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample returns the host's open window: its timed successes and their sum.
func sample(h *Host) (int, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return int(h.ctl.n), h.ctl.sum
}

func TestTryAcquireUntimedLeavesTheSamplesStartToTheCaller(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	h := l.Host("a:80")            // a new host samples every permit
	first, _, ok := h.TryAcquire() // the rate learner reads the time of a host's first request
	require.True(t, ok)
	first.Release(Ignored)

	p, start, _, ok := h.TryAcquireUntimed()
	require.True(t, ok)
	assert.True(t, start, "sampling picked it and no time was read")
	assert.False(t, p.Sampled(), "untimed until Started")
	clk.Advance(time.Second) // the caller's own time, before its request
	p = p.Started()
	assert.True(t, p.Sampled())
	clk.Advance(40 * time.Millisecond)
	p.Release(Success)
	n, sum := sample(h)
	assert.Equal(t, 1, n)
	assert.Equal(t, 40*time.Millisecond, sum, "measured from Started, not from the take")

	q, start, _, ok := h.TryAcquireUntimed()
	require.True(t, ok)
	require.True(t, start)
	clk.Advance(time.Second)
	q.Release(Success) // never started: no sample
	n, _ = sample(h)
	assert.Equal(t, 1, n, "a permit never started is not a sample")

	r, _, ok := h.TryAcquire()
	require.True(t, ok)
	assert.True(t, r.Sampled(), "TryAcquire starts the sample itself")
	r.Release(Ignored)
	assert.Zero(t, h.Snapshot().InFlight)
}

func TestTryAcquireUntimedKeepsATimeReadForTheBucket(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Rate: 100})
	h := l.Host("a:80")
	p, start, _, ok := h.TryAcquireUntimed()
	require.True(t, ok)
	assert.False(t, start, "the bucket read the time: the permit is timed already")
	assert.True(t, p.Sampled())
	clk.Advance(30 * time.Millisecond)
	p.Release(Success)
	n, sum := sample(h)
	assert.Equal(t, 1, n)
	assert.Equal(t, 30*time.Millisecond, sum)
}
