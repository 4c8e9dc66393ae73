package crawl

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/politely/politely/mockapi"
)

var (
	traceMock    = flag.String("crawltrace", "", "TestCrawlTrace: the mock preset to crawl (e.g. inflight-429)")
	traceSeconds = flag.Float64("crawltracesecs", 2.5, "TestCrawlTrace: the crawl's length at the mock's optimum, in seconds")
	traceTick    = flag.Duration("crawltracetick", 100*time.Millisecond, "TestCrawlTrace: how often to print the host")
)

// TestCrawlTrace crawls a mock preset as politely bench's crawl rows do (the
// bench's config, 100 items a page, a cold start) and prints what its host
// was at every 100 ms (-crawltracetick): answers so far and in the last
// tick, the concurrency limit, the requests in flight at the client and at
// the server, the learnt or announced rate, the throttles so far and whether
// slow start or a gate held; and when the server saw its first robots.txt,
// listing and detail request:
//
//	go test ./crawl -run TestCrawlTrace -crawltrace inflight-429 -v
func TestCrawlTrace(t *testing.T) {
	if *traceMock == "" {
		t.Skip("run with -crawltrace PRESET")
	}
	sc, err := mockapi.Preset(*traceMock)
	require.NoError(t, err)
	sc.Items, sc.PerPage = int(sc.Optimum()**traceSeconds), 100
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc, Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer srv.Close()
	dir := t.TempDir()
	cfg, err := Parse("trace.yaml", fmt.Appendf(nil, `user_agent: "politely-trace/1.0"
source:
  url: "%s/items"
  pagination: {style: page}
  items_field: items
task:
  url: "{+detail_path}"
output: %q
failed: %q
`, srv.URL(), filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "failed.jsonl")))
	require.NoError(t, err)
	r, err := newRunner(cfg, runOptions{log: zap.NewNop(), interval: time.Second, now: time.Now})
	require.NoError(t, err)

	key := strings.TrimPrefix(srv.URL(), "http://")
	var b strings.Builder
	fmt.Fprintf(&b, "| s | answers | in the tick | limit | in flight | at the server | rate | throttled | |\n|---|---|---|---|---|---|---|---|---|\n")
	start := time.Now()
	var firsts strings.Builder
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(*traceTick)
		defer tick.Stop()
		var last int64
		seen := map[mockapi.Class]bool{}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			h := r.lim.Host(key).Snapshot()
			st := srv.Stats()
			for _, c := range []mockapi.Class{mockapi.ClassRobots, mockapi.ClassListing, mockapi.ClassDetail} {
				if !seen[c] && st.ByClass[c] > 0 {
					seen[c] = true
					fmt.Fprintf(&firsts, "first %s request by %.3f s; ", c, time.Since(start).Seconds())
				}
			}
			note := ""
			switch {
			case !h.GateUntil.IsZero():
				note = "gated"
			case h.SlowStart:
				note = "slow start"
			}
			fmt.Fprintf(&b, "| %.2f | %d | %d | %d | %d | %d | %.0f | %d | %s |\n", time.Since(start).Seconds(), h.Successes,
				h.Successes-last, h.Limit, h.InFlight, st.InFlight, h.Rate, h.Throttled, note)
			last = h.Successes
		}
	}()
	sum, err := r.run(context.Background())
	elapsed := time.Since(start)
	close(stop)
	<-done
	require.NoError(t, err)
	opt := sc.Optimum() * 100 / 101 // one listing request per 100 items
	t.Logf("\n%s\n%s\n%d items in %.2f s: %.1f%% of the optimum; answers by status %v", b.String(), firsts.String(),
		sum.Succeeded, elapsed.Seconds(), 100*float64(sum.Succeeded)/elapsed.Seconds()/opt, srv.Stats().ByStatus)
}
