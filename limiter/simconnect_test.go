package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSimulationConnectColdStartReport prints, for small servers and servers
// with room, over a cold start's crawl of 2.5 s at the optimum, how many of
// -simseeds runs were refused and the goodput, on a crawl's start (a lone
// listing page first) whose requests that open a connection reach the
// server 2-12 ms late (see setConnect), alone, with the first six requests
// trickling in 7 ms apart (see setTrickle) and with answers read up to
// 2 ms late as well (see setNoise): a many-host crawl's start. A report,
// not a check: -simreport.
//
//	go test ./limiter -run TestSimulationConnectColdStartReport -simreport -v
func TestSimulationConnectColdStartReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	seeds := uint64(*simSeeds)
	var b strings.Builder
	fmt.Fprintf(&b, "| server | start | runs refused of %d | refusals | goodput mean, worst |\n|---|---|--:|--:|---|\n", seeds)
	totalRuns := map[string]int{}
	for _, c := range connectClasses {
		for _, v := range []struct {
			name    string
			connect bool
			trickle bool
			noise   time.Duration
		}{
			{"crawl", false, false, 0},
			{"crawl, connect", true, false, 0},
			{"crawl, connect, trickle", true, true, 0},
			{"crawl, connect, trickle, noise", true, true, 2 * time.Millisecond},
		} {
			runs, drops, mean, worst := coldStartRuns(t, c, seeds, func(s *sim, seed uint64) {
				if v.connect {
					s.setConnect(seed, 2*time.Millisecond, 12*time.Millisecond)
				}
				if v.trickle {
					s.setTrickle(seed, 6, 7*time.Millisecond)
				}
				if v.noise > 0 {
					s.setNoise(seed, v.noise)
				}
			})
			totalRuns[v.name] += runs
			fmt.Fprintf(&b, "| %v | %s | %d | %d | %.1f%%, %.1f%% |\n", c, v.name, runs, drops, mean, worst)
		}
	}
	fmt.Fprintf(&b, "\nruns refused: %v\n", totalRuns)
	t.Log("\n" + b.String())
}

// connectClasses are the servers TestSimulationConnectColdStartReport runs.
var connectClasses = []capacityClass{
	{slots: 2, queue: 2, service: 50 * time.Millisecond},
	{slots: 2, queue: 2, service: 20 * time.Millisecond},
	{slots: 2, queue: 2, service: 100 * time.Millisecond},
	{slots: 3, queue: 1, service: 50 * time.Millisecond},
	{slots: 4, queue: 4, service: 50 * time.Millisecond},
	{slots: 4, queue: 4, service: 20 * time.Millisecond},
	{slots: 8, queue: 8, service: 50 * time.Millisecond},
	{slots: 16, queue: 4, service: 50 * time.Millisecond},
	{slots: 32, queue: 32, service: 20 * time.Millisecond},
	{slots: 64, queue: 8, service: 20 * time.Millisecond},
	{slots: 2, queue: 2, service: 50 * time.Millisecond, spread: 0.5},
	{slots: 4, queue: 4, service: 50 * time.Millisecond, spread: 0.5},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 0.5},
}
