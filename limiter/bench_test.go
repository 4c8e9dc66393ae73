package limiter

import (
	"context"
	"testing"
)

// BenchmarkAcquireRelease measures Acquire + Release(Success) per request on
// one host with the adaptive limit on (default strategy between Min 64 and
// Max 256, so that the goroutines do not queue behind each other: the
// figure is the limiter's overhead, not a wait), next to a plain channel
// semaphore of the same size:
//
//	go test ./limiter -run '^$' -bench AcquireRelease -benchmem -cpu 1,8,64
//
// -cpu sets GOMAXPROCS; RunParallel starts that many goroutines.
func BenchmarkAcquireRelease(b *testing.B) {
	b.Run("limiter", func(b *testing.B) {
		l, err := New(Config{Initial: 256, Min: 64, Max: 256})
		if err != nil {
			b.Fatal(err)
		}
		h := l.Host("bench:443")
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := h.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				p.Release(Success)
			}
		})
		b.ReportMetric(float64(h.Snapshot().Limit), "limit")
	})
	b.Run("limiter-with-rate", func(b *testing.B) {
		// A ceiling far above what is reached: the bucket is on the path.
		l, err := New(Config{Initial: 256, Min: 64, Max: 256, Rate: 1e8, Burst: 1000})
		if err != nil {
			b.Fatal(err)
		}
		h := l.Host("bench:443")
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := h.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				p.Release(Success)
			}
		})
	})
	b.Run("limiter-by-key", func(b *testing.B) {
		l, err := New(Config{Initial: 256, Min: 64, Max: 256})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := l.Acquire(ctx, "bench:443")
				if err != nil {
					b.Error(err)
					return
				}
				p.Release(Success)
			}
		})
	})
	b.Run("channel-semaphore", func(b *testing.B) {
		sem := make(chan struct{}, 256)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sem <- struct{}{}
				<-sem
			}
		})
	})
}
