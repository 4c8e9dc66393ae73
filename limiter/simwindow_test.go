package limiter

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// windowServer is a fixed window stated only in an API's docs: limit
// requests in each window of length (their starts offset by phase from the
// simulation's start), no quota headers, a 429 beyond it with a Retry-After
// in whole seconds until the window's end.
type windowServer struct {
	limit   int
	length  time.Duration
	phase   time.Duration // how far into its window the server is at the simulation's start
	service time.Duration

	index int64
	used  int
}

func (w *windowServer) arrive(s *sim, r *simReq) {
	t := s.now + w.phase
	if i := int64(t / w.length); i != w.index {
		w.index, w.used = i, 0
	}
	if w.used < w.limit {
		w.used++
		s.respond(s.now+s.uniform(w.service, 0.25), r, simResponse{outcome: Success})
		return
	}
	end := time.Duration(w.index+1) * w.length
	ra := time.Duration(max(1, math.Ceil((end-t).Seconds()))) * time.Second
	s.respond(s.now+time.Millisecond, r, simResponse{outcome: Throttled, retryAfter: ra})
}

// simHiddenWindow runs a hidden fixed window from a cold start for run and
// returns the goodput over what the windows allow (each window's limit, the
// first whole) and the 429 share.
func simHiddenWindow(t testing.TB, limit int, length, phase, run time.Duration, seed uint64) (share, rejected float64) {
	srv := &windowServer{limit: limit, length: length, phase: phase, service: 5 * time.Millisecond, index: -1}
	s := newSim(simLimiter(t, "", 0), srv, seed, run)
	s.run()
	a, ok, rej := s.totals(0, run)
	windows := math.Ceil((run+phase).Seconds()/length.Seconds()) - math.Floor(phase.Seconds()/length.Seconds())
	return float64(ok) / (windows * float64(limit)), float64(rej) / float64(a)
}

// TestSimulationHiddenWindowReport prints the default strategy's figures
// against fixed windows stated only in docs:
//
//	go test ./limiter -run TestSimulationHiddenWindowReport -simreport -v
func TestSimulationHiddenWindowReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| window | phase | seed | of what it allows, 30 s | 429 |\n|---|---|---|---|---|\n")
	for _, c := range []struct {
		limit  int
		length time.Duration
	}{{50, time.Second}, {20, time.Second}, {200, time.Second}, {100, 10 * time.Second}, {300, 10 * time.Second}, {600, 60 * time.Second}} {
		for _, ph := range []float64{0.1, 0.7} {
			for _, seed := range []uint64{42, 1} {
				phase := time.Duration(ph * float64(c.length))
				share, rej := simHiddenWindow(t, c.limit, c.length, phase, quotaRun, seed)
				fmt.Fprintf(&b, "| %d/%v | %.1f | %d | %.1f%% | %.2f%% |\n", c.limit, c.length, ph, seed, 100*share, 100*rej)
			}
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationHiddenFixedWindowsOfASecondArePacedAtTheirRate holds fixed
// windows of a second stated only in docs: the episodes after the cold
// start's refusal read as the window's count, paced evenly at its rate, so
// that no refusal near a window's end gates the host for most of the next.
func TestSimulationHiddenFixedWindowsOfASecondArePacedAtTheirRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, limit := range []int{20, 50, 200} {
		for _, seed := range []uint64{*simSeedFlag, 1, 7} {
			share, rej := simHiddenWindow(t, limit, time.Second, 300*time.Millisecond, quotaRun, seed)
			assert.GreaterOrEqual(t, share, 0.9, "%d/1s, seed %d: share of what the windows allow", limit, seed)
			assert.LessOrEqual(t, rej, 0.01, "%d/1s, seed %d: 429 share", limit, seed)
		}
	}
}
