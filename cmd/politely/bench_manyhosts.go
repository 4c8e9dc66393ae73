package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/politely/politely/benchmarks"
)

// takeManyHosts removes the many-host scenario from the names --scenario
// gave and says whether it is to run: when named, or when no name was given.
func takeManyHosts(names []string) ([]string, bool) {
	if len(names) == 0 {
		return nil, true
	}
	i := slices.Index(names, benchmarks.ManyHostsName)
	if i < 0 {
		return names, false
	}
	return slices.Delete(slices.Clone(names), i, i+1), true
}

// runManyHosts runs the many-host scenario with politely crawl, prints its
// table and targets and writes them to many-hosts.md in out.
func runManyHosts(ctx context.Context, scale float64, out string, stdout io.Writer) error {
	mh, err := benchmarks.NewManyHosts(scale)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("bench: --scale: %w", err)}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	res, err := benchmarks.RunManyHosts(ctx, mh, benchCrawler, out)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if err := benchmarks.WriteManyHosts(stdout, res); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, benchmarks.ManyHostsName+".md"))
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	if err := benchmarks.WriteManyHosts(f, res); err != nil {
		_ = f.Close()
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	if err := f.Close(); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	return nil
}
