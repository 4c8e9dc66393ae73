package limiter

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// countGates counts the gates the refusals of a simulation closed: a
// refusal answered more than half a second after the one before opens a
// new one (a server's Retry-After is a second at least; the refusals of
// one gate are of requests in flight when it closed, answered together).
func countGates(s *sim) *int {
	gates := new(int)
	last := time.Duration(-1)
	s.onAnswer = func(_ *simReq, o Outcome) {
		if o != Throttled {
			return
		}
		if last < 0 || s.now-last > 500*time.Millisecond {
			*gates++
		}
		last = s.now
	}
	return gates
}

// simRefill runs a quota without headers of rate req/s and a burst from a
// cold start for 30 s, its refusals' Retry-After ra (0: the time to the
// next token, in whole seconds), and returns the gates its refusals closed,
// the share of what the server allows (its rate over the run, and its
// burst) that it admitted, and the refused share.
func simRefill(t testing.TB, rate, burst float64, service, ra time.Duration, seed uint64) (gates int, share, refused float64) {
	srv := &quotaServer{rate: rate, burst: burst, tokens: burst, service: service, rejectAfter: time.Millisecond, fixedRA: ra}
	s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
	g := countGates(s)
	s.run()
	a, ok, rej := s.totals(0, quotaRun)
	return *g, float64(ok) / (rate*quotaRun.Seconds() + burst), float64(rej) / float64(a)
}

// TestSimulationQuotasWhoseBurstOutlastsTheirGateSettleWithinThreeGates holds
// quotas without headers of a few requests a second whose bucket holds
// seconds of their rate: a gate of a second refills a few tokens of it, so
// the record after each gate is the gate's refill, a few requests long. Such
// a record bounds the rate from both sides whatever the burst (see
// refillHi), and the host probes from its lowest to no higher than its
// bound. Before, the record was too short to fit and the pace fell back to
// the first episode's estimate (87/s for 5/s burst 20), or was fitted at a
// burst no larger than the record (2/s burst 40 at 965/s), and a burst of
// 200 was missed between the bursts tried a few apart. On main when this
// was written: 12-14 gates in 30 s at 1-5/s, 14-16 at 5/s burst 50 behind
// 50 ms, 7-8 at 10/s burst 100, 4-28 at 20/s burst 200, up to 10 behind a
// Retry-After of 3 s; with it, 2-4. Being refused costs such a server's
// client little (the bucket refills during each gate): main admitted
// 97-98% of what these servers allow, this 93-97%, at about half the
// refusals. Ten held-out seeds each; the gates of every run, and the share
// of what the server allows of the median run.
//
// The classes behind a Retry-After of 3 or 5 s with a share of their own
// are quotas of a few to ten a second whose burst (8-20) a cold start
// drains: the record after the first gate, paced at the cold start's rate
// (85/s), drains the refilled burst within 0.15 s and bounds the rate from
// below at a third to three quarters of the server's. Paced there and
// probed 0.1% a second, the host stayed there for the crawl (medians on
// main when this was written, in the order below: 67.5, 61.0, 67.2, 50.9,
// 63.3, 44.0%). Probed as slowly as the gate is long (see looseSpan), the
// next refusal's record tells the rate: a gate more, and 53-82%.
func TestSimulationQuotasWhoseBurstOutlastsTheirGateSettleWithinThreeGates(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		service, ra time.Duration
		gates       int
		share       float64 // the median run's share at least; 0.85 if 0
	}{
		{1, 10, 5 * time.Millisecond, 0, 4, 0},
		{1, 5, 50 * time.Millisecond, 0, 4, 0},
		{2, 10, 5 * time.Millisecond, 0, 3, 0},
		{3, 10, 5 * time.Millisecond, 0, 3, 0},
		{5, 20, 5 * time.Millisecond, 0, 3, 0},
		{2, 40, 5 * time.Millisecond, 0, 3, 0},
		{10, 50, 5 * time.Millisecond, 0, 3, 0},
		// Main draws 4 here too, in 2 of 10 seeds: two records after
		// gates, both the gates' refill, are fitted jointly at the burst
		// where the first's cap loosens its bound from above (31 of
		// 100), and the host is paced at that bound, 32.7/s.
		{30, 100, 5 * time.Millisecond, 0, 4, 0},
		{5, 50, 50 * time.Millisecond, 0, 3, 0},
		{5, 50, 50 * time.Millisecond, 3 * time.Second, 4, 0},
		{10, 100, 5 * time.Millisecond, 0, 3, 0},
		{20, 200, 5 * time.Millisecond, 0, 3, 0},
		{5, 10, 5 * time.Millisecond, 3 * time.Second, 3, 0.78},
		{10, 10, 5 * time.Millisecond, 3 * time.Second, 3, 0.72},
		{10, 20, 5 * time.Millisecond, 3 * time.Second, 3, 0.78},
		{7, 12, 20 * time.Millisecond, 3 * time.Second, 3, 0.72},
		{4, 8, 20 * time.Millisecond, 3 * time.Second, 3, 0.77},
		{7, 8, 20 * time.Millisecond, 5 * time.Second, 3, 0.5},
	} {
		var shares []float64
		for _, seed := range heldOutSeeds()[:10] {
			gates, share, _ := simRefill(t, c.rate, c.burst, c.service, c.ra, seed)
			assert.LessOrEqual(t, gates, c.gates, "%v/s burst %v, service %v, Retry-After %v, seed %d: gates in 30 s", c.rate, c.burst, c.service, c.ra, seed)
			shares = append(shares, share)
		}
		slices.Sort(shares)
		if c.share == 0 {
			c.share = 0.85
		}
		assert.GreaterOrEqual(t, shares[len(shares)/2], c.share, "%v/s burst %v, service %v, Retry-After %v: median share of what the server allows over 30 s", c.rate, c.burst, c.service, c.ra)
	}
}

// TestSimulationQuotaNoHeadersLowRatesReport prints quotas without headers
// of 1 to 20 a second, bursts of 10 and of 2, 5 and 10 s of their rate,
// behind 5 and 50 ms, refusing with a Retry-After of the time to the next
// token (whole seconds) or of 3 s, seeds 42 and 1: each class's gates in
// 30 s and share of what the server allows (its rate over 30 s and its
// burst), and over all runs the mean gates, the runs
// over three gates, the mean share, the runs under 80% and the refused
// share.
//
//	go test ./limiter -run TestSimulationQuotaNoHeadersLowRatesReport -simreport -v
func TestSimulationQuotaNoHeadersLowRatesReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | service | Retry-After | gates (42 / 1) | share of what it allows | refused |\n|---|---|---|---|---|---|---|\n")
	runs, over3, low := 0, 0, 0
	var gates, share, refused float64
	most := 0
	for _, rate := range []float64{1, 2, 3, 5, 10, 20} {
		var bursts []float64
		for _, b := range []float64{10, 2 * rate, 5 * rate, 10 * rate} {
			if b >= 1 && !slices.Contains(bursts, b) {
				bursts = append(bursts, b)
			}
		}
		for _, burst := range bursts {
			for _, svc := range []time.Duration{5 * time.Millisecond, 50 * time.Millisecond} {
				for _, ra := range []time.Duration{0, 3 * time.Second} {
					var gs, ss, rs []string
					for _, seed := range []uint64{42, 1} {
						g, sh, r := simRefill(t, rate, burst, svc, ra, seed)
						runs++
						gates, share, refused = gates+float64(g), share+sh, refused+r
						most = max(most, g)
						if g > 3 {
							over3++
						}
						if sh < 0.8 {
							low++
						}
						gs, ss, rs = append(gs, fmt.Sprint(g)), append(ss, fmt.Sprintf("%.1f", 100*sh)), append(rs, fmt.Sprintf("%.2f", 100*r))
					}
					raName := "token"
					if ra > 0 {
						raName = ra.String()
					}
					fmt.Fprintf(&b, "| %.0f | %.0f | %v | %s | %s | %s | %s |\n", rate, burst, svc, raName, strings.Join(gs, " / "), strings.Join(ss, " / "), strings.Join(rs, " / "))
				}
			}
		}
	}
	n := float64(runs)
	fmt.Fprintf(&b, "\n%d runs: gates mean %.2f (most %d), runs over 3 gates %d, share %.1f%%, runs under 80%% %d, refused %.2f%%\n", runs, gates/n, most, over3, 100*share/n, low, 100*refused/n)
	t.Log("\n" + b.String())
}
