//go:build !unix

package crawl

import (
	"testing"
	"time"
)

// cpuTime is 0 where the process's CPU time is not read: the benchmarks
// then report 0 cpu-µs/item.
func cpuTime(*testing.B) time.Duration { return 0 }
