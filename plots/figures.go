package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
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
	// Width and Height of the axes area; zero means DefaultWidth x DefaultHeight.
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

// Plot builds the gonum plot, its legend inside the axes (SVG and PNG draw it outside).
func (r Reliability) Plot() (*plot.Plot, error) { return withLegend(r.build) }

func (r Reliability) build() (*plot.Plot, []legendEntry, error) {
	nb := len(r.BinAccuracy)
	if nb == 0 || len(r.BinCount) != nb || (r.BinConfidence != nil && len(r.BinConfidence) != nb) {
		return nil, nil, fmt.Errorf("plots: reliability %q: %d accuracy bins, %d counts, %d confidences", r.Title, nb,
			len(r.BinCount), len(r.BinConfidence))
	}
	p := newPlot(r.FullTitle(), "confidence", "accuracy")
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	barColor := OkabeIto[2]
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
			return nil, nil, fmt.Errorf("plots: reliability %q bin %d: %w", r.Title, b, err)
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
		return nil, nil, fmt.Errorf("plots: reliability %q: %w", r.Title, err)
	}
	diag.Color = color.Gray{Y: 0x40}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	var legend []legendEntry
	if legendBar != nil {
		legend = append(legend, legendEntry{"accuracy per bin", []plot.Thumbnailer{legendBar}})
	}
	if len(confPts) > 0 {
		sc, err := plotter.NewScatter(confPts)
		if err != nil {
			return nil, nil, fmt.Errorf("plots: reliability %q: %w", r.Title, err)
		}
		sc.Color = OkabeIto[5]
		sc.Shape = draw.CrossGlyph{}
		sc.Radius = vg.Points(3)
		p.Add(sc)
		legend = append(legend, legendEntry{"mean confidence", []plot.Thumbnailer{sc}})
	}
	legend = append(legend, legendEntry{"perfect calibration", []plot.Thumbnailer{diag}})
	return p, legend, nil
}

// SVG renders the diagram as SVG bytes.
func (r Reliability) SVG() ([]byte, error) { return render(r.build, r.Width, r.Height, "svg") }

// PNG renders the diagram as PNG bytes.
func (r Reliability) PNG() ([]byte, error) { return render(r.build, r.Width, r.Height, "png") }

// Point is one labelled point of a Scatter.
type Point struct {
	Label string
	X, Y  float64
	// Lo and Hi, when both are set and not NaN, draw an error bar from Lo to Hi (e.g. a 95% interval of Y).
	Lo, Hi float64
	// Style is the point's colour and marker; zero means StyleAt(0).
	Style Style
}

// Scatter is a scatter plot whose points carry text labels, e.g. accuracy against seconds per example with one
// point per method.
type Scatter struct {
	Title, XLabel, YLabel string
	Points                []Point
	// LogX draws the x axis on a log scale (times spanning decades); every X must then be > 0.
	LogX bool
	// Legend names the points in a legend right of the axes (by their Style) instead of labelling them in place:
	// for many points, whose labels would overlap.
	Legend bool
	// Width and Height of the axes area; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// Plot builds the gonum plot. Points with a NaN coordinate are left out.
func (s Scatter) Plot() (*plot.Plot, error) { return withLegend(s.build) }

func (s Scatter) build() (*plot.Plot, []legendEntry, error) {
	p := newPlot(s.Title, s.XLabel, s.YLabel)
	p.Add(plotter.NewGrid())
	var xys plotter.XYs
	var labels []string
	var pts []Point
	for _, pt := range s.Points {
		if math.IsNaN(pt.X) || math.IsNaN(pt.Y) {
			continue
		}
		if s.LogX && pt.X <= 0 {
			return nil, nil, fmt.Errorf("plots: scatter %q: point %q has x = %g on a log axis", s.Title, pt.Label, pt.X)
		}
		xys = append(xys, plotter.XY{X: pt.X, Y: pt.Y})
		labels = append(labels, pt.Label)
		pts = append(pts, pt)
	}
	if len(xys) == 0 {
		return p, nil, nil // an empty figure, on a linear axis (a log axis needs data)
	}
	if s.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	var legend []legendEntry
	var markers []plot.Plotter
	for _, pt := range pts {
		st := pt.Style.orDefault(0)
		if pt.Lo != 0 || pt.Hi != 0 {
			if eb, ok := newErrorBars([]float64{pt.X}, []float64{pt.Lo}, []float64{pt.Hi}, 0,
				withAlpha(st.Color, 0xa0)); ok {
				p.Add(eb) // under every marker
			}
		}
		sc, err := plotter.NewScatter(plotter.XYs{{X: pt.X, Y: pt.Y}})
		if err != nil {
			return nil, nil, fmt.Errorf("plots: scatter %q point %q: %w", s.Title, pt.Label, err)
		}
		sc.Color, sc.Shape, sc.Radius = st.Color, st.Shape, vg.Points(3.5)
		markers = append(markers, sc)
		if s.Legend && pt.Label != "" {
			legend = append(legend, legendEntry{pt.Label, []plot.Thumbnailer{sc}})
		}
	}
	p.Add(markers...)
	if s.Legend {
		fitLogRange(p, s.LogX)
		return p, legend, nil
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, nil, fmt.Errorf("plots: scatter %q: %w", s.Title, err)
	}
	lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
	for i := range lb.TextStyle {
		sansStyle(&lb.TextStyle[i], 8)
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
	return p, nil, nil
}

// fitLogRange pads a log x axis by a fifth of a decade on each side, so no marker sits on the frame.
func fitLogRange(p *plot.Plot, logX bool) {
	if logX && p.X.Min > 0 {
		p.X.Min, p.X.Max = p.X.Min/1.6, p.X.Max*1.6
	}
}

// SVG renders the scatter plot as SVG bytes.
func (s Scatter) SVG() ([]byte, error) { return render(s.build, s.Width, s.Height, "svg") }

// PNG renders the scatter plot as PNG bytes.
func (s Scatter) PNG() ([]byte, error) { return render(s.build, s.Width, s.Height, "png") }

// BarSeries is one named series of a grouped bar chart: Values[g] is its bar in group g (NaN draws no bar).
type BarSeries struct {
	Name   string
	Values []float64
	// Lo and Hi, when set (one per group; NaN for none), draw an error bar on each bar (e.g. a 95% interval).
	Lo, Hi []float64
	// Style is the bars' colour (the marker is not used); zero means StyleAt(the series' index).
	Style Style
}

// Bars is a grouped bar chart: one group per category on the x axis (e.g. corruptions), one bar per series in
// each group (e.g. methods), with a legend right of the axes.
type Bars struct {
	Title, XLabel, YLabel string
	// Groups are the category names along the x axis.
	Groups []string
	Series []BarSeries
	// YMin and YMax fix the y axis when YMax > YMin (e.g. 0 and 100 for accuracies); otherwise it fits the data.
	YMin, YMax float64
	// Width and Height of the axes area; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// Plot builds the gonum plot, its legend inside the axes (SVG and PNG draw it outside).
func (b Bars) Plot() (*plot.Plot, error) { return withLegend(b.build) }

func (b Bars) build() (*plot.Plot, []legendEntry, error) {
	p := newPlot(b.Title, b.XLabel, b.YLabel)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	ns := len(b.Series)
	if ns == 0 {
		return nil, nil, fmt.Errorf("plots: bars %q: no series", b.Title)
	}
	// Each group spans 1 unit of the nominal axis; the bars share 80% of it (the axes are about the figure's width
	// less 60 points of margins).
	const groupWidth = 0.8
	figW := b.Width
	if figW == 0 {
		figW = DefaultWidth
	}
	axes := max(figW-vg.Points(60), vg.Points(60))
	w := axes / vg.Length(max(1, len(b.Groups))) * groupWidth / vg.Length(ns)
	var legend []legendEntry
	var bars []plot.Plotter
	for i, s := range b.Series {
		if len(s.Values) != len(b.Groups) {
			return nil, nil, fmt.Errorf("plots: bars %q: series %q has %d values for %d groups", b.Title, s.Name,
				len(s.Values), len(b.Groups))
		}
		if (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(b.Groups) || len(s.Hi) != len(b.Groups)) {
			return nil, nil, fmt.Errorf("plots: bars %q: series %q has %d lower and %d upper bounds for %d groups",
				b.Title, s.Name, len(s.Lo), len(s.Hi), len(b.Groups))
		}
		st := s.Style.orDefault(i)
		vals := make(plotter.Values, len(s.Values))
		for g, v := range s.Values {
			if math.IsNaN(v) {
				v = 0
			}
			vals[g] = v
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, nil, fmt.Errorf("plots: bars %q series %q: %w", b.Title, s.Name, err)
		}
		bc.Color = st.Color
		bc.LineStyle.Width = vg.Points(0.3)
		bc.Offset = w * vg.Length(float64(i)-float64(ns-1)/2)
		p.Add(bc)
		if s.Lo != nil {
			xs := make([]float64, len(b.Groups))
			for g := range xs {
				xs[g] = float64(g)
			}
			if eb, ok := newErrorBars(xs, s.Lo, s.Hi, bc.Offset, color.Gray{Y: 0x30}); ok {
				bars = append(bars, eb) // over every bar
			}
		}
		if s.Name != "" {
			legend = append(legend, legendEntry{s.Name, []plot.Thumbnailer{bc}})
		}
	}
	p.Add(bars...)
	p.NominalX(b.Groups...)
	if b.YMax > b.YMin {
		p.Y.Min, p.Y.Max = b.YMin, b.YMax
	}
	return p, legend, nil
}

// SVG renders the chart as SVG bytes.
func (b Bars) SVG() ([]byte, error) { return render(b.build, b.Width, b.Height, "svg") }

// PNG renders the chart as PNG bytes.
func (b Bars) PNG() ([]byte, error) { return render(b.build, b.Width, b.Height, "png") }

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, bl, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: a}
}
