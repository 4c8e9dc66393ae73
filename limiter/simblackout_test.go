package limiter

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var simBlackoutTrace = flag.String("simblackout", "", "TestSimulationBlackoutTrace: the case to trace per 100 ms, as its report names it (e.g. \"32 slots + 32 queued × 20ms, 5s from 2s, Retry-After 0\")")

// How a blackoutServer's 503s say when to come back.
const (
	blackoutRA0     = iota + 1 // Retry-After: 0 (or none): no gate, every 503 of the server alike
	blackoutRAEnd              // Retry-After: the blackout's end, in whole seconds rounded up
	blackoutRAShort            // Retry-After: a second short of the blackout's end (0 in its last second)
	blackoutRA1                // Retry-After: 1 throughout
)

var blackoutRANames = map[int]string{blackoutRA0: "Retry-After 0", blackoutRAEnd: "Retry-After to its end", blackoutRAShort: "Retry-After 1 s short", blackoutRA1: "Retry-After 1"}

// blackoutServer is a capacity server that answers every request that
// arrives in [from, to) with a 503 at once: a server down for
// maintenance, a deploy, a proxy whose backend is gone. Its Retry-After is
// as ra says; with blackoutRA0 the capacity's own 503s carry none either.
type blackoutServer struct {
	*capacityServer
	from, to time.Duration
	ra       int
}

func (b *blackoutServer) arrive(s *sim, r *simReq) {
	if s.now < b.from || s.now >= b.to {
		if b.ra == blackoutRA0 && b.busy >= b.slots && len(b.queue) >= b.queueCap {
			r.permit = r.permit.Answered()
			s.respond(s.now+b.rejectAfter, r, simResponse{outcome: Dropped})
			return
		}
		b.capacityServer.arrive(s, r)
		return
	}
	var ra time.Duration
	left := time.Duration(math.Ceil((b.to - s.now).Seconds())) * time.Second
	switch b.ra {
	case blackoutRAEnd:
		ra = left
	case blackoutRAShort:
		ra = left - time.Second
	case blackoutRA1:
		ra = time.Second
	}
	if ra <= 0 {
		r.permit = r.permit.Answered()
	}
	s.respond(s.now+time.Millisecond, r, simResponse{outcome: Dropped, retryAfter: ra})
}

// blackoutCase is a server class and a blackout on it.
type blackoutCase struct {
	c        capacityClass
	from, to time.Duration
	ra       int
}

func (b blackoutCase) String() string {
	return fmt.Sprintf("%v, %v from %v, %s", b.c, b.to-b.from, b.from, blackoutRANames[b.ra])
}

// blackoutFigures are a case's figures over one run.
type blackoutFigures struct {
	before  float64       // goodput over the second before the blackout / optimum
	after   float64       // goodput over the 2 s after it / optimum
	back90  time.Duration // from its end to the first 100 ms bin at 90% of the optimum; -1 if never
	dropped int           // 503s over the run
	s       *sim
}

// simBlackout runs b from a cold start until 3 s after the blackout.
func simBlackout(t testing.TB, b blackoutCase, seed uint64) blackoutFigures {
	srv := &blackoutServer{capacityServer: b.c.server(), from: b.from, to: b.to, ra: b.ra}
	run := b.to + 3*time.Second
	s := newSim(simLimiter(t, "", 0), srv, seed, run)
	s.crawlStart = true
	s.run()
	optimum := float64(b.c.slots) / b.c.service.Seconds()
	_, okBefore, _ := s.totals(max(0, b.from-time.Second), b.from)
	_, okAfter, _ := s.totals(b.to, b.to+2*time.Second)
	return blackoutFigures{
		before:  float64(okBefore) / optimum,
		after:   float64(okAfter) / 2 / optimum,
		back90:  s.firstAtLeast(b.to, run, optimum, 0.9),
		dropped: s.droppedTotal(),
		s:       s,
	}
}

// blackoutCases: big and tight servers at 20 and 200 ms, blackouts of
// 0.5 to 5 s, every kind of Retry-After.
func blackoutCases() []blackoutCase {
	ms := time.Millisecond
	var cs []blackoutCase
	for _, c := range []capacityClass{
		{slots: 32, queue: 32, service: 20 * ms},
		{slots: 16, queue: 4, service: 20 * ms},
		{slots: 64, queue: 8, service: 20 * ms},
		{slots: 32, queue: 32, service: 200 * ms},
		{slots: 8, queue: 2, service: 200 * ms},
	} {
		from := 2 * time.Second
		if c.service >= 100*ms {
			from = 5 * time.Second
		}
		for _, d := range []time.Duration{500 * ms, 2 * time.Second, 5 * time.Second} {
			for _, ra := range []int{blackoutRA0, blackoutRAShort, blackoutRAEnd, blackoutRA1} {
				cs = append(cs, blackoutCase{c: c, from: from, to: from + d, ra: ra})
			}
		}
	}
	return cs
}

// TestSimulationBlackoutReport prints, for each blackout case, the goodput
// over the second before the blackout and the 2 s after it, and the time
// from its end to a 100 ms bin at 90% of the optimum, median and worst of
// simClassSeeds:
//
//	go test ./limiter -run TestSimulationBlackoutReport -simreport -v
func TestSimulationBlackoutReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| case | before: median | 2 s after: median, worst | back to 90%%: median, worst | 503s: median |\n|---|---|---|---|---|\n")
	var sumAfter float64
	n := 0
	for _, bc := range blackoutCases() {
		var before, after []float64
		var back []time.Duration
		var drops []int
		for _, seed := range simClassSeeds {
			f := simBlackout(t, bc, seed)
			before, after, drops = append(before, f.before), append(after, f.after), append(drops, f.dropped)
			if f.back90 < 0 {
				f.back90 = time.Hour
			}
			back = append(back, f.back90)
			sumAfter += f.after
			n++
		}
		slices.Sort(before)
		slices.Sort(after)
		slices.Sort(back)
		slices.Sort(drops)
		mid, last := len(after)/2, len(after)-1
		fmt.Fprintf(&b, "| %v | %.1f%% | %.1f%%, %.1f%% | %s, %s | %d |\n", bc, 100*before[mid], 100*after[mid], 100*after[0],
			durOrNever(back[mid]), durOrNever(back[last]), drops[mid])
	}
	fmt.Fprintf(&b, "\nmean of the 2 s after over every case and seed: %.1f%%\n", 100*sumAfter/float64(n))
	t.Log("\n" + b.String())
}

// TestSimulationBlackoutTrace prints the case -simblackout names per 100 ms
// (seed -simseed): successes, 503s, the limit and the in-flight count at
// the bin's end.
func TestSimulationBlackoutTrace(t *testing.T) {
	if *simBlackoutTrace == "" {
		t.Skip("run with -simblackout CASE")
	}
	for _, bc := range blackoutCases() {
		if bc.String() != *simBlackoutTrace {
			continue
		}
		f := simBlackout(t, bc, *simSeedFlag)
		var b strings.Builder
		for i, bin := range f.s.bins {
			fmt.Fprintf(&b, "%5.1f s ok %4d 503 %4d limit %4d in flight %4d\n", float64(i)*simBin.Seconds(), bin.successes, bin.dropped, bin.limit, bin.inFlight)
		}
		t.Log("\n" + bc.String() + "\n" + b.String())
		return
	}
	t.Fatalf("no case %q", *simBlackoutTrace)
}
