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

var (
	simFitZ        = flag.Float64("simfitz", kneeZ, "TestSimulationKneeFit: the z-score at which the fit reads a knee")
	simFitCensored = flag.Bool("simfitcensored", false, "TestSimulationKneeFit: fit each answer as it comes, not once every request started before it is back")
)

// kneeSpread is the least spread of RTTs the knee fit assumes, as a share
// of the flat RTT: a server whose answers all take the same time would
// otherwise read a rise of a fraction of a per cent as a certain queue.
const kneeSpread = 0.02

// kneeZ is the z-score from which the knee fit reads a queue: the knee
// model explains the answers that much better than a flat RTT does.
const kneeZ = 4

// kneeFit fits every answer's RTT against the in-flight count its request
// started with. Up to a server's slots the RTT is flat; past them a request
// waits behind those beyond the slots, so its RTT is the flat one times its
// count over the slots (Little's law): the fit finds the count k, the knee,
// at which a×max(1, x/k) explains the answers best. Unlike a window of a
// level's first answers, it pools every answer since it started, so its
// noise falls with each answer, and it says where the queue begins.
type kneeFit struct {
	n, s1, s2 []float64 // per in-flight count: answers, sum of RTTs (ns), sum of their squares
}

// add adds an answer of rtt nanoseconds whose request started with x in
// flight.
func (f *kneeFit) add(x int, rtt float64) {
	if x < 1 || x > maxWatched {
		return
	}
	for len(f.n) <= x {
		f.n, f.s1, f.s2 = append(f.n, 0), append(f.s1, 0), append(f.s2, 0)
	}
	f.n[x]++
	f.s1[x] += rtt
	f.s2[x] += rtt * rtt
}

// fit returns the knee that explains the answers best (0 if none does
// better than a flat RTT) and its z-score against a flat RTT.
func (f *kneeFit) fit() (knee int, z float64) {
	var n, s1, s2 float64
	for x := range f.n {
		n, s1, s2 = n+f.n[x], s1+f.s1[x], s2+f.s2[x]
	}
	if n < 8 {
		return 0, 0
	}
	flat := s2 - s1*s1/n
	best, bestRSS := 0, flat
	// Sums over the counts above k: answers, count², RTT, count × RTT.
	var above, x2, y, xy float64
	for k := len(f.n) - 2; k >= 1; k-- {
		x := float64(k + 1)
		above += f.n[k+1]
		x2 += x * x * f.n[k+1]
		y += f.s1[k+1]
		xy += x * f.s1[k+1]
		if above < 2 || n-above < 4 {
			continue
		}
		// Least squares of a×f(x), f(x) = max(1, x/k).
		kk := float64(k)
		fy := s1 - y + xy/kk
		ff := n - above + x2/(kk*kk)
		if rss := s2 - fy*fy/ff; rss < bestRSS {
			best, bestRSS = k, rss
		}
	}
	if best == 0 {
		return 0, 0
	}
	a := s1 / n
	sigma2 := max(bestRSS/(n-2), kneeSpread*kneeSpread*a*a)
	return best, math.Sqrt(max(0, flat-bestRSS) / sigma2)
}

// TestSimulationKneeFit compares, on a cold start with the default strategy
// as it is, when slow start ends with when a fit of every answer's RTT against
// the in-flight count its request started with first reads a knee (z-score
// -simfitz), and where: over seeds 1 to -simseeds, each class's first queued
// request (a cap: its first refusal), the median times from it to slow
// start's end and to the fit's knee, the runs where the fit read its knee
// before slow start ended, the runs where it read one before any request
// waited (false), and the median knee the fit read (-simload as in
// TestSimulationCapacityClasses). An answer joins the fit once every request
// started before it is back (-simfitcensored: as it comes):
//
//	go test ./limiter -run TestSimulationKneeFit -simreport -v [-simfitz 4] [-simload 200ms] [-simfitcensored]
func TestSimulationKneeFit(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, z %.1f:\n\n", *simSeeds, *simFitZ)
	fmt.Fprintf(&b, "| server | first wait (ms) | slow start's end − it (ms), limit | fit's knee − it (ms) | fit first | fit false | fit's knee at it | fit's knee at slow start's end |\n|---|---|---|---|---|---|---|---|\n")
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	for _, c := range capacityClasses {
		var firstQ, exitD, fitD, exitLim, kneeAt, kneeExit []float64
		first, falseN, never := 0, 0, 0
		for seed := 1; seed <= *simSeeds; seed++ {
			q := &queueWatch{capacityServer: c.server(), first: -1, queued: map[*simReq]bool{}}
			s := newSim(simLimiter(t, "", 0), q, uint64(seed), crawlRun)
			if *simLoad > 0 {
				s.loadStalls(uint64(seed), *simLoad, 2*time.Millisecond, 15*time.Millisecond)
			}
			var fit kneeFit
			// Answers wait here until every request started before theirs
			// is back: the fit sees a level's slow answers with its fast.
			type answer struct {
				busy int
				rtt  float64
			}
			pending := map[uint32]*answer{}
			next := uint32(1)
			exit, fitAt, refusedAt := time.Duration(-1), time.Duration(-1), time.Duration(-1)
			var lastEval time.Duration = -1
			fitK, exitK := 0, 0
			s.onAnswer = func(r *simReq, o Outcome) {
				if o != Success {
					if refusedAt < 0 {
						refusedAt = s.now
					}
				}
				if refusedAt >= 0 {
					return
				}
				pending[r.permit.seq] = &answer{int(r.permit.busy), float64(s.now - r.start)}
				if *simFitCensored {
					pending[r.permit.seq] = nil
					fit.add(int(r.permit.busy), float64(s.now-r.start))
				}
				for a, ok := pending[next]; ok; a, ok = pending[next] {
					if a != nil {
						fit.add(a.busy, a.rtt)
					}
					delete(pending, next)
					next++
				}
				if fitAt >= 0 && exit >= 0 || s.now == lastEval {
					return
				}
				lastEval = s.now
				k, z := fit.fit()
				if fitAt < 0 && z >= *simFitZ {
					fitAt, fitK = s.now, k
				}
				if exit < 0 && !s.h.Snapshot().SlowStart {
					exit, exitK = s.now, k
					exitLim = append(exitLim, float64(s.h.Snapshot().Limit))
				}
			}
			s.run()
			onset := q.first
			if c.cap429 {
				onset = refusedAt
			}
			if onset < 0 {
				never++
				if fitAt >= 0 {
					falseN++
				}
				continue
			}
			firstQ = append(firstQ, ms(onset))
			if exit >= 0 {
				exitD = append(exitD, ms(exit-onset))
				kneeExit = append(kneeExit, float64(exitK))
			}
			if fitAt >= 0 {
				fitD = append(fitD, ms(fitAt-onset))
				kneeAt = append(kneeAt, float64(fitK))
				if fitAt < onset {
					falseN++
				}
				if exit < 0 || fitAt < exit {
					first++
				}
			}
		}
		med := func(v []float64) string {
			if len(v) == 0 {
				return "–"
			}
			slices.Sort(v)
			return fmt.Sprintf("%.0f", v[len(v)/2])
		}
		fmt.Fprintf(&b, "| %v | %s (never %d) | %s, %s | %s (%d runs) | %d | %d | %s | %s |\n", c, med(firstQ), never,
			med(exitD), med(exitLim), med(fitD), len(fitD), first, falseN, med(kneeAt), med(kneeExit))
	}
	t.Log("\n" + b.String())
}
