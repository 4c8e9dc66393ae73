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
