package mockapi

import (
	"math"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewHandlerRejectsBadScenariosNamingTheField(t *testing.T) {
	tests := []struct {
		name string
		sc   Scenario
		want string
	}{
		{"negative items", Scenario{Items: -1}, "Items must be >= 0, got -1"},
		{"too many items to scan for broken ones", Scenario{Items: 20_000_000, Faults: Faults{Permanent: 0.01}}, "Items must be <= 10000000 when Faults.Permanent is set"},
		{"per page above max", Scenario{PerPage: 20, MaxPerPage: 10}, "MaxPerPage must be >= PerPage (20), got 10"},
		{"jitter above latency", Scenario{Latency: time.Millisecond, Jitter: 2 * time.Millisecond}, "Jitter must be between 0 and Latency (1ms), got 2ms"},
		{"unknown pagination", Scenario{Pagination: "pages"}, `Pagination must be one of page, offset, cursor, link, next_url, got "pages"`},
		{"negative slots", Scenario{Capacity: Capacity{Slots: -2}}, "Capacity.Slots must be >= 0, got -2"},
		{"schedule without slots", Scenario{Capacity: Capacity{Schedule: []Step{{At: time.Second, Slots: 1}}}}, "Capacity.Schedule must be empty when Capacity.Slots is 0"},
		{"schedule out of order", Scenario{Capacity: Capacity{Slots: 1, Schedule: []Step{{At: 2 * time.Second, Slots: 1}, {At: time.Second, Slots: 2}}}}, "Capacity.Schedule[1].At must be increasing and >= 0, got 1s"},
		{"schedule to zero slots", Scenario{Capacity: Capacity{Slots: 1, Schedule: []Step{{At: time.Second}}}}, "Capacity.Schedule[0].Slots must be >= 1, got 0"},
		{"NaN rate", Scenario{Quota: Quota{Rate: math.NaN()}}, "Quota.Rate must be 0 (off) or between 0.001 and 1e9, got NaN"},
		{"negative rate", Scenario{Quota: Quota{Rate: -1}}, "Quota.Rate must be 0 (off) or between 0.001 and 1e9, got -1"},
		{"unknown headers", Scenario{Quota: Quota{Rate: 1, Headers: 9}}, "Quota.Headers must be a QuotaHeaders constant, got 9"},
		{"tiny window", Scenario{HeaderQuota: HeaderQuota{Limit: 1, Window: time.Microsecond}}, "HeaderQuota.Window must be >= 1ms, got 1µs"},
		{"unknown header quota kind", Scenario{HeaderQuota: HeaderQuota{Limit: 1, Kind: "leaky"}}, `HeaderQuota.Kind must be one of fixed, sliding, token-bucket, got "leaky"`},
		{"negative header burst", Scenario{HeaderQuota: HeaderQuota{Limit: 1, Burst: -1}}, "HeaderQuota.Burst must be >= 0, got -1"},
		{"two quotas in X-RateLimit-*", Scenario{Quota: Quota{Rate: 1}, HeaderQuota: HeaderQuota{Limit: 5}}, "Quota.Headers must be QuotaHeadersIETF or QuotaHeadersNone when HeaderQuota is on too"},
		{"probability above 1", Scenario{Faults: Faults{Reset: 1.5}}, "Faults.Reset must be a probability in [0, 1], got 1.5"},
		{"rates above 1 together", Scenario{Faults: Faults{Error500: 0.6, Hang: 0.6}}, "the sum of the Faults rates (without Permanent) must be <= 1, got 1.2"},
		{"negative private every", Scenario{Robots: Robots{PrivateEvery: -1}}, "Robots.PrivateEvery must be >= 0, got -1"},
		{"slow share above 1", Scenario{SlowShare: 1.5}, "SlowShare must be a fraction in [0, 1], got 1.5"},
		{"slow factor below 1", Scenario{SlowShare: 0.1, SlowFactor: 0.5}, "SlowFactor must be between 1 and 1000, got 0.5"},
		{"negative listing latency", Scenario{ListingLatency: -time.Second}, "ListingLatency must be >= 0, got -1s"},
		{"retry-after shift in parts of a second", Scenario{RetryAfterShift: -1500 * time.Millisecond}, "RetryAfterShift must be whole seconds, got -1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sc.Name = "bad"
			_, err := NewHandler(Config{Scenario: tt.sc})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `mockapi: scenario "bad": `+tt.want)
		})
	}
}

func TestOptimumIsTheTightestLimit(t *testing.T) {
	tests := []struct {
		name string
		sc   Scenario
		want float64
	}{
		{"unlimited", Scenario{}, math.Inf(1)},
		{"capacity", Scenario{Latency: 20 * time.Millisecond, Capacity: Capacity{Slots: 32}}, 1600},
		{"quota", Scenario{Quota: Quota{Rate: 100}}, 100},
		{"header quota", Scenario{HeaderQuota: HeaderQuota{Limit: 500, Window: 5 * time.Second}}, 100},
		{"quota below capacity", Scenario{Latency: 20 * time.Millisecond, Capacity: Capacity{Slots: 32}, Quota: Quota{Rate: 200}}, 200},
		// a tenth served 10x slower: a mean of 0.9 x 20 + 0.1 x 200 = 38 ms
		{"capacity, a slow share", Scenario{Latency: 20 * time.Millisecond, SlowShare: 0.1, Capacity: Capacity{Slots: 32}}, 32 / 0.038},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, tt.sc.Optimum(), 1e-6)
		})
	}
	drifting := Scenario{Latency: 20 * time.Millisecond, LatencyDrift: 2 * time.Millisecond, Capacity: Capacity{Slots: 32}}
	assert.InDelta(t, 800, drifting.OptimumAt(10*time.Second), 1e-6, "20 ms + 10 s x 2 ms/s = 40 ms")
}

func TestPresetsAreValidAndServe(t *testing.T) {
	all := Scenarios()
	names := make([]string, 0, len(all))
	for _, sc := range all {
		names = append(names, sc.Name)
	}
	assert.True(t, slices.IsSorted(names), "sorted by name: %v", names)
	for _, want := range []string{"capacity", "capacity-step", "demo", "fast", "faults", "header-quota",
		"header-quota-sliding", "header-quota-token-bucket", "header-quota-token-bucket-1", "quota", "quota-no-headers", "quota-no-retry-after"} {
		assert.Contains(t, names, want)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			assert.NotEmpty(t, sc.Description)
			s := startServer(t, Config{Scenario: sc})
			c := newClient(t, 10*time.Second)
			r := get(t, c, s.URL()+"/items?per_page=2")
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			assert.Len(t, decode[listingPage](t, r.body).Items, 2)
			assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/robots.txt").status)
		})
	}
	assert.InDelta(t, 1600, mustPreset(t, "capacity").Optimum(), 1e-9)
	step := mustPreset(t, "capacity-step")
	assert.InDelta(t, 800, step.OptimumAt(15*time.Second), 1e-9, "stepped down to 16 slots")
	assert.InDelta(t, 1600, step.OptimumAt(20*time.Second), 1e-9, "back up to 32")
	assert.InDelta(t, 100, mustPreset(t, "quota").Optimum(), 1e-9)
	assert.InDelta(t, 100, mustPreset(t, "header-quota").Optimum(), 1e-9)
	assert.InDelta(t, 100, mustPreset(t, "header-quota-sliding").Optimum(), 1e-9)
	assert.InDelta(t, 100, mustPreset(t, "header-quota-token-bucket").Optimum(), 1e-9)
	assert.InDelta(t, 100, mustPreset(t, "header-quota-token-bucket-1").Optimum(), 1e-9)
	assert.InDelta(t, 100, mustPreset(t, "quota-no-headers").Optimum(), 1e-9)
}

func mustPreset(t *testing.T, name string) Scenario {
	t.Helper()
	sc, err := Preset(name)
	require.NoError(t, err)
	return sc
}

func TestPresetReturnsAFreshCopy(t *testing.T) {
	sc := mustPreset(t, "capacity-step")
	sc.Capacity.Schedule[0].Slots = 1
	assert.Equal(t, 16, mustPreset(t, "capacity-step").Capacity.Schedule[0].Slots)
}

func TestPresetNamesTheKnownOnesForAnUnknownName(t *testing.T) {
	_, err := Preset("capacty")
	require.ErrorIs(t, err, ErrUnknownScenario)
	assert.Contains(t, err.Error(), `"capacty"`)
	assert.Contains(t, err.Error(), "capacity, capacity-step, capacity-tight, demo")
}

func TestStartReportsABadAddress(t *testing.T) {
	_, err := Start(Config{Addr: "127.0.0.1:notaport"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mockapi: listen on 127.0.0.1:notaport")
}

func TestStartOnAGivenAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	s := startServer(t, Config{Addr: addr})
	assert.Equal(t, "http://"+addr, s.URL())
	_, err = Start(Config{Addr: addr})
	require.Error(t, err, "the port is taken")
	assert.Contains(t, err.Error(), "mockapi: listen on "+addr)
}
