package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/internal/redistest"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/state/redisstate"
)

// export runs politely export and returns its exit code and output files.
func export(t *testing.T, cfg, url, dir string, args ...string) (code int, out, failed string) {
	t.Helper()
	out, failed = filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "out.failed.jsonl")
	code, _, stderr := runCLI(t, context.Background(), append([]string{"export", "-c", cfg, "--redis", url,
		"--out", out, "--failed", failed}, args...)...)
	require.Equal(t, exitOK, code, stderr)
	return code, out, failed
}

// TestRedisWorkersKilledAndJoiningExportEveryItemOnce runs four worker
// processes on one crawl in Redis, SIGKILLs two of them at random moments
// and starts a new one: the live workers finish the crawl and exit 0, and
// export writes every item exactly once, with no partial line.
func TestRedisWorkersKilledAndJoiningExportEveryItemOnce(t *testing.T) {
	bin := buildPolitely(t)
	rs := redistest.Start(t, true)
	sc, err := mockapi.Preset("faults")
	require.NoError(t, err)
	sc.Items, sc.Pagination = 2500, mockapi.PaginationLink
	srv := startMockAPI(t, sc)
	cfg, dir := writeConfig(t, srv.URL()+"/items", "  concurrency: {initial: 8, max: 32}\n")
	// limits.timeout 2s: an item of a killed worker goes to another after 4s.
	args := []string{"-c", cfg, "--redis", rs.URL(), "--out", filepath.Join(dir, "unused.jsonl")}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var workers []*process
	for i := range 4 {
		workers = append(workers, startCrawl(t, bin, append(args, "--worker", fmt.Sprintf("w%d", i))...))
	}
	for _, victim := range rng.Perm(4)[:2] {
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		p := workers[victim]
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		p.wait(t, 10*time.Second)
		workers[victim] = nil
	}
	workers = append(workers, startCrawl(t, bin, append(args, "--worker", "late")...))
	for _, p := range workers {
		if p == nil {
			continue
		}
		p.wait(t, 90*time.Second)
		require.Equal(t, exitOK, p.cmd.ProcessState.ExitCode(), p.stderr.String())
		sum := p.summary(t)
		assert.Equal(t, int64(sc.Items), sum.Succeeded+sum.Failed, "the summary counts the whole crawl")
	}
	_, out, failed := export(t, cfg, rs.URL(), dir)
	requireEveryItemOnce(t, srv, sc, out, failed)
}

// TestRedisRestartMidCrawlLosesNothing restarts Redis (append-only file on)
// while two workers crawl: they wait it out, finish, and export holds every
// item once.
func TestRedisRestartMidCrawlLosesNothing(t *testing.T) {
	bin := buildPolitely(t)
	rs := redistest.Start(t, true)
	sc := mockapi.Scenario{Items: 3000, PerPage: 50, Pagination: mockapi.PaginationLink, Latency: 20 * time.Millisecond}
	srv := startMockAPI(t, sc)
	cfg, dir := writeConfig(t, srv.URL()+"/items", "  concurrency: {initial: 4, max: 4}\n")
	args := []string{"-c", cfg, "--redis", rs.URL(), "--out", filepath.Join(dir, "unused.jsonl")}
	a := startCrawl(t, bin, append(args, "--worker", "a")...)
	b := startCrawl(t, bin, append(args, "--worker", "b")...)

	c, err := redisstate.Open(context.Background(), rs.URL(), fingerprintOf(t, cfg), redisstate.Observing())
	require.NoError(t, err)
	for {
		st, err := c.Status(context.Background())
		require.NoError(t, err)
		if st.Items.Done > 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, c.Close())
	rs.Restart(time.Second)

	for _, p := range []*process{a, b} {
		p.wait(t, 90*time.Second)
		require.Equal(t, exitOK, p.cmd.ProcessState.ExitCode(), p.stderr.String())
	}
	assert.Contains(t, a.stderr.String()+b.stderr.String(), "redis unavailable: retrying with backoff")
	_, out, failed := export(t, cfg, rs.URL(), dir)
	requireEveryItemOnce(t, srv, sc, out, failed)
}

func fingerprintOf(t *testing.T, path string) string {
	t.Helper()
	cfg, err := crawl.Load(path)
	require.NoError(t, err)
	return cfg.Fingerprint()
}

func TestCrawlWithUnreachableRedisExits1NamingItWithoutThePassword(t *testing.T) {
	srv := startMockAPI(t, mockapi.Scenario{Items: 5, Pagination: mockapi.PaginationLink})
	cfg, dir := writeConfig(t, srv.URL()+"/items", "")
	for _, cmd := range [][]string{{"crawl", "--out", filepath.Join(dir, "o")}, {"status"}, {"export", "--out", filepath.Join(dir, "o")}} {
		code, _, stderr := runCLI(t, context.Background(), append(cmd, "-c", cfg, "--redis", "redis://:hunter2@127.0.0.1:1/0")...)
		assert.Equal(t, exitFailed, code, cmd)
		assert.Contains(t, stderr, "127.0.0.1:1", cmd)
		assert.NotContains(t, stderr, "hunter2", cmd)
	}
}

func TestARedisURLThatIsNotRedisIsBadUsage(t *testing.T) {
	srv := startMockAPI(t, mockapi.Scenario{Items: 5, Pagination: mockapi.PaginationLink})
	cfg, dir := writeConfig(t, srv.URL()+"/items", "")
	for _, cmd := range [][]string{{"crawl", "--out", filepath.Join(dir, "o")}, {"status"}, {"export", "--out", filepath.Join(dir, "o")}} {
		code, stdout, stderr := runCLI(t, context.Background(), append(cmd, "-c", cfg, "--redis", "http://:hunter2@127.0.0.1:6379/0")...)
		assert.Equal(t, exitUsage, code, cmd)
		assert.Contains(t, stderr, "--redis: redis URL http://:xxxxx@127.0.0.1:6379/0: not a redis:// or rediss:// URL", cmd)
		assert.NotContains(t, stderr, "hunter2", cmd)
		assert.Empty(t, stdout, "no summary of a crawl that never started")
	}
	assert.Zero(t, srv.Stats().Requests, "no request was sent")
}

func TestRedisCrawlRefusesAChangedConfigUntilReset(t *testing.T) {
	rs := redistest.Start(t, false)
	srv := startMockAPI(t, mockapi.Scenario{Items: 30, PerPage: 10, Pagination: mockapi.PaginationLink})
	cfg, dir := writeConfig(t, srv.URL()+"/items", "")
	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", cfg, "--redis", rs.URL(), "--quiet", "--out", filepath.Join(dir, "o"))
	require.Equal(t, exitOK, code, stderr)

	changed, _ := writeConfig(t, srv.URL()+"/items?sort=id", "")
	for _, cmd := range [][]string{{"crawl", "--out", filepath.Join(dir, "o")}, {"status"}, {"export", "--out", filepath.Join(dir, "o")}} {
		code, _, stderr = runCLI(t, context.Background(), append(cmd, "-c", changed, "--redis", rs.URL())...)
		assert.Equal(t, exitUsage, code, cmd)
		assert.Contains(t, stderr, "--reset-state", cmd)
	}
	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", changed, "--redis", rs.URL(), "--reset-state", "--quiet", "--out", filepath.Join(dir, "o"))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"succeeded":30`)

	code, stdout, stderr = runCLI(t, context.Background(), "status", "-c", changed, "--redis", rs.URL(), "--json")
	require.Equal(t, exitOK, code, stderr)
	var st redisstate.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	assert.True(t, st.Finished)
	assert.EqualValues(t, 30, st.Items.Done)
	assert.EqualValues(t, 3, st.Pages)
	require.Len(t, st.Hosts, 1)
	assert.Equal(t, strings.TrimPrefix(srv.URL(), "http://"), st.Hosts[0].Host)

	_, out, _ := export(t, changed, rs.URL(), dir, "--wait")
	assert.Len(t, jsonLines(t, out), 30)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "sort=id&sort=id")
}

func TestRedisStatusOfACrawlNoWorkerJoinedSaysItIsNotStarted(t *testing.T) {
	rs := redistest.Start(t, false)
	srv := startMockAPI(t, mockapi.Scenario{Items: 5, Pagination: mockapi.PaginationLink})
	cfg, dir := writeConfig(t, srv.URL()+"/items", "")
	code, stdout, stderr := runCLI(t, context.Background(), "status", "-c", cfg, "--redis", rs.URL())
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "(not started")
	code, stdout, stderr = runCLI(t, context.Background(), "status", "-c", cfg, "--redis", rs.URL(), "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"started":false`)

	code, _, stderr = runCLI(t, context.Background(), "crawl", "-c", cfg, "--redis", rs.URL(), "--quiet", "--out", filepath.Join(dir, "o"))
	require.Equal(t, exitOK, code, stderr)
	code, stdout, stderr = runCLI(t, context.Background(), "status", "-c", cfg, "--redis", rs.URL())
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "(finished)")
	code, stdout, stderr = runCLI(t, context.Background(), "status", "-c", cfg, "--redis", rs.URL(), "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, `"started":true`)
}
