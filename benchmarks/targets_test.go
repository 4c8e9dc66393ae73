package benchmarks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func withServer(r Result, name, strategy string, requests, throttled int64, byStatus map[int]int64) Result {
	r.Scenario, r.Strategy = name, strategy
	r.Requests, r.Throttled, r.ByStatus = requests, throttled, byStatus
	return r
}

func targetsByName(ts []Target) map[string]Target {
	m := make(map[string]Target, len(ts))
	for _, t := range ts {
		m[t.Name] = t
	}
	return m
}

func TestTargetsJudgeTheDefaultStrategy(t *testing.T) {
	good := synthetic(100, repeat(100, 30)...)
	good.Settle = time.Second
	slow := synthetic(100, repeat(90, 30)...)
	slow.Settle = time.Second
	rep := Report{
		Scenarios: []ScenarioInfo{{Name: "quota"}, {Name: "header-quota"}},
		Results: []Result{
			withServer(slow, "quota", Baseline, 1000, 100, map[int]int64{200: 900, 429: 100}),
			withServer(good, "quota", Default, 300, 0, map[int]int64{200: 300}),
			withServer(slow, "header-quota", Baseline, 270, 0, map[int]int64{200: 270}),
			withServer(slow, "header-quota", Default, 280, 10, map[int]int64{200: 270, 403: 10}),
		},
	}
	ts := targetsByName(rep.Targets())
	require.Len(t, ts, 4, "quota, header quota, and one baseline comparison per scenario")

	quota := ts["quota 100 req/s: default ≥ 97% of the quota, ≤ 1% throttled"]
	assert.True(t, quota.Met, quota.Measured)
	assert.Contains(t, quota.Measured, "100.0% of the quota")

	header := ts["header quota: zero 403s"]
	assert.False(t, header.Met)
	assert.Equal(t, "10 403s of 280 answers", header.Measured)

	vsQuota := ts["quota: default never more throttled than fixed-50, never > 5% slower where it is not throttled"]
	assert.True(t, vsQuota.Met, vsQuota.Measured)
	vsHeader := ts["header-quota: default never more throttled than fixed-50, never > 5% slower where it is not throttled"]
	assert.False(t, vsHeader.Met, "more throttled than an unthrottled baseline")
	assert.Contains(t, vsHeader.Measured, "100.0%")
}

func TestTargetsComparePolitelyWithTheBareNetHTTPPool(t *testing.T) {
	tests := []struct {
		name     string
		politely float64
		met      bool
	}{
		{name: "80% is enough", politely: 8000, met: true},
		{name: "79% is not", politely: 7900, met: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Report{Results: []Result{
				{Scenario: "fast", Strategy: OverheadPolitely, Items: int64(tt.politely), Elapsed: time.Second},
				{Scenario: "fast", Strategy: OverheadNetHTTP, Items: 10000, Elapsed: time.Second},
			}}
			ts := rep.Targets()
			require.Len(t, ts, 1)
			assert.Equal(t, tt.met, ts[0].Met, ts[0].Measured)
		})
	}
}
