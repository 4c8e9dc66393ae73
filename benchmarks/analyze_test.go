package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/politely/politely/mockapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

// synthetic builds a result sampled every 100 ms whose goodput in each
// interval is rates[i] items/s, against a constant optimum opt (0: unlimited).
func synthetic(opt float64, rates ...float64) Result {
	r := Result{Samples: []Sample{{At: 0}}}
	if opt > 0 {
		r.Optimum = []Level{{At: 0, PerSec: opt}}
	}
	var items int64
	for i, rate := range rates {
		items += int64(rate / 10)
		r.Samples = append(r.Samples, Sample{At: time.Duration(i+1) * 100 * ms, Items: items, Limit: i + 1})
	}
	r.Items = items
	r.Elapsed = time.Duration(len(rates)) * 100 * ms
	return r
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestRatioComparesItemsWithWhatTheOptimumAllows(t *testing.T) {
	r := synthetic(100, repeat(50, 10)...)
	assert.InDelta(t, 1.0, synthetic(100, repeat(100, 10)...).Ratio(), 1e-9)
	assert.InDelta(t, 0.5, r.Ratio(), 1e-9)
	assert.InDelta(t, 50, r.Goodput(), 1e-9)
	assert.Zero(t, synthetic(0, repeat(50, 10)...).Ratio(), "unlimited has no ratio")
}

func TestRatioFollowsCapacitySteps(t *testing.T) {
	r := synthetic(1000, repeat(1000, 20)...)
	r.Optimum = append(r.Optimum, Level{At: time.Second, PerSec: 500})
	// 1 s at 1000/s + 1 s at 500/s allow 1,500 items; 2,000 were done.
	assert.InDelta(t, 2000.0/1500, r.Ratio(), 1e-9)
	assert.Equal(t, []time.Duration{time.Second}, r.Steps())
	assert.Equal(t, 500.0, r.OptimumAt(1500*ms))
	assert.Equal(t, 1000.0, r.OptimumAt(999*ms))
}

func TestSteadyRatioLeavesOutTheSettlingAndTheTail(t *testing.T) {
	// 1 s of warm-up at 10%, then 100%, then a tail at 0.
	rates := append(append(repeat(10, 10), repeat(100, 20)...), 0, 0)
	r := synthetic(100, rates...)
	r.Settle = time.Second
	assert.InDelta(t, 1.0, r.SteadyRatio(), 1e-9)
	r.Settle = 500 * ms
	assert.Less(t, r.SteadyRatio(), 0.95, "half the warm-up counts")
	short := synthetic(100, repeat(100, 5)...)
	short.Settle = time.Second
	assert.Zero(t, short.SteadyRatio(), "no steady state in a run shorter than its settling")
}

func TestT90FindsTheFirstSustainedStretch(t *testing.T) {
	tests := []struct {
		name  string
		rates []float64
		want  time.Duration
		ok    bool
	}{
		{name: "at once", rates: repeat(100, 10), want: 100 * ms, ok: true},
		// The stretch from the 80 averages 96: it counts from the end of that interval.
		{name: "after a ramp", rates: append([]float64{10, 30, 60, 80}, repeat(100, 10)...), want: 400 * ms, ok: true},
		{name: "after a slower ramp", rates: append([]float64{10, 30, 40, 40}, repeat(100, 10)...), want: 500 * ms, ok: true},
		{name: "a spike does not count", rates: append([]float64{10, 100, 10, 10, 10, 10}, repeat(100, 10)...), want: 700 * ms, ok: true},
		{name: "never", rates: repeat(80, 20), ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := synthetic(100, tt.rates...).T90(0)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, d)
		})
	}
	_, ok := synthetic(0, repeat(100, 10)...).T90(0)
	assert.False(t, ok, "unlimited scenarios have no T90")
}

func TestT90AfterAStepCountsFromTheStep(t *testing.T) {
	// Optimum 1000, 500 from 1 s; the client keeps 1000 until 1 s, then
	// stalls 300 ms (a Retry-After), then holds 500.
	rates := append(append(repeat(1000, 10), 0, 0, 0), repeat(500, 10)...)
	r := synthetic(1000, rates...)
	r.Optimum = append(r.Optimum, Level{At: time.Second, PerSec: 500})
	cold, ok := r.T90(0)
	require.True(t, ok)
	assert.Equal(t, 100*ms, cold)
	step, ok := r.T90(time.Second)
	require.True(t, ok)
	assert.Equal(t, 400*ms, step)
}

func TestGoodputSeriesIsATrailingMean(t *testing.T) {
	r := synthetic(0, 100, 300, 500)
	pts := r.GoodputSeries(200 * ms)
	require.Len(t, pts, 3)
	assert.InDelta(t, 100, pts[0].Value, 1e-9)
	assert.InDelta(t, 200, pts[1].Value, 1e-9)
	assert.InDelta(t, 400, pts[2].Value, 1e-9)
	assert.Equal(t, []Point{{0, 0}, {100 * ms, 1}, {200 * ms, 2}, {300 * ms, 3}}, r.LimitSeries())
}

func TestPercentagesComeFromTheServerAnswers(t *testing.T) {
	r := Result{Requests: 200, Throttled: 3, Errors: 1}
	assert.InDelta(t, 1.5, r.ThrottledPct(), 1e-9)
	assert.InDelta(t, 0.5, r.ErrorPct(), 1e-9)
	assert.Zero(t, Result{}.ThrottledPct())
}

func TestRatioUnderAFixedWindowIsTheTimeASpreadingClientNeedsOverTheRunsTime(t *testing.T) {
	// 100 a second, the server started with 0.2 s left in its window: 1,530
	// requests, spread over each window, take 0.2 s + 14 windows + 0.3 s.
	r := synthetic(100, repeat(100, 10)...)
	r.Items, r.Elapsed = 1530, 14500*ms
	r.Window = &FixedWindow{Limit: 100, Length: time.Second, Left: 200 * ms}
	assert.InDelta(t, 1.0, r.Ratio(), 1e-9, "done when such a client is")
	r.Elapsed = 15500 * ms
	assert.InDelta(t, 14.5/15.5, r.Ratio(), 1e-9, "a second late")
	r.Items = 50
	assert.InDelta(t, 0.1/15.5, r.Ratio(), 1e-9, "within the first window")
	r.Items, r.Elapsed, r.Window = 1530, 14500*ms, nil
	assert.Greater(t, r.Ratio(), 1.0, "items over the rate times the run's time count the first window's head start")
}

func TestFixedWindowOfOnlyWhereTheWindowBinds(t *testing.T) {
	at := time.Unix(1000, 300*int64(ms))
	sc := Scenario{Mock: mockapi.Scenario{HeaderQuota: mockapi.HeaderQuota{Limit: 100, Window: time.Second}}}
	w := fixedWindowOf(sc, at)
	require.NotNil(t, w)
	assert.Equal(t, FixedWindow{Limit: 100, Length: time.Second, Left: 700 * ms}, *w)
	sc.Mock.HeaderQuota.Kind = mockapi.HeaderQuotaSliding
	assert.Nil(t, fixedWindowOf(sc, at), "a sliding window")
	sc.Mock.HeaderQuota.Kind = mockapi.HeaderQuotaFixed
	sc.Mock.Quota.Rate = 50
	assert.Nil(t, fixedWindowOf(sc, at), "a lower rate binds")
}

func TestAwaitWindowWaitsUntilAFixedWindowBegins(t *testing.T) {
	sc := Scenario{Mock: mockapi.Scenario{HeaderQuota: mockapi.HeaderQuota{Limit: 20, Window: 200 * ms}}}
	before := time.Now()
	boundary := before.Add(fixedWindowOf(sc, before).Left)
	require.NoError(t, awaitWindow(context.Background(), sc))
	assert.False(t, time.Now().Before(boundary), "not before the next window begins")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, awaitWindow(ctx, sc), context.Canceled)

	sc.Mock.HeaderQuota.Kind = mockapi.HeaderQuotaSliding
	assert.NoError(t, awaitWindow(ctx, sc), "no wait where no fixed window binds")
}
