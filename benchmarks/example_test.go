package benchmarks_test

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/politely/politely/benchmarks"
)

// A plot of two quantities over time, a line per strategy.
func ExampleWritePlot() {
	dir, err := os.MkdirTemp("", "plot")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	limit := benchmarks.Panel{YLabel: "concurrency limit", Series: []benchmarks.Series{
		{Name: "default", Points: []benchmarks.Point{{At: 0, Value: 4}, {At: time.Second, Value: 32}, {At: 2 * time.Second, Value: 34}}},
	}}
	goodput := benchmarks.Panel{YLabel: "goodput (items/s)", Series: []benchmarks.Series{
		{Name: "default", Points: []benchmarks.Point{{At: 0, Value: 0}, {At: time.Second, Value: 1500}, {At: 2 * time.Second, Value: 1580}}},
		{Name: "optimum", Reference: true, Points: []benchmarks.Point{{At: 0, Value: 1600}, {At: 2 * time.Second, Value: 1600}}},
	}}
	path := filepath.Join(dir, "run.png")
	if err := benchmarks.WritePlot(path, "capacity", limit, goodput); err != nil {
		panic(err)
	}

	f, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d x %d pixels\n", cfg.Width, cfg.Height)
	// Output: 907 x 680 pixels
}
