package limiter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSimulationLateColdStartReport reports runs refused, refusals and
// goodput over 2.5 s, 40 seeds, of small fast servers and some big ones
// on a client whose crawl's start runs late (see setLateStart), the
// lateness told to the limiter (see readLate) or not. A report, not a
// check: -simreport.
func TestSimulationLateColdStartReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | late from, peak, fall, told | runs refused of 40 | refusals | goodput mean, worst |\n|---|---|--:|--:|---|\n")
	for _, c := range []capacityClass{
		{slots: 4, queue: 4, service: 10 * time.Millisecond, constant: true},
		{slots: 4, queue: 4, service: 10 * time.Millisecond},
		{slots: 4, queue: 4, service: 5 * time.Millisecond, constant: true},
		{slots: 4, queue: 4, service: 20 * time.Millisecond, constant: true},
		{slots: 8, queue: 8, service: 10 * time.Millisecond, constant: true},
		{slots: 4, queue: 1, service: 10 * time.Millisecond, constant: true},
		{slots: 32, queue: 32, service: 20 * time.Millisecond},
		{slots: 64, queue: 64, service: 20 * time.Millisecond},
		{slots: 32, queue: 32, service: 20 * time.Millisecond, spread: 0.5},
	} {
		for _, told := range []bool{false, true} {
			for _, l := range [][3]time.Duration{
				{6 * time.Millisecond, 30 * time.Millisecond, 500 * time.Millisecond},
				{2 * time.Millisecond, 20 * time.Millisecond, 300 * time.Millisecond},
				{8 * time.Millisecond, 40 * time.Millisecond, 600 * time.Millisecond},
			} {
				runs, drops, mean, worst := coldStartRuns(t, c, 40, func(s *sim, seed uint64) {
					s.setLateStart(seed, l[0], l[1], l[2], told)
				})
				fmt.Fprintf(&b, "| %v | %v, %v, %v, told %v | %d | %d | %.1f%%, %.1f%% |\n", c, l[0], l[1], l[2], told, runs, drops, mean, worst)
			}
		}
	}
	t.Log("\n" + b.String())
}
