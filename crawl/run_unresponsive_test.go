package crawl

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/politely/politely/internal/refusing"
)

// itemsOn is a listing page's body: items whose p is base + /task/N for
// each N in ids.
func itemsOn(base string, ids ...int) string {
	var items []string
	for _, id := range ids {
		items = append(items, fmt.Sprintf(`{"p":"%s/task/%d"}`, base, id))
	}
	return strings.Join(items, ",")
}

// startTwoPageListing starts a listing of two pages of tasks on hostURL:
// page 1 lists tasks 11 to 16, page 2, served once release is closed, tasks
// 21 to 24.
func startTwoPageListing(t *testing.T, hostURL string) (api *recorder, release chan struct{}) {
	release = make(chan struct{})
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/items":
			fmt.Fprintf(w, `{"items":[%s],"next":"/items2"}`, itemsOn(hostURL, 11, 12, 13, 14, 15, 16))
		case "/items2":
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(hostURL, 21, 22, 23, 24))
		default:
			http.NotFound(w, r)
		}
	})
	return api, release
}

// crawlPastPageOnesFailures crawls cfg, a startTwoPageListing's, until page
// 1's 6 items have failed; then it calls then, moves the crawl's clock an
// hour on (past the host's next try), releases page 2 and awaits the crawl's
// end, which must be without error.
func crawlPastPageOnesFailures(t *testing.T, cfg *Config, log *zap.Logger, release chan struct{}, then func()) {
	var ahead atomic.Int64 // how far the crawl's clock is ahead of the real one
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	var pageOneFailed atomic.Bool
	failedOnce := make(chan struct{})
	r, err := newRunner(cfg, runOptions{log: log, now: clock, interval: 5 * time.Millisecond,
		progress: func(p Progress) {
			// Every attempt of page 1's items has ended, so no request
			// to the host is under way: its next try's time is set.
			if p.Failed == 6 && pageOneFailed.CompareAndSwap(false, true) {
				close(failedOnce)
			}
		}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := r.run(ctx); done <- err }()

	select {
	case <-failedOnce:
	case err := <-done:
		t.Fatalf("the crawl ended before page 1's items failed: %v", err)
	case <-ctx.Done():
		t.Fatal("page 1's items did not fail")
	}
	then()
	ahead.Store(int64(time.Hour))
	close(release)
	require.NoError(t, <-done)
}

// taskOnHost is a config's task and hosts sections: the task URL is the
// item's p, and the host of hostURL has settings (a YAML flow mapping's
// body).
func taskOnHost(hostURL, settings string) string {
	return fmt.Sprintf("task:\n  url: \"{+p}\"\nhosts:\n  %q: {%s}\n", strings.TrimPrefix(hostURL, "http://"), settings)
}

// startListingWith starts a listing of one page: n tasks on itself, which
// answer {"ok":true}, then n tasks on other.
func startListingWith(t *testing.T, n int, other string) *recorder {
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items":
			ids := seq(n)
			fmt.Fprintf(w, `{"items":[%s,%s]}`, itemsOn(api.URL, ids...), itemsOn(other, ids...))
		case strings.HasPrefix(r.URL.Path, "/task/"):
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.NotFound(w, r)
		}
	})
	return api
}

// startSilentHost starts a host that answers no request: each ends at the
// client's timeout. Its robots.txt answers 404 if robotsAnswers, else it is
// as silent as the rest.
func startSilentHost(t *testing.T, robotsAnswers bool) *recorder {
	return startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if robotsAnswers && r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		<-r.Context().Done() // never answers: the client gives up
	})
}

// TestRunFailsTheItemsOfAnUnresponsiveHostWithoutSendingThem lists 20 tasks
// on a host that answers and 20 on one that never does (each request ends at
// the 200 ms timeout). Without the unresponsive rule, each of the silent
// host's items would get 5 requests (limits.retries 4) at a concurrency that
// every timeout cuts; with it (the default, after 5), the host gets fewer
// requests than it has items, its items go to the failed file, and the other
// host's are all done.
func TestRunFailsTheItemsOfAnUnresponsiveHostWithoutSendingThem(t *testing.T) {
	hole := startSilentHost(t, true)
	holeURL := hole.localhostURL()
	api := startListingWith(t, 20, holeURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\n",
		"limits:\n  concurrency: {initial: 4, max: 32}\n  timeout: 200ms\n  retries: 4\n  backoff: {base: 5ms, max: 50ms}", nil)
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)
	assert.Equal(t, int64(20), sum.Succeeded)
	assert.Equal(t, int64(20), sum.Failed, "nothing lost: the silent host's items are in the failed file")
	assert.Len(t, readLines[outLine](t, cfg.Output), 20)

	unresponsive := 0
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, holeURL+"/task/"), f.URL)
		assert.Zero(t, f.Status)
		if strings.Contains(f.Error, "host unresponsive") {
			unresponsive++
			assert.Less(t, f.Attempts, 5, "an item failed at once made fewer requests than its retries allow")
		}
	}
	assert.Positive(t, unresponsive, "items failed because their host is unresponsive")
	assert.Less(t, hole.count("/task/"), 20, "fewer requests than items")
	assert.Equal(t, 1, logs.FilterMessageSnippet("host unresponsive").Len(), "%v", logs.All())
	assert.Zero(t, logs.FilterMessageSnippet("timed out at a host that answers others").Len(),
		"a host that answered only its robots.txt is not called slow: %v", logs.All())
}

// TestRunTriesAnUnresponsiveHostAgainAndCrawlsItWhenItAnswers lists, on
// page 1, tasks of a host that does not answer them, and on page 2, served
// once those have failed, tasks that it answers. The host is unresponsive
// after 3 requests over its 100 ms timeout; once the time of its next try has
// come (the test moves the crawl's clock an hour on), the first of page 2's
// tasks tries it, and it and every task after it are done: a host that
// answers again is crawled again.
func TestRunTriesAnUnresponsiveHostAgainAndCrawlsItWhenItAnswers(t *testing.T) {
	host := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			http.NotFound(w, r)
		case strings.HasPrefix(r.URL.Path, "/task/1"): // page 1's: 11..16
			<-r.Context().Done()
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	hostURL := host.localhostURL()
	hostKey := strings.TrimPrefix(hostURL, "http://")
	api, release := startTwoPageListing(t, hostURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: next_url\n    next_field: next", fmt.Sprintf(
		"task:\n  url: \"{+p}\"\nhosts:\n  %q: {timeout: 100ms, unresponsive_after: 3, concurrency: {initial: 1, max: 1}}\n  127.0.0.1: {timeout: 30s}\n", hostKey),
		"limits:\n  timeout: 2s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	core, logs := observer.New(zapcore.InfoLevel)
	crawlPastPageOnesFailures(t, cfg, zap.New(core), release, func() {})

	var got []string
	for _, l := range readLines[outLine](t, cfg.Output) {
		got = append(got, l.URL)
	}
	assert.ElementsMatch(t, []string{hostURL + "/task/21", hostURL + "/task/22", hostURL + "/task/23", hostURL + "/task/24"}, got,
		"page 2's tasks are all done once the host answers")
	failed := readLines[failedLine](t, cfg.FailedPath())
	assert.Len(t, failed, 6, "page 1's tasks failed: nothing lost")
	assert.Equal(t, 1, logs.FilterMessageSnippet("host unresponsive").Len(), "%v", logs.All())
	assert.Equal(t, 1, logs.FilterMessageSnippet("host answers again").Len(), "%v", logs.All())
	assert.Equal(t, 4, host.count("/task/2"), "one request for each of page 2's tasks")
}

// TestRunFailsTheItemsOfAHostThatAnswersNotEvenItsRobotsTxtAsUnresponsive
// lists 20 tasks on a host that answers nothing, its robots.txt included,
// unresponsive after 2 requests over its 100 ms timeout. Its robots.txt is
// tried until then, not for all of its 5 attempts, and its items fail as
// the items of an unresponsive host, not as disallowed by robots.txt.
func TestRunFailsTheItemsOfAHostThatAnswersNotEvenItsRobotsTxtAsUnresponsive(t *testing.T) {
	hole := startSilentHost(t, false)
	holeURL := hole.localhostURL()
	api := startListingWith(t, 20, holeURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", taskOnHost(holeURL, "timeout: 100ms, unresponsive_after: 2, backoff: {base: 1m, max: 1m}"),
		"limits:\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(20), sum.Succeeded)
	assert.Equal(t, int64(20), sum.Failed, "nothing lost: the silent host's items are in the failed file")
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, holeURL+"/task/"), f.URL)
		assert.Contains(t, f.Error, "host unresponsive", "its robots.txt got no answer: the host is unresponsive")
		assert.Zero(t, f.Attempts, "no task was sent")
	}
	assert.Equal(t, 2, hole.count("/robots.txt"), "robots.txt is tried until the host is unresponsive, then by its next try")
	assert.Zero(t, hole.count("/task/"))
}

// TestRunCrawlsAHostWhoseRobotsTxtAnswersAgain lists, on page 1, tasks of a
// host whose robots.txt gets no answer, and on page 2, served once those
// have failed, tasks of the same host, whose robots.txt answers by then. The
// unreachable robots.txt is not kept: the task that tries the host again
// fetches it, and every task of page 2 is done.
func TestRunCrawlsAHostWhoseRobotsTxtAnswersAgain(t *testing.T) {
	var robotsHang atomic.Bool
	robotsHang.Store(true)
	host := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt" && robotsHang.Load():
			<-r.Context().Done()
		case r.URL.Path == "/robots.txt":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	hostURL := host.localhostURL()
	hostKey := strings.TrimPrefix(hostURL, "http://")
	api, release := startTwoPageListing(t, hostURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: next_url\n    next_field: next", fmt.Sprintf(
		"task:\n  url: \"{+p}\"\nhosts:\n  %q: {timeout: 100ms, unresponsive_after: 2}\n  127.0.0.1: {timeout: 30s}\n", hostKey),
		"limits:\n  timeout: 2s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	crawlPastPageOnesFailures(t, cfg, zap.NewNop(), release, func() { robotsHang.Store(false) })

	assert.Len(t, readLines[outLine](t, cfg.Output), 4, "page 2's tasks are all done once the host answers")
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.Contains(t, f.Error, "host unresponsive", "page 1's tasks: their robots.txt got no answer")
	}
	assert.Equal(t, 4, host.count("/task/2"), "one request for each of page 2's tasks")
	assert.Zero(t, host.count("/task/1"), "none for page 1's")
}

// TestRunWithStateLeavesTheItemsOfAnUnresponsiveHostForTheNextRun crawls,
// with state, a listing of two pages whose first holds tasks of a host that
// does not answer them. Their items are left for the next run: not in the
// failed file, the state not finished. Run again once the host answers, the
// crawl does them, and only them: every item is in the output once.
func TestRunWithStateLeavesTheItemsOfAnUnresponsiveHostForTheNextRun(t *testing.T) {
	var dead atomic.Bool
	dead.Store(true)
	hole := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			http.NotFound(w, r)
		case dead.Load():
			<-r.Context().Done()
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	holeURL := hole.localhostURL()
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items":
			fmt.Fprintf(w, `{"items":[%s,%s],"next":"/items2"}`, itemsOn(holeURL, seq(5)...), itemsOn(api.URL, seq(5)...))
		case r.URL.Path == "/items2":
			fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(api.URL, 6, 7, 8, 9, 10))
		case strings.HasPrefix(r.URL.Path, "/task/"):
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: next_url\n    next_field: next", taskOnHost(holeURL, "timeout: 100ms, unresponsive_after: 2, retries: 50, backoff: {base: 5ms, max: 200ms}"),
		"limits:\n  timeout: 2s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)
	cfg.State = filepath.Join(filepath.Dir(cfg.Output), "state")

	sum, err := runTest(t, cfg)
	require.ErrorIs(t, err, ErrItemsLeft, "not finished")
	assert.Contains(t, err.Error(), "crawl: 5 items of unresponsive hosts left for the next run")
	assert.Equal(t, int64(10), sum.Succeeded)
	assert.Zero(t, sum.Failed, "left for the next run, not failed")
	assert.Equal(t, int64(15), sum.Items, "the items left count as unfinished")
	assert.Empty(t, readLines[failedLine](t, cfg.FailedPath()))
	require.Equal(t, 10, api.count("/task/"))
	holeTried := hole.count("/task/")

	dead.Store(false)
	sum, err = runTest(t, cfg)
	require.NoError(t, err)
	assert.True(t, sum.Resumed)
	assert.Equal(t, int64(15), sum.Succeeded, "the whole crawl's")
	assert.Zero(t, sum.Failed)
	assert.Equal(t, int64(15), sum.Items)
	var got []string
	for _, l := range readLines[outLine](t, cfg.Output) {
		got = append(got, l.URL)
	}
	var want []string
	for i := range 5 {
		want = append(want, fmt.Sprintf("%s/task/%d", holeURL, i+1))
	}
	for i := range 10 {
		want = append(want, fmt.Sprintf("%s/task/%d", api.URL, i+1))
	}
	assert.ElementsMatch(t, want, got, "every item once")
	assert.Equal(t, 10, api.count("/task/"), "the items done are not requested again")
	assert.Equal(t, 5, hole.count("/task/")-holeTried, "the items left, once each")

	sum, err = runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(15), sum.Succeeded, "finished: nothing to do")
	assert.Equal(t, 10, api.count("/task/"))
}

// TestRunFailsTheItemsOfAHostThatRefusesConnectionsAsUnresponsive lists 20
// tasks on a host where nothing listens: every connection is refused at
// once, its robots.txt's included. After robots.txt's attempts the host is
// unresponsive, not disallowed for the rest of the crawl: its items fail as
// the items of an unresponsive host.
func TestRunFailsTheItemsOfAHostThatRefusesConnectionsAsUnresponsive(t *testing.T) {
	closedURL := "http://" + refusing.Addr(t)
	api := startListingWith(t, 20, closedURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\n",
		"limits:\n  timeout: 10s\n  retries: 4\n  backoff: {base: 5ms, max: 20ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(20), sum.Succeeded)
	assert.Equal(t, int64(20), sum.Failed)
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, closedURL+"/task/"), f.URL)
		assert.Contains(t, f.Error, "host unresponsive", "its robots.txt got no answer: the host is unresponsive, not disallowing")
	}
}

// TestRunFailsTheItemsOfAHostThatSendsHeadersAndThenNothing lists 20 tasks
// on a host that answers every task with its headers and the start of a
// body, then nothing until the 200 ms timeout cuts it: a body the timeout
// cut short is no answer, so the host is unresponsive as one that sends
// nothing, and its items fail without each taking its 5 timeouts.
func TestRunFailsTheItemsOfAHostThatSendsHeadersAndThenNothing(t *testing.T) {
	pit := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"ok":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	pitURL := pit.localhostURL()
	api := startListingWith(t, 20, pitURL)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\n",
		"limits:\n  concurrency: {initial: 4, max: 32}\n  timeout: 200ms\n  retries: 4\n  backoff: {base: 5ms, max: 50ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(20), sum.Succeeded)
	assert.Equal(t, int64(20), sum.Failed, "nothing lost: the host's items are in the failed file")
	unresponsive := 0
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.True(t, strings.HasPrefix(f.URL, pitURL+"/task/"), f.URL)
		if strings.Contains(f.Error, "host unresponsive") {
			unresponsive++
		}
	}
	assert.Positive(t, unresponsive, "items failed because their host is unresponsive")
	assert.Less(t, pit.count("/task/"), 50, "fewer requests than 5 for each item (100 before)")
}

// TestRunFailsATaskWhoseTryOfAnUnresponsiveHostGotNoAnswer lists one task on
// a host that answers only its robots.txt, unresponsive after 3 requests
// over its 50 ms timeout; the task may take 10 attempts. Its first 3 make
// the host unresponsive; when its next one tries the host again and gets no
// answer either, it fails as an unresponsive host's tasks do, rather than
// trying the host again at its own backoff until its attempts are spent,
// which held the crawl's end as long.
func TestRunFailsATaskWhoseTryOfAnUnresponsiveHostGotNoAnswer(t *testing.T) {
	for range 4 {
		hole := startSilentHost(t, true)
		holeURL := hole.localhostURL()
		api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"items":[%s]}`, itemsOn(holeURL, 1))
		})
		cfg := testConfigLimits(t, api.URL+"/items", "    style: none", fmt.Sprintf(
			"task:\n  url: \"{+p}\"\nhosts:\n  %q: {timeout: 50ms, unresponsive_after: 3, concurrency: {initial: 1, max: 1}}\n",
			strings.TrimPrefix(holeURL, "http://")),
			"limits:\n  retries: 9\n  backoff: {base: 20ms, max: 10s}", nil)

		sum, err := runTest(t, cfg)
		require.NoError(t, err)
		assert.Equal(t, int64(1), sum.Failed)
		for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
			assert.Contains(t, f.Error, "host unresponsive")
			assert.LessOrEqual(t, f.Attempts, 4, "3 misses, then one try of the host or none")
		}
		assert.LessOrEqual(t, hole.count("/task/"), 4)
	}
}

// TestRunTellsOnceOfTimeoutsAtAHostThatAnswersOthers lists 20 tasks on a host
// whose tasks 3, 7 and 11 answer only after the 200 ms timeout (every
// attempt): the user is told once, naming the host and limits.timeout, that
// a host which answers others timed out, and the three items are in the
// failed file.
func TestRunTellsOnceOfTimeoutsAtAHostThatAnswersOthers(t *testing.T) {
	slow := map[string]bool{"/task/3": true, "/task/7": true, "/task/11": true}
	hostURL, cfg := taskHost(t, 20, "limits:\n  concurrency: {initial: 4, max: 32}\n  timeout: 200ms\n  retries: 1\n  backoff: {base: 5ms, max: 20ms}",
		func(w http.ResponseWriter, r *http.Request) bool {
			if !slow[r.URL.Path] {
				return false
			}
			<-r.Context().Done() // later than any timeout: the client gives up
			return true
		})
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)
	assert.Equal(t, int64(17), sum.Succeeded)
	assert.Equal(t, int64(3), sum.Failed)
	told := logs.FilterMessageSnippet("timed out at a host that answers others")
	require.Equal(t, 1, told.Len(), "told once for the host, not once a request: %v", logs.All())
	fields := told.All()[0].ContextMap()
	assert.Equal(t, strings.TrimPrefix(hostURL, "http://"), fields["host"])
	assert.Equal(t, 200*time.Millisecond, fields["timeout"])
}
