package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestBenchWritesTheReportOfTheChosenScenarios(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.02", "--scenario", "quota", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "quota          default")
	assert.Contains(t, stdout, "quota 100 req/s: default")
	assert.Contains(t, stdout, "report: "+filepath.Join(out, "REPORT.md"))

	md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "- command: `politely bench --out "+out+" --scale 0.02 --scenario quota`")
	assert.Contains(t, string(md), "## quota\n")
	assert.NotContains(t, string(md), "## capacity\n")
	assert.FileExists(t, filepath.Join(out, "quota.png"))
	assert.FileExists(t, filepath.Join(out, "results.json"))
}

func TestBenchRejectsBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown scenario", args: []string{"bench", "--scenario", "quota,capacty"}, want: `--scenario: benchmarks: unknown scenario "capacty"`},
		{name: "scale out of range", args: []string{"bench", "--scale", "2"}, want: "--scale: benchmarks: scale 2: want 0 < scale <= 1"},
		{name: "quick and scale", args: []string{"bench", "--quick", "--scale", "0.5"}, want: "none of the others can be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, context.Background(), tt.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

func TestBenchInterruptedWritesWhatFinishedAndExits130(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "bench")
	code, _, stderr := runCLI(t, ctx, "bench", "--scale", "0.02", "--scenario", "fast", "--out", out)
	assert.Equal(t, exitInterrupted, code, "stderr: %s", stderr)
	assert.Contains(t, stderr, "interrupted before fast/fixed-50")
	assert.FileExists(t, filepath.Join(out, "REPORT.md"))
}

func TestBenchCrawlsEndToEndNextToTheEngine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.02", "--scenario", "crawl-capacity,crawl-blackout", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	for _, row := range []string{"crawl-capacity engine ", "crawl-capacity crawl ", "crawl-capacity crawl+state ", "crawl-blackout crawl+state "} {
		assert.Contains(t, stdout, row)
	}
	// Whether the blackout's targets are met is the bench's to measure; here
	// the crawl ran and its files were counted.
	assert.Regexp(t, `crawl\+state sends no early request, loses no item, fails none it requested, writes none twice, fetches nothing robots.txt disallows: \d+ early, \d+ lost, \d+ failed, 0 twice, 0 robots violations`, stdout)

	md, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "## `politely crawl` against its engine")
	assert.Contains(t, string(md), "| crawl-capacity | ")
	assert.Regexp(t, "`crawl`: \\d+ lost, 0 written twice, 0 robots violations;", string(md))
	assert.NotContains(t, string(md), "issue")
	assert.FileExists(t, filepath.Join(out, "crawl-blackout.png"))
}
