package benchmarks

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ramp(n int, step time.Duration, f func(i int) float64) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{At: time.Duration(i) * step, Value: f(i)}
	}
	return pts
}

func TestWritePlotWritesADecodablePNGWithABandPerPanel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "limit.png")
	limit := Panel{YLabel: "concurrency limit", Series: []Series{
		{Name: "aimd", Points: ramp(50, 100*time.Millisecond, func(i int) float64 { return float64(i) })},
		{Name: "vegas", Points: ramp(50, 100*time.Millisecond, func(i int) float64 { return float64(2 * i) })},
	}}
	goodput := Panel{YLabel: "throughput (req/s)", Series: []Series{
		{Name: "vegas", Points: ramp(50, 100*time.Millisecond, func(i int) float64 { return 30 * float64(i) })},
		{Name: "optimum", Reference: true, Points: []Point{{0, 1600}, {5 * time.Second, 1600}}},
	}}

	require.NoError(t, WritePlot(path, "capacity 32 x 20 ms", limit, goodput))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	b := img.Bounds()
	assert.Greater(t, b.Dy(), b.Dx()/2, "two stacked panels make a tall image")

	one := filepath.Join(t.TempDir(), "one.png")
	require.NoError(t, WritePlot(one, "one", limit))
	g, err := os.Open(one)
	require.NoError(t, err)
	defer g.Close()
	img1, err := png.Decode(g)
	require.NoError(t, err)
	assert.Equal(t, 2*img1.Bounds().Dy(), b.Dy(), "each panel adds a band of the same height")
}

func TestWritePlotRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	good := Series{Name: "aimd", Points: ramp(3, time.Second, func(i int) float64 { return 1 })}
	tests := []struct {
		name   string
		path   string
		panels []Panel
		want   string
	}{
		{name: "empty path", path: "", panels: []Panel{{YLabel: "x", Series: []Series{good}}}, want: "empty path"},
		{name: "no panels", path: filepath.Join(dir, "a.png"), want: "no panels"},
		{name: "panel without series", path: filepath.Join(dir, "b.png"), panels: []Panel{{YLabel: "limit"}}, want: `panel 1 ("limit"): no series`},
		{name: "series without points", path: filepath.Join(dir, "c.png"),
			panels: []Panel{{YLabel: "x", Series: []Series{good}}, {YLabel: "y", Series: []Series{{Name: "vegas"}}}},
			want:   `panel 2 ("y"): series "vegas" has no points`},
		{name: "NaN value", path: filepath.Join(dir, "d.png"),
			panels: []Panel{{YLabel: "x", Series: []Series{{Name: "nan", Points: []Point{{Value: math.NaN()}}}}}},
			want:   `series "nan"`},
		{name: "directory missing", path: filepath.Join(dir, "missing", "e.png"),
			panels: []Panel{{YLabel: "x", Series: []Series{good}}}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WritePlot(tt.path, "t", tt.panels...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
