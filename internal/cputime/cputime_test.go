package cputime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sink uint64

func TestProcessCountsTheWorkDone(t *testing.T) {
	if !Known {
		assert.Zero(t, Process())
		return
	}
	before := Process()
	for began := time.Now(); time.Since(began) < 50*time.Millisecond; {
		for i := range 1000 {
			sink += uint64(i)
		}
	}
	used := Process() - before
	require.Positive(t, used)
	assert.Less(t, used, 10*time.Second, "a 50 ms loop on one goroutine")
}
