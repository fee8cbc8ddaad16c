// Package plots draws GoTTA's figures with gonum/plot and returns them as SVG or PNG bytes.
//
// It never imports a notebook UI package: notebooks pass the bytes to gonbui themselves, reports inline the SVG.
// Figures are deterministic: the same data gives the same bytes. Every text is in Liberation Sans (gonum/plot's
// font cache; SVGs name it with sans-serif fallbacks), a figure's legend sits in a strip right of the axes (never
// over the data), and each series is drawn in a Style: a colour of the colour-blind-safe Okabe-Ito palette and a
// marker, so a caller that gives a method the same Style everywhere gets the same look in every figure.
//
// Usage:
//
//	svg, err := plots.Line{Title: "Accuracy vs views", XLabel: "views", YLabel: "top-1 accuracy (%)",
//		XTicks: []float64{8, 16, 32, 64}, LogX: true,
//		Series: []plots.Series{{Name: "TPT", X: []float64{8, 16, 32, 64}, Y: []float64{60, 62, 63, 64},
//			Lo: []float64{55, 57, 58, 59}, Hi: []float64{65, 67, 68, 69}, Style: plots.StyleAt(1)}}}.SVG()
package plots

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Default size of a figure's axes area (title and axes included); a legend strip, when the figure has a legend,
// widens the figure by its own width.
const (
	DefaultWidth  = 6 * vg.Inch
	DefaultHeight = 4 * vg.Inch
)

// OkabeIto is the colour-blind-safe palette of Okabe and Ito ("Color Universal Design", 2008): black, orange, sky
// blue, bluish green, blue, vermillion, reddish purple, yellow.
var OkabeIto = []color.Color{
	color.NRGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xff},
	color.NRGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
	color.NRGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
	color.NRGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
	color.NRGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
	color.NRGBA{R: 0xf0, G: 0xe4, B: 0x42, A: 0xff},
}

// markers are the series' marker shapes; their count (7) is prime to the palette's (8), so StyleAt gives 56
// distinct colour-marker pairs.
var markers = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{},
	draw.RingGlyph{}, draw.CrossGlyph{}, draw.SquareGlyph{}}

// Style is how one series (a method) is drawn: its colour and its marker.
type Style struct {
	Color color.Color
	Shape draw.GlyphDrawer
}

// StyleAt is the i-th style: colour OkabeIto[i mod 8], marker i mod 7 (distinct for i < 56).
func StyleAt(i int) Style {
	i = max(i, 0)
	return Style{Color: OkabeIto[i%len(OkabeIto)], Shape: markers[i%len(markers)]}
}

// orDefault fills a zero Style's colour and marker with StyleAt(i)'s.
func (s Style) orDefault(i int) Style {
	d := StyleAt(i)
	if s.Color == nil {
		s.Color = d.Color
	}
	if s.Shape == nil {
		s.Shape = d.Shape
	}
	return s
}

// Series is one named curve: points (X[i], Y[i]), optionally with an interval [Lo[i], Hi[i]] drawn as a band.
type Series struct {
	Name string
	X, Y []float64
	// Lo and Hi, when set (one per point; NaN for none), bound a translucent band around the curve (e.g. a 95%
	// confidence interval).
	Lo, Hi []float64
	// Style is the curve's colour and marker; zero means StyleAt(the series' index).
	Style Style
}

// Line is a line chart with markers, one line per series, the legend right of the axes.
type Line struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX draws the x axis on a log scale (e.g. learning rate).
	LogX bool
	// XTicks, when set, are the only x ticks, each labelled with its value (e.g. the swept values 8, 16, 32, 64 on a
	// log axis, where the default ticks would label only the powers of 10).
	XTicks []float64
	// Width and Height of the axes area; zero means DefaultWidth x DefaultHeight.
	Width, Height vg.Length
}

// legendEntry is one line of a figure's legend.
type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// Plot builds the gonum plot, its legend inside the axes (SVG and PNG draw it outside).
func (l Line) Plot() (*plot.Plot, error) { return withLegend(l.build) }

func (l Line) build() (*plot.Plot, []legendEntry, error) {
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	p.Add(plotter.NewGrid())
	// A log axis needs positive data: with no point at all it stays linear (an empty figure).
	if l.LogX && hasPoints(l.Series) {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if len(l.XTicks) > 0 {
		p.X.Tick.Marker = fixedTicks(l.XTicks)
	}
	var legend []legendEntry
	var lines []plot.Plotter
	for i, s := range l.Series {
		if len(s.X) != len(s.Y) {
			return nil, nil, fmt.Errorf("plots: series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
		if (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X)) {
			return nil, nil, fmt.Errorf("plots: series %q has %d points, %d lower and %d upper bounds", s.Name,
				len(s.X), len(s.Lo), len(s.Hi))
		}
		st := s.Style.orDefault(i)
		pts := make(plotter.XYs, 0, len(s.X))
		var lo, hi plotter.XYs
		for j := range s.X {
			if math.IsNaN(s.Y[j]) || math.IsNaN(s.X[j]) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			if s.Lo != nil && !math.IsNaN(s.Lo[j]) && !math.IsNaN(s.Hi[j]) {
				lo = append(lo, plotter.XY{X: s.X[j], Y: s.Lo[j]})
				hi = append(hi, plotter.XY{X: s.X[j], Y: s.Hi[j]})
			}
		}
		thumbs := []plot.Thumbnailer{}
		if len(lo) > 0 {
			band, err := newBand(lo, hi, st.Color)
			if err != nil {
				return nil, nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
			}
			p.Add(band) // every band under every line
			thumbs = append(thumbs, band)
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
		}
		line.Color, line.Width = st.Color, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = st.Color, st.Shape, vg.Points(3)
		lines = append(lines, line, points)
		if s.Name != "" {
			legend = append(legend, legendEntry{s.Name, append(thumbs, line, points)})
		}
	}
	p.Add(lines...)
	if l.LogX {
		fixLogRange(p)
	}
	return p, legend, nil
}

// newBand is a translucent polygon from lo to hi (points in x order), or a vertical bar for a single point.
func newBand(lo, hi plotter.XYs, c color.Color) (*plotter.Polygon, error) {
	ring := make(plotter.XYs, 0, 2*len(lo))
	ring = append(ring, lo...)
	for j := len(hi) - 1; j >= 0; j-- {
		ring = append(ring, hi[j])
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, err
	}
	band.Color = withAlpha(c, 0x38)
	band.LineStyle.Width = 0
	if len(lo) == 1 {
		band.LineStyle = draw.LineStyle{Color: withAlpha(c, 0x90), Width: vg.Points(3)}
	}
	return band, nil
}

// fixedTicks are major ticks at given values, each labelled with its shortest decimal form.
type fixedTicks []float64

// Ticks implements plot.Ticker.
func (t fixedTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, v := range t {
		if v >= lo && v <= hi {
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return out
}

// fixLogRange widens a log axis whose data span a single x value (gonum would pad it by ±1, below zero) to a
// factor of 2 on each side.
func fixLogRange(p *plot.Plot) {
	if p.X.Min == p.X.Max && p.X.Min > 0 {
		p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*2
	}
}

// sans is the figures' typeface: Liberation Sans, in gonum/plot's default font cache.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// Font sizes of the title, the axis labels and the tick labels and legend.
const (
	titleSize = 13
	labelSize = 11
	smallSize = 9.5
)

func sansStyle(s *text.Style, size float64) { s.Font = font.From(sans, vg.Points(size)) }

// newPlot returns an empty plot with its title and axis labels, every text in Liberation Sans.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	sansStyle(&p.Title.TextStyle, titleSize)
	sansStyle(&p.X.Label.TextStyle, labelSize)
	sansStyle(&p.Y.Label.TextStyle, labelSize)
	sansStyle(&p.X.Tick.Label, smallSize)
	sansStyle(&p.Y.Tick.Label, smallSize)
	sansStyle(&p.Legend.TextStyle, smallSize)
	return p
}

// withLegend builds a figure and puts its legend inside the axes, top right (for callers of Plot).
func withLegend(build func() (*plot.Plot, []legendEntry, error)) (*plot.Plot, error) {
	p, legend, err := build()
	if err != nil {
		return nil, err
	}
	p.Legend.Top = true
	for _, e := range legend {
		p.Legend.Add(e.name, e.thumbs...)
	}
	return p, nil
}

// SVG renders the chart as SVG bytes.
func (l Line) SVG() ([]byte, error) { return render(l.build, l.Width, l.Height, "svg") }

// PNG renders the chart as PNG bytes.
func (l Line) PNG() ([]byte, error) { return render(l.build, l.Width, l.Height, "png") }

// Legend strip: gap between the axes and the strip, margin right of the longest entry.
const (
	legendGap    = 10
	legendMargin = 6
)

// legendStrip is the width of the strip that holds the legend (0 without one).
func legendStrip(p *plot.Plot, legend []legendEntry) vg.Length {
	if len(legend) == 0 {
		return 0
	}
	var w vg.Length
	for _, e := range legend {
		w = max(w, p.Legend.TextStyle.Width(" "+e.name))
	}
	// Slack for a browser that lacks Liberation Sans and draws the SVG's text in a wider fallback font (DejaVu Sans
	// is about 12% wider).
	w = w * legendSlack
	return vg.Points(legendGap+legendMargin) + p.Legend.ThumbnailWidth + w
}

// legendSlack widens the legend strip beyond the measured text.
const legendSlack = 1.2

// render draws a figure of axes area w x h (zero: the defaults) with its legend in a strip right of it, the strip
// starting level with the top of the axes.
func render(build func() (*plot.Plot, []legendEntry, error), w, h vg.Length, format string) ([]byte, error) {
	p, legend, err := build()
	if err != nil {
		return nil, err
	}
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	strip := legendStrip(p, legend)
	wt, err := draw.NewFormattedCanvas(w+strip, h, format)
	if err != nil {
		return nil, fmt.Errorf("plots: rendering %q as %s: %w", p.Title.Text, format, err)
	}
	dc := draw.New(wt)
	top := vg.Length(0)
	if p.Title.Text != "" {
		top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	}
	if title := p.Title.Text; strip > 0 && p.Title.TextStyle.Width(title)*legendSlack > w-vg.Points(legendGap) {
		// A title wider than the axes is centred over the whole figure, legend strip included.
		p.Title.Text = ""
		p.Draw(draw.Crop(dc, 0, -strip, 0, -top))
		p.Title.Text = title
		descent := p.Title.TextStyle.FontExtents().Descent
		dc.FillText(p.Title.TextStyle, vg.Point{X: dc.Center().X, Y: dc.Max.Y + descent}, title)
	} else {
		p.Draw(draw.Crop(dc, 0, -strip, 0, 0))
	}
	if strip > 0 {
		leg := plot.NewLegend()
		leg.TextStyle = p.Legend.TextStyle
		leg.Top, leg.Left = true, true
		leg.Padding = vg.Points(2)
		for _, e := range legend {
			leg.Add(e.name, e.thumbs...)
		}
		leg.Draw(draw.Crop(dc, w+vg.Points(legendGap), 0, 0, -top))
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: rendering %q as %s: %w", p.Title.Text, format, err)
	}
	if format == "svg" {
		return svgFontFallbacks(buf.Bytes()), nil
	}
	return buf.Bytes(), nil
}

// svgFontFallbacks names sans-serif fallbacks after Liberation Sans, for browsers without it (they would fall back
// to their default, often a serif font).
func svgFontFallbacks(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
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

// errorBars draws vertical bars [Lo[i], Hi[i]] with caps at X[i] (data units), shifted by Offset (canvas units:
// the offset of a bar in a grouped bar chart).
type errorBars struct {
	X, Lo, Hi []float64
	Offset    vg.Length
	Color     color.Color
}

// Plot implements plot.Plotter.
func (e errorBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: e.Color, Width: vg.Points(1)}
	capW := vg.Points(2.5)
	for i := range e.X {
		if math.IsNaN(e.Lo[i]) || math.IsNaN(e.Hi[i]) || math.IsNaN(e.X[i]) {
			continue
		}
		x := trX(e.X[i]) + e.Offset
		lo, hi := trY(e.Lo[i]), trY(e.Hi[i])
		c.StrokeLine2(sty, x, lo, x, hi)
		c.StrokeLine2(sty, x-capW, lo, x+capW, lo)
		c.StrokeLine2(sty, x-capW, hi, x+capW, hi)
	}
}

// newErrorBars returns the error bars, ok = false when no bar has finite bounds (nothing to draw, no range).
func newErrorBars(x, lo, hi []float64, offset vg.Length, c color.Color) (errorBars, bool) {
	e := errorBars{X: x, Lo: lo, Hi: hi, Offset: offset, Color: c}
	for i := range x {
		if !math.IsNaN(lo[i]) && !math.IsNaN(hi[i]) && !math.IsNaN(x[i]) {
			return e, true
		}
	}
	return e, false
}

// DataRange implements plot.DataRanger: the bars' extent.
func (e errorBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = math.Inf(1), math.Inf(1)
	xmax, ymax = math.Inf(-1), math.Inf(-1)
	for i := range e.X {
		if math.IsNaN(e.Lo[i]) || math.IsNaN(e.Hi[i]) || math.IsNaN(e.X[i]) {
			continue
		}
		xmin, xmax = math.Min(xmin, e.X[i]), math.Max(xmax, e.X[i])
		ymin, ymax = math.Min(ymin, e.Lo[i]), math.Max(ymax, e.Hi[i])
	}
	return xmin, xmax, ymin, ymax
}
