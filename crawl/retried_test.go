package crawl

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/engine"
)

func TestPatientMaxIsTheDelayBeforeThePolicysLastAttempt(t *testing.T) {
	assert.Equal(t, 2*time.Second, patientMax(engine.Retry{}, 5), "the default: 250 ms, 0.5, 1, 2 s")
	assert.Equal(t, 40*time.Millisecond, patientMax(engine.Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}, 5))
	assert.Equal(t, 50*time.Millisecond, patientMax(engine.Retry{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}, 9), "backoff.max caps it")
	assert.Equal(t, 250*time.Millisecond, patientMax(engine.Retry{}, 1))
}

// A request the crawl cannot go on without, retried past the policy's five
// attempts through an outage, is asked again at most the policy's last
// delay (2 s by default) after the one before: never 4, 8 or 16 s later.
func TestDoPatientlyRetriesAtThePolicysLastDelayPastItsAttempts(t *testing.T) {
	clock := clockwork.NewFakeClock()
	r := &retrier{retry: engine.Retry{}, clock: clock}
	calls := make(chan struct{}, 1)
	outage := errors.New("503")
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- r.doPatiently(context.Background(), 30*time.Second, func(context.Context) error {
			calls <- struct{}{}
			if n++; n < 12 {
				return outage
			}
			return nil
		})
	}()
	for attempt := 1; attempt <= 12; attempt++ {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("attempt %d did not come within 2 s of the one before", attempt)
		}
		if attempt < 12 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			require.NoError(t, clock.BlockUntilContext(ctx, 1))
			cancel()
			clock.Advance(2 * time.Second)
		}
	}
	require.NoError(t, <-done)
	assert.Equal(t, int64(11), r.retries.Load())
}
