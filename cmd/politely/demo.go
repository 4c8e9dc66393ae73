package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
)

// demoConfig is the demo's crawl config; the verbs are the mock API's URL
// and the output path.
const demoConfig = `user_agent: "politely-demo/1.0 (+https://github.com/politely/politely)"
source:
  url: "%s/items?per_page=50"
  pagination: {style: link}
  items_field: items
task:
  url: "{+detail_path}"
limits:
  concurrency: {initial: 4, max: 64}
  timeout: 2s
  retries: 4
  backoff: {base: 50ms, max: 1s}
politeness:
  robots: true
output: %q
`

// demoSample is the demo's progress sampling interval, for the plot.
const demoSample = 250 * time.Millisecond

func newDemoCmd() *cobra.Command {
	var dir string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Crawl an embedded mock API politely and plot how it went",
		Long: `Start an in-process mock API (the "demo" preset: 500 items behind Link
pagination, 16 slots x 20 ms, a 200 req/s quota, light faults, robots.txt
hiding private items), crawl it with a built-in config, print the summary and
what the server saw, and write a PNG plot of the concurrency limit and the
throughput over time. It takes a few seconds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), dir, quiet, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the output, failed file and plot (default: a new temp dir)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no live status line on stderr")
	return cmd
}

func runDemo(ctx context.Context, dir string, quiet bool, stdout, stderr io.Writer) error {
	sc, err := mockapi.Preset("demo")
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("start the mock API: %w", err)}
	}
	defer func() { _ = srv.Close() }()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "politely-demo-"); err != nil {
			return &exitError{code: exitFailed, err: err}
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--dir: %w", err)}
	}
	out := filepath.Join(dir, "items.jsonl")
	cfg, err := crawl.Parse("demo.yaml", fmt.Appendf(nil, demoConfig, srv.URL(), out))
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("the demo's config: %w", err)}
	}
	fmt.Fprintf(stdout, "demo: mock API %q at %s (%s)\n", sc.Name, srv.URL(), sc.Description)
	fmt.Fprintf(stdout, "demo: crawling into %s\n", dir)

	log, err := newLogger("console", zap.InfoLevel, stderr)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	var rec demoRecorder
	var status *statusLine
	if !quiet && isTerminal(stderr) {
		status = &statusLine{w: stderr}
	}
	sum, err := crawl.Run(ctx, cfg, crawl.WithLogger(log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		crawl.WithProgress(demoSample, func(p crawl.Progress) {
			rec.add(p)
			if status != nil {
				status.show(p)
			}
		}))
	status.end()
	if err := finishCrawl(sum, err, &reporter{stdout: stdout}); err != nil {
		return err
	}

	st := srv.Stats()
	fmt.Fprintf(stdout, "demo: the server saw %d requests, %d throttled (429/503), %d sent before a Retry-After had passed, %d to paths robots.txt disallows\n",
		st.Requests, st.Throttled(), st.EarlyRequests, st.RobotsViolations)
	fmt.Fprintf(stdout, "demo: %d items written to %s, %d in %s (%d broken for good, %d private)\n",
		sum.Succeeded, out, sum.Failed, cfg.FailedPath(), len(st.BrokenItems), sc.Items/sc.Robots.PrivateEvery)

	plot := filepath.Join(dir, "demo.png")
	if err := benchmarks.WritePlot(plot, "politely demo: "+sc.Name, rec.panels(sc.Optimum())...); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("plot: %w", err)}
	}
	fmt.Fprintf(stdout, "demo: plot of the concurrency limit and throughput in %s\n", plot)
	return nil
}

// demoRecorder keeps the progress snapshots as time series for the plot.
type demoRecorder struct {
	mu                                 sync.Mutex
	limit, inFlight, throughput, sends []benchmarks.Point
	last                               crawl.Progress
}

func (r *demoRecorder) add(p crawl.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limit = append(r.limit, benchmarks.Point{At: p.Elapsed, Value: float64(p.Limit)})
	r.inFlight = append(r.inFlight, benchmarks.Point{At: p.Elapsed, Value: float64(p.InFlight)})
	r.throughput = append(r.throughput, benchmarks.Point{At: p.Elapsed, Value: p.Rate})
	var sent float64
	if dt := (p.Elapsed - r.last.Elapsed).Seconds(); dt > 0 {
		sent = float64(p.Requests-r.last.Requests) / dt
	}
	r.sends = append(r.sends, benchmarks.Point{At: p.Elapsed, Value: sent})
	r.last = p
}

// panels are the plot's: the concurrency limit with the requests in flight,
// and the items finished and requests sent per second with the server's
// optimum.
func (r *demoRecorder) panels(optimum float64) []benchmarks.Panel {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ref []benchmarks.Point
	if n := len(r.throughput); n > 0 {
		ref = []benchmarks.Point{{At: 0, Value: optimum}, {At: r.throughput[n-1].At, Value: optimum}}
	}
	return []benchmarks.Panel{
		{YLabel: "concurrency", Series: []benchmarks.Series{
			{Name: "limit", Points: r.limit},
			{Name: "in flight", Points: r.inFlight},
		}},
		{YLabel: "per second", Series: []benchmarks.Series{
			{Name: "items done", Points: r.throughput},
			{Name: "requests sent", Points: r.sends},
			{Name: fmt.Sprintf("server optimum (%.0f req/s)", optimum), Points: ref, Reference: true},
		}},
	}
}
