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
		l := benchLimiter(b, Config{Initial: 256, Min: 64, Max: 256})
		h := l.Host("bench:443")
		benchAcquireRelease(b, func(ctx context.Context) (Permit, error) { return h.Acquire(ctx) })
		b.ReportMetric(float64(h.Snapshot().Limit), "limit")
	})
	b.Run("limiter-with-rate", func(b *testing.B) {
		// A ceiling far above what is reached: the bucket is on the path.
		h := benchLimiter(b, Config{Initial: 256, Min: 64, Max: 256, Rate: 1e8, Burst: 1000}).Host("bench:443")
		benchAcquireRelease(b, func(ctx context.Context) (Permit, error) { return h.Acquire(ctx) })
	})
	b.Run("limiter-by-key", func(b *testing.B) {
		l := benchLimiter(b, Config{Initial: 256, Min: 64, Max: 256})
		benchAcquireRelease(b, func(ctx context.Context) (Permit, error) { return l.Acquire(ctx, "bench:443") })
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

func benchLimiter(b *testing.B, cfg Config) *Limiter {
	b.Helper()
	l, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchAcquireRelease runs acquire + Release(Success) from RunParallel's
// goroutines.
func benchAcquireRelease(b *testing.B, acquire func(context.Context) (Permit, error)) {
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release(Success)
		}
	})
}
