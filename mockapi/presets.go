package mockapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrUnknownScenario is returned (wrapped) by Preset for a name it does not know.
var ErrUnknownScenario = errors.New("unknown scenario")

// Scenarios returns the named presets, sorted by name. They are what
// `politely mock --scenario NAME` serves and what the benchmarks run; each call
// returns fresh values the caller may change.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name:        "blackout",
			Description: "capacity, answering every request 503 + Retry-After until the end of a maintenance window from 1 s to 3 s; every 50th item private",
			Items:       1_000_000,
			Latency:     20 * time.Millisecond,
			Jitter:      5 * time.Millisecond,
			Capacity:    Capacity{Slots: 32, Queue: 32, RetryAfter: time.Second},
			Blackout:    Blackout{At: time.Second, For: 2 * time.Second},
			Robots:      Robots{PrivateEvery: 50},
		},
		{
			Name:        "capacity",
			Description: "32 slots x 20 ms +/- 5 ms, 32 more queued, 503 + Retry-After beyond (optimum 1,600 req/s)",
			Items:       1_000_000,
			Latency:     20 * time.Millisecond,
			Jitter:      5 * time.Millisecond,
			Capacity:    Capacity{Slots: 32, Queue: 32, RetryAfter: time.Second},
		},
		{
			Name:        "capacity-step",
			Description: "capacity, stepping down to 16 slots at 10 s and back up to 32 at 20 s",
			Items:       1_000_000,
			Latency:     20 * time.Millisecond,
			Jitter:      5 * time.Millisecond,
			Capacity: Capacity{Slots: 32, Queue: 32, RetryAfter: time.Second, Schedule: []Step{
				{At: 10 * time.Second, Slots: 16},
				{At: 20 * time.Second, Slots: 32},
			}},
		},
		{
			Name:        "capacity-tight",
			Description: "16 slots x 20 ms +/- 5 ms, 4 more queued, 503 + Retry-After beyond (optimum 800 req/s)",
			Items:       1_000_000,
			Latency:     20 * time.Millisecond,
			Jitter:      5 * time.Millisecond,
			Capacity:    Capacity{Slots: 16, Queue: 4, RetryAfter: time.Second},
		},
		{
			Name:          "demo",
			Description:   "500 items behind Link pagination, 16 slots x 20 ms, a 200 req/s quota, light faults, private items",
			Items:         500,
			PerPage:       50,
			Pagination:    PaginationLink,
			AnnounceTotal: true,
			Latency:       20 * time.Millisecond,
			Jitter:        5 * time.Millisecond,
			Capacity:      Capacity{Slots: 16, Queue: 16, RetryAfter: time.Second},
			Quota:         Quota{Rate: 200, Burst: 20},
			Faults: Faults{
				Seed: 42, Error500: 0.03, Reset: 0.01, Hang: 0.005, Malformed: 0.01, SlowBody: 0.01,
				Permanent: 0.01, HangMax: 3 * time.Second, SlowBodyDuration: time.Second,
			},
			Robots: Robots{PrivateEvery: 50},
		},
		{
			Name:        "fast",
			Description: "no latency, no limits, no faults: measures the HTTP client's own overhead",
			Items:       1_000_000,
		},
		{
			Name:        "faults",
			Description: "2,000 items at 5 ms with 500s, resets, hangs, malformed and slow bodies (seed 1), 1% broken for good",
			Items:       2000,
			Latency:     5 * time.Millisecond,
			Faults: Faults{
				Seed: 1, Error500: 0.05, Reset: 0.02, Hang: 0.01, Malformed: 0.02, SlowBody: 0.02,
				Permanent: 0.01, HangMax: 10 * time.Second, SlowBodyDuration: 2 * time.Second,
			},
		},
		{
			Name:        "header-quota",
			Description: "GitHub style fixed window: 500 requests per 5 s in X-RateLimit-* headers, 403 when used up (optimum 100 req/s)",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			HeaderQuota: HeaderQuota{Limit: 500, Window: 5 * time.Second},
		},
		{
			Name:        "header-quota-sliding",
			Description: "sliding-window counter: 500 requests per 5 s in X-RateLimit-* headers (Remaining counts the previous window's weighted share), 429 + Retry-After: 5 beyond (optimum 100 req/s)",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			HeaderQuota: HeaderQuota{Limit: 500, Window: 5 * time.Second, Kind: HeaderQuotaSliding},
		},
		{
			Name:        "header-quota-token-bucket",
			Description: "token bucket: 100 req/s, burst 20, X-RateLimit-Remaining = tokens, -Reset = seconds until full, 429 + Retry-After beyond (optimum 100 req/s)",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			HeaderQuota: HeaderQuota{Limit: 100, Window: time.Second, Kind: HeaderQuotaTokenBucket, Burst: 20},
		},
		{
			Name:        "header-quota-token-bucket-1",
			Description: "token bucket of one token: 100 req/s, burst 1, X-RateLimit-Remaining = tokens (0 after every request), -Reset = seconds until full, 429 + Retry-After beyond (optimum 100 req/s)",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			HeaderQuota: HeaderQuota{Limit: 100, Window: time.Second, Kind: HeaderQuotaTokenBucket, Burst: 1},
		},
		{
			Name:        "inflight-429",
			Description: "an in-flight cap: 32 slots x 20 ms +/- 5 ms, nothing queued, 429 without Retry-After beyond (optimum 1,600 req/s)",
			Items:       1_000_000,
			Latency:     20 * time.Millisecond,
			Jitter:      5 * time.Millisecond,
			Capacity:    Capacity{Slots: 32, Status: http.StatusTooManyRequests, NoRetryAfter: true},
		},
		{
			Name:        "quota",
			Description: "token bucket 100 req/s, burst 10, 429 + Retry-After beyond, RateLimit-* and X-RateLimit-* headers",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			Quota:       Quota{Rate: 100, Burst: 10},
		},
		{
			Name:        "quota-no-headers",
			Description: "token bucket 100 req/s, burst 10, 429 + Retry-After beyond, no quota headers: the client learns from 429s alone",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			Quota:       Quota{Rate: 100, Burst: 10, Headers: QuotaHeadersNone},
		},
		{
			Name:        "quota-no-retry-after",
			Description: "token bucket 100 req/s, burst 10, a bare 429 beyond (no Retry-After, no quota headers): the client learns the rate from 429s that say nothing",
			Items:       1_000_000,
			Latency:     5 * time.Millisecond,
			Quota:       Quota{Rate: 100, Burst: 10, Headers: QuotaHeadersNone, NoRetryAfter: true},
		},
	}
}

// Preset returns the named scenario from Scenarios.
func Preset(name string) (Scenario, error) {
	all := Scenarios()
	names := make([]string, 0, len(all))
	for _, sc := range all {
		if sc.Name == name {
			return sc, nil
		}
		names = append(names, sc.Name)
	}
	return Scenario{}, fmt.Errorf("mockapi: %w %q (known: %s)", ErrUnknownScenario, name, strings.Join(names, ", "))
}
