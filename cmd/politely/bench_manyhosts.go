package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/pflag"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/mockapi"
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

// addManyHostsFlags adds the flags that shape the many-host scenario.
func addManyHostsFlags(fl *pflag.FlagSet, shape *benchmarks.ManyHostsShape) {
	fl.IntVar(&shape.Healthy, "hosts", 0, "many-hosts: healthy hosts (default 8)")
	fl.IntVar(&shape.Gated, "gated", 0, "many-hosts: hosts in a blackout from their start (default 1; -1 for none)")
	fl.IntVar(&shape.Slow, "slow", 0, "many-hosts: hosts taking 1s per request (default 1; -1 for none)")
	fl.IntVar(&shape.Quota, "quota-hosts", 0, "many-hosts: hosts behind a rate quota of 100 req/s answering a bare 429 (no Retry-After, no headers) beyond it")
	fl.BoolVar(&shape.QuotaHeaders, "quota-headers", false, "many-hosts: the quota hosts announce their quota (RateLimit-* and X-RateLimit-* headers) and send a Retry-After with their 429")
	fl.IntVar(&shape.BlackHoles, "black-holes", 0, "many-hosts: hosts that never answer an item (see --black-hole-items, --black-hole-timeout)")
	fl.IntVar(&shape.BlackHoleItems, "black-hole-items", 0, "many-hosts: each black hole's items (default 4)")
	fl.DurationVar(&shape.BlackHoleTimeout, "black-hole-timeout", 0, "many-hosts: the black holes' and flaky hosts' timeout, in the config's hosts: (default 2s)")
	fl.BoolVar(&shape.DeadRobots, "black-hole-robots", false, "many-hosts: the black holes never answer their robots.txt either (default: they answer it)")
	fl.IntVar(&shape.Refusing, "refusing-hosts", 0, "many-hosts: hosts that refuse every connection, as a host that is down does (--black-hole-items each)")
	fl.IntVar(&shape.Tarpits, "tarpits", 0, "many-hosts: hosts that answer every item with its headers and then nothing until the timeout (--black-hole-items each, --black-hole-timeout)")
	fl.IntVar(&shape.Redirecting, "redirecting-hosts", 0, "many-hosts: hosts that redirect each of their items to a black hole, as a front whose origin is down (--black-hole-items each; one black hole at least)")
	fl.IntVar(&shape.Flaky, "flaky-hosts", 0, "many-hosts: hosts that answer as healthy ones but hang a share of their requests (see --flaky-hang, --flaky-items; their timeout is --black-hole-timeout)")
	fl.IntVar(&shape.FlakyItems, "flaky-items", 0, "many-hosts: each flaky host's items (default 40)")
	fl.Float64Var(&shape.FlakyHang, "flaky-hang", 0, "many-hosts: the share of a flaky host's requests that hang until the crawl's timeout, whatever the attempt (default 0.4)")
	fl.DurationVar(&shape.FlakyDies, "flaky-dies", 0, "many-hosts: the flaky hosts stop answering anything (every request hangs) this long after their start (default never)")
	fl.IntVar(&shape.Faulty, "faulty-hosts", 0, "many-hosts: hosts that answer as healthy ones but fail a share of an item's first two attempts with a 500, a reset connection or a body cut short (see --faulty-share)")
	fl.Float64Var(&shape.FaultyShare, "faulty-share", 0, "many-hosts: the share of a faulty host's first two attempts at an item that fail (default 0.3)")
	fl.IntVar(&shape.ItemsPerHost, "items-per-host", 0, "many-hosts: each healthy, faulty, gated and quota host's items (default 2.5s of a healthy host's pace, 20 at least)")
	fl.BoolVar(&shape.Grouped, "grouped", false, "many-hosts: the listing holds each host's items together, the hosts that are not healthy first (default: the hosts in turn)")
	fl.DurationVar(&shape.Latency, "latency", 0, "many-hosts: a healthy host's service time (default 20ms: 200 req/s over 4 slots)")
	fl.Float64Var(&shape.Spread, "latency-spread", 0, "many-hosts: the slowest healthy host's service time over --latency, the others spread between (default 1: all the same)")
	fl.Float64Var(&shape.Jitter, "jitter", 0, "many-hosts: each request's service time on a healthy, faulty or gated host spreads uniformly by ± this share of it, 0 to 1 (default 0: every request takes the same)")
	fl.DurationVar(&shape.Blackout, "blackout", 0, "many-hosts: a gated host's blackout (default 5s)")
	fl.IntVar(&shape.MaxTotal, "max-total", 0, "many-hosts: the crawl's limits.concurrency.max_total (default: the config's)")
	fl.BoolVar(&shape.Mixed, "mixed", false, "many-hosts: every second healthy host has half the capacity")
}

// runManyHosts runs the many-host scenario with politely crawl, prints its
// table and targets and writes them to many-hosts.md in out; with cert, its
// hosts serve HTTPS with it; with a profile path, the crawl's CPU profile
// too.
func runManyHosts(ctx context.Context, scale float64, shape benchmarks.ManyHostsShape, cert *mockapi.Cert, profile, out string, stdout io.Writer) error {
	mh, err := benchmarks.NewManyHosts(scale, shape)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("bench: many hosts: %w", err)}
	}
	mh.TLS = cert
	if err := os.MkdirAll(out, 0o755); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	var pf *os.File
	if profile != "" {
		if pf, err = os.Create(profile); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("bench: --cpu-profile: %w", err)}
		}
		mh.Profile = pf
	}
	res, err := benchmarks.RunManyHosts(ctx, mh, benchCrawler, out)
	if pf != nil {
		if cerr := pf.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench: --cpu-profile: %w", cerr)
		}
	}
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
