package clocktimer

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ready(l *Timer) bool {
	select {
	case <-l.C():
		return true
	default:
		return false
	}
}

func TestSetFiresAtItsTime(t *testing.T) {
	c := clockwork.NewFakeClock()
	var l Timer
	require.False(t, l.Set(c, c.Now().Add(time.Minute)))
	c.Advance(59 * time.Second)
	assert.False(t, ready(&l), "not before its time")
	c.Advance(time.Second)
	assert.True(t, ready(&l), "at its time")
}

func TestSetReportsATimeThatHasPassed(t *testing.T) {
	c := clockwork.NewFakeClock()
	var l Timer
	assert.True(t, l.Set(c, c.Now()))
	assert.True(t, l.Set(c, c.Now().Add(-time.Second)))
	assert.False(t, ready(&l), "no timer waits for a passed time")
}

// A tick the timer left unread (its time passed while its owner was not
// reading it) must not end the next wait: the fake clock's timer keeps it in
// its channel through Stop and Reset.
func TestSetDropsATickLeftUnread(t *testing.T) {
	c := clockwork.NewFakeClock()
	var l Timer
	require.False(t, l.Set(c, c.Now().Add(time.Minute)))
	c.Advance(time.Minute) // fires; nobody reads it
	assert.True(t, l.Set(c, c.Now()), "its time has passed")
	require.False(t, l.Set(c, c.Now().Add(time.Minute)))
	assert.False(t, ready(&l), "the next wait ends at its own time, not at the old tick")
	c.Advance(time.Minute)
	assert.True(t, ready(&l))
}

func TestResetDropsATickLeftUnread(t *testing.T) {
	c := clockwork.NewFakeClock()
	var l Timer
	require.False(t, l.Set(c, c.Now().Add(time.Second)))
	c.Advance(time.Second) // fires; nobody reads it
	require.False(t, l.Set(c, c.Now().Add(time.Minute)))
	assert.False(t, ready(&l), "the reset wait ends at its own time")
}

func TestStopDropsATickLeftUnread(t *testing.T) {
	c := clockwork.NewFakeClock()
	var l Timer
	l.Stop() // no timer yet: nothing to do
	require.False(t, l.Set(c, c.Now().Add(time.Second)))
	c.Advance(time.Second)
	l.Stop()
	assert.False(t, ready(&l))
}
