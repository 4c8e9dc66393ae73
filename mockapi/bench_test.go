package mockapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHandlerDetail is the handler's own cost per detail request, in process.
func BenchmarkHandlerDetail(b *testing.B) {
	h, err := NewHandler(Config{Scenario: Scenario{Items: 1000}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items/"+strconv.Itoa(1+i%1000), nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// pool runs workers goroutines sending GETs for item details until n
// requests were sent, and returns how many got each status.
func pool(b *testing.B, base string, workers, n int) map[int]int64 {
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	var mu sync.Mutex
	counts := map[int]int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				resp, err := c.Get(base + "/items/" + strconv.FormatInt(1+i%1000, 10))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				counts[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}

// BenchmarkServerFastPreset is requests/s of the "fast" preset over loopback
// with a plain net/http pool of 16: the ceiling for the HTTP overhead target.
func BenchmarkServerFastPreset(b *testing.B) {
	sc, err := Preset("fast")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Start(Config{Scenario: sc})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	counts := pool(b, s.URL(), 16, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if counts[200] != int64(b.N) {
		b.Fatalf("statuses %v", counts)
	}
}

// BenchmarkServerCapacityPreset sends from a fixed pool as large as the
// "capacity" preset's slots, and from one that also keeps half the queue
// full: the goodput a client can reach, as a ratio to the preset's Optimum
// (1,600 req/s), and the 503s it drew.
func BenchmarkServerCapacityPreset(b *testing.B) {
	sc, err := Preset("capacity")
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{sc.Capacity.Slots, sc.Capacity.Slots + sc.Capacity.Queue/2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			s, err := Start(Config{Scenario: sc})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			counts := pool(b, s.URL(), workers, b.N)
			rate := float64(counts[200]) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "ok/s")
			b.ReportMetric(rate/sc.Optimum(), "of-optimum")
			b.ReportMetric(float64(counts[503]), "503s")
		})
	}
}
