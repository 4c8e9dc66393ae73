package limiter

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var (
	simTailSeeds = flag.Int("simtailseeds", 8, "TestSimulationTailReport: the seeds 1 to this")
	simTailRun   = flag.Duration("simtailrun", 10*time.Second, "TestSimulationTailReport: each run's length (the drifting servers run 6 times as long)")
)

// tailClass is a server whose service times are not well-behaved: a share
// of its answers much slower than the rest (a heavy tail), or a service
// time that grows by itself (drift).
type tailClass struct {
	slots, queue int
	service      time.Duration
	spread       float64       // ±25% if 0
	slowShare    float64       // the share served slowFactor slower
	slowFactor   float64       // slowTimes if 0
	drift        time.Duration // more service time per second
}

func (c tailClass) String() string {
	s := fmt.Sprintf("%d + %d × %v", c.slots, c.queue, c.service)
	if c.slots >= 4096 {
		s = fmt.Sprintf("no limit × %v", c.service)
	}
	if c.spread != 0 {
		s += fmt.Sprintf(" ± %.0f%%", 100*c.spread)
	}
	if c.slowShare > 0 {
		f := c.slowFactor
		if f == 0 {
			f = slowTimes
		}
		s += fmt.Sprintf(", %.0f%% %g× slower", 100*c.slowShare, f)
	}
	if c.drift != 0 {
		s += fmt.Sprintf(", %+v/s", c.drift)
	}
	return s
}

func (c tailClass) server() *capacityServer {
	return &capacityServer{slots: c.slots, queueCap: c.queue, service: c.service, spread: c.spread,
		slowShare: c.slowShare, slowFactor: c.slowFactor, drift: c.drift,
		full: simResponse{outcome: Dropped, retryAfter: time.Second}, rejectAfter: time.Millisecond}
}

// optimum is what the server serves over run with every slot busy, its
// slow answers' time counted: slots over the mean service time, integrated
// over a drift; for a server with no limit, at the limiter's default Max.
func (c tailClass) optimum(run time.Duration) float64 {
	f := c.slowFactor
	if f == 0 {
		f = slowTimes
	}
	mean := 1 - c.slowShare + c.slowShare*f
	slots := float64(min(c.slots, DefaultMax))
	s0, d := c.service.Seconds()*mean, c.drift.Seconds()*mean
	if d == 0 {
		return slots / s0 * run.Seconds()
	}
	return slots / d * math.Log((s0+d*run.Seconds())/s0)
}

// tailFigures are a tail class's figures over one cold-start run.
type tailFigures struct {
	share     float64 // successes over the optimum
	refused   float64 // 503s / attempts
	lowest    int     // the lowest limit from 1 s on
	lastLimit float64 // the mean limit over the run's second half
}

func simTail(t testing.TB, c tailClass, seed uint64, run time.Duration, load time.Duration) tailFigures {
	s := newSim(simLimiter(t, "", 0), c.server(), seed, run)
	if load > 0 {
		s.loadStalls(seed, load, 2*time.Millisecond, 15*time.Millisecond)
	}
	s.run()
	a, ok, _ := s.totals(0, run)
	f := tailFigures{share: float64(ok) / c.optimum(run), refused: float64(s.droppedTotal()) / float64(max(1, a)), lowest: math.MaxInt}
	bins := s.bins[:len(s.bins)-1]
	for _, b := range bins[10:] {
		if b.limit > 0 { // 0: no event in the bin
			f.lowest = min(f.lowest, b.limit)
		}
	}
	var sum int
	for _, b := range bins[len(bins)/2:] {
		sum += b.limit
	}
	f.lastLimit = float64(sum) / float64(len(bins)-len(bins)/2)
	return f
}

// tailClasses are heavy-tailed and drifting servers, and neighbours whose
// service times spread widely.
var tailClasses = []tailClass{
	{slots: 32, queue: 32, service: 20 * time.Millisecond, slowShare: 0.1},
	{slots: 16, queue: 4, service: 20 * time.Millisecond, slowShare: 0.1},
	{slots: 64, queue: 64, service: 20 * time.Millisecond, slowShare: 0.1},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, slowShare: 0.2, slowFactor: 5},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, slowShare: 0.02, slowFactor: 30},
	{slots: 32, queue: 8, service: 50 * time.Millisecond, slowShare: 0.1},
	{slots: 4096, service: 20 * time.Millisecond, slowShare: 0.1},
	{slots: 16, queue: 16, service: 20 * time.Millisecond, drift: time.Millisecond},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, drift: time.Millisecond},
	{slots: 8, queue: 8, service: 20 * time.Millisecond, drift: 300 * time.Microsecond},
	{slots: 128, queue: 256, service: 20 * time.Millisecond, spread: 0.5},
	{slots: 64, queue: 8, service: 20 * time.Millisecond, spread: 0.5},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 0.5},
	cacheClass,
	{slots: 64, queue: 64, service: 20 * time.Millisecond, spread: 0.25, slowShare: 0.2, slowFactor: 50},
}

// cacheClass is a CDN-like host: its hits answer in 20 ms, the misses
// (three in ten) go to an origin 50× slower; it never refuses up to 128.
var cacheClass = tailClass{slots: 64, queue: 64, service: 20 * time.Millisecond, spread: 0.25, slowShare: 0.3, slowFactor: 50}

// TestSimulationACacheIsNotHeldLow: a server whose answers are a mix of
// fast hits and misses 50× slower (cacheClass) is not held far below its
// slots for want of a queue it never shows: over seeds 1 to 12, each run
// 20 s from a cold start, the median of the runs' mean limit over their
// second half is half the slots or more, and the mean goodput 55% of the
// optimum or more.
func TestSimulationACacheIsNotHeldLow(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	var limits []float64
	var share float64
	const seeds = 12
	for seed := uint64(1); seed <= seeds; seed++ {
		f := simTail(t, cacheClass, seed, 20*time.Second, 0)
		limits = append(limits, f.lastLimit)
		share += f.share / seeds
	}
	slices.Sort(limits)
	assert.GreaterOrEqual(t, limits[seeds/2], float64(cacheClass.slots)/2, "the median run's limit, %v", limits)
	assert.GreaterOrEqual(t, share, 0.55, "the mean goodput")
}

// TestSimulationTailReport prints the default strategy's figures against
// tailClasses from a cold start: the share of the optimum (its slow
// answers' time counted) median, mean and worst over seeds 1 to
// -simtailseeds, the runs with a 503, the median of each run's lowest limit
// from 1 s on and of its mean limit over the second half:
//
//	go test ./limiter -run TestSimulationTailReport -simreport -v [-simload 200ms]
func TestSimulationTailReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, %v (drift ×6), a stall every %v:\n\n", *simTailSeeds, *simTailRun, *simLoad)
	fmt.Fprintf(&b, "| server | share: median, mean, worst | runs with a 503 | lowest limit from 1 s | mean limit, 2nd half |\n|---|---|---|---|---|\n")
	for _, c := range tailClasses {
		run := *simTailRun
		if c.drift != 0 {
			run *= 6
		}
		var shares, lowest, last []float64
		bad := 0
		for seed := 1; seed <= *simTailSeeds; seed++ {
			f := simTail(t, c, uint64(seed), run, *simLoad)
			shares, lowest, last = append(shares, f.share), append(lowest, float64(f.lowest)), append(last, f.lastLimit)
			if f.refused > 0 {
				bad++
			}
		}
		var sum float64
		for _, s := range shares {
			sum += s
		}
		slices.Sort(shares)
		slices.Sort(lowest)
		slices.Sort(last)
		m := len(shares) / 2
		fmt.Fprintf(&b, "| %v | %.1f, %.1f, %.1f%% | %d | %.0f | %.1f |\n", c, 100*shares[m], 100*sum/float64(len(shares)), 100*shares[0], bad, lowest[m], last[m])
	}
	t.Log("\n" + b.String())
}

var simTailTrace = flag.Int("simtailtrace", 0, "TestSimulationTailTrace: the index in tailClasses of the server to trace (seed: -simseed)")

// TestSimulationTailTrace prints one tail class's bins:
//
//	go test ./limiter -run TestSimulationTailTrace -simreport -v -simtailtrace 3 -simseed 1
func TestSimulationTailTrace(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	c := tailClasses[*simTailTrace]
	run := *simTailRun
	if c.drift != 0 {
		run *= 6
	}
	s := newSim(simLimiter(t, "", 0), c.server(), *simSeedFlag, run)
	if *simLoad > 0 {
		s.loadStalls(*simSeedFlag, *simLoad, 2*time.Millisecond, 15*time.Millisecond)
	}
	s.run()
	var b strings.Builder
	fmt.Fprintf(&b, "%v, seed %d\n", c, *simSeedFlag)
	for i, x := range s.bins {
		fmt.Fprintf(&b, "%5.1fs att %5d ok %5d drop %4d limit %4d inflight %4d\n", float64(i)*simBin.Seconds(), x.attempts, x.successes, x.dropped, x.limit, x.inFlight)
	}
	t.Log("\n" + b.String())
}
