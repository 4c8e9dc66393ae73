package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSimulationTrickleColdStartReport prints, for small servers and servers
// with room, over a cold start's crawl of 2.5 s at the optimum, how many of
// 40 runs were refused and the goodput, where the client's first requests
// trickle in (see setTrickle: a crawl whose listing hands a host its first
// items a page or two apart) or are all there at once. A report, not a
// check: -simreport.
//
//	go test ./limiter -run TestSimulationTrickleColdStartReport -simreport -v
func TestSimulationTrickleColdStartReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | first requests, gap | runs refused of 40 | refusals | goodput mean, worst |\n|---|---|--:|--:|---|\n")
	for _, c := range trickleClasses {
		for _, tr := range []struct {
			n   int
			gap time.Duration
		}{{0, 0}, {6, 5 * time.Millisecond}, {6, 10 * time.Millisecond}, {6, 20 * time.Millisecond}, {12, 10 * time.Millisecond}} {
			runs, drops, mean, worst := coldStartRuns(t, c, 40, func(s *sim, seed uint64) {
				if tr.n > 0 {
					s.setTrickle(seed, tr.n, tr.gap)
				}
			})
			fmt.Fprintf(&b, "| %v | %d, %v | %d | %d | %.1f%%, %.1f%% |\n", c, tr.n, tr.gap, runs, drops, mean, worst)
		}
	}
	t.Log("\n" + b.String())
}

// trickleClasses are the servers TestSimulationTrickleColdStartReport runs.
var trickleClasses = []capacityClass{
	{slots: 2, queue: 2, service: 50 * time.Millisecond},
	{slots: 2, queue: 2, service: 20 * time.Millisecond},
	{slots: 2, queue: 2, service: 100 * time.Millisecond},
	{slots: 4, queue: 4, service: 50 * time.Millisecond},
	{slots: 4, queue: 4, service: 20 * time.Millisecond},
	{slots: 3, queue: 1, service: 50 * time.Millisecond},
	{slots: 8, queue: 8, service: 50 * time.Millisecond},
	{slots: 32, queue: 32, service: 20 * time.Millisecond},
	{slots: 16, queue: 4, service: 50 * time.Millisecond},
	{slots: 2, queue: 2, service: 50 * time.Millisecond, spread: 0.5},
	{slots: 4, queue: 4, service: 50 * time.Millisecond, spread: 0.5},
}
