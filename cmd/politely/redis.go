package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/state/redisstate"
)

// exportFlags are politely export's flags.
type exportFlags struct {
	config, redis, out, failed string
	wait                       bool
}

func newExportCmd() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export -c FILE --redis URL",
		Short: "Write the output and failed files of a crawl shared through Redis",
		Long: `Write the output and failed files of the crawl that politely crawl --redis
processes run together (the crawl the config names), every finished item
exactly once, in the crawl-config format. During the crawl it writes what is
finished so far; with --wait it waits until the crawl is finished. Each file
is written whole to a temporary file and renamed: a reader never sees a
partial line.

Exit codes: 0 written, 1 Redis unreachable or a file could not be written,
2 bad usage or config (Redis holding a crawl of another config included),
130 interrupted while waiting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "the crawl's YAML config file (required)")
	fl.StringVar(&f.redis, "redis", "", "the Redis the crawl runs on: redis://[:PASSWORD@]HOST:PORT/DB (required)")
	fl.StringVar(&f.out, "out", "", "output JSONL file; default the config's output")
	fl.StringVar(&f.failed, "failed", "", "failed items' JSONL file; default the config's failed file")
	fl.BoolVar(&f.wait, "wait", false, "wait until the crawl is finished, then write the files")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("redis")
	return cmd
}

// exported is what export prints.
type exported struct {
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	Finished  bool   `json:"finished"`
	Output    string `json:"output"`
	FailedTo  string `json:"failed_file"`
}

func runExport(ctx context.Context, f exportFlags, stdout, stderr io.Writer) error {
	log, err := newLogger("console", zapcore.InfoLevel, stderr)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	cfg, err := crawl.Load(f.config)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if f.out != "" {
		cfg.Output = f.out
	}
	if f.failed != "" {
		cfg.Failed = f.failed
	}
	if err := cfg.CheckPaths(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	c, err := openObserver(ctx, cfg, f.redis, log)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := onSignals(ctx, log, func() {})
	defer stop()
	finished, err := c.Finished(ctx)
	for err == nil && f.wait && !finished {
		select {
		case <-ctx.Done():
			return &exitError{code: exitInterrupted, err: errors.New("export interrupted while waiting for the crawl to finish")}
		case <-time.After(500 * time.Millisecond):
		}
		finished, err = c.Finished(ctx)
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	out, failed, err := c.Export(ctx, cfg.Output, cfg.FailedPath())
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	line, _ := json.Marshal(exported{Succeeded: out, Failed: failed, Finished: finished, Output: cfg.Output, FailedTo: cfg.FailedPath()})
	fmt.Fprintln(stdout, string(line))
	return nil
}

// openObserver opens the crawl cfg names in Redis without joining it, with
// the exit codes of crawl: 2 for a URL that is not Redis's or Redis holding
// another config's crawl, 1 for Redis unreachable.
func openObserver(ctx context.Context, cfg *crawl.Config, url string, log *zap.Logger) (*redisstate.Crawl, error) {
	if err := redisstate.CheckURL(url); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--redis: %w", err)}
	}
	c, err := crawl.OpenRedis(ctx, cfg, url, redisstate.Observing(), redisstate.WithLogger(log))
	var ce *crawl.ConfigError
	switch {
	case errors.As(err, &ce):
		return nil, &exitError{code: exitUsage, err: err}
	case err != nil:
		return nil, &exitError{code: exitFailed, err: err}
	}
	return c, nil
}

// statusFlags are politely status's flags.
type statusFlags struct {
	config, redis string
	json          bool
}

func newStatusCmd() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status -c FILE --redis URL",
		Short: "Show the progress of a crawl shared through Redis",
		Long: `Show the progress of the crawl that politely crawl --redis processes run
together: listing pages, items done, failed, pending and in flight, the
workers alive, the worker walking the listing, and each host's shared rate
and gate. --json prints it as one JSON object.

Exit codes: 0 shown, 1 Redis unreachable, 2 bad usage or config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "the crawl's YAML config file (required)")
	fl.StringVar(&f.redis, "redis", "", "the Redis the crawl runs on: redis://[:PASSWORD@]HOST:PORT/DB (required)")
	fl.BoolVar(&f.json, "json", false, "print the status as JSON")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("redis")
	return cmd
}

func runStatus(ctx context.Context, f statusFlags, stdout, stderr io.Writer) error {
	log, err := newLogger("console", zapcore.InfoLevel, stderr)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	cfg, err := crawl.Load(f.config)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	c, err := openObserver(ctx, cfg, f.redis, log)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if f.json {
		b, _ := json.Marshal(st)
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprint(stdout, formatCrawlStatus(st))
	return nil
}

// formatCrawlStatus is status's text.
func formatCrawlStatus(st redisstate.Status) string {
	var b strings.Builder
	state := "running"
	switch {
	case !st.Started:
		state = "not started: no worker has joined it in this Redis"
	case st.Finished:
		state = "finished"
	case st.Exhausted:
		state = "listing done, items left"
	}
	fmt.Fprintf(&b, "crawl      %s (%s)\n", st.Fingerprint[:min(12, len(st.Fingerprint))], state)
	fmt.Fprintf(&b, "pages      %d\n", st.Pages)
	fmt.Fprintf(&b, "items      %d listed: %d done, %d failed, %d pending, %d in flight\n",
		st.Items.Listed, st.Items.Done, st.Items.Failed, st.Items.Pending, st.Items.InFlight)
	fmt.Fprintf(&b, "requests   %d (%d retries, %d throttled)\n", st.Requests, st.Retries, st.Throttled)
	lister := st.Lister
	if lister == "" {
		lister = "none"
	}
	fmt.Fprintf(&b, "workers    %d alive: %s (listing: %s)\n", len(st.Workers), strings.Join(st.Workers, ", "), lister)
	for _, h := range st.Hosts {
		rate := "no rate"
		if h.Rate > 0 {
			rate = fmt.Sprintf("%.1f/s", h.Rate)
		}
		gate := "open"
		if !h.GateUntil.IsZero() {
			gate = "closed until " + h.GateUntil.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(&b, "host       %s: %s, gate %s\n", h.Host, rate, gate)
	}
	return b.String()
}
