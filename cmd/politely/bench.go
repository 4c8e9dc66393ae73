package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/mockapi"
)

// benchFlags are politely bench's flags.
type benchFlags struct {
	quick     bool
	out       string
	scenarios []string
	scale     float64
	redis     string
	hosts     benchmarks.ManyHostsShape
	profile   string // many-hosts: the crawl's CPU profile
	tls       bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--out DIR] [--scenario NAME...]",
		Short: "Measure the strategies and politely crawl against the mock API scenarios; write a report and plots",
		Long: `Run each engine scenario (quota, capacity, capacity-step, header-quota, fast)
with each strategy (the fixed-50 baseline, aimd, gradient2, vegas, the default),
and each crawl scenario (crawl-capacity, crawl-capacity-tight,
crawl-inflight-429, crawl-quota-no-headers, crawl-quota-no-retry-after,
crawl-header-fixed, crawl-header-sliding, crawl-header-token-bucket,
crawl-header-token-bucket-1, crawl-blackout, crawl-fast)
with politely crawl's default config from a cold start, without and with
state, next to the engine's default strategy on the same items (--quick
runs the crawl without state only, but for the blackout and the fast mock).
Each run is
against a fresh mock server on 127.0.0.1. Write REPORT.md (a table per
scenario and the targets with their verdicts), results.json and a PNG per
scenario into --out.

The full run takes about 17 minutes; --quick about a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), f, benchCommandLine(cmd), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.quick, "quick", false, "small runs (for CI): a fraction of the full work")
	fl.StringVar(&f.out, "out", "bench", "directory for REPORT.md, results.json and the plots")
	fl.StringSliceVar(&f.scenarios, "scenario", nil, "run only these scenarios (repeat or separate by commas)")
	fl.Float64Var(&f.scale, "scale", 0, "size of the runs as a fraction of the full ones (tests)")
	fl.StringVar(&f.redis, "redis", "", "instead of the suite, compare 1, 2 and 4 politely crawl --redis processes on this Redis against the quota, capacity and fast mocks (REDIS.md, a plot per mock)")
	fl.BoolVar(&f.tls, "tls", false, "serve the scenarios' mocks (many-hosts' hosts and listing too) over HTTPS, HTTP/2 offered (a self-signed certificate the clients trust), as real APIs are; --redis is not run over it")
	addManyHostsFlags(fl, &f.hosts)
	fl.StringVar(&f.profile, "cpu-profile", "", "many-hosts: write a CPU profile of the crawl to this file, its goroutines labelled side=crawl and the mock servers' side=mock (go tool pprof -tagfocus side=crawl)")
	_ = fl.MarkHidden("scale") // cannot fail: the flag exists
	cmd.MarkFlagsMutuallyExclusive("quick", "scale")
	return cmd
}

// benchCommandLine is the command as the user typed it, for the report.
func benchCommandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		switch fl.Value.Type() {
		case "bool":
			parts = append(parts, "--"+fl.Name)
		case "stringSlice":
			for _, v := range strings.Split(strings.Trim(fl.Value.String(), "[]"), ",") {
				parts = append(parts, "--"+fl.Name, v)
			}
		default:
			parts = append(parts, "--"+fl.Name, fl.Value.String())
		}
	})
	return strings.Join(parts, " ")
}

// runBench runs the suite, prints a line per run and the targets, and writes the report.
func runBench(ctx context.Context, f benchFlags, command string, stdout io.Writer) error {
	scale := 1.0
	switch {
	case f.quick:
		scale = benchmarks.QuickScale
	case f.scale != 0:
		scale = f.scale
	}
	names, manyHosts := takeManyHosts(f.scenarios)
	if f.tls && f.redis != "" {
		return &exitError{code: exitUsage, err: errors.New("bench: --tls serves the suite's scenarios and many-hosts; --redis serves plain HTTP only")}
	}
	if f.redis != "" {
		return runRedisBench(ctx, f.redis, f.out, scale, f.scenarios, stdout)
	}
	var (
		opts []benchmarks.Option
		cert *mockapi.Cert
	)
	if f.tls {
		var err error
		if cert, err = mockapi.NewCert(); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("bench: --tls: %w", err)}
		}
		opts = append(opts, benchmarks.WithTLS(cert))
	}
	suite, err := benchmarks.Suite(scale)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("bench: --scale: %w", err)}
	}
	crawls, err := benchmarks.CrawlSuite(scale, benchCrawler)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("bench: --scale: %w", err)}
	}
	if f.quick {
		crawls = benchmarks.QuickCrawls(crawls)
	}
	suite = append(suite, crawls...)
	if manyHosts && len(names) == 0 && len(f.scenarios) > 0 {
		return runManyHosts(ctx, scale, f.hosts, cert, f.profile, f.out, stdout)
	}
	if suite, err = benchmarks.Select(suite, names); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("bench: --scenario: %w", err)}
	}
	date := time.Now()
	machine := benchmarks.ThisMachine()
	opts = append(opts, benchmarks.WithOnResult(func(r benchmarks.Result) {
		median := ""
		if r.Runs > 1 {
			median = fmt.Sprintf("  (median of %d runs)", r.Runs)
		}
		fmt.Fprintf(stdout, "%-14s %-18s %7d items in %6.2fs  %8.0f items/s  throttled %5.2f%%  p99 %v%s\n",
			r.Scenario, r.Strategy, r.Items, r.Elapsed.Seconds(), r.Goodput(), r.ThrottledPct(), r.P99.Round(100*time.Microsecond), median)
	}))
	results, runErr := benchmarks.Run(ctx, suite, benchmarks.Strategies(), opts...)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return &exitError{code: exitFailed, err: runErr}
	}
	rep := benchmarks.NewReport(command, date, machine, suite, results)
	if err := rep.Write(f.out); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintln(stdout)
	for _, t := range rep.Targets() {
		verdict := "met"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(stdout, "%-6s %s: %s\n", verdict, t.Name, t.Measured)
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", filepath.Join(f.out, benchmarks.ReportFile))
	if manyHosts && runErr == nil {
		fmt.Fprintln(stdout)
		if err := runManyHosts(ctx, scale, f.hosts, cert, f.profile, f.out, stdout); err != nil {
			return err
		}
	}
	if runErr != nil {
		return &exitError{code: exitInterrupted, err: fmt.Errorf("bench: %w (the report holds the runs that finished)", runErr)}
	}
	return nil
}
