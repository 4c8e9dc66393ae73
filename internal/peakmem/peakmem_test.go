package peakmem

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

var held []byte

func TestAWatchSeesWhatTheRunHeld(t *testing.T) {
	base := LiveHeap()
	w := Start()
	held = make([]byte, 32<<20)
	for i := range held {
		held[i] = 1 // resident, not only reserved
	}
	runtime.GC()
	p := w.Stop()
	assert.GreaterOrEqual(t, MiB(p.InUse, base), 31.0)
	assert.GreaterOrEqual(t, MiB(p.Live, base), 31.0)
	if runtime.GOOS == "linux" {
		assert.GreaterOrEqual(t, MiB(p.RSS, 0), 32.0)
	}
	assert.GreaterOrEqual(t, MiB(LiveHeap(), base), 31.0, "still held")
	held = nil
	assert.Less(t, MiB(LiveHeap(), base), 1.0, "let go")
	assert.Zero(t, MiB(1, 2), "below the base")
}
