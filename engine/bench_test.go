package engine

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/politely/politely/internal/peakmem"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

func noop(context.Context, int) error { return nil }

// benchRange is a source of n ints; source.Range allocates one cursor per page of 1024.
func benchRange(b *testing.B, n int) source.Source[int] {
	b.Helper()
	src, err := source.Range(0, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkRawPool is the baseline: one producer, a channel, n goroutines
// calling a no-op, nothing else.
func BenchmarkRawPool(b *testing.B) {
	for _, n := range []int{4, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ch := make(chan int, DefaultQueueSize)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					for v := range ch {
						_ = noop(context.Background(), v)
					}
				})
			}
			for i := range b.N {
				ch <- i
			}
			close(ch)
			wg.Wait()
		})
	}
}

// hosts1000 spreads the items over 1,000 hosts.
func hosts1000(v int) string { return hostNames[v%len(hostNames)] }

var hostNames = func() []string {
	s := make([]string, 1000)
	for i := range s {
		s[i] = fmt.Sprintf("host-%d.example.com:443", i)
	}
	return s
}()

// BenchmarkEngine runs b.N no-op tasks through the whole engine.
func BenchmarkEngine(b *testing.B) {
	newLimiter := func(b *testing.B) *limiter.Limiter {
		l, err := limiter.New(limiter.Config{})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	host := func(int) string { return "api.example.com:443" }
	for _, tc := range []struct {
		name string
		job  func(b *testing.B, j Job[int]) Job[int]
		opts []Option
	}{
		{"adaptive-limiter", func(b *testing.B, j Job[int]) Job[int] { return j.WithLimiter(newLimiter(b), host) }, nil},
		{"adaptive-limiter/hosts=1000", func(b *testing.B, j Job[int]) Job[int] { return j.WithLimiter(newLimiter(b), hosts1000) }, nil},
		{"adaptive-limiter+timeout", func(b *testing.B, j Job[int]) Job[int] { return j.WithLimiter(newLimiter(b), host) },
			[]Option{WithTaskTimeout(time.Minute)}},
		{"limit-func=4", func(_ *testing.B, j Job[int]) Job[int] { return j }, []Option{limitOf(4)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			job := tc.job(b, NewJob(benchRange(b, b.N), noop))
			b.ResetTimer()
			st, err := job.Run(context.Background(), tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			if st.Succeeded != int64(b.N) {
				b.Fatalf("succeeded %d of %d", st.Succeeded, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mtasks/s")
			b.ReportMetric(float64(st.MaxConsumers), "consumers")
		})
	}
}

// BenchmarkPeakHeap runs 1 M and 10 M no-op tasks through the engine with the
// adaptive limiter and reports the peak heap seen by a 5 ms sampler.
func BenchmarkPeakHeap(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				l, err := limiter.New(limiter.Config{})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				w := peakmem.Start()
				st, err := NewJob(benchRange(b, n), noop).WithLimiter(l, func(int) string { return "h" }).Run(context.Background())
				p := w.Stop()
				if err != nil || st.Succeeded != int64(n) {
					b.Fatalf("succeeded %d of %d: %v", st.Succeeded, n, err)
				}
				b.ReportMetric(peakmem.MiB(p.InUse, 0), "peak-heap-MiB")
				b.ReportMetric(float64(n)/st.Elapsed.Seconds()/1e6, "Mtasks/s")
			}
		})
	}
}

// BenchmarkFixedLimit50 runs 1,000 tasks of 100 ms with the limiter's limit
// fixed at 50: the ideal is 2 s.
func BenchmarkFixedLimit50(b *testing.B) {
	for range b.N {
		l, err := limiter.New(limiter.Config{Algorithm: limiter.Fixed, Initial: 50, Max: 50})
		if err != nil {
			b.Fatal(err)
		}
		st, err := NewJob(benchRange(b, 1000), func(ctx context.Context, _ int) error {
			time.Sleep(100 * time.Millisecond)
			return nil
		}).WithLimiter(l, func(int) string { return "h" }).Run(context.Background())
		if err != nil || st.Succeeded != 1000 {
			b.Fatalf("succeeded %d: %v", st.Succeeded, err)
		}
		b.ReportMetric(st.Elapsed.Seconds(), "s/run")
		b.ReportMetric(100*(st.Elapsed.Seconds()/2-1), "%-over-ideal")
	}
}

// BenchmarkDistinctHostsHeap runs a no-op task for each of n distinct hosts
// through the engine with the adaptive limiter and reports the heap: the
// limiter forgets idle hosts beyond limiter.DefaultMaxHosts, so what it holds
// stays flat from 10 k to 1 M hosts. live-heap-MiB is the heap at the end
// with the limiter still held (after a collection), peak-live-MiB the
// largest live heap a collection marked during the run, and peak-heap-MiB
// the largest heap in use, garbage not yet collected included (with GOGC's
// default up to twice the live heap). peak-rss-MiB is the process's peak
// resident set during the run (Linux only), the memory a user sees taken.
func BenchmarkDistinctHostsHeap(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				l, err := limiter.New(limiter.Config{})
				if err != nil {
					b.Fatal(err)
				}
				base := peakmem.LiveHeap()
				w := peakmem.Start()
				st, err := NewJob(benchRange(b, n), noop).WithLimiter(l, func(v int) string { return "host-" + strconv.Itoa(v) + ".example.com:443" }).Run(context.Background())
				p := w.Stop()
				if err != nil || st.Succeeded != int64(n) {
					b.Fatalf("succeeded %d of %d: %v", st.Succeeded, n, err)
				}
				b.ReportMetric(peakmem.MiB(peakmem.LiveHeap(), base), "live-heap-MiB")
				b.ReportMetric(peakmem.MiB(p.Live, base), "peak-live-MiB")
				b.ReportMetric(peakmem.MiB(p.InUse, base), "peak-heap-MiB")
				if p.RSS > 0 {
					b.ReportMetric(peakmem.MiB(p.RSS, 0), "peak-rss-MiB")
				}
				b.ReportMetric(float64(len(l.Snapshots())), "hosts-kept")
				b.ReportMetric(float64(n)/st.Elapsed.Seconds()/1e6, "Mtasks/s")
			}
		})
	}
}
