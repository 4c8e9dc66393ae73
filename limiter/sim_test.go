package limiter

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	simReport = flag.Bool("simreport", false, "print the simulation report for every algorithm")
	simTrace  = flag.String("simtrace", "steps", "scenario TestSimulationTrace prints: capacity, capacity503, tight, steps, quota, quota429, quota429-burst10, quota429-burst10-5ms, header-fixed, header-sliding, header-bucket, class")
	simAlg    = flag.String("simalg", "", "algorithm TestSimulationTrace uses")
	simClass  = flag.Int("simclass", 0, "index in capacityClasses of the server -simtrace class runs")
)

var (
	simSeedFlag   = flag.Uint64("simseed", 42, "seed of the simulations' service times")
	simLoad       = flag.Duration("simload", 0, "TestSimulationCapacityClasses and -simtrace class: the client stalls (-simstallmin to -simstallmax) once per this on average (a loaded machine); 0: never")
	simStallMin   = flag.Duration("simstallmin", 2*time.Millisecond, "-simload: the shortest stall of the capacity classes' reports")
	simStallMax   = flag.Duration("simstallmax", 15*time.Millisecond, "-simload: the longest stall of the capacity classes' reports")
	simReach      = flag.Duration("simreach", 0, "TestSimulationCapacityClasses(Seeds): a request reaches the server up to this long after it started, so that requests started together may arrive out of order")
	simCrawl      = flag.Bool("simcrawl", false, "TestSimulationCapacityClasses(Seeds): one request alone before any other, untimed and no sample, as a crawl sends its first listing page")
	simCrawlTimed = flag.Bool("simcrawltimed", false, "with -simcrawl: that request timed and a sample, unlike the crawl's listing page (the simulation's crawl start before it was the crawl's), to compare against")
	simLate       = flag.Duration("simlate", 0, "the quotas without headers' reports: the client's timers fire up to this long late (uniformly), and a client waiting for one tries again only then")
	simNoise      = flag.Duration("simnoise", 0, "TestSimulationCapacityClasses(Seeds): the client reads each answer up to this long after it arrived (uniformly, each apart: a loaded client's own timing noise)")
)

// simResult holds a scenario's figures.
type simResult struct {
	to90       time.Duration // cold start to the first 100 ms bin at >= 90% of the optimum; -1 if never
	held90     time.Duration // cold start to the first bin from which the run holds 90% (settledAfter); -1 if never
	steady     float64       // goodput over the steady part / optimum
	rejected   float64       // 429s / attempts over the whole run
	dropped    float64       // 503s / attempts over the whole run
	reHalve    time.Duration // after the step to 32 slots; -1 if never
	reDouble   time.Duration // after the step to 128 slots
	goodput    float64       // quota scenarios: successes / quota over the run
	late429    int           // quota scenarios: 429s that arrived after the first response
	attempts   int
	successes  int
	maxLimit   int
	finalLimit int
}

func simLimiter(t testing.TB, alg Algorithm, initial int) *Host {
	l, err := New(Config{Algorithm: alg, Initial: initial}, WithClock(clockwork.NewFakeClockAt(epoch)))
	require.NoError(t, err)
	return l.Host("sim")
}

func (s *sim) totals(from, to time.Duration) (attempts, successes, rejected int) {
	for i := int(from / simBin); i < int(to/simBin) && i < len(s.bins); i++ {
		attempts += s.bins[i].attempts
		successes += s.bins[i].successes
		rejected += s.bins[i].rejected
	}
	return
}

// droppedTotal is the number of Dropped answers over the whole run.
func (s *sim) droppedTotal() (n int) {
	for _, b := range s.bins {
		n += b.dropped
	}
	return n
}

// firstAtLeast returns the end of the first bin from `from` whose goodput is at
// least share of optimum, measured from `from`; -1 if none.
func (s *sim) firstAtLeast(from, to time.Duration, optimum, share float64) time.Duration {
	for i := int(from / simBin); i < int(to/simBin); i++ {
		if float64(s.bins[i].successes)/simBin.Seconds() >= share*optimum {
			return time.Duration(i+1)*simBin - from
		}
	}
	return -1
}

// settledAfter returns how long after `from` the first bin ends that has
// goodput of at least 90% of the optimum and at most 1% rejected, with the
// rest of the phase (to `to`) meeting the same bounds on average; -1 if none.
func (s *sim) settledAfter(from, to time.Duration, optimum float64) time.Duration {
	good := func(att, ok, rej int, d time.Duration) bool {
		return float64(ok)/d.Seconds() >= 0.9*optimum && float64(rej) <= 0.01*float64(att)
	}
	for i := int(from / simBin); i < int(to/simBin); i++ {
		b := s.bins[i]
		end := time.Duration(i+1) * simBin
		att, ok, rej := s.totals(end, to)
		if good(b.attempts, b.successes, b.rejected, simBin) && (end == to || good(att, ok, rej, to-end)) {
			return end - from
		}
	}
	return -1
}

func (s *sim) limits() (maxLimit, final int) {
	for _, b := range s.bins {
		maxLimit = max(maxLimit, b.limit)
	}
	return maxLimit, s.bins[len(s.bins)-2].limit
}

const capacityRun = 10 * time.Second

// simCapacity runs model (a): 64 slots × 20 ms ±25%, 32 queued, 429 beyond.
func simCapacity(t testing.TB, alg Algorithm, initial int) (simResult, *sim) {
	return simCapacityModel(t, alg, initial, 32, 20*time.Millisecond)
}

// simCapacityModel is simCapacity with another queue and service time.
func simCapacityModel(t testing.TB, alg Algorithm, initial, queue int, service time.Duration) (simResult, *sim) {
	srv := &capacityServer{slots: 64, queueCap: queue, service: service, full: simResponse{outcome: Throttled}, rejectAfter: time.Millisecond}
	return simCapacityServer(t, alg, initial, srv, *simSeedFlag)
}

// simCapacity503 runs model (e), the capacity mock of politely bench: 32
// slots × 20 ms ±25%, 32 queued, and beyond that a 503 with Retry-After: 1,
// which the client answers as the transport does: it gates the host for 1 s
// and releases with Dropped. The optimum is 1,600 req/s.
func simCapacity503(t testing.TB, alg Algorithm, initial int, seed uint64) (simResult, *sim) {
	srv := &capacityServer{slots: 32, queueCap: 32, service: 20 * time.Millisecond,
		full: simResponse{outcome: Dropped, retryAfter: time.Second}, rejectAfter: time.Millisecond}
	return simCapacityServer(t, alg, initial, srv, seed)
}

// simCapacityServer runs a capacity server for capacityRun.
func simCapacityServer(t testing.TB, alg Algorithm, initial int, srv *capacityServer, seed uint64) (simResult, *sim) {
	s := newSim(simLimiter(t, alg, initial), srv, seed, capacityRun)
	s.run()
	optimum := float64(srv.slots) / srv.service.Seconds()
	a, ok, rej := s.totals(0, capacityRun)
	_, steadyOK, _ := s.totals(capacityRun/2, capacityRun)
	r := simResult{
		to90:      s.firstAtLeast(0, capacityRun, optimum, 0.9),
		held90:    s.settledAfter(0, capacityRun, optimum),
		steady:    float64(steadyOK) / (capacityRun / 2).Seconds() / optimum,
		rejected:  float64(rej) / float64(a),
		dropped:   float64(s.droppedTotal()) / float64(a),
		attempts:  a,
		successes: ok,
	}
	r.maxLimit, r.finalLimit = s.limits()
	return r, s
}

const stepAt, stepRun = 10 * time.Second, 30 * time.Second

// simSteps runs model (b): model (a) whose capacity halves to 32 slots at 10 s
// and doubles to 128 slots at 20 s.
func simSteps(t testing.TB, alg Algorithm, initial int) (simResult, *sim) {
	srv := &capacityServer{slots: 64, queueCap: 32, service: 20 * time.Millisecond, full: simResponse{outcome: Throttled}, rejectAfter: time.Millisecond}
	s := newSim(simLimiter(t, alg, initial), srv, *simSeedFlag, stepRun)
	s.after(stepAt, func() { srv.setSlots(s, 32) })
	s.after(2*stepAt, func() { srv.setSlots(s, 128) })
	s.run()
	a, ok, rej := s.totals(0, stepRun)
	r := simResult{
		reHalve:   s.settledAfter(stepAt, 2*stepAt, 1600),
		reDouble:  s.settledAfter(2*stepAt, stepRun, 6400),
		rejected:  float64(rej) / float64(a),
		attempts:  a,
		successes: ok,
	}
	r.maxLimit, r.finalLimit = s.limits()
	return r, s
}

const quotaRun = 30 * time.Second

// simQuota runs model (c) (headers) or (d) (429 + Retry-After only): a 1,000
// req/s token bucket with a burst of 100 (0.1 s of quota, like a proxy's
// limit_req burst), 20 ms ±25% service, 429 beyond.
func simQuota(t testing.TB, alg Algorithm, initial int, headers bool) (simResult, *sim) {
	return simQuotaBurst(t, alg, initial, headers, 100)
}

// simQuotaBurst is simQuota with another server burst.
func simQuotaBurst(t testing.TB, alg Algorithm, initial int, headers bool, burst float64) (simResult, *sim) {
	return simQuotaModel(t, alg, initial, headers, burst, 20*time.Millisecond)
}

// simQuotaModel is simQuota with another server burst and service time.
func simQuotaModel(t testing.TB, alg Algorithm, initial int, headers bool, burst float64, service time.Duration) (simResult, *sim) {
	srv := &quotaServer{rate: 1000, burst: burst, tokens: burst, service: service, rejectAfter: time.Millisecond, headers: headers}
	s := newSim(simLimiter(t, alg, initial), srv, *simSeedFlag, quotaRun)
	s.run()
	a, ok, rej := s.totals(0, quotaRun)
	r := simResult{
		goodput:   float64(ok) / quotaRun.Seconds() / 1000,
		rejected:  float64(rej) / float64(a),
		late429:   s.lateRejected,
		attempts:  a,
		successes: ok,
	}
	r.maxLimit, r.finalLimit = s.limits()
	return r, s
}

func TestSimulationDefaultMeetsTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	t.Run("capacity", func(t *testing.T) {
		r, _ := simCapacity(t, "", 0)
		assert.Greater(t, r.to90, time.Duration(0), "reaches 90%% of the optimum")
		assert.LessOrEqual(t, r.to90, 1200*time.Millisecond, "time to 90%% of the optimum")
		assert.GreaterOrEqual(t, r.steady, 0.93, "steady-state share of the optimum")
		assert.LessOrEqual(t, r.rejected, 0.015, "rejected share over the run")
	})
	t.Run("capacity with 503 and Retry-After", func(t *testing.T) {
		// Slow start must stop before the server's slots + queue: one 503
		// closes the gate for a second. Several seeds: the overshoot
		// depended on the service times' draw.
		for _, seed := range []uint64{*simSeedFlag, 1, 2, 3, 7, 99} {
			r, _ := simCapacity503(t, "", 0, seed)
			assert.GreaterOrEqual(t, r.steady, 0.95, "seed %d: steady-state share of the optimum", seed)
			assert.Zero(t, r.dropped, "seed %d: 503 share", seed)
		}
		// Holding 90% of the optimum from 1 s on: 15 of 100 held-out runs
		// missed it when it was stated so.
		late := missedBy(func(seed uint64) bool {
			r, _ := simCapacity503(t, "", 0, seed)
			return r.held90 < 0 || r.held90 > time.Second
		})
		assert.LessOrEqual(t, late, 15, "held-out runs that hold 90%% of the optimum only after 1 s or never")
	})
	t.Run("steps", func(t *testing.T) {
		r, _ := simSteps(t, "", 0)
		assert.GreaterOrEqual(t, r.reHalve, time.Duration(0), "re-converges after halving")
		assert.LessOrEqual(t, r.reHalve, 1500*time.Millisecond, "re-convergence after halving")
		assert.GreaterOrEqual(t, r.reDouble, time.Duration(0), "re-converges after doubling")
		assert.LessOrEqual(t, r.reDouble, 1500*time.Millisecond, "re-convergence after doubling")
	})
	t.Run("a queue of 4 at a constant service", func(t *testing.T) {
		// Slow start must see the queue that its fill permits did not.
		c := capacityClass{slots: 4, queue: 4, service: 20 * time.Millisecond, constant: true}
		for _, seed := range simClassSeeds {
			f := simCrawlCapacity(t, "", c, seed)
			assert.GreaterOrEqual(t, f.share, 0.95, "seed %d: share of the optimum", seed)
			assert.Zero(t, f.refused, "seed %d: 503 share", seed)
		}
	})
	t.Run("tight servers at a steady service time", func(t *testing.T) {
		// The requests beyond the slots wait a whole service time and come
		// back after the answers a slow-start window closes on: slow start
		// must wait for them rather than read no queue.
		for _, c := range []capacityClass{
			{slots: 8, queue: 2, service: 20 * time.Millisecond, constant: true},
			{slots: 16, queue: 4, service: 20 * time.Millisecond, constant: true},
			{slots: 32, queue: 8, service: 20 * time.Millisecond, constant: true},
		} {
			f := simCrawlCapacity(t, "", c, *simSeedFlag)
			assert.GreaterOrEqual(t, f.share, 0.85, "%v: share of the optimum over 2.5 s", c)
			assert.Zero(t, f.refused, "%v: 503 share", c)
		}
	})
	t.Run("tight servers with no queue and short service times", func(t *testing.T) {
		// Each 503 closes a 1 s gate, hundreds of service times: after the
		// second at a level, the limit must not probe past it again within
		// the run.
		const run = 10 * time.Second
		for _, c := range []capacityClass{
			{slots: 4, service: 2 * time.Millisecond, constant: true},
			{slots: 8, queue: 1, service: 5 * time.Millisecond},
		} {
			for _, seed := range simClassSeeds[:3] {
				s := newSim(simLimiter(t, "", 0), c.server(), seed, run)
				s.run()
				_, ok, _ := s.totals(0, run)
				share := float64(ok) / run.Seconds() / (float64(c.slots) / c.service.Seconds())
				assert.GreaterOrEqual(t, share, 0.75, "%v, seed %d: share of the optimum over %v", c, seed, run)
				assert.LessOrEqual(t, s.droppedTotal(), 2, "%v, seed %d: 503s", c, seed)
			}
		}
	})
	t.Run("small tight servers whose queue is two requests", func(t *testing.T) {
		// 8 slots + 2 queued, ±25%: 10 in flight read a rise of 1.1-1.25
		// over the baseline, within the noise of a slow-start window's five
		// answers, some of which waited while the others did not. Read so,
		// slow start grew by a whole request more and the server refused
		// it: 36 and 31 of 100 held-out runs (means 82.8% and 81.3%) before
		// such a rise was read against the host's spread (see
		// control.riseBeyondSpread), 28 and 19 (88.4% and 87.7%) when this
		// was stated so.
		for _, tc := range []struct {
			c       capacityClass
			refused int
			mean    float64
		}{
			{capacityClass{slots: 8, queue: 2, service: 20 * time.Millisecond}, 28, 0.884},
			{capacityClass{slots: 8, queue: 2, service: 50 * time.Millisecond}, 19, 0.876},
		} {
			sum := 0.0
			refused := missedBy(func(seed uint64) bool {
				f := simCrawlCapacity(t, "", tc.c, seed)
				sum += f.share
				return f.refused > 0
			})
			assert.LessOrEqual(t, refused, tc.refused, "%v: held-out runs refused", tc.c)
			assert.GreaterOrEqual(t, sum/float64(len(heldOutSeeds())), tc.mean, "%v: the held-out runs' mean share of the optimum", tc.c)
		}
	})
	t.Run("in-flight cap answering 429 without Retry-After", func(t *testing.T) {
		// 31 of 100 held-out runs missed 85% or 0.5% 429 when this was
		// stated so; their mean was 84.7%.
		c := capacityClass{slots: 32, service: 20 * time.Millisecond, cap429: true}
		sum := 0.0
		missed := missedBy(func(seed uint64) bool {
			f := simCrawlCapacity(t, "", c, seed)
			sum += f.share
			return f.share < 0.85 || f.refused > 0.005
		})
		assert.LessOrEqual(t, missed, 31, "held-out runs under 85%% of the optimum over 2.5 s or over 0.5%% 429")
		assert.GreaterOrEqual(t, sum/float64(len(heldOutSeeds())), 0.845, "the held-out runs' mean share of the optimum")
	})
	t.Run("a loaded client", func(t *testing.T) {
		// Stalls of 2-15 ms, one per 200 ms on average, look like a queue
		// to a window: slow start may end far below the server's slots,
		// and must resume rather than climb from there 5% at a time. A
		// tight server must still see no 503.
		for _, seed := range simClassSeeds {
			c := capacityClass{slots: 16, queue: 4, service: 20 * time.Millisecond}
			f := simCrawlCapacityLoaded(t, "", c, seed, 200*time.Millisecond)
			assert.GreaterOrEqual(t, f.share, 0.8, "%v, seed %d: share of the optimum over 2.5 s", c, seed)
			assert.Zero(t, f.refused, "%v, seed %d: 503 share", c, seed)
		}
		// Half the optimum of 128 slots: 26 of 100 held-out runs missed it
		// when this was stated so; their mean was 61.6%.
		c := capacityClass{slots: 128, queue: 128, service: 20 * time.Millisecond}
		sum := 0.0
		missed := missedBy(func(seed uint64) bool {
			f := simCrawlCapacityLoaded(t, "", c, seed, 200*time.Millisecond)
			sum += f.share
			return f.share < 0.5
		})
		assert.LessOrEqual(t, missed, 26, "%v: held-out runs under half the optimum over 2.5 s", c)
		assert.GreaterOrEqual(t, sum/float64(len(heldOutSeeds())), 0.6, "%v: the held-out runs' mean share of the optimum", c)
	})
	t.Run("a server with room whose service times spread widely", func(t *testing.T) {
		// Slow start's baseline comes from each level's fastest answers,
		// a third below a whole window's mean at ±50%: the server must
		// not be read as queued and cut, window after window, towards one
		// request at a time with no refusal.
		// 26 of 100 held-out runs fell under 16 when this was stated so.
		const run = 4 * time.Second
		c := capacityClass{slots: 128, queue: 256, service: 20 * time.Millisecond, spread: 0.5}
		refused := 0
		low := missedBy(func(seed uint64) bool {
			s := newSim(simLimiter(t, "", 0), c.server(), seed, run)
			s.run()
			lowest := s.bins[10].limit
			for _, b := range s.bins[10 : len(s.bins)-1] {
				lowest = min(lowest, b.limit)
			}
			refused += s.droppedTotal()
			return lowest < 16
		})
		assert.LessOrEqual(t, low, 26, "held-out runs whose limit fell under 16 from 1 s on")
		assert.Zero(t, refused, "503s")
	})
	t.Run("a server with room whose service times spread as widely as their mean", func(t *testing.T) {
		// Service times of 0-40 ms: a slow-start window of a level's first
		// few answers reads a mean and a fastest answer that lie anywhere.
		// Read against the window's own spread, or against a baseline of
		// first answers, they ended slow start at the initial limit or
		// just past it, and the crawl then ran at a handful of requests
		// for its whole length, with no refusal to show it had room.
		// 14 of 100 held-out runs read under a quarter of the optimum over
		// 2.5 s when this was stated so (36 before), their mean 72.5%
		// (49.1% before).
		c := capacityClass{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 1}
		sum, refused := 0.0, 0.0
		missed := missedBy(func(seed uint64) bool {
			f := simCrawlCapacityLoaded(t, "", c, seed, 0)
			sum += f.share
			refused += f.refused
			return f.share < 0.25
		})
		assert.LessOrEqual(t, missed, 14, "%v: held-out runs under a quarter of the optimum over 2.5 s", c)
		assert.GreaterOrEqual(t, sum/float64(len(heldOutSeeds())), 0.72, "%v: the held-out runs' mean share of the optimum", c)
		assert.Zero(t, refused, "%v: 503s", c)
	})
	t.Run("a server that slows down by itself", func(t *testing.T) {
		// Its service time grows by 1 ms a second with no refusal: a rise
		// that no cut relieves is not read as our queue, window after
		// window, down to one request at a time.
		const run = 20 * time.Second
		srv := capacityClass{slots: 16, queue: 16, service: 20 * time.Millisecond}
		for _, seed := range simClassSeeds[:4] {
			c := srv.server()
			c.drift = time.Millisecond
			s := newSim(simLimiter(t, "", 0), c, seed, run)
			s.run()
			var sum int
			last := s.bins[len(s.bins)/2 : len(s.bins)-1]
			for _, b := range last {
				sum += b.limit
			}
			assert.GreaterOrEqual(t, float64(sum)/float64(len(last)), 10.0, "seed %d: the mean limit over the last %v", seed, run/2)
			assert.Zero(t, s.droppedTotal(), "seed %d: 503s", seed)
		}
	})
	t.Run("a server with a heavy tail", func(t *testing.T) {
		// A tenth of its answers take ten times as long: a window's mean
		// reads about twice the baseline with no queue at all, and must
		// not cut the limit, window after window, towards one request at a
		// time. A tight server must still see no 503.
		const run = 10 * time.Second
		for _, c := range []tailClass{
			{slots: 32, queue: 32, service: 20 * time.Millisecond, slowShare: 0.1},
			{slots: 16, queue: 4, service: 20 * time.Millisecond, slowShare: 0.1},
		} {
			// 5 (32 + 32) and 1 (16 + 4) of 100 held-out runs missed
			// when this was stated so.
			missed := missedBy(func(seed uint64) bool {
				f := simTail(t, c, seed, run, 0)
				return f.share < 0.8 || f.lowest < c.slots/2 || f.refused > 0
			})
			assert.LessOrEqual(t, missed, map[int]int{32: 5, 16: 1}[c.slots], "%v: held-out runs under 80%% of the optimum (the slow answers' time counted), whose limit fell under half the slots from 1 s on, or refused", c)
		}
	})
	t.Run("quota with headers", func(t *testing.T) {
		r, _ := simQuota(t, "", 0, true)
		assert.GreaterOrEqual(t, r.goodput, 0.97, "share of the quota")
		assert.LessOrEqual(t, r.late429, 2, "429s after the first response")
	})
	t.Run("quota with Retry-After only", func(t *testing.T) {
		// Over the held-out seeds: their mean was 88.5% of the quota when
		// this was stated so (41 of 100 under 88%).
		defer func(seed uint64) { *simSeedFlag = seed }(*simSeedFlag)
		var goodput, rejected float64
		for _, seed := range heldOutSeeds() {
			*simSeedFlag = seed
			r, _ := simQuota(t, "", 0, false)
			goodput, rejected = goodput+r.goodput, max(rejected, r.rejected)
		}
		assert.GreaterOrEqual(t, goodput/float64(len(heldOutSeeds())), 0.88, "the held-out runs' mean share of the quota")
		assert.LessOrEqual(t, rejected, 0.04, "429 share, the most of a run")
	})
}

// TestSimulationReport prints every algorithm's figures:
//
//	go test ./limiter -run TestSimulationReport -simreport -v
func TestSimulationReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| algorithm | (a) to 90%% | (a) steady | (a) rejected | (a) max limit | (b) re-conv. ½ | (b) re-conv. 2× | (b) rejected | (c) goodput | (c) 429 | (c) 429s after the first response | (d) goodput | (d) 429 |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	type row struct {
		name    string
		alg     Algorithm
		initial int
	}
	for _, r := range []row{{"default", "", 0}, {"aimd", AIMD, 0}, {"gradient2", Gradient2, 0}, {"vegas", Vegas, 0}, {"fixed (Initial 4)", Fixed, 0}, {"fixed (Initial 80)", Fixed, 80}} {
		a, _ := simCapacity(t, r.alg, r.initial)
		st, _ := simSteps(t, r.alg, r.initial)
		c, _ := simQuota(t, r.alg, r.initial, true)
		d, _ := simQuota(t, r.alg, r.initial, false)
		fmt.Fprintf(&b, "| %s | %s | %.1f%% | %.2f%% | %d | %s | %s | %.2f%% | %.1f%% | %.2f%% | %d | %.1f%% | %.2f%% |\n",
			r.name, dur(a.to90), 100*a.steady, 100*a.rejected, a.maxLimit, dur(st.reHalve), dur(st.reDouble), 100*st.rejected,
			100*c.goodput, 100*c.rejected, c.late429, 100*d.goodput, 100*d.rejected)
	}
	fmt.Fprintf(&b, "\nModel (e), politely bench's capacity mock: 32 slots × 20 ms ±25%%, 32 queued, 503 + Retry-After: 1 beyond (optimum 1,600/s):\n\n")
	fmt.Fprintf(&b, "| algorithm | to 90%% | holds 90%% from | steady | 503 | max limit |\n|---|---|---|---|---|---|\n")
	for _, r := range []row{{"default", "", 0}, {"aimd", AIMD, 0}, {"gradient2", Gradient2, 0}, {"vegas", Vegas, 0}, {"fixed (Initial 50)", Fixed, 50}} {
		e, _ := simCapacity503(t, r.alg, r.initial, *simSeedFlag)
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f%% | %.2f%% | %d |\n", r.name, dur(e.to90), dur(e.held90), 100*e.steady, 100*e.dropped, e.maxLimit)
	}
	fmt.Fprintf(&b, "\nThe capacity model with other queues and service times (to 90%% / steady / rejected):\n\n")
	fmt.Fprintf(&b, "| service | queue | default | aimd | gradient2 | vegas |\n|---|---|---|---|---|---|\n")
	for _, svc := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		for _, q := range []int{0, 32, 128} {
			fmt.Fprintf(&b, "| %v | %d |", svc, q)
			for _, alg := range []Algorithm{"", AIMD, Gradient2, Vegas} {
				a, _ := simCapacityModel(t, alg, 0, q, svc)
				fmt.Fprintf(&b, " %s / %.1f%% / %.2f%% |", dur(a.to90), 100*a.steady, 100*a.rejected)
			}
			fmt.Fprintf(&b, "\n")
		}
	}
	fmt.Fprintf(&b, "\nDefault strategy against the quota server with other bursts and service times (goodput / 429 share):\n\n")
	fmt.Fprintf(&b, "| service | burst | (c) headers | (c) 429s after the first response | (d) Retry-After only |\n|---|---|---|---|---|\n")
	for _, svc := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		for _, burst := range []float64{10, 100, 1000} {
			c, _ := simQuotaModel(t, "", 0, true, burst, svc)
			d, _ := simQuotaModel(t, "", 0, false, burst, svc)
			fmt.Fprintf(&b, "| %v | %.0f | %.1f%% / %.2f%% | %d | %.1f%% / %.2f%% |\n", svc, burst, 100*c.goodput, 100*c.rejected, c.late429, 100*d.goodput, 100*d.rejected)
		}
	}
	t.Log("\n" + b.String())
}

func dur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// TestSimulationTrace prints one scenario's bins, for tuning:
//
//	go test ./limiter -run TestSimulationTrace -simreport -v
func TestSimulationTrace(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var s *sim
	alg := Algorithm(*simAlg)
	switch *simTrace {
	case "capacity":
		_, s = simCapacity(t, alg, 0)
	case "capacity503":
		_, s = simCapacity503(t, alg, 0, *simSeedFlag)
	case "tight":
		srv := &capacityServer{slots: 16, queueCap: 4, service: 20 * time.Millisecond,
			full: simResponse{outcome: Dropped, retryAfter: time.Second}, rejectAfter: time.Millisecond}
		_, s = simCapacityServer(t, alg, 0, srv, *simSeedFlag)
	case "steps":
		_, s = simSteps(t, alg, 0)
	case "quota":
		_, s = simQuota(t, alg, 0, true)
	case "quota429":
		_, s = simQuota(t, alg, 0, false)
	case "quota429-burst10":
		_, s = simQuotaBurst(t, alg, 0, false, 10)
	case "header-fixed", "header-sliding", "header-bucket":
		srv := *headerServers[map[string]int{"header-fixed": 0, "header-sliding": 5, "header-bucket": 5}[*simTrace]]
		srv.tokens = srv.burst
		s = newSim(simLimiter(t, alg, 0), &srv, *simSeedFlag, headerRun)
		s.run()
	case "quota429-burst10-5ms":
		_, s = simQuotaModel(t, alg, 0, false, 10, 5*time.Millisecond)
	case "class":
		s = newSim(simLimiter(t, alg, 0), capacityClasses[*simClass].server(), *simSeedFlag, crawlRun)
		if *simLoad > 0 {
			s.loadStalls(*simSeedFlag, *simLoad, 2*time.Millisecond, 15*time.Millisecond)
		}
		s.run()
	case "quota-no-headers":
		srv := &quotaServer{rate: 100, burst: 10, tokens: 10, service: 5 * time.Millisecond, rejectAfter: time.Millisecond}
		s = newSim(simLimiter(t, alg, 0), srv, *simSeedFlag, quotaRun)
		s.run()
	default:
		t.Fatalf("unknown -simtrace %q", *simTrace)
	}
	var b strings.Builder
	for i, x := range s.bins {
		fmt.Fprintf(&b, "%5.1fs att %5d ok %5d rej %4d limit %4d inflight %4d rate %.0f\n", float64(i)*simBin.Seconds(), x.attempts, x.successes, x.rejected, x.limit, x.inFlight, x.rate)
	}
	t.Log("\n" + b.String())
}

// crawlRun is the length of a crawl that takes 2.5 s at the optimum.
const crawlRun = 2500 * time.Millisecond

// capacityClass is a server of the crawl targets' classes: a capacity server
// with a 503 + Retry-After: 1 beyond its queue, or an in-flight cap that
// answers 429 without Retry-After beyond its slots (queue 0).
type capacityClass struct {
	slots, queue int
	service      time.Duration
	constant     bool    // every request takes service exactly (else ± spread)
	spread       float64 // the service times' spread, ±25% if 0
	cap429       bool    // an in-flight cap answering 429 without Retry-After
	slowShare    float64 // the share of requests served slowTimes slower, 0 if none
}

func (c capacityClass) String() string {
	s := fmt.Sprintf("%d slots + %d queued × %v", c.slots, c.queue, c.service)
	switch {
	case c.cap429:
		s = fmt.Sprintf("in-flight cap %d × %v, 429", c.slots, c.service)
	case c.queue*4 <= c.slots:
		s += " (tight)"
	}
	if c.constant {
		s += ", constant"
	}
	if c.spread != 0 {
		s += fmt.Sprintf(" ± %.0f%%", 100*c.spread)
	}
	if c.slowShare != 0 {
		s += fmt.Sprintf(", %.0f%% %d× slower", 100*c.slowShare, slowTimes)
	}
	return s
}

// server returns the class's server model.
func (c capacityClass) server() *capacityServer {
	srv := &capacityServer{slots: c.slots, queueCap: c.queue, service: c.service, constant: c.constant, spread: c.spread, slowShare: c.slowShare,
		full: simResponse{outcome: Dropped, retryAfter: time.Second}, rejectAfter: time.Millisecond}
	if c.cap429 {
		srv.queueCap, srv.full = 0, simResponse{outcome: Throttled}
	}
	return srv
}

// crawlFigures are a class's figures over one cold-start run.
type crawlFigures struct {
	share   float64       // goodput over the run / optimum
	to90    time.Duration // to the first 100 ms bin at 90% of the optimum; -1 if never
	refused float64       // 503s and 429s / attempts
}

// simCrawlCapacity runs c from a cold start for crawlRun, on a client
// loaded as -simload says, with requests reaching the server as -simreach
// says, answers read as late as -simnoise says and, with -simcrawl, one
// request alone first.
func simCrawlCapacity(t testing.TB, alg Algorithm, c capacityClass, seed uint64) crawlFigures {
	return simCrawlCapacityLoaded(t, alg, c, seed, *simLoad)
}

// simCrawlCapacityLoaded is simCrawlCapacity on a client that stalls for
// -simstallmin to -simstallmax (2-15 ms) once per load on average; never if
// load is 0. -simreach, -simnoise and -simcrawl apply as in simCrawlCapacity.
func simCrawlCapacityLoaded(t testing.TB, alg Algorithm, c capacityClass, seed uint64, load time.Duration) crawlFigures {
	srv := c.server()
	srv.reach = *simReach
	s := newSim(simLimiter(t, alg, 0), srv, seed, crawlRun)
	s.crawlStart = *simCrawl
	s.crawlTimed = *simCrawlTimed
	if load > 0 {
		s.loadStalls(seed, load, *simStallMin, *simStallMax)
	}
	if *simNoise > 0 {
		s.setNoise(seed, *simNoise)
	}
	s.run()
	optimum := float64(c.slots) / c.service.Seconds()
	a, ok, rej := s.totals(0, crawlRun)
	return crawlFigures{
		share:   float64(ok) / crawlRun.Seconds() / optimum,
		to90:    s.firstAtLeast(0, crawlRun, optimum, 0.9),
		refused: float64(s.droppedTotal()+rej) / float64(a),
	}
}

var simClassSeeds = []uint64{1, 2, 3, 7, 42, 99, 1234}

// heldOutSeeds are seeds 101 to 200, none of which the limiter's constants
// were tuned on (its reports and targets use seeds 1 to 40 and
// simClassSeeds). A cold start's first windows turn on the service times'
// draw, so a target over a few seeds reads one trajectory each: such a
// target is stated over these instead, as how many runs may miss it, at
// most as many as missed it when it was written.
func heldOutSeeds() []uint64 {
	seeds := make([]uint64, 100)
	for i := range seeds {
		seeds[i] = uint64(101 + i)
	}
	return seeds
}

// missedBy counts the heldOutSeeds whose run misses: missed(seed) reports
// it.
func missedBy(missed func(seed uint64) bool) int {
	n := 0
	for _, seed := range heldOutSeeds() {
		if missed(seed) {
			n++
		}
	}
	return n
}

// TestSimulationCapacityClasses prints the default strategy's figures over a
// crawl 2.5 s long at the optimum, from a cold start, against servers of the
// crawl targets' classes, median and worst of 7 seeds, on a client loaded
// as -simload says, with requests reaching the server up to -simreach after
// they start (out of order) and, with -simcrawl, one request alone before the
// others (a crawl's listing page):
//
//	go test ./limiter -run TestSimulationCapacityClasses -simreport -v [-simload 200ms] [-simreach 2ms] [-simnoise 2ms] [-simcrawl]
func TestSimulationCapacityClasses(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | goodput over 2.5 s: median, worst | to 90%%: median, worst | 503/429: median, worst |\n|---|---|---|---|\n")
	for _, c := range capacityClasses {
		var shares, refused []float64
		var to90 []time.Duration
		for _, seed := range simClassSeeds {
			f := simCrawlCapacity(t, Algorithm(*simAlg), c, seed)
			shares, refused = append(shares, f.share), append(refused, f.refused)
			if f.to90 < 0 {
				f.to90 = time.Hour // never: the worst
			}
			to90 = append(to90, f.to90)
		}
		slices.Sort(shares)
		slices.Sort(refused)
		slices.Sort(to90)
		mid, last := len(shares)/2, len(shares)-1
		fmt.Fprintf(&b, "| %v | %.1f%%, %.1f%% | %s, %s | %.2f%%, %.2f%% |\n", c, 100*shares[mid], 100*shares[0],
			durOrNever(to90[mid]), durOrNever(to90[last]), 100*refused[mid], 100*refused[last])
	}
	t.Log("\n" + b.String())
}

func durOrNever(d time.Duration) string {
	if d >= time.Hour {
		return "never"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// capacityClasses spans the crawl targets' classes: capacity servers with a
// queue from none to more than their slots, 4 to 128 slots, 2 to 100 ms,
// service times ±25% or steady; in-flight caps from 8 to 256, 5 to 100 ms.
var capacityClasses = []capacityClass{
	{slots: 4, queue: 4, service: 20 * time.Millisecond},
	{slots: 4, queue: 4, service: 20 * time.Millisecond, constant: true},
	{slots: 8, queue: 8, service: 20 * time.Millisecond},
	{slots: 16, queue: 16, service: 20 * time.Millisecond},
	{slots: 32, queue: 32, service: 20 * time.Millisecond},
	{slots: 32, queue: 64, service: 20 * time.Millisecond},
	{slots: 64, queue: 64, service: 20 * time.Millisecond},
	{slots: 128, queue: 128, service: 20 * time.Millisecond},
	{slots: 128, queue: 128, service: 5 * time.Millisecond},
	{slots: 32, queue: 32, service: 5 * time.Millisecond},
	{slots: 32, queue: 32, service: 50 * time.Millisecond},
	{slots: 32, queue: 32, service: 100 * time.Millisecond},
	{slots: 4, queue: 1, service: 20 * time.Millisecond},
	{slots: 8, queue: 2, service: 20 * time.Millisecond},
	{slots: 12, queue: 3, service: 20 * time.Millisecond},
	{slots: 16, queue: 4, service: 20 * time.Millisecond},
	{slots: 24, queue: 6, service: 20 * time.Millisecond},
	{slots: 32, queue: 8, service: 20 * time.Millisecond},
	{slots: 64, queue: 16, service: 20 * time.Millisecond},
	{slots: 128, queue: 32, service: 5 * time.Millisecond},
	{slots: 16, queue: 4, service: 50 * time.Millisecond},
	{slots: 40, queue: 10, service: 10 * time.Millisecond},
	{slots: 16, queue: 4, service: 100 * time.Millisecond},
	{slots: 8, service: 20 * time.Millisecond, cap429: true},
	{slots: 32, service: 20 * time.Millisecond, cap429: true},
	{slots: 100, service: 20 * time.Millisecond, cap429: true},
	{slots: 32, service: 5 * time.Millisecond, cap429: true},
	{slots: 32, service: 50 * time.Millisecond, cap429: true},
	{slots: 32, service: 100 * time.Millisecond, cap429: true},
	{slots: 256, service: 20 * time.Millisecond, cap429: true},
	// Tight servers whose service time is steady: the requests beyond their
	// slots wait a whole service time and come back after the answers a
	// slow-start window closes on.
	{slots: 8, queue: 2, service: 20 * time.Millisecond, constant: true},
	{slots: 16, queue: 4, service: 20 * time.Millisecond, constant: true},
	{slots: 32, queue: 8, service: 20 * time.Millisecond, constant: true},
	{slots: 12, queue: 3, service: 20 * time.Millisecond, constant: true},
	{slots: 40, queue: 10, service: 10 * time.Millisecond, constant: true},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, constant: true},
	{slots: 100, service: 100 * time.Millisecond, cap429: true},
	// Tight servers with no queue (or one) and short service times: each
	// 503 closes a 1 s gate that costs hundreds of service times.
	{slots: 4, service: 2 * time.Millisecond, constant: true},
	{slots: 4, queue: 1, service: 5 * time.Millisecond},
	{slots: 8, queue: 1, service: 5 * time.Millisecond, constant: true},
	{slots: 8, service: 5 * time.Millisecond},
	// A server with room whose service times spread widely: slow start's
	// baseline, taken from each level's fastest answers, sits a third
	// below what a whole window reads.
	{slots: 128, queue: 256, service: 20 * time.Millisecond, spread: 0.5},
	{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 0.5},
	// Servers whose slots are fewer than the initial limit and whose
	// service times spread: the initial limit's requests beyond the slots
	// come back a service time after the first answers, which do not come
	// back alike.
	{slots: 2, queue: 2, service: 50 * time.Millisecond},
	{slots: 2, queue: 2, service: 20 * time.Millisecond},
	{slots: 3, queue: 1, service: 20 * time.Millisecond},
	{slots: 2, queue: 2, service: 100 * time.Millisecond},
}

// simQuotaNoHeaders runs politely mock's quota-no-headers from a cold start:
// rate req/s, a burst, 429 + Retry-After in whole seconds beyond, no quota
// headers. It returns the goodput over 10 s and over 30 s as shares of the
// rate, and the 429 share.
func simQuotaNoHeaders(t testing.TB, rate, burst float64, service time.Duration, seed uint64) (over10, over30, rejected float64) {
	return simQuotaNoHeadersJitter(t, rate, burst, service, 0, seed)
}

// simQuotaNoHeadersJitter is simQuotaNoHeaders with requests reaching the
// server's bucket up to jitter after they started.
func simQuotaNoHeadersJitter(t testing.TB, rate, burst float64, service, jitter time.Duration, seed uint64) (over10, over30, rejected float64) {
	return simQuotaNoHeadersLate(t, rate, burst, service, jitter, *simLate, seed)
}

// simQuotaNoHeadersLate is simQuotaNoHeadersJitter with the client's timers
// firing up to late after their time (see sim.setLate).
func simQuotaNoHeadersLate(t testing.TB, rate, burst float64, service, jitter, late time.Duration, seed uint64) (over10, over30, rejected float64) {
	srv := &quotaServer{rate: rate, burst: burst, tokens: burst, service: service, rejectAfter: time.Millisecond, jitter: jitter}
	s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
	if late > 0 {
		s.setLate(seed, late)
	}
	s.run()
	_, ok10, _ := s.totals(0, 10*time.Second)
	a, ok, rej := s.totals(0, quotaRun)
	return float64(ok10) / 10 / rate, float64(ok) / quotaRun.Seconds() / rate, float64(rej) / float64(a)
}

// TestSimulationQuotaNoHeadersReport prints the quota-without-headers figures:
//
//	go test ./limiter -run TestSimulationQuotaNoHeadersReport -simreport -v
func TestSimulationQuotaNoHeadersReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | service | over 10 s | over 30 s | 429 |\n|---|---|---|---|---|---|\n")
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
	}{{100, 10, 5 * time.Millisecond}, {100, 10, 50 * time.Millisecond}, {20, 5, 20 * time.Millisecond}, {1000, 10, 20 * time.Millisecond}, {1000, 100, 20 * time.Millisecond}, {500, 50, 5 * time.Millisecond}} {
		o10, o30, rej := simQuotaNoHeaders(t, c.rate, c.burst, c.service, *simSeedFlag)
		fmt.Fprintf(&b, "| %.0f | %.0f | %v | %.1f%% | %.1f%% | %.2f%% |\n", c.rate, c.burst, c.service, 100*o10, 100*o30, 100*rej)
	}
	t.Log("\n" + b.String())
}

// TestSimulationQuotaWithoutRetryAfterReport prints the default strategy's
// figures against a rate quota whose 429 carries neither quota headers nor a
// Retry-After (a class the crawl targets do not name; an in-flight cap's 429
// looks the same), seeds 1 and 42:
//
//	go test ./limiter -run TestSimulationQuotaWithoutRetryAfterReport -simreport -v
func TestSimulationQuotaWithoutRetryAfterReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | service | seed | over 10 s | over 30 s | 429 | limit at the end |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
	}{{100, 10, 5 * time.Millisecond}, {100, 10, 50 * time.Millisecond}, {20, 5, 20 * time.Millisecond}, {1000, 100, 20 * time.Millisecond}, {500, 50, 100 * time.Millisecond}} {
		for _, seed := range []uint64{1, 42} {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: c.service, rejectAfter: time.Millisecond, noWait: true}
			s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
			s.run()
			_, ok10, _ := s.totals(0, 10*time.Second)
			a, ok, rej := s.totals(0, quotaRun)
			fmt.Fprintf(&b, "| %.0f | %.0f | %v | %d | %.1f%% | %.1f%% | %.2f%% | %d |\n", c.rate, c.burst, c.service, seed,
				100*float64(ok10)/10/c.rate, 100*float64(ok)/quotaRun.Seconds()/c.rate, 100*float64(rej)/float64(a), s.h.Snapshot().Limit)
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationQuotaWithoutHeadersSettlesInTwoThrottles holds the rate
// learning on politely mock's quota-no-headers (100/s, burst 10, 429 +
// Retry-After: 1): the cold start's throttle tells the burst, a probe finds
// the rate at the second throttle, and at most one more throttle follows
// (none at two of these seeds; at the others the rate fitted is the
// server's, and the slow probe above it brings a 429 after 19-27 s).
func TestSimulationQuotaWithoutHeadersSettlesInTwoThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, seed := range []uint64{*simSeedFlag, 1, 2, 3, 7, 99} {
		srv := &quotaServer{rate: 100, burst: 10, tokens: 10, service: 5 * time.Millisecond, rejectAfter: time.Millisecond}
		s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
		s.run()
		_, ok10, _ := s.totals(0, 10*time.Second)
		_, _, late := s.totals(3*time.Second, quotaRun)
		assert.GreaterOrEqual(t, float64(ok10)/10/100, 0.74, "seed %d: share of the quota over 10 s", seed)
		assert.LessOrEqual(t, late, 2, "seed %d: 429s after the second throttle's gate", seed)
		assert.InDelta(t, 95, s.h.Snapshot().Rate, 6, "seed %d: the learnt rate, about the server's", seed)
		assert.Contains(t, []int{4, 5}, s.h.pace.curBurst, "seed %d: the pacer's burst, about half the server's", seed)
	}
}

// coldStartRuns runs server class c from a crawl's start over crawlRun at
// seeds 1 to seeds, each sim set up by setup (nil: none), and returns the
// runs with a refusal, the refusals in all, and the goodput over the
// optimum in percent, mean and worst: the cold-start reports' row.
func coldStartRuns(t testing.TB, c capacityClass, seeds uint64, setup func(s *sim, seed uint64)) (runs, drops int, mean, worst float64) {
	worst = 2
	for seed := uint64(1); seed <= seeds; seed++ {
		s := newSim(simLimiter(t, "", 0), c.server(), seed, crawlRun)
		s.crawlStart = true
		if setup != nil {
			setup(s, seed)
		}
		s.run()
		if d := s.droppedTotal(); d > 0 {
			runs++
			drops += d
		}
		_, ok, _ := s.totals(0, crawlRun)
		g := float64(ok) / crawlRun.Seconds() / (float64(c.slots) / c.service.Seconds())
		mean += g
		worst = min(worst, g)
	}
	return runs, drops, 100 * mean / float64(seeds), 100 * worst
}
