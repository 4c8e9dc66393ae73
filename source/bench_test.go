package source

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRangeAllocatesNothingPerItem(t *testing.T) {
	src, err := Range(0, 1<<30, 1, WithGroup(1<<20))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	allocs := testing.AllocsPerRun(10000, func() {
		if _, err := src.Next(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestSliceAllocatesNothingPerItem(t *testing.T) {
	src, err := Slice(make([]int, 1<<16), WithGroup(1<<16))
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(10000, func() {
		if _, err := src.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkRange10M drains a 10⁷-item Range per op, with the engine's kind
// of context (cancellable); allocs/item and B/item are per item.
func BenchmarkRange10M(b *testing.B) {
	const n = 10_000_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		src, err := Range(0, n, 1)
		if err != nil {
			b.Fatal(err)
		}
		sum := 0
		for {
			it, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			sum += it.Value
		}
		if sum != n*(n-1)/2 {
			b.Fatalf("sum %d", sum)
		}
	}
	runtime.ReadMemStats(&after)
	items := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/items, "ns/item")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/items, "allocs/item")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/items, "B/item")
}

// BenchmarkRangeGroup1 is Range with one item per page: one cursor
// allocation per item, for comparison.
func BenchmarkRangeGroup1(b *testing.B) {
	src, err := Range(0, 1<<62, 1, WithGroup(1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokensPage100 reads a token paginator with 100 items per page
// from an in-memory fetcher; per op is per item.
func BenchmarkTokensPage100(b *testing.B) {
	page := make([]int, 100)
	src, err := Tokens(func(_ context.Context, tok string) (Page[int], error) {
		n := 0
		if tok != "" {
			n, _ = strconv.Atoi(tok)
		}
		return Page[int]{Items: page, Next: strconv.Itoa(n + 1)}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONLines decodes small JSON lines; per op is per line.
func BenchmarkJSONLines(b *testing.B) {
	type rec struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	const lines = 10000
	input := strings.Repeat(`{"id":12345,"name":"ada lovelace"}`+"\n", lines)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(input) / lines))
	var src Source[rec]
	for i := 0; b.Loop(); i++ {
		if i%lines == 0 {
			var err error
			if src, err = JSONLines[rec](strings.NewReader(input)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := src.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeenLiveHeap measures the live heap that loop detection keeps per
// page after a million distinct URLs.
func BenchmarkSeenLiveHeap(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var s seen
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			s.add(position{ord: i + 1, s: "https://api.example.com/v1/items?cursor=" + strconv.Itoa(i*7919)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "live-B/page")
		runtime.KeepAlive(&s)
	}
}
