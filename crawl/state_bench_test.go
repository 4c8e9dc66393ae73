package crawl

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/politely/politely/mockapi"
)

// BenchmarkRunWithState measures what state costs a crawl: the same crawl
// of a fast mock API (4,000 items, 100 a page, no latency, served in this
// process) under a 2,000 req/s rate limit and with none, with plain output
// files and with state (group commits, fsyncs, bbolt), in the same run.
// items/s is the figure.
func BenchmarkRunWithState(b *testing.B) {
	srv, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Items: 4000, PerPage: 100}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for _, bc := range []struct {
		name      string
		rate      int
		withState bool
	}{
		{"rate=2000/plain", 2000, false},
		{"rate=2000/state", 2000, true},
		{"rate=none/plain", 0, false},
		{"rate=none/state", 0, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var items int64
			var elapsed time.Duration
			for b.Loop() {
				dir := b.TempDir()
				cfg, err := Parse("bench.yaml", fmt.Appendf(nil, crawlYAML, srv.URL()+"/items", "    style: page", detailTask,
					fmt.Sprintf("limits:\n  rate: %d\n  burst: 50\n  concurrency: {algorithm: fixed, initial: 32, max: 32}\n  timeout: 5s", bc.rate),
					filepath.Join(dir, "out.jsonl")))
				if err != nil {
					b.Fatal(err)
				}
				if bc.withState {
					cfg.State = filepath.Join(dir, "state")
				}
				began := time.Now()
				sum, err := Run(context.Background(), cfg)
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
