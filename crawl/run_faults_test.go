package crawl

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/politely/politely/mockapi"
)

func TestRunFetchesEveryRecoverableItemDespiteFaults(t *testing.T) {
	t.Parallel()
	srv := startMock(t, mockapi.Scenario{Items: 80, PerPage: 20, Faults: mockapi.Faults{
		Seed: 7, Error500: 0.1, Reset: 0.05, Hang: 0.05, Malformed: 0.05, SlowBody: 0.05, Permanent: 0.05,
		HangMax: 10 * time.Second, SlowBodyDuration: 200 * time.Millisecond, Pages: true,
	}})
	cfg := testConfigLimits(t, srv.URL()+"/items", "    style: page", detailTask, `limits:
  timeout: 1s
  retries: 3
  backoff: {base: 5ms, max: 50ms}`, nil)

	began := time.Now()
	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	st := srv.Stats()
	require.NotEmpty(t, st.BrokenItems, "the seed must break some items")
	require.Positive(t, st.Faults[mockapi.FaultHang], "the seed must hang some requests")
	assert.ElementsMatch(t, seq(80, st.BrokenItems...), ids(t, readLines[outLine](t, cfg.Output)),
		"every recoverable item, once")
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, len(st.BrokenItems))
	for _, f := range failed {
		assert.Equal(t, "http 500 Internal Server Error", f.Error, f.URL)
		assert.Equal(t, 500, f.Status)
		assert.Equal(t, 4, f.Attempts)
	}
	assert.Equal(t, int64(len(st.BrokenItems)), sum.Failed)
	// Not equal to the server's count: net/http resends a GET whose reused
	// connection was reset before any answer, as one RoundTrip.
	assert.Greater(t, sum.Requests, int64(1+5+80), "robots.txt, 5 pages and 80 details, and retries")
	assert.Positive(t, sum.Retries)
	// Hangs end at the 1 s timeout, never at the server's 10 s.
	assert.Less(t, time.Since(began), 9*time.Second)
}

// faultAPI is a test server with one listing page of the given paths and
// handlers for them; robots.txt is absent.
func faultAPI(t *testing.T, paths []string, handle func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/items":
			var b strings.Builder
			for i, p := range paths {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"p":%q}`, p)
			}
			fmt.Fprintf(w, `{"items":[%s]}`, b.String())
		default:
			handle(w, r)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

func TestRunFailedLinesGiveTheReason(t *testing.T) {
	t.Parallel()
	var flaky atomic.Int64
	api := faultAPI(t, []string{"/big", "/small", "/malformed", "/flaky", "/missing", "/hang"}, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			fmt.Fprintf(w, `{"blob":%q}`, strings.Repeat("x", 300))
		case "/small":
			fmt.Fprint(w, `{"ok":1}`)
		case "/malformed":
			fmt.Fprint(w, `{"cut":`)
		case "/flaky": // malformed once, then whole
			if flaky.Add(1) == 1 {
				fmt.Fprint(w, `{"cut":`)
				return
			}
			fmt.Fprint(w, `{"ok":2}`)
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"", `limits:
  timeout: 300ms
  retries: 2
  backoff: {base: 1ms, max: 5ms}
  max_body: 200B`, nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	out := readLines[outLine](t, cfg.Output)
	assert.ElementsMatch(t, []string{api.URL + "/small", api.URL + "/flaky"}, []string{out[0].URL, out[1].URL})
	got := map[string]failedLine{}
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		got[strings.TrimPrefix(f.URL, api.URL)] = f
	}
	assert.Equal(t, map[string]failedLine{
		"/big":       {URL: api.URL + "/big", Error: "body larger than max_body (200 bytes)", Status: 200, Attempts: 1},
		"/malformed": {URL: api.URL + "/malformed", Error: "malformed JSON body: unexpected EOF", Status: 200, Attempts: 3},
		"/missing":   {URL: api.URL + "/missing", Error: "http 404 Not Found", Status: 404, Attempts: 1},
		"/hang":      {URL: api.URL + "/hang", Error: got["/hang"].Error, Attempts: 3},
	}, got)
	assert.Contains(t, got["/hang"].Error, "context deadline exceeded")
	assert.Equal(t, int64(2), sum.Succeeded)
	assert.Equal(t, int64(4), sum.Failed)
}

func TestRunFailsATaskWhoseTemplateCannotExpand(t *testing.T) {
	api := faultAPI(t, nil, http.NotFound)
	cfg := testConfig(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+nope}\"", nil)
	api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":1}]}`)
	})

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 1)
	assert.Equal(t, api.URL+"/items", failed[0].URL, "the item's page, as it has no URL of its own")
	assert.Contains(t, failed[0].Error, "task.url:")
	assert.Contains(t, failed[0].Error, "nope")
	assert.Equal(t, int64(1), sum.Failed)
}

func TestRunEndsTheListingAtALoop(t *testing.T) {
	// Page "" lists items 1 and 2 and points at page A; page A lists item 3
	// and points at itself.
	tests := []struct {
		name       string
		pagination string
		next       func(base string) (header, body string) // of page A
	}{
		{name: "cursor", pagination: "    style: cursor\n    param: p\n    cursor_field: next",
			next: func(string) (string, string) { return "", `"A"` }},
		{name: "next_url", pagination: "    style: next_url\n    next_field: next",
			next: func(base string) (string, string) { return "", fmt.Sprintf("%q", base+"?p=A") }},
		{name: "link", pagination: "    style: link",
			next: func(base string) (string, string) { return "<" + base + "?p=A>; rel=\"next\"", "null" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api *httptest.Server
			api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				header, next := tt.next(api.URL + "/items")
				if header != "" {
					w.Header().Set("Link", header)
				}
				if r.URL.Query().Get("p") == "" {
					fmt.Fprintf(w, `{"items":[{"id":1},{"id":2}],"next":%s}`, next)
					return
				}
				fmt.Fprintf(w, `{"items":[{"id":3}],"next":%s}`, next)
			}))
			defer api.Close()
			var logs syncBuffer
			cfg := testConfig(t, api.URL+"/items", tt.pagination, "politeness: {robots: false}", nil)

			sum, err := runTest(t, cfg, WithLogger(zap.New(zapcore.NewCore(
				zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zap.DebugLevel))))
			require.NoError(t, err)

			assert.ElementsMatch(t, seq(3), ids(t, readLines[outLine](t, cfg.Output)), "no item twice")
			assert.Equal(t, int64(2), sum.Pages, "the repeated page is not fetched")
			assert.Contains(t, logs.String(), "the listing repeats a cursor or URL")
		})
	}
}

func TestRunFailsWhenTheListingIsUnreachable(t *testing.T) {
	api := httptest.NewServer(http.NotFoundHandler())
	url := api.URL
	api.Close() // connection refused from now on
	cfg := testConfigLimits(t, url+"/items", "    style: page", "politeness: {robots: false}",
		"limits:\n  retries: 2\n  backoff: {base: 1ms, max: 2ms}", nil)

	start := time.Now()
	sum, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listing page "+url+"/items?page=1: after ")
	assert.Contains(t, err.Error(), "connection refused")
	assert.GreaterOrEqual(t, sum.Requests, int64(3), "its attempts, then more until backoff.max has passed")
	assert.Equal(t, sum.Requests-1, sum.Retries)
	assert.Less(t, time.Since(start), 10*time.Second, "patience is backoff.max: 2 ms")
	assert.False(t, sum.Interrupted)
}

// TestRunWaitsOutAListingPageThatFailsForAWhile serves the listing's second
// page with 500s for its first 300 ms: more than the three attempts a task
// gets, less than backoff.max. The page is retried until it answers, and
// nothing is lost.
func TestRunWaitsOutAListingPageThatFailsForAWhile(t *testing.T) {
	failing := failingFor(300 * time.Millisecond)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			fmt.Fprint(w, `{"items":[{"id":1},{"id":2}]}`)
		case "2":
			if failing() {
				http.Error(w, "storm", http.StatusInternalServerError)
				return
			}
			fmt.Fprint(w, `{"items":[{"id":3}]}`)
		default:
			fmt.Fprint(w, `{"items":[]}`)
		}
	}))
	defer api.Close()
	cfg := testConfigLimits(t, api.URL+"/items", "    style: page", "politeness: {robots: false}",
		"limits:\n  retries: 2\n  backoff: {base: 1ms, max: 20s}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.ElementsMatch(t, seq(3), ids(t, readLines[outLine](t, cfg.Output)))
	assert.Greater(t, sum.Retries, int64(2), "more than a task's attempts")
}

func TestRunNeverLogsHeaderValues(t *testing.T) {
	const secret = "tok-SECRET-99"
	var throttled atomic.Bool
	api := faultAPI(t, []string{"/a", "/b", "/gone"}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/gone":
			http.Error(w, "gone", http.StatusGone)
		case throttled.CompareAndSwap(false, true):
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	var logs syncBuffer
	cfg := testConfig(t, api.URL+"/items", "    style: none",
		"task:\n  url: \"{+p}\"\nheaders:\n  Authorization: \"Bearer ${API_TOKEN}\"\n  X-Api-Key: \"${API_TOKEN}\"",
		map[string]string{"API_TOKEN": secret})

	sum, err := runTest(t, cfg, WithLogger(zap.New(zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zap.DebugLevel))))
	require.NoError(t, err)

	assert.Equal(t, int64(2), sum.Succeeded, "the token was sent")
	assert.Equal(t, int64(1), sum.Throttled)
	assert.NotEmpty(t, logs.String(), "debug logs were written")
	assert.NotContains(t, logs.String(), secret)
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 1)
	assert.NotContains(t, failed[0].Error, secret)
}

func TestRunStopsWhenCancelled(t *testing.T) {
	arrived := make(chan struct{}, 16)
	api := faultAPI(t, []string{"/a", "/b", "/c"}, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"",
		"limits:\n  timeout: 20s", nil)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()

	began := time.Now()
	sum, err := Run(ctx, cfg)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, sum.Interrupted)
	assert.Zero(t, sum.Failed, "interrupted items are not failed for good")
	assert.Empty(t, readLines[failedLine](t, cfg.FailedPath()))
	assert.Less(t, time.Since(began), maxDrain+5*time.Second, "in-flight requests end at the drain timeout at the latest")
}

// syncBuffer is a bytes.Buffer for concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunFailsAtOnceWhenItemsFieldIsNotAList(t *testing.T) {
	var pages atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		fmt.Fprint(w, `{"items":{"id":1}}`)
	}))
	defer api.Close()
	cfg := testConfig(t, api.URL+"/items", "    style: none", "politeness: {robots: false}", nil)

	_, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 1 attempt: source.items_field:")
	assert.Equal(t, int64(1), pages.Load(), "a page of the wrong shape is not retried")
}
