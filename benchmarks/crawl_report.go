package benchmarks

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// crawlTargets checks `politely crawl` (default config, cold start) against
// its targets, for the crawl scenarios the report holds.
func (rep Report) crawlTargets() []Target {
	var ts []Target
	check := func(scenario, name string, measure func(r Result) (string, bool)) {
		if r, ok := rep.find(scenario, CrawlDefault); ok {
			m, met := measure(r)
			ts = append(ts, Target{Name: name, Measured: m, Met: met})
		}
	}
	share := func(r Result, code int) float64 { return pct(r.ByStatus[code], r.Requests) }
	ratioAnd := func(min float64, code int, max float64) func(Result) (string, bool) {
		return func(r Result) (string, bool) {
			return fmt.Sprintf("%.1f%% of the optimum, %.2f%% %d", 100*r.Ratio(), share(r, code), code),
				r.Ratio() >= min && share(r, code) <= max
		}
	}
	check("crawl-capacity", "capacity (queue ≥ slots, 503 + Retry-After beyond), a crawl 2.5 s long at the optimum: crawl ≥ 95% of the optimum, T90 ≤ 0.3 s, ≤ 0.5% 503",
		func(r Result) (string, bool) {
			t90, ok := r.T90(0)
			return fmt.Sprintf("%.1f%% of the optimum, T90 %s, %.2f%% 503", 100*r.Ratio(), t90Text(r, 0), share(r, 503)),
				r.Ratio() >= 0.95 && ok && t90 <= 300*time.Millisecond && share(r, 503) <= 0.5
		})
	check("crawl-capacity-tight", "tight capacity (queue ≤ slots/4): crawl ≥ 90% of the optimum, ≤ 0.5% 503", ratioAnd(0.9, 503, 0.5))
	check("crawl-inflight-429", "in-flight cap answering 429 without Retry-After: crawl ≥ 90% of the optimum, ≤ 1% 429", ratioAnd(0.9, 429, 1))
	quota := func(r Result) (string, bool) {
		third := r.RatioUntil(r.optimalTime() / 3)
		return fmt.Sprintf("%.1f%% over the crawl, %.1f%% over its first third (its listing pages counted), %.2f%% 429", 100*r.Ratio(), 100*third, share(r, 429)),
			r.Ratio() >= 0.9 && third >= 0.8 && share(r, 429) <= 1
	}
	check("crawl-quota-no-headers", "quota without headers (burst 10, 429 + Retry-After in whole seconds): crawl ≥ 90% of the quota over a crawl 30 s long at the optimum and ≥ 80% over its first third, ≤ 1% 429", quota)
	check("crawl-quota-no-retry-after", "quota answering a bare 429 (burst 10, no Retry-After, no quota headers): crawl ≥ 90% of the quota over a crawl 30 s long at the optimum and ≥ 80% over its first third, ≤ 1% 429", quota)
	for _, q := range []struct{ scenario, kind string }{
		{"crawl-header-fixed", "fixed window"}, {"crawl-header-sliding", "sliding window"}, {"crawl-header-token-bucket", "token bucket"}, {"crawl-header-token-bucket-1", "token bucket of one token"},
	} {
		check(q.scenario, "header quota, "+q.kind+": crawl ≥ 90% of what it allows, ≤ 1% 429 or 403",
			func(r Result) (string, bool) {
				refused := pct(r.ByStatus[429]+r.ByStatus[403], r.Requests)
				return fmt.Sprintf("%.1f%% of the allowance, %.2f%% 429 or 403", 100*r.Ratio(), refused),
					r.Ratio() >= 0.9 && refused <= 1
			})
	}
	for _, name := range []string{CrawlDefault, CrawlState} {
		if r, ok := rep.find("crawl-blackout", name); ok {
			ts = append(ts, Target{
				Name:     "blackout (503 + Retry-After on every request for a while): " + name + " sends no early request, loses no item, fails none it requested, writes none twice, fetches nothing robots.txt disallows",
				Measured: fmt.Sprintf("%d early, %d lost, %d failed, %d twice, %d robots violations", r.Early, r.Lost, r.FailedAsked, r.Twice, r.RobotsViolations),
				Met:      !r.Capped && r.Early == 0 && r.Lost == 0 && r.FailedAsked == 0 && r.Twice == 0 && r.RobotsViolations == 0,
			})
		}
	}
	c, ok1 := rep.find("crawl-fast", CrawlDefault)
	e, ok2 := rep.find("crawl-fast", Engine)
	if ok1 && ok2 && e.Goodput() > 0 {
		measured := fmt.Sprintf("%.0f vs %.0f items/s (%.1f%%)", c.Goodput(), e.Goodput(), 100*c.Goodput()/e.Goodput())
		if cc, ec := c.CPUPerItem(), e.CPUPerItem(); cc > 0 && ec > 0 {
			// On a CPU-bound mock the items/s follow the CPU per item, which
			// other processes' load moves far less than the items/s.
			measured += fmt.Sprintf("; CPU per item %.1f vs %.1f µs (engine / crawl %.1f%%)",
				micros(cc), micros(ec), 100*float64(ec)/float64(cc))
		}
		ts = append(ts, Target{
			Name:     "fast mock: crawl ≥ 90% of the engine-level default's items/s in the same run",
			Measured: measured,
			Met:      c.Goodput() >= 0.9*e.Goodput(),
		})
	}
	return ts
}

// optimalTime is how long the run's work takes at the optimum's first level.
func (r Result) optimalTime() time.Duration {
	if len(r.Optimum) == 0 || r.Optimum[0].PerSec <= 0 {
		return 0
	}
	return time.Duration(float64(r.Work) / r.Optimum[0].PerSec * float64(time.Second))
}

// writeCrawlHeadline writes a row per crawl scenario: the crawl without and
// with state next to the engine-level row of the same scenario.
func (rep Report) writeCrawlHeadline(w io.Writer) {
	var rows []string
	for _, sc := range rep.Scenarios {
		c, ok := rep.find(sc.Name, CrawlDefault)
		if !ok {
			continue
		}
		s, okS := rep.find(sc.Name, CrawlState)
		e, okE := rep.find(sc.Name, Engine)
		ratio := func(r Result, ok bool) string {
			switch {
			case !ok:
				return "–"
			case !r.Limited():
				return fmt.Sprintf("%.0f/s", r.Goodput())
			}
			return fmt.Sprintf("%.3f", r.Ratio())
		}
		overhead := "–"
		if okE && e.Goodput() > 0 {
			overhead = fmt.Sprintf("%.1f%%", 100*c.Goodput()/e.Goodput())
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %.2f%% | %d | %d | %s | %s | %s |",
			sc.Name, ratio(c, true), t90OrDash(c, true), ratio(s, okS), c.ThrottledPct(), c.Early, c.Lost, ratio(e, okE), t90OrDash(e, okE), overhead))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "## `politely crawl` against its engine\n\n"+
		"`%s` is `politely crawl` with its default config (robots.txt on, the listing paged %d items a page, "+
		"the output file written), from a cold start; `%s` the same with a state directory; `%s` the engine "+
		"with the default strategy fetching the same items, with no listing, robots.txt or output. × optimum "+
		"counts a crawl's listing pages against it (one request per %d items); for an unlimited server the "+
		"column holds items/s. Crawl / engine is the crawl's items/s over the engine row's: the crawl's own overhead.\n\n",
		CrawlDefault, crawlPerPage, CrawlState, Engine, crawlPerPage)
	fmt.Fprintf(w, "| scenario | %[1]s × optimum | T90 cold | %[2]s × optimum | throttled | early | lost | %[3]s × optimum | %[3]s T90 | crawl / engine |\n", CrawlDefault, CrawlState, Engine)
	fmt.Fprint(w, "|---|", strings.Repeat("---:|", 9), "\n")
	fmt.Fprintln(w, strings.Join(rows, "\n"))
	fmt.Fprintln(w)
}

func t90OrDash(r Result, ok bool) string {
	if !ok || !r.Limited() {
		return "–"
	}
	return t90Text(r, 0)
}

// writeCrawlNotes writes what a crawl scenario's table leaves out: what the
// crawls delivered and their overhead over the engine-level row.
func (rep Report) writeCrawlNotes(w io.Writer, scenario string) {
	e, okE := rep.find(scenario, Engine)
	for _, name := range []string{CrawlDefault, CrawlState} {
		r, ok := rep.find(scenario, name)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "\n`%s`: %d lost, %d written twice, %d robots violations", name, r.Lost, r.Twice, r.RobotsViolations)
		if okE && e.Goodput() > 0 {
			fmt.Fprintf(w, "; %.0f items/s, %.1f%% of `%s`'s %.0f", r.Goodput(), 100*r.Goodput()/e.Goodput(), Engine, e.Goodput())
		}
		fmt.Fprint(w, ".\n")
	}
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
