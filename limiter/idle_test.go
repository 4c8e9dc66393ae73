package limiter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdleHostsAreForgottenBeyondMaxHosts(t *testing.T) {
	l, err := New(Config{Algorithm: Fixed, Initial: 2}, WithMaxHosts(10))
	require.NoError(t, err)
	first := l.Host("h0:80")
	for i := range 1000 {
		h := l.Host(fmt.Sprintf("h%d:80", i))
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		p.Release(Success)
	}
	n := len(l.Snapshots())
	assert.LessOrEqual(t, n, 12, "about WithMaxHosts hosts are kept")
	assert.Equal(t, 2*n, l.Limit(), "the total counts the hosts kept only")
	assert.True(t, first.Forgotten())
	again := l.Host("h0:80")
	assert.NotSame(t, first, again, "a forgotten host starts afresh")
	assert.False(t, again.Forgotten())
}

func TestHostsThatMustStayPoliteAreNotForgotten(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	l.idle.max = 2
	gated := l.Host("gated:80")
	gated.Gate(clk.Now().Add(time.Hour))
	learnt := l.Host("crawl-delay:80")
	learnt.SetCeiling(0.5)
	busy := l.Host("busy:80")
	p, err := busy.Acquire(context.Background())
	require.NoError(t, err)
	for i := range 100 {
		l.Host(fmt.Sprintf("h%d:80", i))
	}
	assert.Same(t, gated, l.Host("gated:80"))
	assert.False(t, l.Host("gated:80").Snapshot().GateUntil.IsZero())
	assert.Same(t, learnt, l.Host("crawl-delay:80"))
	assert.Same(t, busy, l.Host("busy:80"))
	p.Release(Success)
}

func TestWithMaxHostsZeroNeverForgets(t *testing.T) {
	l, err := New(Config{}, WithMaxHosts(0))
	require.NoError(t, err)
	for i := range 100 {
		l.Host(fmt.Sprintf("h%d:80", i))
	}
	assert.Len(t, l.Snapshots(), 100)
	_, err = New(Config{}, WithMaxHosts(-1))
	assert.ErrorContains(t, err, "WithMaxHosts(-1)")
}

// A scheduler finds a host when it reads an item, and takes the item's
// permit after the items read before it: the hosts it found meanwhile must
// not forget it before its first request, while they are a few against the
// hosts kept.
func TestANewHostIsNotForgottenBeforeItsFirstRequest(t *testing.T) {
	l, err := New(Config{Algorithm: Fixed, Initial: 2}, WithMaxHosts(100))
	require.NoError(t, err)
	const ahead = 10 // hosts found before their first request, the newest last
	var waiting []*Host
	for i := range 2000 {
		waiting = append(waiting, l.Host(fmt.Sprintf("h%d:80", i)))
		if len(waiting) < ahead {
			continue
		}
		h := waiting[0]
		waiting = waiting[1:]
		require.False(t, h.Forgotten(), "host %s forgotten before its first request", h.Key())
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		p.Release(Success)
	}
	assert.LessOrEqual(t, len(l.Snapshots()), 102, "about WithMaxHosts hosts are kept")
}
