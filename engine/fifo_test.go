package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The queue keeps its order across the buffer's end and its growth, and a
// queue that holds at most 8,192 items at once, pushed and popped in turns
// (as a room that the producer fills while consumers take from it), keeps a
// buffer of 8,192.
func TestFifoKeepsOrderAndABufferOfTheMostItHeld(t *testing.T) {
	var q fifo[int]
	next, want := 0, 0
	push := func(k int) {
		for range k {
			q.push(next)
			next++
		}
	}
	pop := func(k int) {
		for range k {
			require.Equal(t, want, q.pop())
			want++
		}
	}
	push(3)
	pop(2)
	push(6) // wraps, then grows while wrapped
	pop(7)
	assert.Zero(t, q.len())
	push(8192)
	for range 50 {
		pop(4096)
		push(4096)
	}
	assert.Equal(t, 8192, q.len())
	assert.Len(t, q.buf, 8192)
	pop(8192)
	assert.Zero(t, q.len())
	for _, v := range q.buf {
		require.Zero(t, v, "a popped item is not kept")
	}
}
