package benchmarks

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	colorpalette "image/color/palette"
	stddraw "image/draw"
	"image/png"
	"io"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one sample of a time series: a value at an offset from the start of the run.
type Point struct {
	At    time.Duration
	Value float64
}

// Series is one line of a panel, e.g. the concurrency limit of one strategy.
type Series struct {
	Name   string
	Points []Point
	// Reference draws the line black and dashed, e.g. an optimum the others are measured against.
	Reference bool
}

// Panel is one quantity plotted over time (e.g. "concurrency limit"), with a line per series.
// Its YLabel names the quantity and its unit.
type Panel struct {
	YLabel string
	Series []Series
}

// palette is Tableau 10: colours told apart easily, also in print.
var palette = []color.Color{
	color.RGBA{R: 0x4e, G: 0x79, B: 0xa7, A: 0xff}, color.RGBA{R: 0xf2, G: 0x8e, B: 0x2b, A: 0xff},
	color.RGBA{R: 0xe1, G: 0x57, B: 0x59, A: 0xff}, color.RGBA{R: 0x76, G: 0xb7, B: 0xb2, A: 0xff},
	color.RGBA{R: 0x59, G: 0xa1, B: 0x4f, A: 0xff}, color.RGBA{R: 0xed, G: 0xc9, B: 0x48, A: 0xff},
	color.RGBA{R: 0xb0, G: 0x7a, B: 0xa1, A: 0xff}, color.RGBA{R: 0xff, G: 0x9d, B: 0xa7, A: 0xff},
	color.RGBA{R: 0x9c, G: 0x75, B: 0x5f, A: 0xff}, color.RGBA{R: 0xba, G: 0xb0, B: 0xac, A: 0xff},
}

// plot sizes: wide enough to tell strategies apart, one band per panel.
const (
	plotWidth       = 24 * vg.Centimeter
	plotPanelHeight = 9 * vg.Centimeter
)

// WritePlot writes a PNG of panels stacked vertically at path, sharing one time axis (seconds).
// A series keeps its colour in every panel, so the legend of the first panel names them all.
// It needs at least one panel, and every panel at least one series with points.
func WritePlot(path, title string, panels ...Panel) error {
	if path == "" {
		return errors.New("write plot: empty path")
	}
	if len(panels) == 0 {
		return fmt.Errorf("write plot %s: no panels", path)
	}
	colors := make(map[string]int)
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p, err := panelPlot(pn, colors)
		if err != nil {
			return fmt.Errorf("write plot %s: panel %d (%q): %w", path, i+1, pn.YLabel, err)
		}
		if i == 0 {
			p.Title.Text = title
		}
		if i == len(panels)-1 {
			p.X.Label.Text = "time (s)"
		}
		plots[i] = []*plot.Plot{p}
	}
	// One time axis for every panel, so that they line up.
	xmin, xmax := min(0, plots[0][0].X.Min), plots[0][0].X.Max
	for _, row := range plots[1:] {
		xmin, xmax = min(xmin, row[0].X.Min), max(xmax, row[0].X.Max)
	}
	for _, row := range plots {
		row[0].X.Min, row[0].X.Max = xmin, xmax
	}

	img := vgimg.New(plotWidth, plotPanelHeight*vg.Length(len(panels)))
	dc := draw.New(img)
	tiles := draw.Tiles{
		Rows: len(panels), Cols: 1,
		PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter,
		PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter,
	}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	if err := writePNG(f, img.Image()); err != nil {
		_ = f.Close()
		return fmt.Errorf("write plot %s: encode png: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

// panelPlot builds one panel; colors maps a series name to its colour index across panels.
func panelPlot(pn Panel, colors map[string]int) (*plot.Plot, error) {
	if len(pn.Series) == 0 {
		return nil, errors.New("no series")
	}
	p := plot.New()
	p.Y.Label.Text = pn.YLabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for _, s := range pn.Series {
		if len(s.Points) == 0 {
			return nil, fmt.Errorf("series %q has no points", s.Name)
		}
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: pt.At.Seconds(), Y: pt.Value}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Width = vg.Points(1.2)
		if s.Reference {
			line.Color = color.Black
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		} else {
			idx, ok := colors[s.Name]
			if !ok {
				idx = len(colors)
				colors[s.Name] = idx
			}
			line.Color = palette[idx%len(palette)]
			line.Dashes = plotutil.Dashes(idx / len(palette))
		}
		p.Add(line)
		p.Legend.Add(s.Name, line)
	}
	return p, nil
}

// writePNG encodes img with the 216 web-safe colours, each pixel the
// nearest: a line plot keeps its look at a quarter of the bytes of a
// true-colour PNG.
func writePNG(w io.Writer, img image.Image) error {
	p := image.NewPaletted(img.Bounds(), colorpalette.WebSafe)
	stddraw.Draw(p, p.Bounds(), img, img.Bounds().Min, stddraw.Src)
	return (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(w, p)
}
