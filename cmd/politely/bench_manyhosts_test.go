package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestBenchManyHostsCrawlsEveryHostAndWritesItsTable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "met many hosts: a gated host receives nothing before its Retry-After")
	md, err := os.ReadFile(filepath.Join(out, "many-hosts.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| blackout |")
	assert.Contains(t, string(md), "| slow |")
	assert.NoFileExists(t, filepath.Join(out, "REPORT.md"), "only the many-host scenario ran")
}

func TestTakeManyHosts(t *testing.T) {
	names, ok := takeManyHosts(nil)
	assert.True(t, ok, "a full run includes it")
	assert.Empty(t, names)
	names, ok = takeManyHosts([]string{"quota", "many-hosts", "fast"})
	assert.True(t, ok)
	assert.Equal(t, []string{"quota", "fast"}, names)
	names, ok = takeManyHosts([]string{"quota"})
	assert.False(t, ok)
	assert.Equal(t, []string{"quota"}, names)
}

func TestBenchManyHostsTakesItsShapeFromTheFlags(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts",
		"--hosts", "3", "--gated", "2", "--slow", "-1", "--latency", "40ms", "--max-total", "6", "--mixed", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "met many hosts: a gated host receives nothing before its Retry-After")
	assert.Contains(t, stdout, "3 healthy hosts (4 slots x 40ms, 4 queued, 503 + Retry-After beyond, every second one with half of them), 2 answering")
	assert.Contains(t, stdout, "with max_total 6")
	assert.Equal(t, 3, strings.Count(stdout, "| healthy |"))
	assert.Equal(t, 2, strings.Count(stdout, "| blackout |"))
	assert.NotContains(t, stdout, "| slow |")

	code, _, stderr = runCLI(t, context.Background(), "bench", "--scenario", "many-hosts", "--hosts", "-2", "--out", out)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "want no count below zero")
}

func TestBenchManyHostsRunsQuotaHostsBlackHolesAndSpreadLatencies(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts",
		"--hosts", "3", "--gated", "1", "--slow", "-1", "--quota-hosts", "1", "--black-holes", "1", "--latency-spread", "4", "--blackout", "2s", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "black holes' items given up: 4")
	assert.Contains(t, stdout, "service times spread up to 4x), 1 answering 503 + Retry-After for their first 2s")
	assert.Contains(t, stdout, "1 behind a quota of 100 req/s (burst 10) answering a bare 429 beyond it, 1 never answering (4 items each")
	assert.Equal(t, 1, strings.Count(stdout, "| quota |"))
	assert.Equal(t, 1, strings.Count(stdout, "| black hole | 4 | 0 |"))
}
