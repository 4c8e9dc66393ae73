package benchmarks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a report was measured.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run started ("" where there is none).
	LoadAvg string `json:"load_avg"`
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg = f[0]
		}
	}
	return m
}

// ScenarioInfo is what a report says about a scenario besides its results.
type ScenarioInfo struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Work        int           `json:"work"`
	Cap         time.Duration `json:"cap"`
}

// Report is a whole bench run: the input of the markdown report and the plots.
type Report struct {
	Command   string         `json:"command"`
	Date      time.Time      `json:"date"`
	Machine   Machine        `json:"machine"`
	Scenarios []ScenarioInfo `json:"scenarios"`
	Results   []Result       `json:"results"`
}

// NewReport gathers a run's results with what describes them.
func NewReport(command string, date time.Time, m Machine, suite []Scenario, results []Result) Report {
	rep := Report{Command: command, Date: date, Machine: m, Results: results}
	for _, sc := range suite {
		rep.Scenarios = append(rep.Scenarios, ScenarioInfo{Name: sc.Name, Description: sc.Mock.Description, Work: sc.Work, Cap: sc.Cap})
	}
	return rep
}

// results returns the results of scenario name, in run order.
func (rep Report) results(name string) []Result {
	var out []Result
	for _, r := range rep.Results {
		if r.Scenario == name {
			out = append(out, r)
		}
	}
	return out
}

func (rep Report) find(scenario, strategy string) (Result, bool) {
	for _, r := range rep.Results {
		if r.Scenario == scenario && r.Strategy == strategy {
			return r, true
		}
	}
	return Result{}, false
}

// PlotFile is the PNG of a scenario's plot, relative to the report.
func PlotFile(scenario string) string { return scenario + ".png" }

// WriteMarkdown writes the report: the machine, the command and the date, the
// targets with their verdicts, and a table and a plot per scenario.
func (rep Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("# politely bench (mock servers)\n\n")
	p("- command: `%s`\n", rep.Command)
	p("- date: %s\n", rep.Date.UTC().Format("2006-01-02 15:04 MST"))
	m := rep.Machine
	p("- machine: %s/%s, %d CPUs (runtime.NumCPU), %s", m.OS, m.Arch, m.CPUs, m.GoVersion)
	if m.LoadAvg != "" {
		p(", load average %s at the start", m.LoadAvg)
	}
	p("\n\n")
	p("Each run fetches `work` items (detail requests that must succeed) from a fresh mock server on "+
		"127.0.0.1, through the engine; the run stops at its cap if unfinished. Throttled (429, 503, 403) "+
		"and errors are the server's ground truth (`/__stats`) as a share of its answers; latency is that "+
		"of successful requests, from sending to the end of the body. × optimum is items over what the "+
		"optimum allows in the run's time; steady leaves out %s after the start and each capacity step. "+
		"T90 is when goodput first holds 90%% of the optimum over %s (from the start, or from a step). "+
		"Max limit is the highest concurrency limit sampled; early counts requests the client sent after "+
		"it had received an answer telling it to wait (before a Retry-After's time, or before the "+
		"X-RateLimit-Reset of an answer with X-RateLimit-Remaining: 0); early at server counts those that "+
		"arrived after the server had told the client (on another connection, not those within 5 ms of the "+
		"answer or first on a connection opened before it: they may have been on their way).\n\n",
		settleOf(rep.Results), T90Window)
	p("Strategies: `%s` is the classic pattern (the engine with 50 consumers and a plain net/http client, "+
		"no limiter); the others are the engine over transport over limiter with that algorithm "+
		"(`%s` is the limiter's \"\").\n\n", Baseline, Default)

	rep.writeHeadline(bw)
	rep.writeCrawlHeadline(bw)
	p("## Targets\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, t := range rep.Targets() {
		verdict := "met"
		if !t.Met {
			verdict = "**missed**"
		}
		p("| %s | %s | %s |\n", t.Name, t.Measured, verdict)
	}
	p("\n")

	for _, sc := range rep.Scenarios {
		rs := rep.results(sc.Name)
		if len(rs) == 0 {
			continue
		}
		p("## %s\n\n%s. Work: %d items per run, cap %s.", sc.Name, sc.Description, sc.Work, sc.Cap)
		if rs[0].Limited() {
			p(" Optimum: %s items/s.", optimumText(rs[0]))
		}
		if rs[0].Runs > 1 {
			p(" Each row is its strategy's median run by items/s of %d, the strategies run in an order rotated each round.", rs[0].Runs)
		}
		p("\n\n")
		writeTable(bw, rs)
		rep.writeCrawlNotes(bw, sc.Name)
		if o, ok := rep.overhead(); ok && sc.Name == o.scenario {
			p("\nHTTP overhead: `%s` makes %.0f items/s, `%s` %.0f items/s: %.1f%% of the bare pool.\n",
				OverheadPolitely, o.politely, OverheadNetHTTP, o.netHTTP, 100*o.politely/o.netHTTP)
		}
		p("\n![%s](%s)\n\n", sc.Name, PlotFile(sc.Name))
	}
	return bw.Flush()
}

// writeHeadline writes the default strategy against the baseline, a row per scenario.
func (rep Report) writeHeadline(w io.Writer) {
	fmt.Fprintf(w, "## Headline: %s against %s\n\n", Default, Baseline)
	fmt.Fprintf(w, "| scenario | optimum (items/s) | %[1]s items/s | × optimum | throttled | T90 cold | %[2]s items/s | × optimum | throttled | T90 cold |\n", Default, Baseline)
	fmt.Fprint(w, "|---|", strings.Repeat("---:|", 9), "\n")
	cells := func(r Result, ok bool) string {
		if !ok {
			return "– | – | – | –"
		}
		ratio, t90 := "–", "–"
		if r.Limited() {
			ratio, t90 = fmt.Sprintf("%.3f", r.Ratio()), t90Text(r, 0)
		}
		capped := ""
		if r.Capped {
			capped = " (capped)"
		}
		return fmt.Sprintf("%.0f%s | %s | %.2f%% | %s", r.Goodput(), capped, ratio, r.ThrottledPct(), t90)
	}
	for _, sc := range rep.Scenarios {
		d, okD := rep.find(sc.Name, Default)
		b, okB := rep.find(sc.Name, Baseline)
		if !okD && !okB {
			continue
		}
		ref := d
		if !okD {
			ref = b
		}
		opt := "unlimited"
		if ref.Limited() {
			opt = optimumText(ref)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", sc.Name, opt, cells(d, okD), cells(b, okB))
	}
	fmt.Fprintln(w)
}

// writeTable writes one scenario's table.
func writeTable(w io.Writer, rs []Result) {
	limited := rs[0].Limited()
	var steps []time.Duration // a T90 column for each step to a non-zero optimum
	for _, s := range rs[0].Steps() {
		if rs[0].OptimumAt(s) > 0 {
			steps = append(steps, s)
		}
	}
	fmt.Fprint(w, "| strategy | items | time | items/s |")
	if limited {
		fmt.Fprint(w, " × optimum | steady |")
	}
	fmt.Fprint(w, " throttled | errors | p50 | p99 |")
	if limited {
		fmt.Fprint(w, " T90 cold |")
		for _, s := range steps {
			fmt.Fprintf(w, " T90 after %s |", s)
		}
	}
	fmt.Fprint(w, " max limit | server max in flight | early | early at server |\n|---|")
	cols := 11 + len(steps)
	if limited {
		cols += 3
	}
	fmt.Fprint(w, strings.Repeat("---:|", cols), "\n")
	for _, r := range rs {
		items := fmt.Sprintf("%d", r.Items)
		if r.Capped {
			items += fmt.Sprintf(" of %d (capped)", r.Work)
		}
		if r.Failed > 0 {
			items += fmt.Sprintf(", %d failed", r.Failed)
		}
		fmt.Fprintf(w, "| %s | %s | %.2f s | %.0f |", r.Strategy, items, r.Elapsed.Seconds(), r.Goodput())
		if limited {
			fmt.Fprintf(w, " %.3f | %s |", r.Ratio(), ratioText(r.SteadyRatio()))
		}
		fmt.Fprintf(w, " %.2f%% | %.2f%% | %s | %s |", r.ThrottledPct(), r.ErrorPct(), durText(r.P50), durText(r.P99))
		if limited {
			fmt.Fprintf(w, " %s |", t90Text(r, 0))
			for _, s := range steps {
				fmt.Fprintf(w, " %s |", t90Text(r, s))
			}
		}
		fmt.Fprintf(w, " %d | %d | %d | %d |\n", r.maxLimit(), r.MaxServer, r.Early, r.EarlyAtServer)
	}
}

func maxElapsed(rs []Result) time.Duration {
	var m time.Duration
	for _, r := range rs {
		m = max(m, r.Elapsed)
	}
	return m
}

// optimumSeries is the optimum as a step line up to end, for plots.
func (r Result) optimumSeries(end time.Duration) []Point {
	var pts []Point
	for i, l := range r.Optimum {
		if i > 0 {
			pts = append(pts, Point{At: l.At, Value: r.Optimum[i-1].PerSec})
		}
		pts = append(pts, Point{At: l.At, Value: l.PerSec})
	}
	if len(pts) > 0 {
		pts = append(pts, Point{At: end, Value: pts[len(pts)-1].Value})
	}
	return pts
}

func (r Result) maxLimit() int {
	m := 0
	for _, s := range r.Samples {
		m = max(m, s.Limit)
	}
	return m
}

func settleOf(rs []Result) time.Duration {
	if len(rs) == 0 {
		return 0
	}
	return rs[0].Settle
}

func optimumText(r Result) string {
	parts := make([]string, len(r.Optimum))
	for i, l := range r.Optimum {
		if i == 0 {
			parts[i] = fmt.Sprintf("%.0f", l.PerSec)
		} else {
			parts[i] = fmt.Sprintf("%.0f from %s", l.PerSec, l.At)
		}
	}
	return strings.Join(parts, ", ")
}

func ratioText(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

func durText(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func t90Text(r Result, from time.Duration) string {
	d, ok := r.T90(from)
	if !ok {
		return "never"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// WritePlots writes a PNG per scenario into dir (see PlotFile): the
// concurrency limit and the goodput (mean over 0.5 s) over time, one line per
// strategy, and the optimum where there is one. It returns the paths written.
func (rep Report) WritePlots(dir string) ([]string, error) {
	var paths []string
	for _, sc := range rep.Scenarios {
		rs := rep.results(sc.Name)
		if len(rs) == 0 {
			continue
		}
		limit := Panel{YLabel: "concurrency limit"}
		goodput := Panel{YLabel: "goodput (items/s, 0.5 s mean)"}
		for _, r := range rs {
			limit.Series = append(limit.Series, Series{Name: r.Strategy, Points: r.LimitSeries()})
			if g := r.GoodputSeries(T90Window); len(g) > 0 {
				goodput.Series = append(goodput.Series, Series{Name: r.Strategy, Points: g})
			}
		}
		if opt := rs[0].optimumSeries(maxElapsed(rs)); len(opt) > 0 && len(goodput.Series) > 0 {
			goodput.Series = append(goodput.Series, Series{Name: "optimum", Points: opt, Reference: true})
		}
		panels := []Panel{limit}
		if len(goodput.Series) > 0 {
			panels = append(panels, goodput)
		}
		path := filepath.Join(dir, PlotFile(sc.Name))
		if err := WritePlot(path, sc.Name+": "+sc.Description, panels...); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// Report files written by Write.
const (
	ReportFile  = "REPORT.md"
	ResultsFile = "results.json"
)

// Write writes the report into dir, creating it: ReportFile, ResultsFile (the
// report as JSON, the one data format of every stage) and the plots.
func (rep Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("benchmarks: %w", err)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("benchmarks: encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), data, 0o644); err != nil {
		return fmt.Errorf("benchmarks: %w", err)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return fmt.Errorf("benchmarks: write report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportFile), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("benchmarks: %w", err)
	}
	if _, err := rep.WritePlots(dir); err != nil {
		return fmt.Errorf("benchmarks: %w", err)
	}
	return nil
}
