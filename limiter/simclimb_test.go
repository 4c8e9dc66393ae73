package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSimulationClimbAfterExit prints, for in-flight caps and capacity
// servers, the default strategy's goodput over a crawl's 2.5 s and how
// slow start ended in each seed's cold start: on a refusal, or on a rise
// with none (seed: level at time / time from there until the limit first
// reached 90% of the server's slots). A rise far below the slots of a
// server with no queue is a false one (a baseline read low, a loaded
// client: -simload):
//
//	go test ./limiter -run TestSimulationClimbAfterExit -simreport -v [-simload 200ms] [-simreach 2ms] [-simcrawl] [-simseeds N]
func TestSimulationClimbAfterExit(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	classes := []capacityClass{
		{slots: 32, service: 20 * time.Millisecond, cap429: true},
		{slots: 64, service: 20 * time.Millisecond, cap429: true},
		{slots: 100, service: 20 * time.Millisecond, cap429: true},
		{slots: 32, queue: 32, service: 20 * time.Millisecond},
		{slots: 16, queue: 4, service: 20 * time.Millisecond},
	}
	var b strings.Builder
	for _, c := range classes {
		var rises, refusals, never int
		var riseLevels []string
		var climb time.Duration
		var sum float64
		for seed := 1; seed <= *simSeeds; seed++ {
			srv := c.server()
			srv.reach = *simReach
			s := newSim(simLimiter(t, "", 0), srv, uint64(seed), crawlRun)
			s.crawlStart = *simCrawl
			if *simLoad > 0 {
				s.loadStalls(uint64(seed), *simLoad, *simStallMin, *simStallMax)
			}
			var exitAt, reachAt time.Duration = -1, -1
			exitLevel, refusedBefore := 0.0, false
			rejected := 0
			prevSlow := true
			s.onAnswer = func(r *simReq, o Outcome) {
				// The state the answers before this one left.
				s.h.mu.Lock()
				slow, lim := s.h.ctl.slowStart, s.h.ctl.limit
				s.h.mu.Unlock()
				if prevSlow && !slow && exitAt < 0 {
					exitAt, exitLevel, refusedBefore = s.now, lim, rejected > 0
				}
				prevSlow = slow
				if exitAt >= 0 && reachAt < 0 && lim >= 0.9*float64(c.slots) {
					reachAt = s.now
				}
				if o != Success {
					rejected++
				}
			}
			s.run()
			optimum := float64(c.slots) / c.service.Seconds()
			_, ok, _ := s.totals(0, crawlRun)
			sum += float64(ok) / crawlRun.Seconds() / optimum
			switch {
			case exitAt < 0:
			case refusedBefore:
				refusals++
			default:
				rises++
				riseLevels = append(riseLevels, exitNote(seed, exitLevel, exitAt, reachAt))
				if reachAt < 0 {
					never++
				} else {
					climb += reachAt - exitAt
				}
			}
		}
		n := float64(*simSeeds)
		mc := "-"
		if rises > never {
			mc = fmt.Sprintf("%.2f s", (climb / time.Duration(rises-never)).Seconds())
		}
		fmt.Fprintf(&b, "%v: goodput %.1f%%; slow start ended on a refusal %d times, on a rise %d times; from a rise to 90%% of the slots: mean %s, never %d\n  %s\n",
			c, 100*sum/n, refusals, rises, mc, never, strings.Join(riseLevels, ", "))
	}
	t.Log("\n" + b.String())
}

// exitNote describes the end of a seed's slow start on a rise at level at
// exitAt, the limit reaching 90% of the slots at reachAt (-1: never).
func exitNote(seed int, level float64, exitAt, reachAt time.Duration) string {
	reach := "never"
	if reachAt >= 0 {
		reach = fmt.Sprintf("%.0f ms", (reachAt-exitAt).Seconds()*1000)
	}
	return fmt.Sprintf("seed %d: %.0f at %.0f ms / %s", seed, level, exitAt.Seconds()*1000, reach)
}
