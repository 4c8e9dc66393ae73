package crawl

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/refusing"
)

// refusingHostListing starts a listing of 10 tasks on a host that answers
// and 10 on a host where nothing listens, and returns the crawl's config
// without robots.txt, with the default 10 s timeout: each refused attempt
// fails at once, far within it.
func refusingHostListing(t *testing.T) (cfg *Config, api *recorder, closedURL string) {
	t.Helper()
	closedURL = "http://" + refusing.Addr(t)
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items":
			fmt.Fprintf(w, `{"items":[%s,%s]}`, itemsOn(api.URL, seq(10)...), itemsOn(closedURL, seq(10)...))
		case strings.HasPrefix(r.URL.Path, "/task/"):
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.NotFound(w, r)
		}
	})
	cfg = testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\npoliteness:\n  robots: false\n",
		"limits:\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)
	return cfg, api, closedURL
}

// TestRunWithoutRobotsFailsTheItemsOfAHostThatRefusesConnectionsAsUnresponsive
// crawls, without robots.txt, a listing with tasks on a host where nothing
// listens: every attempt is refused at once, so the host's misses span less
// than its timeout. An item whose last attempt is refused after as many
// misses in a row as make a host unresponsive makes it so: the items fail as
// an unresponsive host's, as they do with robots.txt, not as refused.
func TestRunWithoutRobotsFailsTheItemsOfAHostThatRefusesConnectionsAsUnresponsive(t *testing.T) {
	cfg, _, closedURL := refusingHostListing(t)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(10), sum.Succeeded)
	assert.Equal(t, int64(10), sum.Failed)
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, closedURL+"/task/"), f.URL)
		assert.Contains(t, f.Error, "host unresponsive", "not a final \"connection refused\"")
		assert.LessOrEqual(t, f.Attempts, 5, "the requests sent for it")
	}
}

// TestRunWithStateWithoutRobotsLeavesTheItemsOfAHostThatRefusesConnections
// is the same crawl with state: the refusing host's items are left for the
// next run, as an unresponsive host's are.
func TestRunWithStateWithoutRobotsLeavesTheItemsOfAHostThatRefusesConnections(t *testing.T) {
	cfg, _, _ := refusingHostListing(t)
	cfg.State = filepath.Join(filepath.Dir(cfg.Output), "state")

	sum, err := runTest(t, cfg)
	require.ErrorIs(t, err, ErrItemsLeft, "not finished")
	assert.Contains(t, err.Error(), "crawl: 10 items of unresponsive hosts left for the next run")
	assert.Equal(t, int64(10), sum.Succeeded)
	assert.Zero(t, sum.Failed, "left for the next run, not failed")
	assert.Empty(t, readLines[failedLine](t, cfg.FailedPath()))
}
