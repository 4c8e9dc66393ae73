package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// noHeaderClasses are quotas without headers (429 + Retry-After in whole
// seconds): the bench's row, servers near the client (a service of a
// millisecond, where a cold start's burst spans many RTTs), high rates,
// small buckets and bursts of half a second of rate.
var noHeaderClasses = []struct {
	rate, burst float64
	service     time.Duration
}{
	{100, 10, 5 * time.Millisecond}, {100, 10, time.Millisecond}, {100, 10, 50 * time.Millisecond},
	{20, 5, 20 * time.Millisecond}, {50, 5, 5 * time.Millisecond}, {50, 50, 20 * time.Millisecond},
	{10, 10, 20 * time.Millisecond}, {5, 2, 20 * time.Millisecond}, {300, 5, 5 * time.Millisecond},
	{300, 5, time.Millisecond}, {500, 50, 5 * time.Millisecond}, {1000, 10, 20 * time.Millisecond},
	{1000, 50, 5 * time.Millisecond}, {1000, 100, 20 * time.Millisecond}, {2000, 20, 5 * time.Millisecond},
	{100, 50, 5 * time.Millisecond}, {300, 150, 5 * time.Millisecond}, {1000, 500, 5 * time.Millisecond},
	{10, 1, 20 * time.Millisecond}, {200, 1, 20 * time.Millisecond}, {1000, 1, 20 * time.Millisecond},
}

// noHeaderJitterClasses are quotas without headers whose requests reach the
// server's bucket up to jitter after they started, in no set order (a
// loopback's and a runtime's timing): a bucket of one token refuses two
// requests that reach it closer than its interval, however the client
// spaced them.
var noHeaderJitterClasses = []struct {
	rate, burst     float64
	service, jitter time.Duration
}{
	{100, 10, 5 * time.Millisecond, time.Millisecond}, {10, 1, 20 * time.Millisecond, time.Millisecond},
	{200, 1, 20 * time.Millisecond, time.Millisecond}, {1000, 1, 20 * time.Millisecond, 500 * time.Microsecond},
	{1000, 1, 20 * time.Millisecond, time.Millisecond}, {1000, 10, 20 * time.Millisecond, time.Millisecond},
}

// TestSimulationQuotaNoHeadersClassesReport prints every class of
// noHeaderJitterClasses and noHeaderClasses at seeds 42, 1 and 7:
//
//	go test ./limiter -run TestSimulationQuotaNoHeadersClassesReport -simreport -v
func TestSimulationQuotaNoHeadersClassesReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | service | jitter | over 10 s (42 / 1 / 7) | over 30 s | 429 |\n|---|---|---|---|---|---|---|\n")
	classes := noHeaderJitterClasses
	for _, c := range noHeaderClasses {
		classes = append(classes, struct {
			rate, burst     float64
			service, jitter time.Duration
		}{c.rate, c.burst, c.service, 0})
	}
	for _, c := range classes {
		var o10, o30, rej []string
		for _, seed := range []uint64{42, 1, 7} {
			a, b, r := simQuotaNoHeadersJitter(t, c.rate, c.burst, c.service, c.jitter, seed)
			o10, o30, rej = append(o10, fmt.Sprintf("%.1f", 100*a)), append(o30, fmt.Sprintf("%.1f", 100*b)), append(rej, fmt.Sprintf("%.2f", 100*r))
		}
		fmt.Fprintf(&b, "| %.0f | %.0f | %v | %v | %s | %s | %s |\n", c.rate, c.burst, c.service, c.jitter, strings.Join(o10, " / "), strings.Join(o30, " / "), strings.Join(rej, " / "))
	}
	t.Log("\n" + b.String())
}
