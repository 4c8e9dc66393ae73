package limiter

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var simSeeds = flag.Int("simseeds", 40, "TestSimulationCapacityClassesSeeds: the seeds 1 to this")

// TestSimulationCapacityClassesSeeds prints, for each of capacityClasses, the
// mean and the worst goodput over seeds 1 to -simseeds, and in how many runs
// the server refused: a capacity server's 503 at all, an in-flight cap's 429
// on more than 1% of the attempts (-simload, -simreach, -simnoise and
// -simcrawl as in TestSimulationCapacityClasses):
//
//	go test ./limiter -run TestSimulationCapacityClassesSeeds -simreport -v [-simload 200ms] [-simreach 2ms] [-simnoise 2ms] [-simcrawl]
func TestSimulationCapacityClassesSeeds(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, a stall every %v:\n\n", *simSeeds, *simLoad)
	fmt.Fprintf(&b, "| server | goodput over 2.5 s: mean, worst | runs refused | 503/429: mean |\n|---|---|---|---|\n")
	for _, c := range capacityClasses {
		var sum, refused float64
		worst, bad := 1e9, 0
		for seed := 1; seed <= *simSeeds; seed++ {
			f := simCrawlCapacity(t, Algorithm(*simAlg), c, uint64(seed))
			sum += f.share
			worst = min(worst, f.share)
			refused += f.refused
			if c.cap429 && f.refused > 0.01 || !c.cap429 && f.refused > 0 {
				bad++
			}
		}
		n := float64(*simSeeds)
		fmt.Fprintf(&b, "| %v | %.1f%%, %.1f%% | %d | %.3f%% |\n", c, 100*sum/n, 100*worst, bad, 100*refused/n)
	}
	t.Log("\n" + b.String())
}

// queueWatch is a capacity server that notes which requests found every slot
// busy (they waited in its queue) and when the first of them arrived.
type queueWatch struct {
	*capacityServer
	first  time.Duration // -1 until a request waits
	queued map[*simReq]bool
}

func (q *queueWatch) arrive(s *sim, r *simReq) {
	if q.busy >= q.slots {
		if q.first < 0 {
			q.first = s.now
		}
		q.queued[r] = true
	}
	q.capacityServer.arrive(s, r)
}

// TestSimulationQueueOnset prints, for servers of the crawl targets' classes
// and a cold start with the default strategy, when the first sign of the
// server's queue could reach the client, measured from the arrival of the
// first request that waited: the first answer of a request that waited, and
// the first moment a request that waited is 1.1, 1.25 or 1.5 service times
// old (its age is known before its answer comes). It also prints the first
// moment a request that did not wait is 1.1 or 1.25 service times old: an age
// threshold below that reads a queue where there is none. Ages are taken
// against the true mean service time, which the limiter does not know:
//
//	go test ./limiter -run TestSimulationQueueOnset -simreport -v
func TestSimulationQueueOnset(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	ages := []float64{1.1, 1.25, 1.5}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | seed | first wait | its first answer | waited and %v service times old | did not wait and %v old |\n|---|---|---|---|---|---|\n", ages, ages[:2])
	for _, c := range []capacityClass{
		{slots: 32, queue: 32, service: 20 * time.Millisecond},
		{slots: 16, queue: 4, service: 20 * time.Millisecond},
		{slots: 8, queue: 2, service: 20 * time.Millisecond},
		{slots: 16, queue: 4, service: 20 * time.Millisecond, constant: true},
	} {
		for _, seed := range []uint64{1, 2, 3, 7, 42} {
			q := &queueWatch{capacityServer: c.server(), first: -1, queued: map[*simReq]bool{}}
			s := newSim(simLimiter(t, "", 0), q, seed, crawlRun)
			back := time.Duration(-1)
			old := map[bool][]time.Duration{true: {-1, -1, -1}, false: {-1, -1, -1}}
			s.onAnswer = func(r *simReq, o Outcome) {
				if o != Success {
					return
				}
				waited := q.queued[r]
				if waited && back < 0 {
					back = s.now
				}
				for i, a := range ages {
					d := time.Duration(a * float64(c.service))
					if s.now-r.start >= d && (old[waited][i] < 0 || r.start+d < old[waited][i]) {
						old[waited][i] = r.start + d
					}
				}
			}
			s.run()
			if q.first < 0 {
				fmt.Fprintf(&b, "| %v | %d | never | | | |\n", c, seed)
				continue
			}
			after := func(ds ...time.Duration) string {
				var parts []string
				for _, d := range ds {
					if d < 0 {
						parts = append(parts, "never")
					} else {
						parts = append(parts, fmt.Sprintf("%+.0f ms", float64(d-q.first)/1e6))
					}
				}
				return strings.Join(parts, ", ")
			}
			fmt.Fprintf(&b, "| %v | %d | %.0f ms | %s | %s | %s |\n", c, seed, float64(q.first)/1e6, after(back), after(old[true]...), after(old[false][:2]...))
		}
	}
	t.Log("\n" + b.String())
}
