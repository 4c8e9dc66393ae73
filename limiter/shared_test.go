package limiter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedStore is an in-memory Shared: a gate per key and a scripted list of
// waits that Allow returns in turn.
type sharedStore struct {
	clk   clockwork.Clock
	mu    sync.Mutex
	gates map[string]time.Time
	waits []time.Duration
	rates []SharedRate
	err   error
}

func (s *sharedStore) Allow(_ context.Context, key string, r SharedRate) (time.Duration, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = append(s.rates, r)
	if s.err != nil {
		return 0, false, s.err
	}
	if g := s.gates[key]; g.After(s.clk.Now()) {
		return g.Sub(s.clk.Now()), true, nil
	}
	if len(s.waits) > 0 {
		w := s.waits[0]
		s.waits = s.waits[1:]
		return w, false, nil
	}
	return 0, false, nil
}

func (s *sharedStore) Gate(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.gates == nil {
		s.gates = map[string]time.Time{}
	}
	if until.After(s.gates[key]) {
		s.gates[key] = until
	}
	return nil
}

func newSharedLimiter(t *testing.T, cfg Config) (*Limiter, *clockwork.FakeClock, *sharedStore) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	s := &sharedStore{clk: clk}
	l, err := New(cfg, WithClock(clk), WithShared(s))
	require.NoError(t, err)
	return l, clk, s
}

func TestSharedGateHoldsAcquireUntilItOpens(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	require.NoError(t, s.Gate(context.Background(), "h", clk.Now().Add(3*time.Second)))
	got := make(chan error, 1)
	go func() {
		p, err := l.Acquire(context.Background(), "h")
		p.Release(Success)
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	select {
	case <-got:
		t.Fatal("Acquire returned while the shared gate was closed")
	default:
	}
	clk.Advance(3 * time.Second)
	require.NoError(t, <-got)
}

func TestGateClosesTheSharedGate(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	until := clk.Now().Add(2 * time.Second)
	l.Host("h").Gate(until)
	assert.Equal(t, until, s.gates["h"])
}

func TestSharedRateCarriesCeilingAndQuota(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Rate: 50})
	h := l.Host("h")
	h.SetQuota(Quota{Remaining: 10, Reset: clk.Now().Add(time.Second)})
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	require.Len(t, s.rates, 1)
	assert.Equal(t, 50.0, s.rates[0].Ceiling)
	assert.InDelta(t, 10.0, s.rates[0].Quota, 0.01)
	assert.Zero(t, s.rates[0].Learnt)
}

func TestSharedWaitIsNotCountedInTheLatency(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	s.waits = []time.Duration{time.Second}
	got := make(chan Permit, 1)
	go func() {
		p, err := l.Acquire(context.Background(), "h")
		assert.NoError(t, err)
		got <- p
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(time.Second)
	p := <-got
	if !p.start.IsZero() {
		assert.Equal(t, clk.Now(), p.start)
	}
	p.Release(Success)
	assert.Len(t, s.rates, 1, "a booked wait is not asked again")
}

func TestSharedStoreDownGoesOnUnderOwnLimits(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	s.err = errors.New("connection refused")
	p, err := l.Acquire(context.Background(), "h")
	require.NoError(t, err)
	p.Release(Success)
	assert.True(t, l.sharedErr.failing.Load())
	s.err = nil
	p, err = l.Acquire(context.Background(), "h")
	require.NoError(t, err)
	p.Release(Success)
	assert.False(t, l.sharedErr.failing.Load())
}

func TestSharedWaitEndsWithTheContext(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 1, Max: 1})
	s.waits = []time.Duration{time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "h")
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	cancel()
	require.ErrorIs(t, <-got, context.Canceled)
	// The permit taken before the wait was given back.
	assert.Equal(t, 0, l.Host("h").Snapshot().InFlight)
}
