package crawl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/state"
)

// stateMock is a slow enough API for a crawl to be interrupted in the
// middle, with some items broken for good.
func stateMock(t *testing.T) *mockapi.Server {
	t.Helper()
	return startMock(t, mockapi.Scenario{Items: 240, PerPage: 20, Latency: 5 * time.Millisecond,
		Faults: mockapi.Faults{Seed: 3, Permanent: 0.05}})
}

// stateConfig is a config with state in its own directory, crawling srv.
func stateConfig(t *testing.T, srv *mockapi.Server, query string) *Config {
	t.Helper()
	cfg := testConfigLimits(t, srv.URL()+"/items"+query, "    style: page", detailTask, `limits:
  concurrency: {initial: 4, max: 16}
  timeout: 2s
  retries: 1
  backoff: {base: 5ms, max: 20ms}`, nil)
	cfg.State = filepath.Join(filepath.Dir(cfg.Output), "state")
	return cfg
}

// interrupt runs cfg and cancels it once at least n items are done.
func interrupt(t *testing.T, cfg *Config, n int64) Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, cfg, WithProgress(5*time.Millisecond, func(p Progress) {
		if p.Succeeded+p.Failed >= n {
			cancel()
		}
	}))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, sum.Interrupted)
	return sum
}

// requireCrawled checks that the output and failed files hold every item
// of srv exactly once, and that sum counts them.
func requireCrawled(t *testing.T, srv *mockapi.Server, cfg *Config, sum Summary) {
	t.Helper()
	st := srv.Stats()
	require.NotEmpty(t, st.BrokenItems, "the seed must break some items")
	assert.ElementsMatch(t, seq(st.Items, st.BrokenItems...), ids(t, readLines[outLine](t, cfg.Output)), "every item once")
	failed := readLines[failedLine](t, cfg.FailedPath())
	assert.Len(t, failed, len(st.BrokenItems))
	assert.Equal(t, int64(st.Items-len(st.BrokenItems)), sum.Succeeded)
	assert.Equal(t, int64(len(st.BrokenItems)), sum.Failed)
	assert.Equal(t, int64(st.Items), sum.Items)
	assert.False(t, sum.Interrupted)
}

func TestRunWithStateResumesAnInterruptedCrawl(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	first := interrupt(t, cfg, 60)
	assert.False(t, first.Resumed)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.True(t, sum.Resumed)
	requireCrawled(t, srv, cfg, sum)
	assert.GreaterOrEqual(t, sum.Requests, srv.Stats().Requests-first.Requests, "the whole crawl's requests")
	assert.LessOrEqual(t, sum.Requests, srv.Stats().Requests)
	details := 0
	for _, n := range srv.Stats().DetailRequests {
		details += n
	}
	broken := len(srv.Stats().BrokenItems)
	// Each broken item takes 2 attempts; an item may be fetched again only if
	// it was in flight or uncommitted when the first run stopped.
	assert.Less(t, details, srv.Stats().Items+broken+int(first.MaxConcurrency)+64, "the first run's work was kept")
}

func TestRunWithStateDoesNothingOnceFinished(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	first, err := runTest(t, cfg)
	require.NoError(t, err)
	requireCrawled(t, srv, cfg, first)
	output, err := os.ReadFile(cfg.Output)
	require.NoError(t, err)
	requests := srv.Stats().Requests

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, requests, srv.Stats().Requests, "nothing fetched")
	assert.True(t, sum.Resumed)
	requireCrawled(t, srv, cfg, sum)
	assert.Equal(t, first.Requests, sum.Requests)
	assert.Equal(t, first.Pages, sum.Pages)
	again, err := os.ReadFile(cfg.Output)
	require.NoError(t, err)
	assert.Equal(t, output, again)
}

func TestRunWithStateRefusesAChangedConfig(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	interrupt(t, cfg, 20)

	changed := stateConfig(t, srv, "?per_page=30")
	changed.State, changed.Output = cfg.State, cfg.Output
	_, err := runTest(t, changed)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "state", ce.Key)
	require.ErrorIs(t, err, ErrStateMismatch)
	assert.Contains(t, err.Error(), "config changed since this state was written; use --reset-state to start over")

	sum, err := runTest(t, changed, WithResetState())
	require.NoError(t, err)
	assert.False(t, sum.Resumed, "--reset-state starts over")
	requireCrawled(t, srv, changed, sum)
}

func TestRunWithADamagedStateSaysHowToStartOver(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	interrupt(t, cfg, 20)
	output, err := os.ReadFile(cfg.Output)
	require.NoError(t, err)
	db := filepath.Join(cfg.State, state.FileName)
	require.NoError(t, os.WriteFile(db, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o644))

	_, err = runTest(t, cfg)
	require.ErrorIs(t, err, state.ErrCorrupt)
	assert.Contains(t, err.Error(), db)
	assert.Contains(t, err.Error(), "use --reset-state to start over")
	again, err := os.ReadFile(cfg.Output)
	require.NoError(t, err)
	assert.Equal(t, output, again, "the output is left alone")

	sum, err := runTest(t, cfg, WithResetState())
	require.NoError(t, err)
	assert.False(t, sum.Resumed)
	requireCrawled(t, srv, cfg, sum)
}

func TestRunWithAnUnusableStateDirectoryLosesNothing(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	require.NoError(t, os.WriteFile(cfg.Output, []byte("{\"kept\":1}\n"), 0o644))
	blocker := filepath.Join(filepath.Dir(cfg.Output), "blocker")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))
	cfg.State = filepath.Join(blocker, "state") // a directory below a file cannot be made

	_, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), cfg.State)
	out, err := os.ReadFile(cfg.Output)
	require.NoError(t, err)
	assert.Equal(t, "{\"kept\":1}\n", string(out), "the output is left alone")
	assert.Zero(t, srv.Stats().Requests, "nothing fetched")
}

func TestRunWithStateInUseFailsFast(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	held, err := state.Open(cfg.State, cfg.Fingerprint())
	require.NoError(t, err)
	defer func() { require.NoError(t, held.Close()) }()

	began := time.Now()
	_, err = runTest(t, cfg)
	require.ErrorIs(t, err, state.ErrInUse)
	assert.Less(t, time.Since(began), 20*time.Second)
	assert.Zero(t, srv.Stats().Requests)
}

func TestRunWithStateOnAFullDiskLosesNothing(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to simulate a full disk")
	}
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	output := cfg.Output
	cfg.Failed = filepath.Join(filepath.Dir(output), "failed.jsonl")
	cfg.Output = "/dev/full" // every write fails with ENOSPC

	first, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/full")
	assert.Contains(t, err.Error(), "no space left on device")
	assert.False(t, first.Interrupted, "a full disk is a failure, not an interruption")

	cfg.Output = output // the same crawl, with room: the state counted nothing that was lost
	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.True(t, sum.Resumed)
	requireCrawled(t, srv, cfg, sum)
}

// committedIDs reads the item ids that the state in dir committed lines for:
// the ids of the output's lines and of the failed file's URLs below their
// committed offsets.
func committedIDs(t *testing.T, cfg *Config, srv *mockapi.Server) []int {
	t.Helper()
	st, err := state.Open(cfg.State, cfg.Fingerprint())
	require.NoError(t, err)
	res := st.Resume()
	require.NoError(t, st.Close())
	var out []int
	for _, f := range []struct{ name, path string }{{fileOutput, cfg.Output}, {fileFailed, cfg.FailedPath()}} {
		b, err := os.ReadFile(f.path)
		require.NoError(t, err)
		require.GreaterOrEqual(t, int64(len(b)), res.Offsets[f.name])
		for l := range strings.Lines(string(b[:res.Offsets[f.name]])) {
			var line outLine
			require.NoError(t, json.Unmarshal([]byte(l), &line))
			if f.name == fileOutput {
				out = append(out, ids(t, []outLine{line})...)
				continue
			}
			id, err := strconv.Atoi(strings.TrimPrefix(line.URL, srv.URL()+"/items/"))
			require.NoError(t, err, "failed line %q", l)
			out = append(out, id)
		}
	}
	return out
}

// TestRunKilledRightAfterACommitCountsItsWork copies a crawl's state and
// files right after one of its commits, as a kill -9 at that moment would
// leave them, and resumes from the copy: the whole crawl's summary counts
// the requests behind every committed line, each listing page once, and
// every item exactly once.
func TestRunKilledRightAfterACommitCountsItsWork(t *testing.T) {
	srv := stateMock(t)
	cfg := stateConfig(t, srv, "")
	// At most 4 in flight, the crawl lasts about 300 ms, four times as long
	// as its first 60 lines take: the commit that copies them comes well
	// before its end even when the committer lags under load (at 16 in
	// flight a loaded machine once let the whole crawl end first).
	cfg.Limits.Concurrency.Initial, cfg.Limits.Concurrency.Max = 2, 4
	// Past 150 answers (of ~265) requests wait for the copy's cancel, so the
	// crawl cannot end before a commit with 60 lines, however the committer
	// lags (on a loaded CI machine the whole crawl once ended first).
	var answered atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	held := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if answered.Load() >= 150 {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		resp, err := tr.RoundTrip(r)
		answered.Add(1)
		return resp, err
	})
	killed := *cfg
	dir := t.TempDir()
	killed.State, killed.Output = filepath.Join(dir, "state"), filepath.Join(dir, "out.jsonl")
	killed.Failed = filepath.Join(dir, "out.failed.jsonl")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var atCopy mockapi.Stats
	copied := false
	afterCommit := func() { // the committer's goroutine: no other commit runs meanwhile
		b, err := os.ReadFile(cfg.Output)
		if copied || err != nil || bytes.Count(b, []byte("\n")) < 60 {
			return
		}
		copied = true
		atCopy = srv.Stats()
		// The state first: the files only grow past what it committed.
		for _, c := range [][2]string{{filepath.Join(cfg.State, state.FileName), filepath.Join(killed.State, state.FileName)},
			{cfg.Output, killed.Output}, {cfg.FailedPath(), killed.Failed}} {
			b, err := os.ReadFile(c[0])
			if err == nil {
				err = errors.Join(os.MkdirAll(filepath.Dir(c[1]), 0o755), os.WriteFile(c[1], b, 0o644))
			}
			if err != nil {
				t.Error(err)
			}
		}
		cancel()
	}
	_, err := Run(ctx, cfg, WithBaseTransport(held),
		WithStateOptions(state.WithCommitInterval(10*time.Millisecond), state.WithAfterCommit(afterCommit)))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, copied, "the crawl ended before the copy")

	committed := committedIDs(t, &killed, srv)
	require.NotEmpty(t, committed)
	// The requests behind the committed lines: each item's detail requests,
	// all sent before its line, and its page's.
	behind, pages := 0, map[int]bool{}
	for _, id := range committed {
		behind += atCopy.DetailRequests[id]
		pages[(id-1)/20] = true
	}
	behind += len(pages)
	before := srv.Stats().Requests

	sum, err := runTest(t, &killed)
	require.NoError(t, err)
	assert.True(t, sum.Resumed)
	requireCrawled(t, srv, &killed, sum)
	after := srv.Stats()
	assert.GreaterOrEqual(t, sum.Requests, int64(behind)+after.Requests-before,
		"the killed run's requests behind its committed lines, and all of the last run's")
	assert.LessOrEqual(t, sum.Requests, after.Requests)
	assert.Equal(t, int64(240/20+1), sum.Pages, "each page once, and the empty page that ends the listing")
	var retried int64
	for _, l := range readLines[failedLine](t, killed.FailedPath()) {
		retried += int64(l.Attempts - 1)
	}
	assert.GreaterOrEqual(t, sum.Retries, retried, "the retries behind every failed line, whichever run wrote it")
	assert.Positive(t, sum.DurationS)
}
