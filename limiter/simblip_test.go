package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// blipServer is a capacity server that also refuses, with a 503 and a
// Retry-After, the first request that arrives at or after the start of one
// of its blips and every other one before its end: a
// server that flaps (a restart, a proxy's health check failing once), or a
// blackout as short as the gate it closes.
type blipServer struct {
	*capacityServer
	blips      [][2]time.Duration // [from, to)
	retryAfter time.Duration
	hit        int // blips that refused a request
}

func (b *blipServer) arrive(s *sim, r *simReq) {
	for i, bl := range b.blips {
		if s.now >= bl[0] && (s.now < bl[1] || i == b.hit) {
			b.hit = max(b.hit, i+1)
			s.respond(s.now+b.capacityServer.rejectAfter, r, simResponse{outcome: Dropped, retryAfter: b.retryAfter})
			return
		}
	}
	b.capacityServer.arrive(s, r)
}

// simBlips runs c from a cold start for run, with a 503 + Retry-After: ra
// for every request that arrives within one of blips, and returns the
// goodput over the run as a share of the optimum and the number of 503s.
func simBlips(t testing.TB, c capacityClass, seed uint64, run, ra time.Duration, blips ...[2]time.Duration) (share float64, dropped int) {
	srv := &blipServer{capacityServer: c.server(), blips: blips, retryAfter: ra}
	s := newSim(simLimiter(t, "", 0), srv, seed, run)
	s.run()
	_, ok, _ := s.totals(0, run)
	return float64(ok) / run.Seconds() / (float64(c.slots) / c.service.Seconds()), s.droppedTotal()
}

// blipClasses are the servers TestSimulationBlipReport refuses once or
// twice: tight and queued capacity servers with a 503 + Retry-After: 1
// beyond their queue.
var blipClasses = []capacityClass{
	{slots: 64, queue: 8, service: 20 * time.Millisecond},
	{slots: 8, queue: 2, service: 20 * time.Millisecond},
	{slots: 16, queue: 4, service: 20 * time.Millisecond},
	{slots: 32, queue: 32, service: 20 * time.Millisecond},
	{slots: 8, queue: 1, service: 5 * time.Millisecond},
}

// TestSimulationBlipReport prints the default strategy's goodput over a 10 s
// crawl from a cold start, mean and worst over seeds 1 to -simseeds, when
// the server refuses every request for 1 ms (a 503 + Retry-After: 1) once
// during the ramp or twice, and without that:
//
//	go test ./limiter -run TestSimulationBlipReport -simreport -v
func TestSimulationBlipReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	const run = 10 * time.Second
	ms := time.Millisecond
	blip := func(at time.Duration) [2]time.Duration { return [2]time.Duration{at, at + ms} }
	cases := []struct {
		name  string
		blips [][2]time.Duration
	}{
		{"none", nil},
		{"once at 100 ms", [][2]time.Duration{blip(100 * ms)}},
		{"once at 250 ms", [][2]time.Duration{blip(250 * ms)}},
		{"at 100 ms and 1.2 s", [][2]time.Duration{blip(100 * ms), blip(1200 * ms)}},
		{"at 500 ms and 1.6 s", [][2]time.Duration{blip(500 * ms), blip(1600 * ms)}},
		{"at 100 ms, 1.2 s and 3.5 s", [][2]time.Duration{blip(100 * ms), blip(1200 * ms), blip(3500 * ms)}},
		{"at 100 ms, then every 2 s from 1.2 s", [][2]time.Duration{blip(100 * ms), blip(1200 * ms), blip(3200 * ms), blip(5200 * ms), blip(7200 * ms), blip(9200 * ms)}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds, goodput over %v: mean, worst (503s: mean)\n\n| server |", *simSeeds, run)
	for _, c := range cases {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	fmt.Fprintf(&b, "\n|---|%s\n", strings.Repeat("---|", len(cases)))
	for _, cl := range blipClasses {
		fmt.Fprintf(&b, "| %v |", cl)
		for _, c := range cases {
			var sum, drops float64
			worst := 1e9
			for seed := 1; seed <= *simSeeds; seed++ {
				share, d := simBlips(t, cl, uint64(seed), run, time.Second, c.blips...)
				sum += share
				worst = min(worst, share)
				drops += float64(d)
			}
			n := float64(*simSeeds)
			fmt.Fprintf(&b, " %.1f%%, %.1f%% (%.1f) |", 100*sum/n, 100*worst, drops/n)
		}
		fmt.Fprintf(&b, "\n")
	}
	t.Log("\n" + b.String())
}

// TestSimulationAServerThatFlapsDuringTheRampIsNotHeld: a server that
// refuses once at 100 ms of a cold start and again at 1.2 s, as the limit
// is back at about the level of the first refusal after its gate, is not
// read as one whose capacity ends there.
func TestSimulationAServerThatFlapsDuringTheRampIsNotHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	const run = 10 * time.Second
	ms := time.Millisecond
	for _, c := range []capacityClass{
		{slots: 32, queue: 32, service: 20 * time.Millisecond},
		{slots: 16, queue: 4, service: 20 * time.Millisecond},
	} {
		for _, seed := range simClassSeeds {
			share, _ := simBlips(t, c, seed, run, time.Second, [2]time.Duration{100 * ms, 101 * ms}, [2]time.Duration{1200 * ms, 1201 * ms})
			assert.GreaterOrEqual(t, share, 0.6, "%v, seed %d: share of the optimum over %v", c, seed, run)
		}
	}
}

// TestSimulationATightServerIsNotRefusedAgainAndAgain: a server whose queue
// (slots/8) shows too small a rise to stop the limit before it refuses with
// a gate is refused a few times over a cold 10 s crawl, not once every
// couple of seconds: after a refusal the limit goes back to the level it
// served and steps towards the refused one request at a time, so that the
// next refusal confirms the capacity's end.
func TestSimulationATightServerIsNotRefusedAgainAndAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	const run = 10 * time.Second
	c := capacityClass{slots: 64, queue: 8, service: 20 * time.Millisecond}
	for _, seed := range simClassSeeds {
		share, _ := simBlips(t, c, seed, run, time.Second)
		assert.GreaterOrEqual(t, share, 0.7, "%v, seed %d: share of the optimum over %v", c, seed, run)
	}
}

// TestSimulationASmallServerWithoutAQueuePaysOneGatePerColdStart: a server
// of 4 to 8 slots with a queue of 0 or 1 refuses slow start's first step
// past it with a 503 + Retry-After: 1; the limit then stays below that
// level for the rest of a cold 2.5 s crawl instead of stepping into it
// again right after the gate.
func TestSimulationASmallServerWithoutAQueuePaysOneGatePerColdStart(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []capacityClass{
		{slots: 4, service: 2 * time.Millisecond, constant: true},
		{slots: 4, queue: 1, service: 5 * time.Millisecond},
		{slots: 8, queue: 1, service: 5 * time.Millisecond, constant: true},
		{slots: 8, service: 5 * time.Millisecond},
	} {
		for _, seed := range simClassSeeds {
			s := newSim(simLimiter(t, "", 0), c.server(), seed, crawlRun)
			s.run()
			assert.LessOrEqual(t, s.droppedTotal(), 1, "%v, seed %d: 503s over a cold %v", c, seed, crawlRun)
		}
	}
}
