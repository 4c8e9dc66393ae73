package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/clocktimer"
)

// newSteppingLimiter is a limiter on a clock that moves by step as its first
// timer is made, and a gate closed on its host "h" for that long.
func newSteppingLimiter(t *testing.T, step time.Duration, opts ...Option) (*Host, *clocktimer.Stepping) {
	t.Helper()
	clk := &clocktimer.Stepping{FakeClock: clockwork.NewFakeClockAt(epoch), Step: step}
	l, err := New(Config{Algorithm: Fixed, Initial: 2}, append([]Option{WithClock(clk)}, opts...)...)
	require.NoError(t, err)
	h := l.Host("h")
	h.Gate(clk.Now().Add(step))
	return h, clk
}

// The wait ends on a real timer only when the time it waits for is lost:
// the clock does not move once it has stepped.
const lostWake = 10 * time.Second

// The clock reaches the gate's end while Acquire's waiter sets its timer:
// the request starts then, not once the clock has moved as far again.
func TestAcquireStartsWhenTheClockReachesTheGatesEndAsItsTimerIsSet(t *testing.T) {
	h, _ := newSteppingLimiter(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), lostWake)
	defer cancel()
	p, err := h.Acquire(ctx)
	require.NoError(t, err)
	p.Release(Success)
}

// The same for a request whose permit was taken before the gate closed.
func TestAwaitGateEndsWhenTheClockReachesTheGatesEndAsItsTimerIsSet(t *testing.T) {
	h, _ := newSteppingLimiter(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), lostWake)
	defer cancel()
	waited, err := h.AwaitGate(ctx)
	require.NoError(t, err)
	assert.True(t, waited)
}

// The same for an auxiliary request.
func TestAcquireAuxiliaryStartsWhenTheClockReachesTheGatesEndAsItsTimerIsSet(t *testing.T) {
	h, _ := newSteppingLimiter(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), lostWake)
	defer cancel()
	p, err := h.AcquireAuxiliary(ctx)
	require.NoError(t, err)
	p.Release(Success)
}

// The clock reaches the end of the shared store's wait as the request's
// timer is set: the request starts then.
func TestASharedWaitEndsWhenTheClockReachesItsEndAsItsTimerIsSet(t *testing.T) {
	clk := &clocktimer.Stepping{FakeClock: clockwork.NewFakeClockAt(epoch), Step: time.Minute}
	s := &sharedStore{clk: clk.FakeClock, waits: []time.Duration{time.Minute}}
	l, err := New(Config{Algorithm: Fixed}, WithClock(clk), WithShared(s))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), lostWake)
	defer cancel()
	p, err := l.Acquire(ctx, "h")
	require.NoError(t, err)
	p.Release(Success)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.rates, 2)
	assert.True(t, s.rates[1].Booked, "after its booked wait the request asks only for the gate")
}
