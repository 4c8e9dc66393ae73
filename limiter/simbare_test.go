package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSimulationRateQuotaWithoutRetryAfterIsPaced holds the default
// strategy against a rate quota whose 429 carries neither a Retry-After nor
// quota headers, on a fast service (the 429 comes back in 1 ms): refused at
// its floor, the concurrency limit cannot slow the host, so the throttles
// pause it and teach the rate. Over 30 s from a cold start the 429s are a
// few percent at most (the cold start's burst most of them) and the
// goodput at least 90% of the quota.
func TestSimulationRateQuotaWithoutRetryAfterIsPaced(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
	}{{100, 10, 5 * time.Millisecond}, {20, 5, 20 * time.Millisecond}} {
		for _, seed := range []uint64{*simSeedFlag, 1, 2, 3, 7, 42, 99} {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: c.service, rejectAfter: time.Millisecond, noWait: true}
			s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
			s.run()
			a, ok, rej := s.totals(0, quotaRun)
			assert.LessOrEqual(t, float64(rej)/float64(a), 0.03, "%v/s burst %v, %v, seed %d: the 429 share", c.rate, c.burst, c.service, seed)
			assert.GreaterOrEqual(t, float64(ok)/quotaRun.Seconds()/c.rate, 0.9, "%v/s burst %v, %v, seed %d: goodput as a share of the quota", c.rate, c.burst, c.service, seed)
		}
	}
}

// TestSimulationInFlightCapIsNotReadAsARate holds the reading of a 429
// without a Retry-After from an in-flight cap of 8 to 256 requests, 5 to
// 100 ms each, from a cold start: its refusals come back at the levels
// refused before, so they cut the concurrency limit and never teach a
// rate (a rate fitted from a cold start's success rate paces the host far
// below the cap). Also where an answer takes a millisecond to come back
// after its slot is free, so that the client counts more in flight than
// the server holds. At 32 requests × 20 ms, seeds 1-40, a slow start past
// the cap drew the misreading at 4-6 of them. Also where a request reaches
// the server up to a millisecond or two after it started, so that requests
// started together arrive out of order: a refused one may have started with
// as few in flight as the cap admits, and the refusals of a slow start's
// overshoot may all have started with its peak, far above the cap.
func TestSimulationInFlightCapIsNotReadAsARate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		slots   int
		service time.Duration
		seeds   uint64
	}{
		{8, 5 * time.Millisecond, 4}, {8, 100 * time.Millisecond, 4},
		{32, 5 * time.Millisecond, 2}, {32, 20 * time.Millisecond, 24}, {32, 50 * time.Millisecond, 12}, {32, 100 * time.Millisecond, 4},
		{100, 20 * time.Millisecond, 2}, {256, 20 * time.Millisecond, 1},
	} {
		class := capacityClass{slots: c.slots, service: c.service, cap429: true}
		for _, back := range []time.Duration{0, time.Millisecond} {
			for _, reach := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond} {
				for seed := uint64(1); seed <= c.seeds; seed++ {
					srv := class.server()
					srv.back, srv.reach = back, reach
					s := newSim(simLimiter(t, "", 0), srv, seed, crawlRun)
					s.run()
					for i, b := range s.bins {
						if !assert.Zero(t, b.rate, "%v, answers back after %v, requests there within %v, seed %d: paced at a learnt rate at %v", class, back, reach, seed, time.Duration(i)*simBin) {
							break
						}
					}
				}
			}
		}
	}
}

// TestSimulationRateQuotaWithoutRetryAfterAboveTheFloor holds the default
// strategy against rate quotas answering a bare 429 whose concurrency
// limit stays above its floor (a slower service, or a higher rate): the
// refusals go on at levels the quota admitted before, so a rate is learnt
// and the 429s stay at most 1% over 30 s, with at least 90% of the quota.
func TestSimulationRateQuotaWithoutRetryAfterAboveTheFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
	}{{100, 10, 50 * time.Millisecond}, {1000, 100, 20 * time.Millisecond}, {1000, 10, 20 * time.Millisecond}} {
		for _, seed := range []uint64{*simSeedFlag, 1, 2, 3, 7, 99} {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: c.service, rejectAfter: time.Millisecond, noWait: true}
			s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
			s.run()
			a, ok, rej := s.totals(0, quotaRun)
			assert.LessOrEqual(t, float64(rej)/float64(a), 0.01, "%v/s burst %v, %v, seed %d: the 429 share", c.rate, c.burst, c.service, seed)
			assert.GreaterOrEqual(t, float64(ok)/quotaRun.Seconds()/c.rate, 0.9, "%v/s burst %v, %v, seed %d: goodput as a share of the quota", c.rate, c.burst, c.service, seed)
		}
	}
}
