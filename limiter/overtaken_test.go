package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPermitIsOvertakenOnlyByTheSuccessOfALaterOne takes three permits of a
// host: the first is overtaken once the third succeeded, not by the second's
// drop nor by its own success; the third is not overtaken by itself.
func TestPermitIsOvertakenOnlyByTheSuccessOfALaterOne(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 4, Max: 4})
	h := l.Host("a")
	first, _, ok := h.TryAcquire()
	require.True(t, ok)
	second, _, ok := h.TryAcquire()
	require.True(t, ok)
	third, _, ok := h.TryAcquire()
	require.True(t, ok)

	assert.False(t, first.Overtaken(), "nothing answered yet")
	second.Release(Dropped)
	assert.False(t, first.Overtaken(), "a later drop is no answer")
	third.Release(Success)
	assert.True(t, first.Overtaken(), "a later request succeeded")
	assert.False(t, third.Overtaken(), "its own success does not overtake it")
	first.Release(Ignored)
	assert.False(t, Permit{}.Overtaken())
}

// TestPermitOutwaitsOnlyAHostThatAnsweredInAFractionOfTheWait: a host with
// no RTT yet is never outwaited; once its answers take 20 ms, a request
// unanswered after lostWait times that is, one unanswered for less is not,
// nor one taken after lostSpan others without an answer.
func TestPermitOutwaitsOnlyAHostThatAnsweredInAFractionOfTheWait(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Initial: 4, Max: 4})
	h := l.Host("a")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	assert.False(t, p.Outwaited(time.Hour), "no answer yet: no RTT to compare with")
	const rtt = 20 * time.Millisecond
	for range 3 * maxNeed {
		q, _, ok := h.TryAcquire()
		require.True(t, ok)
		clk.Advance(rtt)
		q.Release(Success)
	}
	require.NotZero(t, h.ctl.srtt, "the answers closed a window")
	assert.True(t, p.Outwaited(lostWait*h.ctl.srtt))
	assert.False(t, p.Outwaited(lostWait*h.ctl.srtt-time.Millisecond))
	p.Release(Ignored)
	assert.False(t, Permit{}.Outwaited(time.Hour))

	// The host stops answering: once lostSpan permits went without a
	// success, a long wait is a drop again.
	var last Permit
	for range lostSpan {
		q, _, ok := h.TryAcquire()
		require.True(t, ok)
		if last.h != nil {
			last.Release(Ignored)
		}
		last = q
	}
	assert.True(t, last.Outwaited(time.Hour), "lostSpan permits since the last success")
	q, _, ok := h.TryAcquire()
	require.True(t, ok)
	assert.False(t, q.Outwaited(time.Hour), "more than lostSpan")
	last.Release(Ignored)
	q.Release(Ignored)
}
