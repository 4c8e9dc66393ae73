package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
)

// writeConfig writes a crawl config for url into a temp dir and returns its
// path and the dir.
func writeConfig(t *testing.T, url, extra string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "api.yaml")
	yaml := fmt.Sprintf(`user_agent: "politely-test/1.0"
source:
  url: %q
  pagination: {style: link}
  items_field: items
task:
  url: "{+detail_path}"
limits:
  timeout: 2s
  retries: 2
  backoff: {base: 5ms, max: 20ms}
%s`, url, extra)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o644))
	return path, dir
}

func startMockAPI(t *testing.T, sc mockapi.Scenario) *mockapi.Server {
	t.Helper()
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCrawlExitsZeroAndWritesTheSummary(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the mock API closed
	srv := startMockAPI(t, mockapi.Scenario{Items: 20, PerPage: 8, Pagination: mockapi.PaginationLink})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	out := filepath.Join(dir, "items.jsonl")
	stats := filepath.Join(dir, "stats.json")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--out", out, "--stats", stats, "--quiet")
	require.Equal(t, exitOK, code, stderr)

	var printed, written crawl.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &printed), stdout)
	data, err := os.ReadFile(stats)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &written))
	assert.Equal(t, printed, written)
	assert.Equal(t, int64(20), written.Succeeded)
	assert.Equal(t, int64(3), written.Pages)
	for _, key := range []string{"pages", "items", "succeeded", "failed", "requests", "retries", "throttled",
		"max_concurrency", "final_limit", "duration_s", "resumed", "interrupted"} {
		assert.Contains(t, string(data), `"`+key+`":`)
	}
	lines, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, 20, strings.Count(string(lines), "\n"))
	_, err = os.Stat(filepath.Join(dir, "items.failed.jsonl"))
	assert.NoError(t, err, "the failed file is next to --out")
}

func TestCrawlExitsOneWhenTheListingIsUnreachable(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer api.Close()
	cfgPath, dir := writeConfig(t, api.URL+"/items", "")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl"), "--quiet")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, stderr, "listing page")
	assert.Regexp(t, `after \d+ attempts: http 500`, stderr)
	var sum crawl.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum))
	assert.GreaterOrEqual(t, sum.Requests, int64(4), "robots.txt and three attempts at the first page, then more until backoff.max has passed")
	assert.Equal(t, sum.Requests-2, sum.Retries)
}

func TestCrawlExitsTwoOnBadUsageAndConfig(t *testing.T) {
	srv := startMockAPI(t, mockapi.Scenario{Items: 1})
	typo, dir := writeConfig(t, srv.URL()+"/items", "limits2: {}\n")
	good, _ := writeConfig(t, srv.URL()+"/items", "output: out.jsonl\n")
	noOutput, _ := writeConfig(t, srv.URL()+"/items", "")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{name: "unknown key names file, line and key", args: []string{"crawl", "-c", typo, "--out", filepath.Join(dir, "o")},
			msg: typo + `:12: limits2: unknown key (did you mean "limits"?)`},
		{name: "missing file", args: []string{"crawl", "-c", filepath.Join(dir, "nope.yaml")}, msg: "nope.yaml"},
		{name: "no -c", args: []string{"crawl"}, msg: `"config" not set`},
		{name: "no output", args: []string{"crawl", "-c", noOutput}, msg: "output"},
		{name: "reset without state", args: []string{"crawl", "-c", good, "--reset-state"}, msg: "--reset-state: no state to reset"},
		{name: "bad log format", args: []string{"crawl", "-c", good, "--log-format", "xml"}, msg: "--log-format"},
		{name: "bad metrics address", args: []string{"crawl", "-c", good, "--metrics-addr", "nohost:notaport"}, msg: "--metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, context.Background(), tt.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tt.msg)
		})
	}
}

func TestCrawlExitsOneThirtyWhenInterrupted(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	srv := startMockAPI(t, mockapi.Scenario{Items: 5})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stats := filepath.Join(dir, "stats.json")

	code, _, stderr := runCLI(t, ctx, "crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl"), "--stats", stats, "--quiet")
	assert.Equal(t, exitInterrupted, code, stderr)
	data, err := os.ReadFile(stats)
	require.NoError(t, err, "the stats are written when interrupted too")
	assert.Contains(t, string(data), `"interrupted":true`)
}

func TestCrawlNeverLogsTheSecretHeader(t *testing.T) {
	const secret = "tok-SECRET-42"
	t.Setenv("API_TOKEN", secret)
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nCrawl-delay: 0.01\n")
		case "/items":
			fmt.Fprint(w, `{"items":[{"detail_path":"/ok"},{"detail_path":"/gone"}]}`)
		case "/ok":
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.Error(w, "gone", http.StatusGone)
		}
	}))
	defer api.Close()
	cfgPath, dir := writeConfig(t, api.URL+"/items", "headers:\n  Authorization: \"Bearer ${API_TOKEN}\"\n")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl"),
		"--log-format", "json", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	mu.Lock()
	assert.Contains(t, seen, "Bearer "+secret, "the header was sent")
	mu.Unlock()
	assert.Contains(t, stderr, "Crawl-delay", "something was logged")
	assert.NotContains(t, stderr+stdout, secret)
	failed, err := os.ReadFile(filepath.Join(dir, "o.failed.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(failed), `"status":410`)
	assert.NotContains(t, string(failed), secret)
}

func TestFormatStatus(t *testing.T) {
	tests := []struct {
		name string
		p    crawl.Progress
		want string
	}{
		{name: "no total", p: crawl.Progress{Succeeded: 10, Failed: 2, Rate: 4.25, Limit: 8, Throttled: 3, Retries: 5},
			want: "items 12  4.2/s  limit 8  throttled 3  retries 5  errors 2"},
		{name: "total and ETA", p: crawl.Progress{Succeeded: 50, Total: 200, Rate: 10, Limit: 4},
			want: "items 50/200 (25%)  10.0/s  limit 4  throttled 0  retries 0  errors 0  ETA 15s"},
		{name: "no ETA without a rate", p: crawl.Progress{Total: 200, Limit: 4},
			want: "items 0/200 (0%)  0.0/s  limit 4  throttled 0  retries 0  errors 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, formatStatus(tt.p))
		})
	}
}

func TestStatusLineRedrawsOneLine(t *testing.T) {
	var b bytes.Buffer
	s := &statusLine{w: &b}
	s.show(crawl.Progress{Succeeded: 1, Limit: 1})
	s.show(crawl.Progress{Succeeded: 2, Limit: 1})
	s.end()
	assert.Equal(t, "\r\033[Kitems 1  0.0/s  limit 1  throttled 0  retries 0  errors 0"+
		"\r\033[Kitems 2  0.0/s  limit 1  throttled 0  retries 0  errors 0\n", b.String())
	var none *statusLine
	none.end() // off: does nothing
}

func TestStatusLineKeepsLogLinesAboveIt(t *testing.T) {
	var b bytes.Buffer
	s := &statusLine{w: &b}
	_, err := s.Write([]byte("before any status\n"))
	require.NoError(t, err)
	s.show(crawl.Progress{Succeeded: 1, Limit: 1})
	_, err = s.Write([]byte("a warning\n"))
	require.NoError(t, err)
	s.end()
	_, err = s.Write([]byte("after the end\n"))
	require.NoError(t, err)
	line := "items 1  0.0/s  limit 1  throttled 0  retries 0  errors 0"
	assert.Equal(t, "before any status\n"+
		"\r\033[K"+line+ // drawn
		"\r\033[Ka warning\n"+line+ // cleared, the log line, drawn again below it
		"\n"+ // end: the last line stays
		"after the end\n", b.String())
}

func TestServeMetricsServesTheRegistryUntilStopped(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "politely_test_total", Help: "a test counter"})
	reg.MustRegister(c)
	c.Add(3)

	addr, stop, err := serveMetrics("127.0.0.1:0", reg)
	require.NoError(t, err)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Contains(t, string(body), "politely_test_total 3")
	client.CloseIdleConnections()

	stop()
	_, err = client.Get("http://" + addr + "/metrics")
	assert.Error(t, err, "stopped")
}

func TestCrawlServesMetricsWhileItRuns(t *testing.T) {
	srv := startMockAPI(t, mockapi.Scenario{Items: 5})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")

	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl"),
		"--metrics-addr", "127.0.0.1:0", "--log-format", "json", "--quiet")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `"msg":"serving metrics","url":"http://127\.0\.0\.1:\d+/metrics"`, stderr)
}
