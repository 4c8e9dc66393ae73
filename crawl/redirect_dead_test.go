package crawl

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunSendsNoRedirectHopToAnUnresponsiveHost lists 20 tasks on a host
// that redirects each to a host that never answers (its robots.txt answers):
// once that host is unresponsive, a hop to it fails at once as its own tasks
// do, but for one at a time that tries it again, instead of each hop taking
// a whole timeout, attempt after attempt.
func TestRunSendsNoRedirectHopToAnUnresponsiveHost(t *testing.T) {
	hole := startSilentHost(t, true)
	holeURL := hole.localhostURL()
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items":
			fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(api.URL, seq(20)...))
		case strings.HasPrefix(r.URL.Path, "/task/"):
			http.Redirect(w, r, holeURL+r.URL.Path, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", taskOnHost(holeURL, "timeout: 200ms, backoff: {base: 1m, max: 1m}"),
		"limits:\n  concurrency: {initial: 4, max: 32}\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(20), sum.Failed, "nothing lost: every item in the failed file")
	unresponsive := 0
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		if strings.Contains(f.Error, "host unresponsive") {
			unresponsive++
		}
	}
	assert.Positive(t, unresponsive, "hops to the unresponsive host fail as its tasks do")
	assert.Less(t, hole.count("/task/"), 20, "fewer hops sent than items (100 before)")
}
