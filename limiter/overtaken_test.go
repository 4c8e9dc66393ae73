package limiter

import (
	"testing"

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
