package benchmarks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestHistogramBucketsHoldTheirDurations(t *testing.T) {
	for _, d := range []time.Duration{1, 31, 32, 33, 1000, 20 * time.Millisecond, 3 * time.Second, time.Hour} {
		i := histIndex(d)
		assert.LessOrEqual(t, histLower(i), d, "lower bound of %v", d)
		assert.Greater(t, histLower(i+1), d, "upper bound of %v", d)
	}
}

func TestHistogramQuantilesWithinThreePercent(t *testing.T) {
	var h histogram
	assert.Zero(t, h.quantile(0.5), "no samples")
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	tests := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{name: "p50", q: 0.5, want: 500 * time.Millisecond},
		{name: "p99", q: 0.99, want: 990 * time.Millisecond},
		{name: "min", q: 0, want: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InEpsilon(t, float64(tt.want), float64(h.quantile(tt.q)), 0.03)
		})
	}
}
