package crawl

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunRetriesEachTaskAsItsHostSays lists tasks to two servers that answer
// every task with 500: one reached as 127.0.0.1 (hosts gives the host, any
// port, no retry), the other as localhost:PORT (hosts gives it 2 retries);
// limits' own retries (1) apply to neither. Each server must have received,
// for each of its items, its host's retries + 1 requests.
func TestRunRetriesEachTaskAsItsHostSays(t *testing.T) {
	failing := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
			return
		}
		http.Error(w, "broken", http.StatusInternalServerError)
	}
	other := startRecorder(t, failing)
	otherURL := other.localhostURL()
	otherHost := strings.TrimPrefix(otherURL, "http://")
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items" {
			fmt.Fprintf(w, `{"items":[{"p":"/task/1"},{"p":"/task/2"},{"p":%q},{"p":%q}]}`,
				otherURL+"/task/3", otherURL+"/task/4")
			return
		}
		failing(w, r)
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none",
		fmt.Sprintf("task:\n  url: \"{+p}\"\nhosts:\n  127.0.0.1: {retries: 0}\n  %q: {retries: 2, backoff: {base: 1ms, max: 2ms}}\n", otherHost),
		"limits:\n  retries: 1\n  backoff: {base: 1ms, max: 2ms}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(4), sum.Failed)

	perPath := func(rec *recorder) map[string]int {
		out := map[string]int{}
		for _, s := range rec.requests() {
			if strings.HasPrefix(s.Path, "/task/") {
				out[s.Host+s.Path]++
			}
		}
		return out
	}
	assert.Equal(t, map[string]int{api.hostPort() + "/task/1": 1, api.hostPort() + "/task/2": 1}, perPath(api),
		"127.0.0.1: retries 0, one request an item")
	assert.Equal(t, map[string]int{otherHost + "/task/3": 3, otherHost + "/task/4": 3}, perPath(other),
		"localhost:PORT: retries 2, three requests an item")

	attempts := map[string]int{}
	for _, f := range readLines[failedLine](t, cfg.FailedPath()) {
		assert.Equal(t, http.StatusInternalServerError, f.Status, f.URL)
		attempts[f.URL] = f.Attempts
	}
	assert.Equal(t, map[string]int{api.URL + "/task/1": 1, api.URL + "/task/2": 1, otherURL + "/task/3": 3, otherURL + "/task/4": 3},
		attempts, "the failed lines give each item's attempts")
}

func TestALowerMaxTotalKeepsTheDefaultReadAhead(t *testing.T) {
	assert.Equal(t, 4*DefaultMaxTotal, queueSize(1), "a gentle crawl holds as many items of its gated hosts as the default one")
	assert.Equal(t, queueSize(DefaultMaxTotal), queueSize(100))
	assert.Equal(t, 4*4096, queueSize(4096), "a larger max_total reads further ahead")
}

func TestALowerMaxTotalKeepsTheDefaultIdleConnections(t *testing.T) {
	assert.Equal(t, DefaultMaxTotal, idleConns(1), "a gentle crawl keeps as many idle connections as the default one")
	assert.Equal(t, idleConns(DefaultMaxTotal), idleConns(256))
	assert.Equal(t, 4096, idleConns(4096), "a larger max_total keeps more")
}

// TestACrawlOverMoreHostsThanMaxTotalKeepsEachHostsConnection lists items on
// two hosts in turn with max_total 1: each host's connection is kept for its
// next item, not closed when the other host's goes idle and opened again.
func TestACrawlOverMoreHostsThanMaxTotalKeepsEachHostsConnection(t *testing.T) {
	var conns atomic.Int64
	serve := func(handle http.HandlerFunc) *httptest.Server {
		srv := httptest.NewUnstartedServer(handle)
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		return srv
	}
	task := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}
	other := serve(task)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	const perHost = 8
	api := serve(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/items" {
			task(w, r)
			return
		}
		var items []string
		for i := range perHost {
			items = append(items, fmt.Sprintf(`{"p":"/task/%d"}`, i), fmt.Sprintf(`{"p":%q}`, fmt.Sprintf("%s/task/%d", otherURL, i)))
		}
		fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(items, ","))
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"\n",
		"limits:\n  concurrency: {initial: 1, max: 1, max_total: 1}", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(2*perHost), sum.Succeeded)
	assert.LessOrEqual(t, conns.Load(), int64(4), "a connection or two per host, not one per item")
}
