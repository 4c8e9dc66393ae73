package limiter

import (
	"context"
	"testing"
)

// BenchmarkAcquireRelease measures Acquire + Release(Success) per request on
// one host with the adaptive limit on (default strategy, limit at Max so the
// goroutines do not wait on each other), next to a plain channel semaphore
// of the same size:
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
