package crawl

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadHostListing starts a listing of 5 tasks on a host that answers and 3
// on one that never answers them (its robots.txt answers 404), and returns
// the crawl's config with state and limits.unresponsive_runs runs.
func deadHostListing(t *testing.T, runs int) (cfg *Config, hole *recorder) {
	t.Helper()
	hole = startSilentHost(t, true)
	holeURL := hole.localhostURL()
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items":
			fmt.Fprintf(w, `{"items":[%s,%s]}`, itemsOn(holeURL, seq(3)...), itemsOn(api.URL, seq(5)...))
		case strings.HasPrefix(r.URL.Path, "/task/"):
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.NotFound(w, r)
		}
	})
	cfg = testConfigLimits(t, api.URL+"/items", "    style: none", taskOnHost(holeURL, "timeout: 100ms, unresponsive_after: 2"),
		fmt.Sprintf("limits:\n  timeout: 2s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}\n  unresponsive_runs: %d", runs), nil)
	cfg.State = filepath.Join(filepath.Dir(cfg.Output), "state")
	return cfg, hole
}

// TestRunWithStateLeavesItemsForAtMostUnresponsiveRunsRuns crawls, with state
// and limits.unresponsive_runs 2, a listing with tasks on a host that stays
// dead: the first two runs leave its items for the next run (exit 1), the
// third fails them for good into the failed file and finishes the crawl, and
// a fourth has nothing to do.
func TestRunWithStateLeavesItemsForAtMostUnresponsiveRunsRuns(t *testing.T) {
	cfg, hole := deadHostListing(t, 2)

	for run := 1; run <= 2; run++ {
		sum, err := runTest(t, cfg)
		require.ErrorIs(t, err, ErrItemsLeft, "run %d", run)
		assert.Contains(t, err.Error(), fmt.Sprintf("left by %d of at most limits.unresponsive_runs 2 runs", run))
		assert.Equal(t, int64(5), sum.Succeeded, "run %d", run)
		assert.Zero(t, sum.Failed, "run %d: left, not failed", run)
		assert.Empty(t, readLines[failedLine](t, cfg.FailedPath()), "run %d", run)
	}
	tried := hole.count("/task/")
	assert.Positive(t, tried, "the runs that left them tried the host")

	sum, err := runTest(t, cfg)
	require.NoError(t, err, "the third run fails them for good: the crawl is finished")
	assert.Equal(t, int64(5), sum.Succeeded)
	assert.Equal(t, int64(3), sum.Failed)
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 3)
	for _, f := range failed {
		assert.Contains(t, f.Error, "host unresponsive")
	}
	assert.Positive(t, hole.count("/task/")-tried, "the third run tried the host too")

	tried = hole.count("/task/")
	sum, err = runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(3), sum.Failed, "finished: nothing to do")
	assert.Equal(t, tried, hole.count("/task/"))
}

// TestRunWithStateAndNoUnresponsiveRunsFailsTheItemsAtOnce: with
// limits.unresponsive_runs 0 a crawl with state fails a dead host's items
// for good in its first run, as a crawl without state does.
func TestRunWithStateAndNoUnresponsiveRunsFailsTheItemsAtOnce(t *testing.T) {
	cfg, _ := deadHostListing(t, 0)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(5), sum.Succeeded)
	assert.Equal(t, int64(3), sum.Failed)
	assert.Len(t, readLines[failedLine](t, cfg.FailedPath()), 3)
}
