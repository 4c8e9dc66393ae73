package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/state/redisstate"
)

// crawlFlags are politely crawl's flags, as the crawl spec lists them.
type crawlFlags struct {
	config      string
	out         string
	state       string
	stats       string
	metricsAddr string
	logFormat   string
	logLevel    string
	quiet       bool
	resetState  bool
	check       bool
	redis       string
	worker      string
}

func newCrawlCmd() *cobra.Command {
	var f crawlFlags
	cmd := &cobra.Command{
		Use:   "crawl -c FILE",
		Short: "Crawl the API a YAML config describes into JSON Lines",
		Long: `Crawl the paginated API described by a YAML config file (see the crawl-config
spec) politely: per-host rate and adaptive concurrency, Retry-After, quota
headers and robots.txt honoured. Items go to the output file as JSON Lines,
items that failed for good to the failed file, and a summary to stdout.

With a state directory (state: in the config, or --state) the crawl can be
stopped at any moment, even with kill -9, and run again with the same command:
it continues where it stopped, and every item ends up in the output exactly
once. The first SIGINT or SIGTERM stops reading the listing, lets the requests
in flight finish (up to limits.timeout, at most 5s) and saves the state; a
second one exits at once (the next run still resumes), still printing the
summary and writing --stats from the counters so far.

--check validates the config and that the output, failed, state and --stats
paths can be written, sends no request, and exits 0 or 2.

Exit codes: 0 finished, 1 could not run or finish, 2 bad usage or config (a
config changed since its state was written included), 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCrawl(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "the crawl's YAML config file (required)")
	fl.StringVar(&f.out, "out", "", "output JSONL file; overrides the config's output")
	fl.StringVar(&f.state, "state", "", "state directory for resuming; overrides the config's state")
	fl.BoolVar(&f.resetState, "reset-state", false, "delete the state and start the crawl over")
	fl.StringVar(&f.stats, "stats", "", "write the summary as JSON to this file when the crawl ends")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics while crawling")
	fl.StringVar(&f.logFormat, "log-format", "console", "log format on stderr: console or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	fl.BoolVar(&f.quiet, "quiet", false, "no live status line on stderr")
	fl.BoolVar(&f.check, "check", false, "validate the config and its paths, send no request, exit 0 (valid) or 2")
	fl.StringVar(&f.redis, "redis", "", "work on the crawl shared through this Redis (redis://[:PASSWORD@]HOST:PORT/DB) with every process of the same config; politely export writes its files")
	fl.StringVar(&f.worker, "worker", "", "this process's name in Redis (default: host name and PID)")
	_ = cmd.MarkFlagRequired("config") // cannot fail: the flag exists
	return cmd
}

// runCrawl runs one crawl and maps its result to the spec's exit codes.
func runCrawl(ctx context.Context, f crawlFlags, stdout, stderr io.Writer) error {
	// On a terminal the logs go through the status line, which keeps itself
	// below them instead of being overwritten by them.
	var status *statusLine
	logTo := stderr
	if !f.quiet && isTerminal(stderr) {
		status = &statusLine{w: stderr}
		logTo = status
	}
	level, err := parseLevel(f.logLevel)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	log, err := newLogger(f.logFormat, level, logTo)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer func() { _ = log.Sync() }()

	cfg, err := crawl.Load(f.config)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.out != "" {
		cfg.Output = f.out
	}
	if f.state != "" {
		cfg.State = f.state
	}

	if f.redis != "" {
		if err := redisstate.CheckURL(f.redis); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--redis: %w", err)}
		}
	}
	if f.worker != "" && f.redis == "" {
		return &exitError{code: exitUsage, err: errors.New("--worker: needs --redis")}
	}
	if f.resetState && cfg.State == "" && f.redis == "" {
		return &exitError{code: exitUsage, err: errors.New("--reset-state: no state to reset (give state: in the config or --state)")}
	}
	if err := cfg.CheckPaths(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.stats != "" {
		if err := cfg.CheckOtherPath("--stats", f.stats); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	if f.check {
		for _, w := range cfg.Warnings {
			log.Warn("config: " + w)
		}
		fmt.Fprintf(stdout, "%s: valid; output %s, failed %s\n", f.config, cfg.Output, cfg.FailedPath())
		return nil
	}
	opts := []crawl.RunOption{crawl.WithLogger(log)}
	if f.resetState {
		opts = append(opts, crawl.WithResetState())
	}
	if f.redis != "" {
		opts = append(opts, crawl.WithRedis(f.redis, f.worker))
	}
	if f.metricsAddr != "" {
		reg := newMetricsRegistry()
		addr, stop, err := serveMetrics(f.metricsAddr, reg)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		defer stop()
		log.Info("serving metrics", zap.String("url", "http://"+addr+"/metrics"))
		opts = append(opts, crawl.WithRegisterer(reg))
	}
	if status != nil {
		opts = append(opts, crawl.WithProgress(500*time.Millisecond, status.show))
	}

	var live crawl.LiveSummary
	opts = append(opts, crawl.WithLiveSummary(&live))
	rep := &reporter{stats: f.stats, stdout: stdout}
	ctx, stop := onSignals(ctx, log, func() {
		if sum, ok := live.Summary(); ok {
			status.end()
			_ = rep.report(sum) // exiting at once: an error here has nowhere to go but the log
		}
	})
	defer stop()
	sum, err := crawl.Run(ctx, cfg, opts...)
	status.end()
	if err == nil {
		warnAllFailed(log, sum, cfg.FailedPath())
	}
	return finishCrawl(sum, err, rep)
}

// reporter prints the summary and writes it to the --stats file, once: the
// crawl's end and a second interrupt may race to do it.
type reporter struct {
	mu     sync.Mutex
	done   bool
	stats  string
	stdout io.Writer
}

// report prints sum and writes the stats file, unless that was done.
func (r *reporter) report(sum crawl.Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	line, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	fmt.Fprintln(r.stdout, string(line))
	if r.stats != "" {
		if err := os.WriteFile(r.stats, append(line, '\n'), 0o644); err != nil {
			return fmt.Errorf("--stats: %w", err)
		}
	}
	return nil
}

// onSignals returns a context cancelled at the first SIGINT or SIGTERM, so
// that the crawl stops reading, drains and saves its state; at the second it
// calls last (which reports the summary so far) and exits the process at
// once, with code 130. stop ends the watch.
func onSignals(ctx context.Context, log *zap.Logger, last func()) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		log.Warn("interrupted: finishing the requests in flight and saving the state; interrupt again to exit at once")
		cancel()
		select {
		case <-sigs:
			log.Warn("interrupted again: exiting at once; the next run resumes from the last saved state")
			last()
			_ = log.Sync()
			os.Exit(exitInterrupted)
		case <-done:
		}
	})
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
		cancel()
	}
}

// finishCrawl reports the summary and maps err to an exit code.
func finishCrawl(sum crawl.Summary, err error, rep *reporter) error {
	var ce *crawl.ConfigError
	if errors.As(err, &ce) {
		return &exitError{code: exitUsage, err: err}
	}
	if rerr := rep.report(sum); rerr != nil {
		err = errors.Join(err, rerr)
	}
	switch {
	case sum.Interrupted:
		if err == nil {
			err = errors.New("crawl interrupted")
		}
		return &exitError{code: exitInterrupted, err: err}
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}
