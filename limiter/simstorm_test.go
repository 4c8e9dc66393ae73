package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// stormServer is a capacity server that answers every request arriving in
// [from, to) with a throttle at once: a bare 429 (ra 0), or a 429 or 403
// with a Retry-After of ra. An API gateway in front of a backend that is
// down answers so, as does a secondary limit that refuses everything for a
// while.
type stormServer struct {
	*capacityServer
	from, to time.Duration
	ra       time.Duration
}

func (b *stormServer) arrive(s *sim, r *simReq) {
	if s.now < b.from || s.now >= b.to {
		b.capacityServer.arrive(s, r)
		return
	}
	s.respond(s.now+time.Millisecond, r, simResponse{outcome: Throttled, retryAfter: b.ra})
}

// simStorm runs a storm of throttles on c over [from, to) from a cold
// start, until run, and returns the goodput from the storm's end to run
// over the optimum.
func simStorm(t testing.TB, c capacityClass, from, to, ra, run time.Duration, seed uint64) (*sim, float64) {
	srv := &stormServer{capacityServer: c.server(), from: from, to: to, ra: ra}
	s := newSim(simLimiter(t, "", 0), srv, seed, run)
	s.crawlStart = true
	s.run()
	optimum := float64(c.slots) / c.service.Seconds()
	_, ok, _ := s.totals(to, run)
	return s, float64(ok) / (run - to).Seconds() / optimum
}

// stormClasses are the servers the storms run on: big and tight at 20 ms,
// big at 200 ms.
var stormClasses = []capacityClass{
	{slots: 32, queue: 32, service: 20 * time.Millisecond},
	{slots: 16, queue: 4, service: 20 * time.Millisecond},
	{slots: 32, queue: 32, service: 200 * time.Millisecond},
}

// TestSimulationStormOfBareThrottlesIsAnOutage holds a 2 s storm of bare
// 429s, every request refused, on servers that come back whole: the
// throttles cut the limit to its floor and then pause the host, doubling
// while requests sent alone are refused, so the storm reads as an outage
// and the first success after it gives back the limit held before it,
// with no rate learnt from the storm's throttles. Over the 10 s after the
// storm the host gets at least 80% of the optimum at 20 ms (the last pause
// ends 1.2 s after the storm) and 45% at 200 ms (a host held at one
// request in flight gets 3-40% and 3%).
func TestSimulationStormOfBareThrottlesIsAnOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range stormClasses {
		least := 0.8
		if c.service >= 100*time.Millisecond {
			least = 0.45
		}
		for _, seed := range []uint64{*simSeedFlag, 1, 7} {
			s, after := simStorm(t, c, time.Second, 3*time.Second, 0, 13*time.Second, seed)
			assert.GreaterOrEqual(t, after, least, "%v, seed %d: goodput over the 10 s after the storm", c, seed)
			assert.Zero(t, s.h.Snapshot().Rate, "%v, seed %d: the rate learnt", c, seed)
		}
	}
}

// TestSimulationStormReport prints, for storms of bare 429s and of
// throttles with a Retry-After of 1 or 2 s from 1 s to 3 s, the goodput
// over the 10 s after the storm (seeds 42, 1, 7) and the rate learnt at
// the end:
//
//	go test ./limiter -run TestSimulationStormReport -simreport -v
func TestSimulationStormReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | Retry-After | 10 s after the storm (42 / 1 / 7) | rate learnt at the end |\n|---|---|---|---|\n")
	for _, c := range stormClasses {
		for _, ra := range []time.Duration{0, time.Second, 2 * time.Second} {
			var figs, rates []string
			for _, seed := range []uint64{42, 1, 7} {
				s, after := simStorm(t, c, time.Second, 3*time.Second, ra, 13*time.Second, seed)
				figs, rates = append(figs, fmt.Sprintf("%.1f%%", 100*after)), append(rates, fmt.Sprintf("%.0f", s.h.Snapshot().Rate))
			}
			fmt.Fprintf(&b, "| %v | %v | %s | %s |\n", c, ra, strings.Join(figs, " / "), strings.Join(rates, " / "))
		}
	}
	t.Log("\n" + b.String())
}
