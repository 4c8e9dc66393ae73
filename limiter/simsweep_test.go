package limiter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// sweepClasses are capacity servers of the matrix's sweep rows (matrix.py
// rows sweep-*) that no class of capacityClasses models: service times that
// spread as widely as their mean (±100%: a DB-backed API answering in 0-40
// ms), beside the same servers at ±25% as the control; and long service
// times (100-300 ms) on many slots, where slow start's windows are long.
var sweepClasses = []capacityClass{
	{slots: 16, queue: 4, service: 20 * time.Millisecond},
	{slots: 16, queue: 4, service: 20 * time.Millisecond, spread: 1},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 1},
	{slots: 64, service: 50 * time.Millisecond, spread: 0.25},
	{slots: 64, service: 50 * time.Millisecond, spread: 1},
	{slots: 32, service: 20 * time.Millisecond, cap429: true, spread: 1},
	{slots: 128, service: 300 * time.Millisecond},
	{slots: 256, queue: 256, service: 300 * time.Millisecond},
	{slots: 200, service: 100 * time.Millisecond, cap429: true},
}

// TestSimulationSweepClasses prints the default strategy's figures over a
// crawl 2.5 s long at the optimum, from a cold start, against sweepClasses,
// as TestSimulationCapacityClasses does for its classes (median and worst of
// 7 seeds), with the final limit's median beside them:
//
//	go test ./limiter -run TestSimulationSweepClasses -simreport -v [-simload 200ms] [-simreach 2ms] [-simnoise 2ms] [-simcrawl]
func TestSimulationSweepClasses(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | goodput over 2.5 s: median, worst | to 90%%: median, worst | 503/429: median, worst | final limit: median |\n|---|---|---|---|---|\n")
	for _, c := range sweepClasses {
		var shares, refused []float64
		var to90 []time.Duration
		var finals []int
		for _, seed := range simClassSeeds {
			srv := c.server()
			srv.reach = *simReach
			s := newSim(simLimiter(t, Algorithm(*simAlg), 0), srv, seed, crawlRun)
			s.crawlStart = *simCrawl
			if *simLoad > 0 {
				s.loadStalls(seed, *simLoad, *simStallMin, *simStallMax)
			}
			if *simNoise > 0 {
				s.setNoise(seed, *simNoise)
			}
			s.run()
			optimum := float64(c.slots) / c.service.Seconds()
			a, ok, rej := s.totals(0, crawlRun)
			shares = append(shares, float64(ok)/crawlRun.Seconds()/optimum)
			refused = append(refused, float64(s.droppedTotal()+rej)/float64(max(1, a)))
			d := s.firstAtLeast(0, crawlRun, optimum, 0.9)
			if d < 0 {
				d = time.Hour
			}
			to90 = append(to90, d)
			_, final := s.limits()
			finals = append(finals, final)
		}
		slices.Sort(shares)
		slices.Sort(refused)
		slices.Sort(to90)
		slices.Sort(finals)
		mid, last := len(shares)/2, len(shares)-1
		fmt.Fprintf(&b, "| %v | %.1f%%, %.1f%% | %s, %s | %.2f%%, %.2f%% | %d |\n", c, 100*shares[mid], 100*shares[0],
			durOrNever(to90[mid]), durOrNever(to90[last]), 100*refused[mid], 100*refused[last], finals[mid])
	}
	t.Log("\n" + b.String())
}

// blackout429Server is blackoutServer with a 429 for its 503 (Throttled, not
// Dropped), its Retry-After the blackout's end: an API that refuses every
// request "too many" until a time it names (a ban for a burst, a quota of
// the day used up, maintenance behind a gateway that answers 429).
type blackout429Server struct {
	*capacityServer
	from, to time.Duration
}

func (b *blackout429Server) arrive(s *sim, r *simReq) {
	if s.now < b.from || s.now >= b.to {
		b.capacityServer.arrive(s, r)
		return
	}
	ra := time.Duration(math.Ceil((b.to - s.now).Seconds())) * time.Second
	s.respond(s.now+time.Millisecond, r, simResponse{outcome: Throttled, retryAfter: ra})
}

// TestSimulationSweepBlackout429 prints, for a blackout answered 429 and the
// same answered 503 (both with a Retry-After to its end), the goodput over
// the 200 ms before it and the 2 s after it, median and worst of
// simClassSeeds, as the matrix rows sweep-blackout429-date-1s+3s and
// blackout-date-1s+3s run them end to end:
//
//	go test ./limiter -run TestSimulationSweepBlackout429 -simreport -v
func TestSimulationSweepBlackout429(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| case | before: median | 2 s after: median, worst | back to 90%%: median, worst | refused: median |\n|---|---|---|---|---|\n")
	for _, c := range []capacityClass{{slots: 32, queue: 32, service: 20 * time.Millisecond}, {slots: 16, queue: 4, service: 20 * time.Millisecond}} {
		for _, from := range []time.Duration{600 * time.Millisecond, time.Second} {
			d := 3 * time.Second
			for _, code := range []int{503, 429} {
				var before, after []float64
				var back []time.Duration
				var refused []int
				to := from + d
				for _, seed := range simClassSeeds {
					var srv simServer = &blackoutServer{capacityServer: c.server(), from: from, to: to, ra: blackoutRAEnd}
					if code == 429 {
						srv = &blackout429Server{capacityServer: c.server(), from: from, to: to}
					}
					run := to + 3*time.Second
					s := newSim(simLimiter(t, "", 0), srv, seed, run)
					s.crawlStart = true
					s.run()
					optimum := float64(c.slots) / c.service.Seconds()
					_, okBefore, _ := s.totals(from-200*time.Millisecond, from)
					_, okAfter, _ := s.totals(to, to+2*time.Second)
					_, _, rej := s.totals(0, run)
					before, after = append(before, float64(okBefore)/0.2/optimum), append(after, float64(okAfter)/2/optimum)
					refused = append(refused, s.droppedTotal()+rej)
					d := s.firstAtLeast(to, run, optimum, 0.9)
					if d < 0 {
						d = time.Hour
					}
					back = append(back, d)
				}
				slices.Sort(before)
				slices.Sort(after)
				slices.Sort(back)
				slices.Sort(refused)
				mid, last := len(after)/2, len(after)-1
				fmt.Fprintf(&b, "| %v, %v from %v, %d + Retry-After to its end | %.1f%% | %.1f%%, %.1f%% | %s, %s | %d |\n", c, d, from, code,
					100*before[mid], 100*after[mid], 100*after[0], durOrNever(back[mid]), durOrNever(back[last]), refused[mid])
			}
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationA429OutageAfterTheRampTeachesNoRate holds a blackout
// answered 429 with a Retry-After to its end, 3 s from 0.6 s, while slow
// start still ramps: a token bucket that admitted ~1,000 requests a second
// names the time to its next token, never 3 s, so the refusals are an
// outage's. Read as a quota's, they taught the ramp's own rate, which held
// the host under it after the outage (the 2 s after at 56.6% for the worst
// seed of 32 + 32 slots, 11.8% on 16 + 4, against 98% after the same
// blackout answered 503).
func TestSimulationA429OutageAfterTheRampTeachesNoRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []capacityClass{{slots: 32, queue: 32, service: 20 * time.Millisecond}, {slots: 16, queue: 4, service: 20 * time.Millisecond}} {
		for _, seed := range simClassSeeds {
			from, to := 600*time.Millisecond, 3600*time.Millisecond
			srv := &blackout429Server{capacityServer: c.server(), from: from, to: to}
			s := newSim(simLimiter(t, "", 0), srv, seed, to+2*time.Second)
			s.crawlStart = true
			s.run()
			_, ok, _ := s.totals(to, to+2*time.Second)
			assert.Zero(t, s.h.Snapshot().Rate, "%v, seed %d: the rate paced at after the outage", c, seed)
			if c.queue >= c.slots {
				assert.GreaterOrEqual(t, float64(ok)/2/(float64(c.slots)/c.service.Seconds()), 0.9, "%v, seed %d: share of the optimum over the 2 s after", c, seed)
			}
		}
	}
}

// TestSimulationSweepQuotaNoHeaders prints the quota-without-headers figures
// (429 + Retry-After in whole seconds, no quota headers) for the rates and
// bursts of the matrix's sweep-nohdr-* rows, at a 5 ms service time, seeds 1,
// 7 and 42:
//
//	go test ./limiter -run TestSimulationSweepQuotaNoHeaders -simreport -v [-simlate 1ms]
func TestSimulationSweepQuotaNoHeaders(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | seed | over 10 s | over 30 s | 429 |\n|---|---|---|---|---|---|\n")
	for _, c := range []struct{ rate, burst float64 }{{1, 1}, {7, 3}, {50, 3}, {500, 50}, {500, 1}, {2000, 50}} {
		for _, seed := range []uint64{1, 7, 42} {
			o10, o30, rej := simQuotaNoHeaders(t, c.rate, c.burst, 5*time.Millisecond, seed)
			fmt.Fprintf(&b, "| %.0f | %.0f | %d | %.1f%% | %.1f%% | %.2f%% |\n", c.rate, c.burst, seed, 100*o10, 100*o30, 100*rej)
		}
	}
	t.Log("\n" + b.String())
}

// longServiceClasses are servers whose service times (50-300 ms) make slow
// start's windows long: big ones, which its ramp reaches after seconds, and
// tight ones, where a step past slots and queue costs a refusal's gate of a
// second, a few round trips there; with the small servers of the matrix's
// sweep rows, where a single gate is most of a short crawl.
var longServiceClasses = []capacityClass{
	{slots: 128, service: 300 * time.Millisecond},
	{slots: 256, queue: 256, service: 300 * time.Millisecond},
	{slots: 256, queue: 64, service: 100 * time.Millisecond},
	{slots: 128, queue: 128, service: 50 * time.Millisecond},
	{slots: 32, queue: 8, service: 50 * time.Millisecond},
	{slots: 200, service: 100 * time.Millisecond, cap429: true},
	{slots: 64, queue: 64, service: 200 * time.Millisecond},
	{slots: 16, queue: 4, service: 300 * time.Millisecond},
	{slots: 16, queue: 4, service: 300 * time.Millisecond, constant: true},
	{slots: 32, queue: 8, service: 100 * time.Millisecond},
	{slots: 32, queue: 8, service: 300 * time.Millisecond},
	{slots: 8, queue: 2, service: 300 * time.Millisecond},
	{slots: 4, queue: 1, service: 300 * time.Millisecond},
	{slots: 64, queue: 16, service: 300 * time.Millisecond},
	{slots: 16, service: 300 * time.Millisecond},
	{slots: 32, service: 300 * time.Millisecond, cap429: true},
	{slots: 2, service: time.Millisecond, constant: true},
	{slots: 4, service: 2 * time.Millisecond, constant: true},
	{slots: 2, service: 50 * time.Millisecond},
	{slots: 2, queue: 2, service: 20 * time.Millisecond},
	{slots: 4, queue: 4, service: time.Millisecond, constant: true},
	{slots: 2, queue: 2, service: 300 * time.Millisecond},
}

// TestSimulationLongServiceClasses prints, for each of longServiceClasses,
// what a crawl of the items the server serves in 2.5 s at its optimum
// reads from a cold start, as the matrix's rows measure it: 2.5 s over the
// time to finish them (median and worst of seeds 1 to 20), the share of
// the optimum over the first 2.5 s, the runs with a 503 (a 429 on more
// than 1% of the attempts for an in-flight cap), the refusals a run draws
// (mean), and the final limit (median); -simload, -simreach and -simcrawl
// as in TestSimulationCapacityClasses:
//
//	go test ./limiter -run TestSimulationLongServiceClasses -simreport -v [-simreach 2ms]
func TestSimulationLongServiceClasses(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	const seeds, run = 20, 40 * time.Second
	var b strings.Builder
	fmt.Fprintf(&b, "| server | crawl: median, worst | first 2.5 s: median | runs refused | refusals: mean | final limit |\n|---|---|---|---|---|---|\n")
	for _, c := range longServiceClasses {
		var crawl, first []float64
		var finals []int
		bad, refusals := 0, 0
		for seed := uint64(1); seed <= seeds; seed++ {
			srv := c.server()
			srv.reach = *simReach
			s := newSim(simLimiter(t, "", 0), srv, seed, run)
			s.crawlStart = *simCrawl
			if *simLoad > 0 {
				s.loadStalls(seed, *simLoad, *simStallMin, *simStallMax)
			}
			if *simNoise > 0 {
				s.setNoise(seed, *simNoise)
			}
			s.run()
			optimum := float64(c.slots) / c.service.Seconds()
			items, done, sum := optimum*crawlRun.Seconds(), run, 0.0
			for i, x := range s.bins {
				if sum+float64(x.successes) >= items {
					done = time.Duration(i)*simBin + time.Duration((items-sum)/float64(x.successes)*float64(simBin))
					break
				}
				sum += float64(x.successes)
			}
			crawl = append(crawl, crawlRun.Seconds()/done.Seconds())
			_, ok, _ := s.totals(0, crawlRun)
			first = append(first, float64(ok)/crawlRun.Seconds()/optimum)
			a, _, rej := s.totals(0, done)
			n := rej
			for _, x := range s.bins[:min(len(s.bins), int(done/simBin))] {
				n += x.dropped
			}
			refusals += n
			if c.cap429 && float64(n) > 0.01*float64(a) || !c.cap429 && n > 0 {
				bad++
			}
			finals = append(finals, s.bins[min(len(s.bins)-1, int(done/simBin))].limit)
		}
		slices.Sort(crawl)
		slices.Sort(first)
		slices.Sort(finals)
		m := len(crawl) / 2
		fmt.Fprintf(&b, "| %v | %.1f%%, %.1f%% | %.1f%% | %d | %.1f | %d |\n", c, 100*crawl[m], 100*crawl[0], 100*first[m], bad, float64(refusals)/seeds, finals[m])
	}
	t.Log("\n" + b.String())
}
