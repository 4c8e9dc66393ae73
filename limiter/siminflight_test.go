package limiter

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// inflightClasses are in-flight caps (429 without Retry-After beyond their
// slots, nothing queued) whose service times spread ±25% to ±50%, as the
// matrix's and the crawl bench's in-flight rows do.
var inflightClasses = []capacityClass{
	{slots: 32, service: 20 * time.Millisecond, cap429: true},
	{slots: 64, service: 20 * time.Millisecond, cap429: true},
	{slots: 16, service: 20 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 32, service: 20 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 64, service: 20 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 128, service: 20 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 64, service: 50 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 32, service: 5 * time.Millisecond, cap429: true, spread: 0.5},
	{slots: 8, service: 5 * time.Millisecond, cap429: true, constant: true},
}

// TestSimulationInflightReport prints the default strategy's goodput over a
// crawl 2.5 s long at the optimum against inflightClasses from a cold
// start, over seeds 1 to -simseeds: the mean, the median and the worst, the
// runs below 80% of the optimum (a limit held far below the cap) and the
// runs with 429s on more than 1% of the attempts (-simload, -simreach and
// -simcrawl as in TestSimulationCapacityClasses):
//
//	go test ./limiter -run TestSimulationInflightReport -simreport -v [-simload 200ms] [-simreach 2ms] [-simcrawl] [-simseeds N]
func TestSimulationInflightReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, a stall every %v, reach %v, crawl %v:\n\n", *simSeeds, *simLoad, *simReach, *simCrawl)
	fmt.Fprintf(&b, "| server | goodput over 2.5 s: mean, median, worst | runs < 80%% | runs > 1%% 429 | 429: mean |\n|---|---|---|---|---|\n")
	for _, c := range inflightClasses {
		var shares []float64
		var sum, refused float64
		low, bad := 0, 0
		for seed := 1; seed <= *simSeeds; seed++ {
			f := simCrawlCapacity(t, Algorithm(*simAlg), c, uint64(seed))
			shares = append(shares, f.share)
			sum += f.share
			refused += f.refused
			if f.share < 0.8 {
				low++
			}
			if f.refused > 0.01 {
				bad++
			}
		}
		slices.Sort(shares)
		n := float64(len(shares))
		fmt.Fprintf(&b, "| %v | %.1f%%, %.1f%%, %.1f%% | %d | %d | %.2f%% |\n", c, 100*sum/n, 100*shares[len(shares)/2], 100*shares[0], low, bad, 100*refused/n)
	}
	t.Log("\n" + b.String())
}

// TestSimulationInflightTrace prints each change of the limit in one run of
// inflightClasses[-simclass] (seed: -simseed):
//
//	go test ./limiter -run TestSimulationInflightTrace -simreport -v -simclass 4 -simseed 1
func TestSimulationInflightTrace(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	c := inflightClasses[*simClass]
	srv := c.server()
	srv.reach = *simReach
	s := newSim(simLimiter(t, "", 0), srv, *simSeedFlag, crawlRun)
	s.crawlStart = *simCrawl
	if *simLoad > 0 {
		s.loadStalls(*simSeedFlag, *simLoad, *simStallMin, *simStallMax)
	}
	var b strings.Builder
	lastLim, lastSlow := -1.0, true
	s.onAnswer = func(r *simReq, o Outcome) {
		s.h.mu.Lock()
		ctl := &s.h.ctl
		lim, slow, base, srtt := ctl.limit, ctl.slowStart, ctl.base, ctl.srtt
		s.h.mu.Unlock()
		if o != Success {
			fmt.Fprintf(&b, "%7.1f ms %v\n", s.now.Seconds()*1000, o)
		}
		if lim != lastLim || slow != lastSlow {
			fmt.Fprintf(&b, "%7.1f ms limit %6.2f slow %v base %v srtt %v\n", s.now.Seconds()*1000, lim, slow, base, srtt)
			lastLim, lastSlow = lim, slow
		}
	}
	s.run()
	_, ok, _ := s.totals(0, crawlRun)
	fmt.Fprintf(&b, "%v seed %d: goodput %.1f%%\n", c, *simSeedFlag, 100*float64(ok)/crawlRun.Seconds()/(float64(c.slots)/c.service.Seconds()))
	t.Log("\n" + b.String())
}

// TestSimulationAWideSpreadInflightCapIsNotHeldByItsRTT: an in-flight cap
// of 64 answering 10-30 ms, a bare 429 past it, from a cold start over a
// crawl's 2.5 s, seeds 1 to 40: in every run whose slow start first ended
// on the cap's refusal, the limit stays near the cap however its RTT reads
// against a baseline taken from slow start's fastest answers (a sixth to a
// quarter below a whole window's mean), for 80% of the optimum or more;
// the 429s stay under 1% in every run. The runs whose slow start ended on
// a rise no refusal confirmed, far below the cap, are not held to it.
func TestSimulationAWideSpreadInflightCapIsNotHeldByItsRTT(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	c := capacityClass{slots: 64, service: 20 * time.Millisecond, cap429: true, spread: 0.5}
	capped := 0
	for seed := uint64(1); seed <= 40; seed++ {
		s := newSim(simLimiter(t, "", 0), c.server(), seed, crawlRun)
		refusedInSlowStart, ended := false, false
		s.onAnswer = func(_ *simReq, o Outcome) {
			// The state the answers before this one left.
			s.h.mu.Lock()
			slow := s.h.ctl.slowStart
			s.h.mu.Unlock()
			switch {
			case ended:
			case !slow:
				ended = true
			case o == Throttled:
				refusedInSlowStart, ended = true, true
			}
		}
		s.run()
		a, ok, rej := s.totals(0, crawlRun)
		assert.LessOrEqual(t, float64(s.droppedTotal()+rej)/float64(a), 0.01, "seed %d: the 429 share", seed)
		if refusedInSlowStart {
			capped++
			share := float64(ok) / crawlRun.Seconds() / (float64(c.slots) / c.service.Seconds())
			assert.GreaterOrEqual(t, share, 0.8, "seed %d, slow start ended on the cap's refusal: goodput", seed)
		}
	}
	assert.GreaterOrEqual(t, capped, 20, "runs whose slow start the cap's refusal ended")
}

// TestSimulationATightServerIsNotRefusedAfterARiseEndedSlowStart: a server
// of 16 slots and 4 queued (20 ms ± 25%, 503 + Retry-After beyond), the
// crawl-capacity-tight bench's, from a cold start over a crawl's 2.5 s,
// seeds 1-100: no run is refused. Slow start ends on a rise at 19-20, a
// queue of three or four, and cuts to the last level that read none (18,
// still a queue of two). Its windows there read 22.4-24.0 ms, above the
// 21.9 ms that the fall from 19.6 predicts: a rule that reads them as no
// queue and sends the limit back to the exit's level is refused (one that
// did so was refused in 6 runs of 100, seeds 4, 17, 22, 24, 33 and 95, at
// about 54% of the optimum each).
func TestSimulationATightServerIsNotRefusedAfterARiseEndedSlowStart(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	c := capacityClass{slots: 16, queue: 4, service: 20 * time.Millisecond}
	var refused []uint64
	for seed := uint64(1); seed <= 100; seed++ {
		if f := simCrawlCapacity(t, "", c, seed); f.refused > 0 {
			refused = append(refused, seed)
		}
	}
	assert.Empty(t, refused, "seeds whose run the server refused")
}

// TestSimulationAWideSpreadInflightCapComesBackFromAFalseRise: an in-flight
// cap of 64 answering 10-30 ms, a bare 429 past it, from a cold start over a
// crawl's 2.5 s, held-out seeds: slow start often ends on a rise far below
// the cap (a window of answers to requests started over a round trip holds
// slow ones that a baseline of each level's first answers does not), and
// whole windows then read a quarter over that baseline at any level. The
// level slow start fell back to, whose fastest answers show no queue, tells
// the baseline, and the limit climbs back: 22 of 100 held-out runs stayed
// under half the optimum when this was stated so (41 without that reading),
// and none drew 429s on more than 1% of its attempts.
func TestSimulationAWideSpreadInflightCapComesBackFromAFalseRise(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	c := capacityClass{slots: 64, service: 20 * time.Millisecond, cap429: true, spread: 0.5}
	refused := 0
	low := missedBy(func(seed uint64) bool {
		f := simCrawlCapacity(t, "", c, seed)
		if f.refused > 0.01 {
			refused++
		}
		return f.share < 0.5
	})
	assert.LessOrEqual(t, low, 25, "held-out runs under half the optimum over 2.5 s")
	assert.Zero(t, refused, "held-out runs with 429s on more than 1% of their attempts")
}
