package limiter

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentAcquireKeepsEveryInvariant hammers one host from many
// goroutines with the real clock: mixed outcomes, short gates, a rate, and
// callers that give up. Every permit is released once, no more run at once
// than Max, and nothing is left in flight or waiting.
func TestConcurrentAcquireKeepsEveryInvariant(t *testing.T) {
	l, err := New(Config{Max: 8, Rate: 20000})
	require.NoError(t, err)
	h := l.Host("stress")
	var running, peak, released atomic.Int64
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 150 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3000))*time.Microsecond)
				p, err := h.Acquire(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("acquire: %v", err)
					}
					continue
				}
				n := running.Add(1)
				for {
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				if i%50 == 49 {
					h.Gate(time.Now().Add(time.Millisecond))
				}
				running.Add(-1)
				p.Release(Outcome(1 + rng.IntN(4)))
				released.Add(1)
			}
		}()
	}
	wg.Wait()
	s := h.Snapshot()
	assert.LessOrEqual(t, peak.Load(), int64(8))
	assert.LessOrEqual(t, s.MaxInFlight, 8)
	assert.Equal(t, 0, s.InFlight)
	h.mu.Lock()
	assert.Empty(t, h.waiters)
	h.mu.Unlock()
	assert.Equal(t, released.Load(), s.Successes+s.Dropped+s.Throttled+s.Ignored, "every release counted once")
	assert.Positive(t, released.Load())
}
