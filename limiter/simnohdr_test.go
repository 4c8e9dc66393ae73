package limiter

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// noHeaderClasses are quotas without headers (429 + Retry-After in whole
// seconds): the bench's row, servers near the client (a service of a
// millisecond, where a cold start's burst spans many RTTs), high rates,
// small buckets, bursts of half a second of rate, and bursts of 10 behind
// 20 ms at 200-500 a second (a cold start that ramps for many round trips
// before its first refusal).
var noHeaderClasses = []struct {
	rate, burst float64
	service     time.Duration
}{
	{100, 10, 5 * time.Millisecond}, {100, 10, time.Millisecond}, {100, 10, 50 * time.Millisecond},
	{20, 5, 20 * time.Millisecond}, {50, 5, 5 * time.Millisecond}, {50, 50, 20 * time.Millisecond},
	{10, 10, 20 * time.Millisecond}, {5, 2, 20 * time.Millisecond}, {300, 5, 5 * time.Millisecond},
	{300, 5, time.Millisecond}, {500, 50, 5 * time.Millisecond}, {1000, 10, 20 * time.Millisecond},
	{1000, 50, 5 * time.Millisecond}, {1000, 100, 20 * time.Millisecond}, {2000, 20, 5 * time.Millisecond},
	{100, 50, 5 * time.Millisecond}, {300, 150, 5 * time.Millisecond}, {1000, 500, 5 * time.Millisecond},
	{10, 1, 20 * time.Millisecond}, {200, 1, 20 * time.Millisecond}, {1000, 1, 20 * time.Millisecond},
	{200, 10, 20 * time.Millisecond}, {300, 10, 20 * time.Millisecond}, {500, 10, 20 * time.Millisecond},
	{2000, 10, 5 * time.Millisecond},
}

// noHeaderJitterClasses are quotas without headers whose requests reach the
// server's bucket up to jitter after they started, in no set order (a
// loopback's and a runtime's timing): a bucket of one token refuses two
// requests that reach it closer than its interval, however the client
// spaced them.
var noHeaderJitterClasses = []struct {
	rate, burst     float64
	service, jitter time.Duration
}{
	{100, 10, 5 * time.Millisecond, time.Millisecond}, {10, 1, 20 * time.Millisecond, time.Millisecond},
	{200, 1, 20 * time.Millisecond, time.Millisecond}, {1000, 1, 20 * time.Millisecond, 500 * time.Microsecond},
	{1000, 1, 20 * time.Millisecond, time.Millisecond}, {1000, 10, 20 * time.Millisecond, time.Millisecond},
	{100, 1, 5 * time.Millisecond, 500 * time.Microsecond}, {100, 1, 5 * time.Millisecond, time.Millisecond},
	{100, 1, 5 * time.Millisecond, 2 * time.Millisecond}, {20, 1, 20 * time.Millisecond, 2 * time.Millisecond},
}

// TestSimulationQuotaNoHeadersClassesReport prints every class of
// noHeaderJitterClasses and noHeaderClasses at seeds 42, 1 and 7:
//
//	go test ./limiter -run TestSimulationQuotaNoHeadersClassesReport -simreport -v [-simlate 1ms]
func TestSimulationQuotaNoHeadersClassesReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| rate | burst | service | jitter | over 10 s (42 / 1 / 7) | over 30 s | 429 |\n|---|---|---|---|---|---|---|\n")
	classes := noHeaderJitterClasses
	for _, c := range noHeaderClasses {
		classes = append(classes, struct {
			rate, burst     float64
			service, jitter time.Duration
		}{c.rate, c.burst, c.service, 0})
	}
	for _, c := range classes {
		var o10, o30, rej []string
		for _, seed := range []uint64{42, 1, 7} {
			a, b, r := simQuotaNoHeadersJitter(t, c.rate, c.burst, c.service, c.jitter, seed)
			o10, o30, rej = append(o10, fmt.Sprintf("%.1f", 100*a)), append(o30, fmt.Sprintf("%.1f", 100*b)), append(rej, fmt.Sprintf("%.2f", 100*r))
		}
		fmt.Fprintf(&b, "| %.0f | %.0f | %v | %v | %s | %s | %s |\n", c.rate, c.burst, c.service, c.jitter, strings.Join(o10, " / "), strings.Join(o30, " / "), strings.Join(rej, " / "))
	}
	t.Log("\n" + b.String())
}

// TestSimulationBucketsOfOneTokenOutOfStepFindTheirMargin holds buckets of
// one token without headers whose requests reach the bucket up to a jitter
// after they started: paced at their rate, two requests reach it closer than
// its interval now and then, and each refusal closes a gate of a second.
// Each refusal within 10 s of the gate before cuts twice as far as the last
// (1, 2, 4, 8, 16%), so the pace finds its margin in a few gates; a cut of
// 1% a gate (or the gaps of a few requests after a stretched first
// interval, read as the rate) left 100/s at 52-72% and 1,000/s at 24-35%.
// Once one refused a pace under its fitted rate, a request starts an
// interval after the last one's answer less the host's fastest (see
// pace.fromAnswer): a jitter of 2 ms at 100/s, twice the cuts' margin, left
// it at 55-64% with a refusal every few seconds.
func TestSimulationBucketsOfOneTokenOutOfStepFindTheirMargin(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate          float64
		service, jitt time.Duration
		share         float64
	}{{100, 5 * time.Millisecond, time.Millisecond, 0.68}, {100, 5 * time.Millisecond, 2 * time.Millisecond, 0.68}, {200, 20 * time.Millisecond, time.Millisecond, 0.52}, {1000, 20 * time.Millisecond, 500 * time.Microsecond, 0.4}} {
		for _, seed := range []uint64{42, 1, 7} {
			_, over30, refused := simQuotaNoHeadersJitter(t, c.rate, 1, c.service, c.jitt, seed)
			assert.GreaterOrEqual(t, over30, c.share, "%v/s, jitter %v, seed %d: share of the rate over 30 s", c.rate, c.jitt, seed)
			assert.LessOrEqual(t, refused, 0.01, "%v/s, jitter %v, seed %d: refused share", c.rate, c.jitt, seed)
		}
	}
}

// TestSimulationQuotaWithoutHeadersDrawsNoThirdGateWithinTenSeconds holds
// buckets of a few to a dozen tokens without headers, the bench's row among
// them: the rate the second throttle's record fits is not above the
// server's, so no refusal follows the second gate within the first 10 s (a
// third gate there cost 300/s with a burst of 5 a tenth of those 10 s). The
// first throttle's refused request's start bounds the burst, which a server
// holds in whole tokens (a burst fitted half a token short put 100/s at
// 100.2-100.9/s), and a probe past a burst of about ten doubles slower, so
// that its record bounds the rate to about 2%, not 4-5%.
func TestSimulationQuotaWithoutHeadersDrawsNoThirdGateWithinTenSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst     float64
		service, jitter time.Duration
		share           float64
	}{
		{100, 10, 5 * time.Millisecond, 0, 0.775}, {100, 10, 5 * time.Millisecond, time.Millisecond, 0.77},
		{100, 10, time.Millisecond, 0, 0.81}, {300, 5, 5 * time.Millisecond, 0, 0.76},
	} {
		for _, seed := range []uint64{42, 1, 7} {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: c.service, rejectAfter: time.Millisecond, jitter: c.jitter}
			s := newSim(simLimiter(t, "", 0), srv, seed, 10*time.Second)
			s.run()
			_, ok10, _ := s.totals(0, 10*time.Second)
			_, _, late := s.totals(3*time.Second, 10*time.Second)
			name := fmt.Sprintf("%v/s burst %v, service %v, jitter %v, seed %d", c.rate, c.burst, c.service, c.jitter, seed)
			assert.Zero(t, late, "%s: refusals after the second gate within 10 s", name)
			assert.GreaterOrEqual(t, float64(ok10)/10/c.rate, c.share, "%s: share of the rate over 10 s", name)
		}
	}
}

// TestSimulationSlowBucketsOfOneTokenProbeFromTheGatesBound holds buckets of
// one token a few a second without headers: a probe from twice what the
// first episode admitted over its gate crosses such a rate within a gap or
// two, so the record it leaves holds one or two admitted requests. Read as
// no record (the learner unsure), each refusal then cut the rate by a
// quarter from far above the server's, a gate each time: 70-72% at 2-5/s,
// and at 1/s 80% with a third of the requests refused. The gate's own gap
// bounds the rate from below (a bucket of one token holds none once it
// admits a request), and the host probes from there, back to that bound
// should the probe cross the rate and leave nothing better.
func TestSimulationSlowBucketsOfOneTokenProbeFromTheGatesBound(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate            float64
		service, jitter time.Duration
		refused         float64 // the cold start's three refusals of four requests sent at once are a tenth of 30 s at 1/s
	}{{1, 5 * time.Millisecond, 0, 0.2}, {2, 5 * time.Millisecond, 0, 0.15}, {3, 5 * time.Millisecond, 0, 0.1}, {5, 5 * time.Millisecond, 0, 0.05}, {10, 20 * time.Millisecond, time.Millisecond, 0.03}} {
		for _, seed := range []uint64{42, 1, 7} {
			_, over30, refused := simQuotaNoHeadersJitter(t, c.rate, 1, c.service, c.jitter, seed)
			assert.GreaterOrEqual(t, over30, 0.78, "%v/s, jitter %v, seed %d: share of the rate over 30 s", c.rate, c.jitter, seed)
			assert.LessOrEqual(t, refused, c.refused, "%v/s, jitter %v, seed %d: refused share", c.rate, c.jitter, seed)
		}
	}
}

// TestSimulationSmallBurstsSentAtOnceAreFittedFromAShortRecord holds buckets
// of two or three tokens a few a second without headers: the cold start's
// burst, sent at once, tells the bucket's size to the token, and the probe's
// record then holds only a few requests before its refusal. Read as too
// short to fit (the learner unsure), each refusal cut the rate by a quarter
// from the probe's, far above the server's: 79.5-83% with 5-7% refused.
// Fitted at the burst the cold start told and probed from as an unconfirmed
// rate, they settle in a refusal or two.
func TestSimulationSmallBurstsSentAtOnceAreFittedFromAShortRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
	}{{7, 3, 5 * time.Millisecond}, {5, 2, 20 * time.Millisecond}} {
		for _, seed := range []uint64{42, 1, 7} {
			_, over30, refused := simQuotaNoHeaders(t, c.rate, c.burst, c.service, seed)
			assert.GreaterOrEqual(t, over30, 0.88, "%v/s burst %v, seed %d: share of the rate over 30 s", c.rate, c.burst, seed)
			assert.LessOrEqual(t, refused, 0.03, "%v/s burst %v, seed %d: refused share", c.rate, c.burst, seed)
		}
	}
}

// TestSimulationSmallBurstsFittedLooselyProbeToTheirRate holds buckets of
// 10-50 a second with bursts of 3-10 without headers: the probe from the
// cold start crosses such a rate within a few tokens of the burst, so the
// record it leaves bounds the rate only to within 5-40% (its refused
// request's bound over its lowest), and the server's rate may be anywhere
// in between. Paced at the lowest and probing 0.1% a second, a host stayed
// up to a quarter under the server's rate for the whole crawl on some seeds
// (15/s burst 6: 74% over 30 s; 30/s burst 4: 81%; 20/s burst 5: 77%).
// Probed from it as from an unconfirmed rate, the next refusal's record,
// paced near the rate for a second or two, tells it.
func TestSimulationSmallBurstsFittedLooselyProbeToTheirRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst     float64
		service, jitter time.Duration
	}{
		{20, 5, 5 * time.Millisecond, 0}, {20, 5, 5 * time.Millisecond, time.Millisecond}, {30, 4, 5 * time.Millisecond, 0},
		{15, 6, 5 * time.Millisecond, 0}, {30, 7, 20 * time.Millisecond, 0}, {20, 10, 5 * time.Millisecond, 0},
	} {
		for seed := uint64(1); seed <= 12; seed++ {
			_, over30, refused := simQuotaNoHeadersJitter(t, c.rate, c.burst, c.service, c.jitter, seed)
			assert.GreaterOrEqual(t, over30, 0.87, "%v/s burst %v, jitter %v, seed %d: share of the rate over 30 s", c.rate, c.burst, c.jitter, seed)
			assert.LessOrEqual(t, refused, 0.015, "%v/s burst %v, jitter %v, seed %d: refused share", c.rate, c.burst, c.jitter, seed)
		}
	}
}

// TestSimulationALooseFirstFitBehindALongRetryAfterIsNotProbedAsFast holds
// the buckets of TestSimulationSmallBurstsFittedLooselyProbeToTheirRate
// behind a Retry-After of 2 or 5 s, whatever the time to the next token:
// each refusal costs seconds there, and the probe at 30% a second from a
// loose first fit drew one or two more (20/s burst 5, Retry-After 5 s: 81%
// over 60 s -> 67%). Such a fit is probed only where its bound is looser for
// a longer gate, as slowly as the gate is long (see looseSpan).
func TestSimulationALooseFirstFitBehindALongRetryAfterIsNotProbedAsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		ra          time.Duration
		share       float64
	}{{20, 5, 2 * time.Second, 0.89}, {30, 4, 2 * time.Second, 0.9}, {20, 5, 5 * time.Second, 0.78}, {30, 4, 5 * time.Second, 0.69}, {15, 6, 5 * time.Second, 0.8}} {
		for _, seed := range []uint64{1, 7, 42} {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: 5 * time.Millisecond, rejectAfter: time.Millisecond, fixedRA: c.ra}
			s := newSim(simLimiter(t, "", 0), srv, seed, time.Minute)
			s.run()
			_, ok, _ := s.totals(0, time.Minute)
			assert.GreaterOrEqual(t, float64(ok)/60/c.rate, c.share, "%v/s burst %v, Retry-After %v, seed %d: share of the rate over 60 s", c.rate, c.burst, c.ra, seed)
		}
	}
}

// TestSimulationAFirstFitBoundedFromAboveProbesToItsBound holds buckets
// whose first fitted record bounds the rate closely from both sides: its
// lowest, paced at, and the rate its refused request would have needed,
// within looseSpan above it. Probed from the lowest at 0.1% a second, the
// host stayed up to a tenth under the server's rate for the whole crawl
// (50/s burst 5: 88.3% over 30 s on average, 30/s burst 12: 90.0%); probed
// at 1% a second up to that bound, which the rate lies under, it reaches
// the rate within seconds.
func TestSimulationAFirstFitBoundedFromAboveProbesToItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst, share float64
	}{{50, 5, 0.89}, {30, 12, 0.92}} {
		var sum float64
		const seeds = 12
		for seed := uint64(1); seed <= seeds; seed++ {
			_, over30, refused := simQuotaNoHeaders(t, c.rate, c.burst, 5*time.Millisecond, seed)
			sum += over30
			assert.LessOrEqual(t, refused, 0.01, "%v/s burst %v, seed %d: refused share", c.rate, c.burst, seed)
		}
		assert.GreaterOrEqual(t, sum/seeds, c.share, "%v/s burst %v: mean share of the rate over 30 s, %d seeds", c.rate, c.burst, seeds)
	}
}

// TestSimulationFastBucketsPacedOnLateTimersKeepTheirRate holds quotas
// without headers of 1,000-2,000 a second whose burst the learner does not
// know (the first throttle comes after the ramp), on a client whose timers
// fire up to a millisecond late: paced a token at a time, each late wake
// was lost, and the host sent at half its learnt rate or less (1 ms: 53-57%
// over 30 s against 72-78% with timers on time; end to end 2,000/s burst 50
// was paced at 850/s).
func TestSimulationFastBucketsPacedOnLateTimersKeepTheirRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		service     time.Duration
		share       float64
	}{{2000, 50, 5 * time.Millisecond, 0.74}, {2000, 20, 5 * time.Millisecond, 0.68}, {1000, 10, 20 * time.Millisecond, 0.75}} {
		for _, seed := range []uint64{42, 1, 7} {
			_, over30, refused := simQuotaNoHeadersLate(t, c.rate, c.burst, c.service, 0, time.Millisecond, seed)
			assert.GreaterOrEqual(t, over30, c.share, "%v/s burst %v, seed %d: share of the rate over 30 s", c.rate, c.burst, seed)
			assert.LessOrEqual(t, refused, 0.01, "%v/s burst %v, seed %d: refused share", c.rate, c.burst, seed)
		}
	}
}

// TestSimulationAFastQuotaSettlesAfterTwoThrottlesOnASlowClient holds a
// quota without headers of 300 a second with a burst of 5 against a client
// that takes a millisecond or two to start each request, or reads its
// answers up to 2 ms late (a loaded machine, end to end): its cold start's
// requests go out a few milliseconds apart, so that the server's bucket
// refills by as many tokens as its burst holds over the first throttle's
// episode, and that episode tells its burst only to within a token. Read
// as not telling it, the second throttle's record was left unfitted: the
// host paced at a tenth under the rate for good, or probed from an estimate
// into a third and a fourth gate (72-73% end to end). The burst it fits to
// a whole token, and the record's lowest at a token more, settle it after
// the second throttle under the server's rate.
func TestSimulationAFastQuotaSettlesAfterTwoThrottlesOnASlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct{ cost, noise time.Duration }{
		{time.Millisecond, 0}, {2 * time.Millisecond, 0}, {0, 2 * time.Millisecond}, {2 * time.Millisecond, 2 * time.Millisecond},
	} {
		for _, seed := range []uint64{42, 1, 7} {
			srv := &quotaServer{rate: 300, burst: 5, tokens: 5, service: 5 * time.Millisecond, rejectAfter: time.Millisecond}
			s := newSim(simLimiter(t, "", 0), srv, seed, 10*time.Second)
			s.crawlStart = true
			s.setStartCost(c.cost)
			if c.noise > 0 {
				s.setNoise(seed, c.noise)
			}
			episodes, last := 0, -time.Hour
			s.onAnswer = func(_ *simReq, o Outcome) {
				if o == Throttled && s.now-last > 500*time.Millisecond {
					episodes++
				}
				if o == Throttled {
					last = s.now
				}
			}
			s.run()
			all, _, refused := s.totals(0, 10*time.Second)
			_, ok, _ := s.totals(3*time.Second, 10*time.Second)
			name := fmt.Sprintf("start cost %v, noise %v, seed %d", c.cost, c.noise, seed)
			share := float64(ok) / 7 / 300 // of the rate over the 7 s from 3 to 10 s
			t.Logf("%s: %d throttles, %.1f%% of the rate from 3 to 10 s, %.2f%% refused", name, episodes, 100*share, 100*float64(refused)/float64(all))
			assert.LessOrEqual(t, episodes, 2, "%s: throttles within 10 s", name)
			assert.GreaterOrEqual(t, share, 0.9, "%s: share of the rate from 3 to 10 s", name)
			assert.LessOrEqual(t, share, 1.0, "%s: share of the rate from 3 to 10 s", name)
			assert.LessOrEqual(t, float64(refused)/float64(all), 0.01, "%s: refused share", name)
		}
	}
}

// TestSimulationACrawlThatPausesAfterItsFirstPageDrawsNoThirdGate holds a
// quota without headers of 100 a second with a burst of 10 against a crawl's
// start: a robots.txt outside the quota, the first listing page alone, then
// a pause before the items (a crawl with state writing the page's items
// first). The server's bucket refilled to its cap during the pause, so the
// refill counted from the listing page's start over-stated what it held by
// a token or more: the burst was fitted a token short, its rate above the
// server's, and a third gate came within 5 s on 6-10 of 12 seeds (end to end,
// the bench's crawl+state row in 3 of 6 runs). From the request that started
// alone after the page's answer, the bucket held no more than its burst.
func TestSimulationACrawlThatPausesAfterItsFirstPageDrawsNoThirdGate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, jitter := range []time.Duration{0, time.Millisecond} {
		for seed := uint64(1); seed <= 12; seed++ {
			srv := &quotaServer{rate: 100, burst: 10, tokens: 10, service: 5 * time.Millisecond, rejectAfter: time.Millisecond, jitter: jitter}
			s := newSim(simLimiter(t, "", 0), srv, seed, 10*time.Second)
			s.crawlStart, s.crawlRobots, s.crawlPause = true, true, 15*time.Millisecond
			s.run()
			_, ok10, _ := s.totals(0, 10*time.Second)
			_, _, late := s.totals(3*time.Second, 10*time.Second)
			name := fmt.Sprintf("jitter %v, seed %d", jitter, seed)
			assert.Zero(t, late, "%s: refusals after the second gate within 10 s", name)
			assert.GreaterOrEqual(t, float64(ok10)/10/100, 0.76, "%s: share of the rate over 10 s", name)
		}
	}
}

// TestSimulationFastQuotasBehindARoundTripTellTheirBurstFromTwoRecords
// holds quotas without headers of 200-1,000 a second with a burst of 10
// behind a service of 20 ms: a cold start ramps over many round trips and
// is refused long after its first request, its episode mostly refill, so
// the learner is unsure of the burst from the first throttle on. One record
// alone bounds the rate only at the first episode's bound on the burst (50
// tokens or more, a rate far under the server's), and the episode's
// estimate assumes a burst of a tenth of a second of rate: paced at 0.87 of
// the rate and probing a tenth of a percent a second, they kept 77-84% of
// it over 30 s. Two records of different shapes (a steady pace and a climb)
// agree on one burst, and at it on the rate (see jointFit).
func TestSimulationFastQuotasBehindARoundTripTellTheirBurstFromTwoRecords(t *testing.T) {
	for _, rate := range []float64{200, 300, 500, 1000} {
		for _, seed := range []uint64{42, 1} {
			_, over30, refused := simQuotaNoHeaders(t, rate, 10, 20*time.Millisecond, seed)
			assert.GreaterOrEqual(t, over30, 0.86, "%v/s burst 10, seed %d: share of the rate over 30 s", rate, seed)
			assert.LessOrEqual(t, refused, 0.002, "%v/s burst 10, seed %d: refused share", rate, seed)
		}
	}
}

// TestSimulationABurstDrainedByATricklingStartIsNotPacedPastItsRecords
// holds quotas without headers whose burst is seconds of their rate (50
// at 10/s, 20 at 20/s) met by a crawl whose first requests trickle in (the
// engine adds its consumers one by one): the bucket runs dry after its
// first requests' round trips, so the learner is unsure of the burst and
// fits two records together (see jointFit). They bound the rate from above
// too; the episode's estimate, read from a burst drained in 60-90 ms, lay
// three to eight times over that bound, was paced at, and lost a refusal
// for every halving after it. Held-out seeds, refused share of all
// requests over 30 s when this was stated so (before: 2.73% and 0.99%):
// 2.40% and 0.66%.
func TestSimulationABurstDrainedByATricklingStartIsNotPacedPastItsRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct{ rate, burst, refused float64 }{{10, 50, 0.025}, {20, 20, 0.0075}} {
		attempts, refused := 0, 0
		for _, seed := range heldOutSeeds() {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: 5 * time.Millisecond, rejectAfter: time.Millisecond}
			s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
			s.setTrickle(seed, 8, 8*time.Millisecond)
			s.run()
			a, _, rej := s.totals(0, quotaRun)
			attempts += a
			refused += rej
		}
		assert.LessOrEqual(t, float64(refused)/float64(attempts), c.refused, "%v/s burst %v: refused share over the held-out runs", c.rate, c.burst)
	}
}

// TestSimulationQuotasWithoutHeadersWhoseColdStartRampsSettleAfterTwoThrottles
// holds quotas without headers of 700 to 1,500 a second behind 20 ms: a cold
// start ramps for 10-25 round trips before its first refusal, so the learner
// is unsure of the burst. The first throttle's episode, recorded from the
// host's first request, and the record after its gate drained the bucket
// over different times: fitted together they tell the burst and the rate at
// the second throttle (see episodeFit), where the record alone waited for a
// third. Median share of the rate over the first 10 s of 40 held-out seeds,
// when this was stated so (before: 64-69%): 74-79%.
func TestSimulationQuotasWithoutHeadersWhoseColdStartRampsSettleAfterTwoThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		rate, burst float64
		share       float64
	}{{700, 10, 0.75}, {1500, 10, 0.71}, {700, 5, 0.74}, {700, 20, 0.75}} {
		var shares []float64
		attempts, refused := 0, 0
		for _, seed := range heldOutSeeds()[:40] {
			srv := &quotaServer{rate: c.rate, burst: c.burst, tokens: c.burst, service: 20 * time.Millisecond, rejectAfter: time.Millisecond}
			s := newSim(simLimiter(t, "", 0), srv, seed, 10*time.Second)
			s.run()
			a, ok, rej := s.totals(0, 10*time.Second)
			shares = append(shares, float64(ok)/10/c.rate)
			attempts += a
			refused += rej
		}
		slices.Sort(shares)
		assert.GreaterOrEqual(t, shares[len(shares)/2], c.share, "%v/s burst %v: median share of the rate over the first 10 s", c.rate, c.burst)
		assert.LessOrEqual(t, float64(refused)/float64(attempts), 0.01, "%v/s burst %v: refused share", c.rate, c.burst)
	}
}

// TestSimulationQuotaNoHeadersGridReport prints quotas without headers over
// a grid of rates (50-1,500/s), bursts (5-50) and service times (5-50 ms),
// seeds 42 and 1, from the bare start and from a crawl's (a listing page
// and a robots.txt alone first, then 16 requests 2 ms apart on average):
// the mean share of the rate over the first 10 s and over 30 s, the
// refused share, and how many runs got under 70% over their first 10 s.
//
//	go test ./limiter -run TestSimulationQuotaNoHeadersGridReport -simreport -v
func TestSimulationQuotaNoHeadersGridReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| start | over 10 s | over 30 s | refused | runs under 70%% over 10 s |\n|---|---|---|---|---|\n")
	for _, crawl := range []bool{false, true} {
		var s10, s30, rej float64
		runs, low := 0, 0
		for _, rate := range []float64{50, 150, 200, 400, 700, 1500} {
			for _, burst := range []float64{5, 10, 20, 50} {
				for _, svc := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond} {
					for _, seed := range []uint64{42, 1} {
						srv := &quotaServer{rate: rate, burst: burst, tokens: burst, service: svc, rejectAfter: time.Millisecond}
						s := newSim(simLimiter(t, "", 0), srv, seed, quotaRun)
						if crawl {
							s.crawlStart, s.crawlRobots = true, true
							s.setTrickle(seed, 16, 2*time.Millisecond)
						}
						s.run()
						_, ok10, _ := s.totals(0, 10*time.Second)
						a, ok, r := s.totals(0, quotaRun)
						o10 := float64(ok10) / 10 / rate
						s10, s30, rej = s10+o10, s30+float64(ok)/quotaRun.Seconds()/rate, rej+float64(r)/float64(a)
						runs++
						if o10 < 0.7 {
							low++
						}
					}
				}
			}
		}
		start := "bare"
		if crawl {
			start = "a crawl's"
		}
		n := float64(runs)
		fmt.Fprintf(&b, "| %s | %.1f%% | %.1f%% | %.3f%% | %d of %d |\n", start, 100*s10/n, 100*s30/n, 100*rej/n, low, runs)
	}
	t.Log("\n" + b.String())
}
