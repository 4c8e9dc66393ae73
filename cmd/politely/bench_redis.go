package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/state/redisstate"
)

// redisBench is one scenario of politely bench --redis: a mock preset, its
// items, and the worker counts to compare (0 is one process without Redis).
type redisBench struct {
	preset  string
	items   int
	workers []int
}

// redisBenches are the scenarios of politely bench --redis at full scale.
var redisBenches = []redisBench{
	{preset: "quota-no-headers", items: 2000, workers: []int{1, 2, 3, 4}},
	{preset: "capacity", items: 20000, workers: []int{1, 2, 4}},
	{preset: "fast", items: 20000, workers: []int{0, 1}},
}

// redisRun is one run: n worker processes against a fresh mock.
type redisRun struct {
	Scenario  string  `json:"scenario"`
	Workers   int     `json:"workers"` // 0: one process without Redis
	Items     int     `json:"items"`
	ElapsedS  float64 `json:"elapsed_s"`
	ItemsPerS float64 `json:"items_per_s"`
	Optimum   float64 `json:"-"`             // +Inf: none
	Throttled float64 `json:"throttled_pct"` // 429/503 share of the requests
	Requests  int64   `json:"requests"`
	Once      bool    `json:"exactly_once"` // every item in the output once, no partial line
	perSecond []mockapi.Second
}

// runRedisBench compares 1, 2 and 4 worker processes (and one process
// without Redis) against the mocks, and writes REDIS.md, redis.json and a
// plot per scenario into out.
func runRedisBench(ctx context.Context, redisURL, out string, scale float64, selected []string, stdout io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: %w", err)}
	}
	var runs []redisRun
	for _, b := range redisBenches {
		if len(selected) > 0 && !contains(selected, b.preset) {
			continue
		}
		var scenarioRuns []redisRun
		for _, n := range b.workers {
			r, err := benchWorkers(ctx, self, redisURL, b, max(50, int(float64(b.items)*scale)), n)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("bench: %s with %d workers: %w", b.preset, n, err)}
			}
			fmt.Fprintf(stdout, "%-18s %-12s %6d items in %6.2fs  %8.1f items/s  throttled %5.2f%%  exactly once %v\n",
				r.Scenario, workersName(n), r.Items, r.ElapsedS, r.ItemsPerS, r.Throttled, r.Once)
			scenarioRuns = append(scenarioRuns, r)
		}
		if err := plotRedis(filepath.Join(out, "redis-"+b.preset+".png"), b.preset, scenarioRuns); err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		runs = append(runs, scenarioRuns...)
	}
	return writeRedisReport(out, runs)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func workersName(n int) string {
	switch n {
	case 0:
		return "no redis"
	case 1:
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", n)
}

// benchWorkers runs n worker processes of the scenario's crawl on a fresh
// mock until they all exit, and checks the export.
func benchWorkers(ctx context.Context, self, redisURL string, b redisBench, items, n int) (redisRun, error) {
	sc, err := mockapi.Preset(b.preset)
	if err != nil {
		return redisRun{}, err
	}
	sc.Items, sc.Pagination = items, mockapi.PaginationLink
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	if err != nil {
		return redisRun{}, err
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "politely-bench-redis-")
	if err != nil {
		return redisRun{}, err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "api.yaml")
	outFile := filepath.Join(dir, "out.jsonl")
	yaml := fmt.Sprintf("user_agent: \"politely-bench/1.0\"\nsource:\n  url: %q\n  pagination: {style: link}\n  items_field: items\ntask:\n  url: \"{+detail_path}\"\noutput: %q\n",
		srv.URL()+"/items", outFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return redisRun{}, err
	}
	args := []string{"crawl", "-c", cfg, "--quiet"}
	if n > 0 {
		if err := resetCrawl(ctx, redisURL, cfg); err != nil {
			return redisRun{}, err
		}
		args = append(args, "--redis", redisURL)
	}
	start := time.Now()
	procs := make([]*exec.Cmd, max(1, n))
	var stderr []*bytes.Buffer
	for i := range procs {
		a := args
		if n > 0 {
			a = append(append([]string{}, args...), "--worker", fmt.Sprintf("bench-%d", i))
		}
		procs[i] = exec.CommandContext(ctx, self, a...)
		var e bytes.Buffer
		procs[i].Stderr, procs[i].Stdout = &e, io.Discard
		stderr = append(stderr, &e)
		if err := procs[i].Start(); err != nil {
			return redisRun{}, err
		}
	}
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			return redisRun{}, fmt.Errorf("worker %d: %w: %s", i, err, lastLines(stderr[i].String(), 5))
		}
	}
	elapsed := time.Since(start)
	if n > 0 {
		code, _, errText := runCLIProcess(ctx, self, "export", "-c", cfg, "--redis", redisURL)
		if code != 0 {
			return redisRun{}, fmt.Errorf("export exited %d: %s", code, errText)
		}
	}
	st := srv.Stats()
	r := redisRun{Scenario: b.preset, Workers: n, Items: items, ElapsedS: elapsed.Seconds(),
		ItemsPerS: float64(items) / elapsed.Seconds(), Optimum: sc.Optimum(), Requests: st.Requests, perSecond: st.PerSecond}
	var throttled int64
	for code, c := range st.ByStatus {
		if code == 429 || code == 503 {
			throttled += c
		}
	}
	if st.Requests > 0 {
		r.Throttled = 100 * float64(throttled) / float64(st.Requests)
	}
	r.Once = exactlyOnce(outFile, items)
	return r, nil
}

// resetCrawl deletes the keys of cfg's crawl in Redis.
func resetCrawl(ctx context.Context, redisURL, cfg string) error {
	c, err := crawl.Load(cfg)
	if err != nil {
		return err
	}
	rdb, err := redisstate.Connect(ctx, redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return redisstate.Reset(ctx, rdb, c.Fingerprint())
}

// exactlyOnce reports whether the output holds items lines, each item's id
// once, with no partial line.
func exactlyOnce(path string, items int) bool {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
		return false
	}
	seen := map[int]bool{}
	for _, l := range bytes.Split(b[:len(b)-1], []byte("\n")) {
		var line struct {
			Data struct {
				ID int `json:"id"`
			} `json:"data"`
		}
		if json.Unmarshal(l, &line) != nil || seen[line.Data.ID] {
			return false
		}
		seen[line.Data.ID] = true
	}
	return len(seen) == items
}

func runCLIProcess(ctx context.Context, self string, args ...string) (int, string, string) {
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		return -1, "", err.Error()
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// plotRedis plots the server's successful answers per second of each run.
func plotRedis(path, scenario string, runs []redisRun) error {
	var series []benchmarks.Series
	opt := 0.0
	for _, r := range runs {
		s := benchmarks.Series{Name: workersName(r.Workers)}
		for i, sec := range r.perSecond {
			s.Points = append(s.Points, benchmarks.Point{At: time.Duration(i) * time.Second, Value: float64(sec.OK)})
		}
		series = append(series, s)
		opt = r.Optimum
	}
	if opt > 0 && !math.IsInf(opt, 1) && len(series) > 0 {
		ref := benchmarks.Series{Name: "optimum", Reference: true}
		for _, p := range series[0].Points {
			ref.Points = append(ref.Points, benchmarks.Point{At: p.At, Value: opt})
		}
		series = append(series, ref)
	}
	return benchmarks.WritePlot(path, "politely crawl --redis: "+scenario+", worker processes", benchmarks.Panel{YLabel: "answers 2xx per second", Series: series})
}

// writeRedisReport writes REDIS.md and redis.json.
func writeRedisReport(out string, runs []redisRun) error {
	var b strings.Builder
	b.WriteString("# politely bench --redis\n\n| scenario | workers | items | s | items/s | % of optimum | throttled % | exactly once |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		pct := "-"
		if r.Optimum > 0 && !math.IsInf(r.Optimum, 1) {
			pct = fmt.Sprintf("%.1f", 100*r.ItemsPerS/r.Optimum)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.1f | %s | %.2f | %v |\n", r.Scenario, workersName(r.Workers), r.Items, r.ElapsedS, r.ItemsPerS, pct, r.Throttled, r.Once)
	}
	if err := os.WriteFile(filepath.Join(out, "REDIS.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(runs, "", "  ")
	return os.WriteFile(filepath.Join(out, "redis.json"), j, 0o644)
}
