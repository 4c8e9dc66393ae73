package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/state"
)

// stateCrawl is a finished crawl with state: its config, output and state
// paths, and the mock API it crawled.
func stateCrawl(t *testing.T) (srv *mockapi.Server, cfg, out, st string) {
	t.Helper()
	srv = startMockAPI(t, mockapi.Scenario{Items: 30, PerPage: 8, Pagination: mockapi.PaginationLink})
	cfg, dir := writeConfig(t, srv.URL()+"/items", "")
	out, st = filepath.Join(dir, "o.jsonl"), filepath.Join(dir, "state")
	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfg, "--out", out, "--state", st, "--quiet")
	require.Equal(t, exitOK, code, stderr)
	sum := summaryOf(t, stdout)
	require.Equal(t, int64(30), sum.Succeeded)
	require.False(t, sum.Resumed)
	return srv, cfg, out, st
}

func summaryOf(t *testing.T, stdout string) crawl.Summary {
	t.Helper()
	var sum crawl.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum), stdout)
	return sum
}

func TestCrawlRunAgainAfterItFinishedFetchesNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	srv, cfg, out, st := stateCrawl(t)
	requests := srv.Stats().Requests
	before, err := os.ReadFile(out)
	require.NoError(t, err)

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfg, "--out", out, "--state", st, "--quiet")
	require.Equal(t, exitOK, code, stderr)
	sum := summaryOf(t, stdout)
	assert.True(t, sum.Resumed)
	assert.Equal(t, int64(30), sum.Succeeded, "the summary counts the whole crawl")
	assert.Equal(t, requests, srv.Stats().Requests, "nothing fetched")
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestCrawlRefusesAStateOfAnotherConfig(t *testing.T) {
	srv, _, out, st := stateCrawl(t)
	changed, _ := writeConfig(t, srv.URL()+"/items?per_page=5", "")

	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", changed, "--out", out, "--state", st, "--quiet")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "config changed since this state was written; use --reset-state to start over")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", changed, "--out", out, "--state", st, "--quiet", "--reset-state")
	require.Equal(t, exitOK, code, stderr)
	sum := summaryOf(t, stdout)
	assert.False(t, sum.Resumed)
	assert.Equal(t, int64(30), sum.Succeeded)
}

func TestCrawlWithADamagedStateExitsOneUntilReset(t *testing.T) {
	_, cfg, out, st := stateCrawl(t)
	require.NoError(t, os.Truncate(filepath.Join(st, state.FileName), 100))

	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", cfg, "--out", out, "--state", st, "--quiet")
	assert.Equal(t, exitFailed, code, stderr)
	assert.Contains(t, stderr, filepath.Join(st, state.FileName))
	assert.Contains(t, stderr, "corrupted or truncated")
	assert.Contains(t, stderr, "use --reset-state to start over")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfg, "--out", out, "--state", st, "--quiet", "--reset-state")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, int64(30), summaryOf(t, stdout).Succeeded)
}
