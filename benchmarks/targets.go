package benchmarks

import (
	"fmt"
	"strings"
	"time"
)

// Target is one target of the bench, named by what it asks, with what the
// run measured.
type Target struct {
	Name     string
	Measured string
	Met      bool
}

type overhead struct {
	scenario          string
	politely, netHTTP float64
}

// overhead finds the HTTP overhead pair of runs.
func (rep Report) overhead() (overhead, bool) {
	for _, r := range rep.Results {
		if r.Strategy != OverheadPolitely {
			continue
		}
		if n, ok := rep.find(r.Scenario, OverheadNetHTTP); ok && n.Goodput() > 0 {
			return overhead{scenario: r.Scenario, politely: r.Goodput(), netHTTP: n.Goodput()}, true
		}
	}
	return overhead{}, false
}

// Targets checks the default strategy against the engine's targets and
// `politely crawl` against the crawl's, for the scenarios the report holds.
func (rep Report) Targets() []Target {
	var ts []Target
	if r, ok := rep.find("quota", Default); ok {
		ts = append(ts, Target{
			Name:     "quota 100 req/s: default ≥ 97% of the quota, ≤ 1% throttled",
			Measured: fmt.Sprintf("%.1f%% of the quota (steady %.1f%%), %.2f%% throttled", 100*r.Ratio(), 100*r.SteadyRatio(), r.ThrottledPct()),
			Met:      r.Ratio() >= 0.97 && r.ThrottledPct() <= 1,
		})
	}
	if r, ok := rep.find("capacity", Default); ok {
		t90, reached := r.T90(0)
		ts = append(ts, Target{
			Name: "capacity 32 × 20 ms: default ≥ 95% of 1,600 req/s at steady state, ≤ 1% 503, 90% within 1 s of a cold start",
			Measured: fmt.Sprintf("steady %.1f%% (whole run %.1f%%), %.2f%% 503, T90 %s",
				100*r.SteadyRatio(), 100*r.Ratio(), pct(r.ByStatus[503], r.Requests), t90Text(r, 0)),
			Met: r.SteadyRatio() >= 0.95 && pct(r.ByStatus[503], r.Requests) <= 1 && reached && t90 <= time.Second,
		})
	}
	if r, ok := rep.find("capacity-step", Default); ok {
		met := pct(r.ByStatus[503], r.Requests) <= 1
		var parts []string
		for _, from := range append([]time.Duration{0}, r.Steps()...) {
			d, reached := r.T90(from)
			met = met && reached && d <= time.Second
			parts = append(parts, fmt.Sprintf("T90 from %s: %s", from, t90Text(r, from)))
		}
		ts = append(ts, Target{
			Name:     "capacity step: default within 1 s of a cold start and of each step, ≤ 1% 503",
			Measured: fmt.Sprintf("%s; %.2f%% 503", strings.Join(parts, ", "), pct(r.ByStatus[503], r.Requests)),
			Met:      met,
		})
	}
	if r, ok := rep.find("header-quota", Default); ok {
		ts = append(ts, Target{
			Name:     "header quota: zero 403s",
			Measured: fmt.Sprintf("%d 403s of %d answers", r.ByStatus[403], r.Requests),
			Met:      r.ByStatus[403] == 0,
		})
	}
	for _, sc := range rep.Scenarios {
		d, ok1 := rep.find(sc.Name, Default)
		b, ok2 := rep.find(sc.Name, Baseline)
		if !ok1 || !ok2 {
			continue
		}
		met := d.ThrottledPct() <= b.ThrottledPct()
		measured := fmt.Sprintf("throttled %.2f%% vs %.2f%%", d.ThrottledPct(), b.ThrottledPct())
		if b.Throttled == 0 {
			met = met && d.Goodput() >= 0.95*b.Goodput()
			measured += fmt.Sprintf("; %.0f vs %.0f items/s (%.1f%%)", d.Goodput(), b.Goodput(), 100*d.Goodput()/b.Goodput())
		}
		ts = append(ts, Target{
			Name:     fmt.Sprintf("%s: default never more throttled than %s, never > 5%% slower where it is not throttled", sc.Name, Baseline),
			Measured: measured,
			Met:      met,
		})
	}
	if o, ok := rep.overhead(); ok {
		ts = append(ts, Target{
			Name:     fmt.Sprintf("HTTP overhead: %s ≥ 80%% of %s's items/s", OverheadPolitely, OverheadNetHTTP),
			Measured: fmt.Sprintf("%.0f vs %.0f items/s (%.1f%%)", o.politely, o.netHTTP, 100*o.politely/o.netHTTP),
			Met:      o.politely >= 0.8*o.netHTTP,
		})
	}
	return append(ts, rep.crawlTargets()...)
}
