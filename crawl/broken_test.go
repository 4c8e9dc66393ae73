package crawl

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunEndsSoonAfterItsLastItemsAreBrokenOnes lists 60 tasks of which
// 3, 30 and 58..60 always answer 500 (a page the server fails to render) and
// the rest answer at once. The broken items' retries are the crawl's last
// requests, failing in a row with nothing succeeding between: they say the
// items are broken, not that the server is in trouble, so they go at their
// own backoff (at most 50 ms here: the crawl's end is well under a second)
// and do not open the host's circuit breaker, whose pauses double to 3.2 s
// and send one request at a time (about a minute for these five items'
// twenty retries). The bound is wide for a loaded machine.
func TestRunEndsSoonAfterItsLastItemsAreBrokenOnes(t *testing.T) {
	broken := map[string]bool{"/task/3": true, "/task/30": true, "/task/58": true, "/task/59": true, "/task/60": true}
	hostURL, cfg := taskHost(t, 60, "limits:\n  concurrency: {initial: 4, max: 32}\n  timeout: 2s\n  retries: 4\n  backoff: {base: 5ms, max: 50ms}",
		func(w http.ResponseWriter, r *http.Request) bool {
			if !broken[r.URL.Path] {
				return false
			}
			http.Error(w, "internal error", http.StatusInternalServerError)
			return true
		})

	start := time.Now()
	sum, err := runTest(t, cfg)
	took := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, int64(55), sum.Succeeded)
	assert.Equal(t, int64(5), sum.Failed)
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, hostURL+"/task/"), f.URL)
		assert.Equal(t, 5, f.Attempts, "every broken item had its attempts: %+v", f)
		assert.Equal(t, http.StatusInternalServerError, f.Status)
	}
	assert.Less(t, took, 10*time.Second, "the broken items' retries waited for the host's breaker")
	t.Logf("took %v", took)
}

// taskHost starts a host whose robots.txt is missing and whose tasks answer
// {"ok":true} unless odd answered them (it reports whether it did), and a
// listing on another host of n tasks on it; it returns the task host's URL
// and a config with limits that crawls them.
func taskHost(t *testing.T, n int, limits string, odd func(w http.ResponseWriter, r *http.Request) bool) (string, *Config) {
	t.Helper()
	host := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			http.NotFound(w, r)
		case odd(w, r):
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	hostURL := host.localhostURL()
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/items" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(hostURL, seq(n)...))
	})
	return hostURL, testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\n", limits, nil)
}
