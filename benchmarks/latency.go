package benchmarks

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets (32 per power of two, so a
// quantile is within ~3%) with atomic counters: recording takes no lock, so it
// does not serialise the clients it measures.
type histogram struct {
	counts [64 * histSub]atomic.Int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
)

func histIndex(d time.Duration) int {
	v := uint64(max(d, 1))
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(v) - 1 // v in [2^exp, 2^(exp+1))
	sub := (v >> (exp - histSubBits)) & (histSub - 1)
	return (exp-histSubBits+1)*histSub + int(sub)
}

// histLower is the smallest duration of bucket i.
func histLower(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	exp := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	return time.Duration((uint64(1) << exp) | sub<<(exp-histSubBits))
}

func (h *histogram) record(d time.Duration) { h.counts[histIndex(d)].Add(1) }

// quantile returns the middle of the bucket holding the q-quantile, 0 with no samples.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q * float64(total-1))
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen > rank {
			lo, hi := histLower(i), histLower(i+1)
			return lo + (hi-lo)/2
		}
	}
	return histLower(len(h.counts) - 1)
}
