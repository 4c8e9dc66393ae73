package engine

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

func TestHostTableGivesTheLimitersHostOfAKey(t *testing.T) {
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	tb := newHostTable(l, 4)
	a, b := tb.get("a:443"), tb.get("b:443")
	assert.Same(t, l.Host("a:443"), a)
	assert.Same(t, l.Host("b:443"), b)
	assert.Same(t, a, tb.get("a:443"), "from the map")
	assert.Same(t, a, tb.get("a:443"), "the last host found")
}

func TestHostTableGetsAHostTheLimiterForgotAgain(t *testing.T) {
	l, err := limiter.New(limiter.Config{}, limiter.WithMaxHosts(1))
	require.NoError(t, err)
	tb := newHostTable(l, 4)
	old := tb.get("a:443")
	tb.get("b:443") // the limiter keeps one host: it forgets the idle a
	require.True(t, old.Forgotten())

	h := tb.get("a:443")
	assert.NotSame(t, old, h)
	assert.False(t, h.Forgotten())
	assert.Same(t, l.Host("a:443"), h)
}

func TestHostTableHoldsAtMostItsMaximum(t *testing.T) {
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	tb := newHostTable(l, 8)
	for i := range 100 {
		key := "h" + strconv.Itoa(i) + ":443"
		assert.Same(t, l.Host(key), tb.get(key))
		assert.LessOrEqual(t, len(tb.byKey), 8)
	}
}
