package crawl

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

func TestRunSkipsWhatRobotsDisallowAndObeysCrawlDelay(t *testing.T) {
	srv := startMock(t, mockapi.Scenario{Items: 20, PerPage: 10,
		Robots: mockapi.Robots{PrivateEvery: 4, CrawlDelay: 50 * time.Millisecond}})
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", detailTask, nil)
	reg := prometheus.NewRegistry()

	sum, err := runTest(t, cfg, WithRegisterer(reg))
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(20, 4, 8, 12, 16, 20), ids(t, readLines[outLine](t, cfg.Output)))
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 5)
	for _, f := range failed {
		assert.Contains(t, f.URL, srv.URL()+"/private/items/")
		assert.Equal(t, failedLine{URL: f.URL, Error: "disallowed by robots.txt"}, f, "never requested")
	}
	st := srv.Stats()
	assert.Zero(t, st.RobotsViolations)
	assert.Equal(t, int64(1), st.ByClass[mockapi.ClassRobots], "robots.txt fetched once")
	assert.Equal(t, int64(15), sum.Succeeded)
	assert.Equal(t, int64(5), sum.Failed)

	// Crawl-delay 50ms is a ceiling of 20 requests/s on the host.
	rate := gauge(t, reg, "politely_rate_limit")
	assert.InDelta(t, 20, rate, 0.01)
	assert.GreaterOrEqual(t, sum.DurationS, 0.5, "18 requests at 20/s take most of a second")
}

func TestRunRobotsAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		fetched bool // whether the detail is requested
		listing bool // whether the listing may be read
	}{
		{name: "404 allows everything", status: 404, fetched: true, listing: true},
		{name: "empty allows everything", status: 200, fetched: true, listing: true},
		{name: "rules for another agent", status: 200, body: "User-agent: other\nDisallow: /\n", fetched: true, listing: true},
		{name: "rules for this agent", status: 200, body: "User-agent: politely-test\nDisallow: /d/\n", listing: true},
		{name: "500 is unreachable: disallow all (RFC 9309)", status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api, details := oneItemAPI(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			cfg := testConfig(t, api+"/items", "    style: none", "task:\n  url: \"{+p}\"", nil)

			sum, err := runTest(t, cfg)
			if !tt.listing {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "disallowed by robots.txt")
				if tt.status >= 500 {
					assert.Contains(t, err.Error(), "robots.txt could not be had (", "says the robots.txt failed, not that a rule forbids it")
					assert.Contains(t, err.Error(), "http 500")
				} else {
					assert.NotContains(t, err.Error(), "could not be had")
				}
				assert.Zero(t, sum.Pages)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.fetched, details.Load() == 1)
			assert.Equal(t, tt.fetched, sum.Succeeded == 1)
		})
	}
}

func TestRunHeaderQuotaDrawsNo403(t *testing.T) {
	t.Parallel()
	// GitHub style: 25 requests per 1 s window, 403 once used up. 60 items
	// and 7 pages need three windows.
	srv := startMock(t, mockapi.Scenario{Items: 60, PerPage: 10,
		HeaderQuota: mockapi.HeaderQuota{Limit: 25, Window: time.Second}})
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", detailTask, nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	st := srv.Stats()
	assert.Zero(t, st.ByStatus[http.StatusForbidden], "no 403: %v", st.ByStatus)
	assert.Zero(t, st.EarlyRequests)
	assert.Empty(t, st.Unfetched())
	assert.Equal(t, int64(60), sum.Succeeded)
	assert.Zero(t, sum.Throttled)
}

func TestRunWaitsForRetryAfter(t *testing.T) {
	t.Parallel()
	// A bucket of 20 requests/s that announces nothing but its 429s'
	// Retry-After (whole seconds). One request at a time, so that none is
	// on its way while a 429 is answered: the server would count it early.
	srv := startMock(t, mockapi.Scenario{Items: 20, PerPage: 20,
		Quota: mockapi.Quota{Rate: 20, Burst: 2, Headers: mockapi.QuotaHeadersNone}})
	cfg := testConfigLimits(t, srv.URL()+"/items", "    style: page", detailTask,
		"limits:\n  concurrency: {algorithm: fixed, initial: 1, min: 1, max: 1}\n  backoff: {base: 5ms, max: 50ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	st := srv.Stats()
	assert.Empty(t, st.Unfetched(), "every item fetched")
	assert.Zero(t, st.EarlyRequests, "nothing sent before a Retry-After passed: %+v", st.ByStatus)
	assert.Positive(t, st.ByStatus[http.StatusTooManyRequests], "the test must draw 429s")
	assert.Equal(t, st.ByStatus[http.StatusTooManyRequests], sum.Throttled)
	assert.Equal(t, int64(20), sum.Succeeded)
	assert.Positive(t, sum.Retries)
}

func TestRunPacesARateQuotaWhoseRefusalsSayNothing(t *testing.T) {
	t.Parallel()
	// 100 requests/s, burst 10, and beyond a bare 429: no Retry-After, no
	// quota headers. The crawl's limit falls to its floor and every answer
	// comes back at once: without a pause of its own the crawl sent several
	// times the quota, most of it refused, until a listing page had spent its
	// attempts and the crawl failed.
	srv := startMock(t, mockapi.Scenario{Items: 200, PerPage: 50,
		Quota: mockapi.Quota{Rate: 100, Burst: 10, Headers: mockapi.QuotaHeadersNone, NoRetryAfter: true}})
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", detailTask, nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	st := srv.Stats()
	assert.Empty(t, st.Unfetched(), "every item fetched")
	assert.Equal(t, int64(200), sum.Succeeded)
	refused := st.ByStatus[http.StatusTooManyRequests]
	assert.Positive(t, refused, "the test must draw 429s")
	assert.Less(t, float64(refused), 0.1*float64(st.Requests), "at most a tenth refused: %v", st.ByStatus)
}

func TestRunServesMetrics(t *testing.T) {
	srv := startMock(t, mockapi.Scenario{Items: 10, PerPage: 10})
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", detailTask, nil)
	reg := prometheus.NewRegistry()

	_, err := runTest(t, cfg, WithRegisterer(reg))
	require.NoError(t, err)

	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				names[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				names[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				names[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	host := strings.TrimPrefix(srv.URL(), "http://")
	assert.Equal(t, 14.0, names["politely_requests_total,code=200,host="+host], "robots, 2 pages (the second empty, asked twice), 10 details: %v", names)
	assert.Equal(t, 14.0, names["politely_request_duration_seconds,host="+host])
	assert.Equal(t, 10.0, names["politely_items_total,result=succeeded"])
	assert.Equal(t, 0.0, names["politely_items_total,result=failed"])
	assert.Equal(t, 0.0, names["politely_requests_in_flight"])
	assert.Contains(t, names, "politely_retries_total")
	assert.Positive(t, names["politely_concurrency_limit,host="+host])
}

// gauge returns the value of the single gauge called name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestRunCapsAHostileRetryAfter(t *testing.T) {
	var once atomic.Bool
	api := faultAPI(t, []string{"/a"}, func(w http.ResponseWriter, r *http.Request) {
		if once.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "31536000") // a year
			http.Error(w, "come back next year", http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none",
		"task:\n  url: \"{+p}\"\npoliteness:\n  retry_after_max: 300ms", nil)

	began := time.Now()
	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Equal(t, int64(1), sum.Throttled)
	assert.Less(t, time.Since(began), 10*time.Second, "the year was capped at retry_after_max")
}

func TestRunLosesNoItemToAServerThatOnlyThrottles(t *testing.T) {
	// Every answer a 429 with a Retry-After of an hour, capped at
	// retry_after_max, seven times over: more throttles than the item has
	// attempts (retries: 4). A server that throttles delays the item, it
	// does not fail it.
	var refused atomic.Int64
	api := faultAPI(t, []string{"/a"}, func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= 7 {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none",
		"task:\n  url: \"{+p}\"\npoliteness:\n  retry_after_max: 20ms", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Zero(t, sum.Failed)
	assert.Equal(t, int64(7), sum.Throttled)
}

func TestRunCountsThrottledAnswersAsTheSpecSays(t *testing.T) {
	var first sync.Map // path -> answered once
	api := faultAPI(t, []string{"/503", "/403-quota", "/403", "/502", "/429"}, func(w http.ResponseWriter, r *http.Request) {
		if _, again := first.LoadOrStore(r.URL.Path, true); again {
			fmt.Fprint(w, `{"ok":true}`)
			return
		}
		switch r.URL.Path {
		case "/503":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/403-quota":
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "1")
			http.Error(w, "quota exhausted", http.StatusForbidden)
		case "/403":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "/502":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case "/429":
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none",
		"task:\n  url: \"{+p}\"\npoliteness:\n  retry_after_max: 300ms", nil)
	reg := prometheus.NewRegistry()

	sum, err := runTest(t, cfg, WithRegisterer(reg))
	require.NoError(t, err)
	assert.Equal(t, int64(4), sum.Succeeded, "all but the plain 403, which is permanent")
	assert.Equal(t, int64(1), sum.Failed)
	assert.Equal(t, int64(3), sum.Throttled, "the 503, the 429 and the 403 announcing an exhausted quota")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var throttled float64
	for _, mf := range mfs {
		if mf.GetName() == "politely_throttled_total" {
			for _, m := range mf.GetMetric() {
				throttled += m.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, 3.0, throttled, "the metric counts what the summary counts")
}

// TestRunWaitsOutARobotsTxtThatFailsForAWhile serves robots.txt with 503s
// for its first second (a deploy): more than the three attempts a task
// gets (the host pauses 100 ms, doubling, after each), less than
// backoff.max. robots.txt is asked again until it answers,
// and the crawl goes on instead of disallowing the whole host.
func TestRunWaitsOutARobotsTxtThatFailsForAWhile(t *testing.T) {
	t.Parallel()
	failing := failingFor(time.Second)
	api, details := oneItemAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if failing() {
			http.Error(w, "deploying", http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
	})
	cfg := testConfigLimits(t, api+"/items", "    style: none", "task:\n  url: \"{+p}\"",
		"limits:\n  retries: 2\n  backoff: {base: 1ms, max: 20s}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), details.Load())
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Greater(t, sum.Retries, int64(2), "more than a task's attempts")
}

// throttledFor answers 429 with a Retry-After of a second for d from the
// first request it gets (a quota used up until its reset), then serves with
// next.
func throttledFor(d time.Duration, next http.HandlerFunc) http.HandlerFunc {
	throttling := failingFor(d)
	return func(w http.ResponseWriter, r *http.Request) {
		if throttling() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "quota used up", http.StatusTooManyRequests)
			return
		}
		next(w, r)
	}
}

// A robots.txt and a listing page throttled for longer than the crawl's
// patience with failures (backoff.max, 5 ms here) and for more requests
// than their attempts: each is asked again when its Retry-After says (capped
// at 20 ms), as an item is, and the crawl goes on; neither the host's rules
// nor the listing are given up for a server that is only throttling.
func TestRunWaitsOutARobotsTxtThrottledLongerThanItsPatience(t *testing.T) {
	t.Parallel()
	api, details := oneItemAPI(t, throttledFor(300*time.Millisecond, http.NotFound))
	cfg := testConfigLimits(t, api+"/items", "    style: none", "task:\n  url: \"{+p}\"\npoliteness:\n  retry_after_max: 20ms",
		"limits:\n  retries: 2\n  backoff: {base: 1ms, max: 5ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), details.Load(), "robots.txt answered in the end: the item was fetched")
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Greater(t, sum.Throttled, int64(3), "more throttles than robots.txt has attempts")
}

func TestRunWaitsOutAListingPageThrottledLongerThanItsPatience(t *testing.T) {
	t.Parallel()
	var details atomic.Int64
	listing := throttledFor(300*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"p":"/d/1"}]}`)
	})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/items":
			listing(w, r)
		default:
			details.Add(1)
			fmt.Fprint(w, `{}`)
		}
	}))
	t.Cleanup(api.Close)
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\npoliteness:\n  retry_after_max: 20ms",
		"limits:\n  retries: 2\n  backoff: {base: 1ms, max: 5ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(1), details.Load())
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Greater(t, sum.Throttled, int64(3), "more throttles than the page has attempts")
}

// oneItemAPI starts a listing of one item, a task at /d/1, whose robots.txt
// robots answers; it returns the server's URL and the count of task
// requests.
func oneItemAPI(t *testing.T, robots http.HandlerFunc) (string, *atomic.Int64) {
	t.Helper()
	details := new(atomic.Int64)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			robots(w, r)
		case "/items":
			fmt.Fprint(w, `{"items":[{"p":"/d/1"}]}`)
		default:
			details.Add(1)
			fmt.Fprint(w, `{}`)
		}
	}))
	t.Cleanup(api.Close)
	return api.URL, details
}

// failingFor returns a func that reports true for d from its first call:
// a server's outage that starts with the first request it gets.
func failingFor(d time.Duration) func() bool {
	var first atomic.Int64
	return func() bool {
		first.CompareAndSwap(0, time.Now().UnixNano())
		return time.Since(time.Unix(0, first.Load())) < d
	}
}
