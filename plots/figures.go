package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Reliability is a reliability diagram (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): the
// confidence axis [0, 1] cut into len(BinAccuracy) equal bins, one bar per non-empty bin whose height is the
// accuracy of the predictions in it, the diagonal of perfect calibration, and the expected calibration error in
// the title ("<Title> (ECE 3.21%)"). The bins are those of eval.Metrics.Reliability (eval.ECEBins of them).
type Reliability struct {
	Title string
	// BinAccuracy[b] is the accuracy (fraction in [0, 1]) of the predictions whose confidence falls in bin b; NaN
	// for an empty bin.
	BinAccuracy []float64
	// BinConfidence[b] is their mean confidence (NaN for an empty bin); drawn as a marker on each bar.
	BinConfidence []float64
	// BinCount[b] is the number of predictions in bin b; empty bins draw no bar.
	BinCount []int
	// ECE is the expected calibration error in percent (eval.Metrics.ECE).
	ECE float64
	// Width and Height of the figure; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// FullTitle is the figure's title: Title followed by the ECE, e.g. "TPT (ECE 3.21%)".
func (r Reliability) FullTitle() string {
	ece := "n/a"
	if !math.IsNaN(r.ECE) {
		ece = fmt.Sprintf("%.2f%%", r.ECE)
	}
	if r.Title == "" {
		return "ECE " + ece
	}
	return fmt.Sprintf("%s (ECE %s)", r.Title, ece)
}

// Plot builds the gonum plot.
func (r Reliability) Plot() (*plot.Plot, error) {
	nb := len(r.BinAccuracy)
	if nb == 0 || len(r.BinCount) != nb || (r.BinConfidence != nil && len(r.BinConfidence) != nb) {
		return nil, fmt.Errorf("plots: reliability %q: %d accuracy bins, %d counts, %d confidences", r.Title, nb,
			len(r.BinCount), len(r.BinConfidence))
	}
	p := newPlot(r.FullTitle(), "confidence", "accuracy")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	barColor := plotutil.Color(0)
	var legendBar plot.Thumbnailer
	var confPts plotter.XYs
	for b := range nb {
		if r.BinCount[b] == 0 || math.IsNaN(r.BinAccuracy[b]) {
			continue
		}
		lo, hi := float64(b)/float64(nb), float64(b+1)/float64(nb)
		acc := r.BinAccuracy[b]
		poly, err := plotter.NewPolygon(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}, {X: hi, Y: acc}, {X: lo, Y: acc}})
		if err != nil {
			return nil, fmt.Errorf("plots: reliability %q bin %d: %w", r.Title, b, err)
		}
		poly.Color = withAlpha(barColor, 0xb0)
		poly.LineStyle.Color = color.Black
		poly.LineStyle.Width = vg.Points(0.5)
		p.Add(poly)
		legendBar = poly
		if r.BinConfidence != nil && !math.IsNaN(r.BinConfidence[b]) {
			confPts = append(confPts, plotter.XY{X: r.BinConfidence[b], Y: acc})
		}
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("plots: reliability %q: %w", r.Title, err)
	}
	diag.Color = color.Gray{Y: 0x40}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	if legendBar != nil {
		p.Legend.Add("accuracy per bin", legendBar)
	}
	if len(confPts) > 0 {
		sc, err := plotter.NewScatter(confPts)
		if err != nil {
			return nil, fmt.Errorf("plots: reliability %q: %w", r.Title, err)
		}
		sc.Color = plotutil.Color(1)
		sc.Shape = draw.CrossGlyph{}
		p.Add(sc)
		p.Legend.Add("mean confidence", sc)
	}
	p.Legend.Add("perfect calibration", diag)
	return p, nil
}

// SVG renders the diagram as SVG bytes.
func (r Reliability) SVG() ([]byte, error) { return render(r.Plot, r.Width, r.Height, "svg") }

// PNG renders the diagram as PNG bytes.
func (r Reliability) PNG() ([]byte, error) { return render(r.Plot, r.Width, r.Height, "png") }

// Point is one labelled point of a Scatter.
type Point struct {
	Label string
	X, Y  float64
}

// Scatter is a scatter plot whose points carry text labels, e.g. accuracy against seconds per example with one
// point per method.
type Scatter struct {
	Title, XLabel, YLabel string
	Points                []Point
	// LogX draws the x axis on a log scale (times spanning decades); every X must then be > 0.
	LogX bool
	// Width and Height of the figure; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// Plot builds the gonum plot. Points with a NaN coordinate are left out.
func (s Scatter) Plot() (*plot.Plot, error) {
	p := newPlot(s.Title, s.XLabel, s.YLabel)
	p.Add(plotter.NewGrid())
	var xys plotter.XYs
	var labels []string
	for _, pt := range s.Points {
		if math.IsNaN(pt.X) || math.IsNaN(pt.Y) {
			continue
		}
		if s.LogX && pt.X <= 0 {
			return nil, fmt.Errorf("plots: scatter %q: point %q has x = %g on a log axis", s.Title, pt.Label, pt.X)
		}
		xys = append(xys, plotter.XY{X: pt.X, Y: pt.Y})
		labels = append(labels, pt.Label)
	}
	if len(xys) == 0 {
		return p, nil // an empty figure, on a linear axis (a log axis needs data)
	}
	if s.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, fmt.Errorf("plots: scatter %q: %w", s.Title, err)
	}
	sc.Color = plotutil.Color(0)
	sc.Shape = draw.CircleGlyph{}
	sc.Radius = vg.Points(3)
	p.Add(sc)
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("plots: scatter %q: %w", s.Title, err)
	}
	lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(lb)
	// Leave room on the right for the labels.
	xmin, xmax, _, _ := plotter.XYRange(xys)
	if s.LogX {
		p.X.Max = xmax * 3
		p.X.Min = xmin / 1.5
	} else {
		span := xmax - xmin
		if span == 0 {
			span = math.Max(math.Abs(xmax), 1)
		}
		p.X.Max = xmax + 0.3*span
		p.X.Min = xmin - 0.05*span
	}
	return p, nil
}

// SVG renders the scatter plot as SVG bytes.
func (s Scatter) SVG() ([]byte, error) { return render(s.Plot, s.Width, s.Height, "svg") }

// PNG renders the scatter plot as PNG bytes.
func (s Scatter) PNG() ([]byte, error) { return render(s.Plot, s.Width, s.Height, "png") }

// BarSeries is one named series of a grouped bar chart: Values[g] is its bar in group g (NaN draws no bar).
type BarSeries struct {
	Name   string
	Values []float64
}

// Bars is a grouped bar chart: one group per category on the x axis (e.g. corruptions), one bar per series in
// each group (e.g. methods), with a legend.
type Bars struct {
	Title, XLabel, YLabel string
	// Groups are the category names along the x axis.
	Groups []string
	Series []BarSeries
	// YMin and YMax fix the y axis when YMax > YMin (e.g. 0 and 100 for accuracies); otherwise it fits the data.
	YMin, YMax float64
	// LegendWidth > 0 draws the legend outside the axes, in a strip of that width on the right (for many series);
	// 0 draws it inside, top right.
	LegendWidth vg.Length
	// Width and Height of the figure; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// Plot builds the gonum plot.
func (b Bars) Plot() (*plot.Plot, error) {
	p := newPlot(b.Title, b.XLabel, b.YLabel)
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	ns := len(b.Series)
	if ns == 0 {
		return nil, fmt.Errorf("plots: bars %q: no series", b.Title)
	}
	// Each group spans 1 unit of the nominal axis; the bars share 80% of it (the axes are about the figure's width
	// less the legend strip and 60 points of margins).
	const groupWidth = 0.8
	figW := b.Width
	if figW == 0 {
		figW = DefaultWidth
	}
	axes := max(figW-b.LegendWidth-vg.Points(60), vg.Points(60))
	w := axes / vg.Length(max(1, len(b.Groups))) * groupWidth / vg.Length(ns)
	for i, s := range b.Series {
		if len(s.Values) != len(b.Groups) {
			return nil, fmt.Errorf("plots: bars %q: series %q has %d values for %d groups", b.Title, s.Name,
				len(s.Values), len(b.Groups))
		}
		vals := make(plotter.Values, len(s.Values))
		for g, v := range s.Values {
			if math.IsNaN(v) {
				v = 0
			}
			vals[g] = v
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, fmt.Errorf("plots: bars %q series %q: %w", b.Title, s.Name, err)
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = vg.Points(0.3)
		bc.Offset = w * vg.Length(float64(i)-float64(ns-1)/2)
		p.Add(bc)
		if s.Name != "" {
			p.Legend.Add(s.Name, bc)
		}
	}
	p.NominalX(b.Groups...)
	if b.YMax > b.YMin {
		p.Y.Min, p.Y.Max = b.YMin, b.YMax
	}
	return p, nil
}

// SVG renders the chart as SVG bytes.
func (b Bars) SVG() ([]byte, error) {
	return renderRight(b.Plot, b.Width, b.Height, "svg", b.LegendWidth)
}

// PNG renders the chart as PNG bytes.
func (b Bars) PNG() ([]byte, error) {
	return renderRight(b.Plot, b.Width, b.Height, "png", b.LegendWidth)
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, bl, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: a}
}
