package limiter

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
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
