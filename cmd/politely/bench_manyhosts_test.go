package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/internal/peakmem"
	"github.com/politely/politely/mockapi"
)

func TestBenchManyHostsCrawlsEveryHostAndWritesItsTable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	profile := filepath.Join(t.TempDir(), "crawl.pprof")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts", "--out", out, "--cpu-profile", profile)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "met many hosts: a gated host receives nothing before its Retry-After")
	md, err := os.ReadFile(filepath.Join(out, "many-hosts.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| blackout |")
	assert.Contains(t, string(md), "| slow |")
	m := regexp.MustCompile(`; (\d+) requests on (\d+) connections opened`).FindStringSubmatch(string(md))
	require.NotNil(t, m, "the summary counts the requests and the connections")
	requests, _ := strconv.Atoi(m[1])
	conns, _ := strconv.Atoi(m[2])
	assert.Positive(t, conns)
	assert.GreaterOrEqual(t, requests, conns, "a connection is opened for a request")
	assert.NoFileExists(t, filepath.Join(out, "REPORT.md"), "only the many-host scenario ran")
	p, err := os.ReadFile(profile)
	require.NoError(t, err)
	assert.NotEmpty(t, p, "the crawl's CPU profile is written")
}

func TestTakeManyHosts(t *testing.T) {
	names, ok := takeManyHosts(nil)
	assert.True(t, ok, "a full run includes it")
	assert.Empty(t, names)
	names, ok = takeManyHosts([]string{"quota", "many-hosts", "fast"})
	assert.True(t, ok)
	assert.Equal(t, []string{"quota", "fast"}, names)
	names, ok = takeManyHosts([]string{"quota"})
	assert.False(t, ok)
	assert.Equal(t, []string{"quota"}, names)
}

func TestBenchManyHostsTakesItsShapeFromTheFlags(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts",
		"--hosts", "3", "--gated", "2", "--slow", "-1", "--latency", "40ms", "--max-total", "6", "--mixed", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "met many hosts: a gated host receives nothing before its Retry-After")
	assert.Contains(t, stdout, "3 healthy hosts (4 slots x 40ms, 4 queued, 503 + Retry-After beyond, every second one with half of them), 2 answering")
	assert.Contains(t, stdout, "with max_total 6")
	assert.Equal(t, 3, strings.Count(stdout, "| healthy |"))
	assert.Equal(t, 2, strings.Count(stdout, "| blackout |"))
	assert.NotContains(t, stdout, "| slow |")

	code, _, stderr = runCLI(t, context.Background(), "bench", "--scenario", "many-hosts", "--hosts", "-2", "--out", out)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "want no count below zero")
}

func TestBenchManyHostsRunsQuotaHostsBlackHolesAndSpreadLatencies(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--scale", "0.05", "--scenario", "many-hosts",
		"--hosts", "3", "--gated", "1", "--slow", "-1", "--quota-hosts", "1", "--black-holes", "1", "--latency-spread", "4", "--blackout", "2s",
		"--flaky-hosts", "1", "--flaky-items", "4", "--flaky-hang", "0.25", "--refusing-hosts", "1", "--tarpits", "1", "--redirecting-hosts", "1", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "black holes', refusing hosts', tarpits' and redirecting hosts' items given up: 16; black holes' items failed: ")
	assert.Equal(t, 1, strings.Count(stdout, "| redirecting | 4 | 0 |"))
	assert.Contains(t, stdout, ", 1 redirecting each item to the first black hole (4 items each)")
	assert.Contains(t, stdout, "; redirecting hosts' items failed: ")
	assert.Equal(t, 1, strings.Count(stdout, "| tarpit | 4 | 0 |"))
	assert.Contains(t, stdout, "; refusing hosts' items failed: 4 as unresponsive, 0 disallowed by robots.txt, 0 after every attempt")
	assert.Equal(t, 1, strings.Count(stdout, "| refusing | 4 | 0 |"))
	assert.Contains(t, stdout, "service times spread up to 4x), 1 answering 503 + Retry-After for their first 2s")
	assert.Contains(t, stdout, "1 behind a quota of 100 req/s (burst 10) answering a bare 429 beyond it, 1 never answering (4 items each")
	assert.Equal(t, 1, strings.Count(stdout, "| quota |"))
	assert.Equal(t, 1, strings.Count(stdout, "| black hole | 4 | 0 |"))
	assert.Contains(t, stdout, "1 hanging 25% of their requests (4 items each; limits.timeout 500ms)")
	assert.Equal(t, 1, strings.Count(stdout, "| flaky | 4 |"))
	assert.Contains(t, stdout, "; flaky hosts' items failed: ")
}

// With --tls every host and the listing serve HTTPS, HTTP/2 offered (a
// redirecting host's and a dying host's front too): the crawl keeps its
// figures, and its requests are answered over HTTP/2.
func TestBenchManyHostsServesEveryHostOverHTTPSWithTLS(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := filepath.Join(t.TempDir(), "bench")
	code, stdout, stderr := runCLI(t, context.Background(), "bench", "--tls", "--scale", "0.05", "--scenario", "many-hosts",
		"--hosts", "3", "--gated", "1", "--slow", "-1", "--blackout", "1s", "--redirecting-hosts", "1", "--black-hole-items", "2",
		"--flaky-hosts", "1", "--flaky-items", "4", "--flaky-hang", "0.25", "--flaky-dies", "300ms", "--out", out)
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Contains(t, stdout, "separate mock servers on 127.0.0.1 serving HTTPS (HTTP/2 offered")
	assert.Contains(t, stdout, "met many hosts: nothing lost: 0 items lost")
	assert.Contains(t, stdout, "met many hosts: a gated host receives nothing before its Retry-After")
	m := regexp.MustCompile(`; (\d+) requests on (\d+) connections opened \((\d+) answered over HTTP/2\)`).FindStringSubmatch(stdout)
	require.NotNil(t, m, "the summary counts the requests answered over HTTP/2: %s", stdout)
	requests, _ := strconv.Atoi(m[1])
	h2, _ := strconv.Atoi(m[3])
	assert.Greater(t, h2, requests/2, "most requests are answered, all of them over HTTP/2")

	code, _, stderr = runCLI(t, context.Background(), "bench", "--tls", "--redis", "redis://127.0.0.1:1", "--out", out)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--redis serves plain HTTP only", "a bench over Redis is refused --tls before it connects")
}

// BenchmarkCrawlDistinctHosts crawls, with politely crawl's default config,
// a listing of one item on each of n distinct hosts ("h1.many.test:80" and
// on; every connection goes to one mock server on 127.0.0.1), robots.txt
// included, and reports the memory the crawl took: the limiter forgets idle
// hosts beyond its table, so the figures stay flat with n. live-heap-MiB is
// the heap after the crawl, peak-heap-MiB the largest heap in use during it
// (garbage not yet collected included), peak-rss-MiB the process's peak
// resident set (Linux only), mock server included. -distinct-hosts adds a
// row of that many hosts (a million take minutes).
func BenchmarkCrawlDistinctHosts(b *testing.B) {
	rows := []int{1_000, 10_000, 30_000}
	if *distinctHosts > 0 {
		rows = append(rows, *distinctHosts)
	}
	for _, n := range rows {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			hosts := make([]string, n)
			for i := range hosts {
				hosts[i] = fmt.Sprintf("h%d.many.test:80", i)
			}
			srv, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Name: "distinct-hosts", Items: n, PerPage: 100, DetailHosts: hosts}})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			base := http.DefaultTransport.(*http.Transport).Clone()
			addr := strings.TrimPrefix(srv.URL(), "http://")
			var d net.Dialer
			base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			}
			defer base.CloseIdleConnections()
			for range b.N {
				dir := b.TempDir()
				before := peakmem.LiveHeap()
				w := peakmem.Start()
				err := benchCrawler(context.Background(), benchmarks.CrawlJob{URL: srv.URL(), Pagination: mockapi.PaginationPage,
					Output: filepath.Join(dir, "out.jsonl"), Failed: filepath.Join(dir, "failed.jsonl"), Base: base, Progress: func(int64, int) {}})
				p := w.Stop()
				if err != nil {
					b.Fatal(err)
				}
				if lines := countLines(b, filepath.Join(dir, "out.jsonl")); lines != n {
					b.Fatalf("%d lines of %d items", lines, n)
				}
				b.ReportMetric(peakmem.MiB(peakmem.LiveHeap(), before), "live-heap-MiB")
				b.ReportMetric(peakmem.MiB(p.InUse, before), "peak-heap-MiB")
				if p.RSS > 0 {
					b.ReportMetric(peakmem.MiB(p.RSS, 0), "peak-rss-MiB")
				}
			}
		})
	}
}

// distinctHosts is BenchmarkCrawlDistinctHosts' extra row.
var distinctHosts = flag.Int("distinct-hosts", 0, "BenchmarkCrawlDistinctHosts: also crawl one item on each of this many hosts")

// countLines counts the lines of the file at path.
func countLines(b *testing.B, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}
