// Package plots draws GoTTA's figures with gonum/plot and returns them as SVG or PNG bytes.
//
// It never imports a notebook UI package: notebooks pass the bytes to gonbui themselves, reports inline the SVG.
// Figures are deterministic: the same data gives the same bytes.
//
// Usage:
//
//	svg, err := plots.Line{Title: "Accuracy vs views", XLabel: "views", YLabel: "top-1 (%)",
//		Series: []plots.Series{{Name: "TPT", X: []float64{8, 16, 32, 64}, Y: []float64{60, 62, 63, 64}}}}.SVG()
package plots

import (
	"bytes"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Default figure size.
const (
	DefaultWidth  = 6 * vg.Inch
	DefaultHeight = 4 * vg.Inch
)

// Series is one named curve: points (X[i], Y[i]).
type Series struct {
	Name string
	X, Y []float64
}

// Line is a line chart with markers, one line per series.
type Line struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX draws the x axis on a log scale (e.g. learning rate).
	LogX bool
	// Width and Height of the figure; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// Plot builds the gonum plot.
func (l Line) Plot() (*plot.Plot, error) {
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	p.Add(plotter.NewGrid())
	// A log axis needs positive data: with no point at all it stays linear (an empty figure).
	if l.LogX && hasPoints(l.Series) {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = true
	for i, s := range l.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plots: series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if math.IsNaN(s.Y[j]) || math.IsNaN(s.X[j]) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
		}
		c := plotutil.Color(i)
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		if s.Name != "" {
			p.Legend.Add(s.Name, line, points)
		}
	}
	if l.LogX {
		fixLogRange(p)
	}
	return p, nil
}

// fixLogRange widens a log axis whose data span a single x value (gonum would pad it by ±1, below zero) to a
// factor of 2 on each side.
func fixLogRange(p *plot.Plot) {
	if p.X.Min == p.X.Max && p.X.Min > 0 {
		p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*2
	}
}

// newPlot returns an empty plot with its title and axis labels.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	return p
}

// SVG renders the chart as SVG bytes.
func (l Line) SVG() ([]byte, error) { return render(l.Plot, l.Width, l.Height, "svg") }

// PNG renders the chart as PNG bytes.
func (l Line) PNG() ([]byte, error) { return render(l.Plot, l.Width, l.Height, "png") }

func render(build func() (*plot.Plot, error), w, h vg.Length, format string) ([]byte, error) {
	return renderRight(build, w, h, format, 0)
}

// renderRight renders the plot with a strip of width right kept free on the right of the axes, where the legend
// goes (the legend is moved there); right = 0 is the plain layout.
func renderRight(build func() (*plot.Plot, error), w, h vg.Length, format string, right vg.Length) ([]byte, error) {
	p, err := build()
	if err != nil {
		return nil, err
	}
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	wt, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, fmt.Errorf("plots: rendering %q as %s: %w", p.Title.Text, format, err)
	}
	dc := draw.New(wt)
	if right > 0 {
		p.Legend.Top, p.Legend.Left = true, false
		p.Legend.XOffs = right
		dc = draw.Crop(dc, 0, -right, 0, 0)
	}
	p.Draw(dc)
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: rendering %q as %s: %w", p.Title.Text, format, err)
	}
	return buf.Bytes(), nil
}

// hasPoints says whether any series has a point with no NaN coordinate.
func hasPoints(series []Series) bool {
	for _, s := range series {
		for j := range min(len(s.X), len(s.Y)) {
			if !math.IsNaN(s.X[j]) && !math.IsNaN(s.Y[j]) {
				return true
			}
		}
	}
	return false
}
