package crawl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/internal/cputime"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/source"
	"github.com/politely/politely/transport"
)

// fastItems is how many items a run of BenchmarkRunFastMock fetches.
const fastItems = 10_000

// BenchmarkRunFastMock measures the crawl's own cost per item against the
// fast mock (no latency, no limits, served in this process, 100 items a
// page), with the bench's crawl config (every limit at its default,
// robots.txt on), without and with state, next to the engine-level baseline
// of the same run: the engine with the default strategy fetching the same
// details through the transport, without listing, robots.txt or output.
// items/s is the figure; cpu-µs/item, the process's CPU time (user and
// system, the mock server's included) per item, is the steadier one on a
// loaded machine; allocs/op and B/op are per crawl of fastItems.
func BenchmarkRunFastMock(b *testing.B) {
	sc, err := mockapi.Preset("fast")
	if err != nil {
		b.Fatal(err)
	}
	sc.Items, sc.PerPage = fastItems, 100
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		var elapsed, cpu time.Duration
		for b.Loop() {
			began, cpuBegan := time.Now(), cputime.Process()
			runEngineBaseline(b, srv.URL(), sc)
			elapsed += time.Since(began)
			cpu += cputime.Process() - cpuBegan
		}
		reportFast(b, elapsed, cpu)
	})
	for _, withState := range []bool{false, true} {
		name := "crawl"
		if withState {
			name = "crawl+state"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var elapsed, cpu time.Duration
			for b.Loop() {
				dir := b.TempDir()
				state := ""
				if withState {
					state = fmt.Sprintf("state: %q\n", filepath.Join(dir, "state"))
				}
				cfg, err := Parse("bench.yaml", fmt.Appendf(nil, `user_agent: "politely-bench/1.0"
source:
  url: "%s/items"
  pagination: {style: page}
  items_field: items
task:
  url: "{+detail_path}"
output: %q
%s`, srv.URL(), filepath.Join(dir, "out.jsonl"), state))
				if err != nil {
					b.Fatal(err)
				}
				began, cpuBegan := time.Now(), cputime.Process()
				sum, err := Run(context.Background(), cfg)
				elapsed += time.Since(began)
				cpu += cputime.Process() - cpuBegan
				if err != nil {
					b.Fatal(err)
				}
				if sum.Succeeded != fastItems {
					b.Fatalf("succeeded %d of %d", sum.Succeeded, fastItems)
				}
			}
			reportFast(b, elapsed, cpu)
		})
	}
}

// reportFast reports the items/s and the CPU time per item of b.N crawls
// of fastItems.
func reportFast(b *testing.B, elapsed, cpu time.Duration) {
	items := float64(b.N * fastItems)
	b.ReportMetric(items/elapsed.Seconds(), "items/s")
	b.ReportMetric(cpu.Seconds()*1e6/items, "cpu-µs/item")
}

// runEngineBaseline fetches the details of items 1..fastItems as the
// bench's engine-level row does: the engine at the limiter's limit, each
// item a GET through the transport, its body read and discarded.
func runEngineBaseline(b *testing.B, url string, sc mockapi.Scenario) {
	lim, err := limiter.New(limiter.Config{})
	if err != nil {
		b.Fatal(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 2 * limiter.DefaultMax
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: transport.New(lim, transport.WithBase(base))}
	src, err := source.Range(1, fastItems+1, 1)
	if err != nil {
		b.Fatal(err)
	}
	st, err := engine.Run(context.Background(), src, func(ctx context.Context, id int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+sc.DetailPath(id), nil)
		if err != nil {
			return engine.Permanent(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return transport.Check(resp)
	}, engine.WithLimitFunc(lim.Limit), engine.WithMaxConsumers(limiter.DefaultMax))
	if err != nil || st.Succeeded != fastItems {
		b.Fatalf("engine: succeeded %d of %d: %v", st.Succeeded, fastItems, err)
	}
}
