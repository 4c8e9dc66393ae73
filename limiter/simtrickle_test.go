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
			runs, drops := 0, 0
			sum, worst := 0.0, 2.0
			for seed := uint64(1); seed <= 40; seed++ {
				s := newSim(simLimiter(t, "", 0), c.server(), seed, crawlRun)
				s.crawlStart = true
				if tr.n > 0 {
					s.setTrickle(seed, tr.n, tr.gap)
				}
				s.run()
				if d := s.droppedTotal(); d > 0 {
					runs++
					drops += d
				}
				_, ok, _ := s.totals(0, crawlRun)
				g := float64(ok) / crawlRun.Seconds() / (float64(c.slots) / c.service.Seconds())
				sum += g
				worst = min(worst, g)
			}
			fmt.Fprintf(&b, "| %v | %d, %v | %d | %d | %.1f%%, %.1f%% |\n", c, tr.n, tr.gap, runs, drops, 100*sum/40, 100*worst)
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
