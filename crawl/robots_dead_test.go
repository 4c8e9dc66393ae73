package crawl

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunAsksAHostThatNeverAnsweredForItsRobotsTxtAtOnce lists 10 tasks on a
// host that answers nothing, its robots.txt included (unresponsive after 5
// requests, the default). Once robots.txt's first attempt got no answer, the
// 4 requests that make the host unresponsive are sent together, not one
// timeout after another, and its items fail as an unresponsive host's.
func TestRunAsksAHostThatNeverAnsweredForItsRobotsTxtAtOnce(t *testing.T) {
	var inFlight, most atomic.Int64
	hole := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for top := most.Load(); n > top && !most.CompareAndSwap(top, n); top = most.Load() {
		}
		<-r.Context().Done() // never answers: the client gives up
	})
	holeURL := hole.localhostURL()
	api := startListingWith(t, 10, holeURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", taskOnHost(holeURL, "timeout: 500ms, backoff: {base: 1m, max: 1m}"),
		"limits:\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(10), sum.Succeeded)
	assert.Equal(t, int64(10), sum.Failed, "nothing lost: the silent host's items are in the failed file")
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, holeURL+"/task/"), f.URL)
		assert.Contains(t, f.Error, "host unresponsive")
	}
	assert.Equal(t, 5, hole.count("/robots.txt"), "robots.txt's attempts, until the host is unresponsive")
	assert.Equal(t, int64(4), most.Load(), "the 4 attempts after the first were sent together")
	assert.Zero(t, hole.count("/task/"))
}

// TestRunCrawlsAHostWhoseRobotsTxtHangsAtFirst lists 10 tasks on a host whose
// first two robots.txt requests hang until the timeout and whose others
// answer: one of the attempts sent together answers, and every item is done.
func TestRunCrawlsAHostWhoseRobotsTxtHangsAtFirst(t *testing.T) {
	var robots atomic.Int64
	host := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt" && robots.Add(1) <= 2:
			<-r.Context().Done()
		case r.URL.Path == "/robots.txt":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	hostURL := host.localhostURL()
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items" {
			fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(hostURL, seq(10)...))
			return
		}
		http.NotFound(w, r)
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", taskOnHost(hostURL, "timeout: 200ms"),
		"limits:\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(10), sum.Succeeded, "the host answered robots.txt: it is crawled")
	assert.Zero(t, sum.Failed)
	assert.Equal(t, 10, host.count("/task/"))
}
