package crawl

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/redistest"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/state/redisstate"
)

func TestWorkersOnRedisFinishTheCrawlTogetherEachItemOnce(t *testing.T) {
	rs := redistest.Start(t, false)
	const items = 300
	srv := startMock(t, mockapi.Scenario{Items: items, PerPage: 20, Pagination: mockapi.PaginationLink,
		Latency: 2 * time.Millisecond, Faults: mockapi.Faults{Seed: 3, Permanent: 0.03}})
	// A broken item fails at its first attempt: a worker whose last items
	// are broken ones meets a run of server errors with nothing succeeding
	// between, which opens the host (a pause doubling up to 3.2 s per
	// request, see limiter.Host); with retries each broken item left would
	// cost up to that per attempt, past the deadline.
	cfg := testConfigLimits(t, srv.URL()+"/items", "    style: link", detailTask,
		strings.Replace(testLimits, "retries: 4", "retries: 0", 1), nil)
	broken := len(srv.Stats().BrokenItems)
	require.Positive(t, broken)

	sums := make([]Summary, 3)
	var wg sync.WaitGroup
	for i := range sums {
		wg.Go(func() {
			var err error
			sums[i], err = runTest(t, cfg, WithRedis(rs.URL(), "w"+string(rune('a'+i))))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	for _, sum := range sums {
		assert.EqualValues(t, items, sum.Succeeded+sum.Failed, "each worker's summary counts the whole crawl")
		assert.False(t, sum.Interrupted)
	}

	c, err := OpenRedis(context.Background(), cfg, rs.URL(), redisstate.Observing())
	require.NoError(t, err)
	defer c.Close()
	out, failed, err := c.Export(context.Background(), cfg.Output, cfg.FailedPath())
	require.NoError(t, err)
	assert.EqualValues(t, items-broken, out)
	assert.EqualValues(t, broken, failed)
	lines := readLines[outLine](t, cfg.Output)
	assert.ElementsMatch(t, seq(items, srv.Stats().BrokenItems...), ids(t, lines), "every item exactly once")
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	assert.True(t, st.Finished)
	assert.Empty(t, st.Workers, "every worker left")
	assert.EqualValues(t, 15, st.Pages)
}

// A listing that repeats items (every page starts 10 items before where
// the last one ended) stores each item once in the shared crawl.
func TestWorkersOnRedisStoreAnItemTheListingRepeatsOnce(t *testing.T) {
	rs := redistest.Start(t, false)
	const items = 200
	srv := startMock(t, mockapi.Scenario{Items: items, PerPage: 40, PageOverlap: 10})
	cfg := testConfig(t, srv.URL()+"/items?per_page=40", "    style: page", detailTask, nil)

	var wg sync.WaitGroup
	repeated := make([]int64, 2)
	for i := range repeated {
		wg.Go(func() {
			sum, err := runTest(t, cfg, WithRedis(rs.URL(), "w"+string(rune('a'+i))))
			assert.NoError(t, err)
			assert.EqualValues(t, items, sum.Succeeded)
			repeated[i] = sum.Repeated
		})
	}
	wg.Wait()
	assert.Positive(t, repeated[0]+repeated[1], "the listing must repeat items")

	c, err := OpenRedis(context.Background(), cfg, rs.URL(), redisstate.Observing())
	require.NoError(t, err)
	defer c.Close()
	out, _, err := c.Export(context.Background(), cfg.Output, cfg.FailedPath())
	require.NoError(t, err)
	assert.EqualValues(t, items, out)
	assert.ElementsMatch(t, seq(items), ids(t, readLines[outLine](t, cfg.Output)), "every item exactly once")
	for id, n := range srv.Stats().DetailRequests {
		assert.Equal(t, 1, n, "detail requests of item %d", id)
	}
}

// BenchmarkRunOnRedis is a whole crawl (4,000 items, no rate, 32 in flight)
// as one worker on Redis, next to the same crawl without it.
func BenchmarkRunOnRedis(b *testing.B) {
	rs := redistest.Start(b, false)
	srv, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Items: 4000, PerPage: 100}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for _, onRedis := range []bool{false, true} {
		b.Run(map[bool]string{false: "embedded", true: "redis"}[onRedis], func(b *testing.B) {
			var items int64
			var elapsed time.Duration
			for b.Loop() {
				dir := b.TempDir()
				cfg, err := Parse("bench.yaml", fmt.Appendf(nil, crawlYAML, srv.URL()+"/items", "    style: page", detailTask,
					"limits:\n  concurrency: {algorithm: fixed, initial: 32, max: 32}\n  timeout: 5s", filepath.Join(dir, "out.jsonl")))
				if err != nil {
					b.Fatal(err)
				}
				var opts []RunOption
				if onRedis {
					opts = append(opts, WithRedis(rs.URL(), "bench"), WithResetState())
				}
				began := time.Now()
				sum, err := Run(context.Background(), cfg, opts...)
				elapsed += time.Since(began)
				if err != nil {
					b.Fatal(err)
				}
				if sum.Succeeded != 4000 {
					b.Fatalf("succeeded %d of 4000", sum.Succeeded)
				}
				items += sum.Succeeded
			}
			b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
		})
	}
}
