package plots

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svgText is one <text> element of an SVG: its content, x position (points) and style.
type svgText struct {
	text, style string
	x           float64
}

func svgTextItems(t *testing.T, svg []byte) []svgText {
	t.Helper()
	var out []svgText
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var cur *svgText
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local != "text" {
				continue
			}
			cur = &svgText{}
			for _, a := range e.Attr {
				switch a.Name.Local {
				case "x":
					cur.x, err = strconv.ParseFloat(a.Value, 64)
					require.NoError(t, err)
				case "style":
					cur.style = a.Value
				}
			}
		case xml.CharData:
			if cur != nil {
				cur.text += strings.TrimSpace(string(e))
			}
		case xml.EndElement:
			if cur != nil && e.Name.Local == "text" {
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	return out
}

// checkReadable asserts what a reader needs of a figure: the title, every wanted tick label and legend entry, each
// legend entry right of every numeric tick label (outside the axes, so over no data), every text in a sans-serif
// font.
func checkReadable(t *testing.T, svg []byte, title string, ticks, legend []string) {
	t.Helper()
	items := svgTextItems(t, svg)
	require.NotEmpty(t, items)
	texts := map[string]float64{}
	maxTickX := math.Inf(-1)
	for _, it := range items {
		texts[it.text] = it.x
		if _, err := strconv.ParseFloat(it.text, 64); err == nil {
			maxTickX = math.Max(maxTickX, it.x)
		}
		assert.Contains(t, it.style, "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;", "%q", it.text)
		assert.NotContains(t, it.style, "Serif", "%q", it.text)
		assert.GreaterOrEqual(t, it.x, 0.0, "%q starts inside the figure", it.text)
	}
	assert.Contains(t, texts, title, "title")
	for _, tick := range ticks {
		assert.Contains(t, texts, tick, "tick label")
	}
	for _, name := range legend {
		x, ok := texts[name]
		if assert.True(t, ok, "legend entry %q", name) {
			assert.Greater(t, x, maxTickX+5, "legend entry %q is right of the axes", name)
		}
	}
}

func TestLineAsReadersSeeIt(t *testing.T) {
	views := []float64{8, 16, 32, 64}
	l := Line{Title: "Accuracy vs number of views", XLabel: "views", YLabel: "top-1 accuracy (%)", LogX: true,
		XTicks: views, Series: []Series{
			{Name: "TPT", X: views, Y: []float64{60, 62, 63, 64}, Lo: []float64{55, 57, 58, 59},
				Hi: []float64{65, 67, 68, 69}, Style: StyleAt(1)},
			{Name: "TPT ensemble + confidence selection", X: views, Y: []float64{61, 61, 62, math.NaN()},
				Lo: []float64{56, 56, 57, math.NaN()}, Hi: []float64{66, 66, 67, math.NaN()}, Style: StyleAt(2)},
		}}
	svg, err := l.SVG()
	require.NoError(t, err)
	checkReadable(t, svg, l.Title, []string{"8", "16", "32", "64"}, []string{"TPT",
		"TPT ensemble + confidence selection"})
	for _, want := range []string{"views", "top-1 accuracy (%)"} {
		assert.Contains(t, string(svg), ">"+want+"<")
	}
	assert.NotContains(t, string(svg), ">10<", "no power-of-ten tick besides the swept values")
	// The series' Okabe-Ito colours, and a band per series (a filled path in the same colour, translucent).
	assert.Contains(t, string(svg), "#E69F00")
	assert.Contains(t, string(svg), "#56B4E9")
	noBands := l
	noBands.Series = append([]Series(nil), l.Series...)
	for i := range noBands.Series {
		noBands.Series[i].Lo, noBands.Series[i].Hi = nil, nil
	}
	plain, err := noBands.SVG()
	require.NoError(t, err)
	_, withPaths := svgTexts(t, svg)
	_, plainPaths := svgTexts(t, plain)
	assert.GreaterOrEqual(t, withPaths-plainPaths, 2, "one band per series (and its legend swatch)")

	t.Run("bounds must match the points", func(t *testing.T) {
		bad := l
		bad.Series = []Series{{Name: "short", X: views, Y: views, Lo: views[:2], Hi: views}}
		_, err := bad.SVG()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"short"`)
	})
}

func TestBarsAsReadersSeeThem(t *testing.T) {
	b := Bars{Title: "Top-1 accuracy per dataset", XLabel: "dataset", YLabel: "top-1 accuracy (%)", YMin: 0,
		YMax: 100, Groups: []string{"clean", "fog", "rotate"},
		Series: []BarSeries{
			{Name: "CLIP zero-shot", Values: []float64{90, 40, 70}, Lo: []float64{85, 33, 62},
				Hi: []float64{94, 47, 77}, Style: StyleAt(0)},
			{Name: "MEMO + TPT ensemble (simple)", Values: []float64{92, 45, math.NaN()},
				Lo: []float64{87, 38, math.NaN()}, Hi: []float64{95, 52, math.NaN()}, Style: StyleAt(6)},
		}}
	svg, err := b.SVG()
	require.NoError(t, err)
	checkReadable(t, svg, b.Title, []string{"clean", "fog", "rotate", "0", "100"},
		[]string{"CLIP zero-shot", "MEMO + TPT ensemble (simple)"})
	assert.Contains(t, string(svg), "#CC79A7")
	plain := b
	plain.Series = []BarSeries{{Name: b.Series[0].Name, Values: b.Series[0].Values},
		{Name: b.Series[1].Name, Values: b.Series[1].Values}}
	plainSVG, err := plain.SVG()
	require.NoError(t, err)
	_, withPaths := svgTexts(t, svg)
	_, plainPaths := svgTexts(t, plainSVG)
	assert.GreaterOrEqual(t, withPaths-plainPaths, 5*3, "5 error bars (the NaN one is not drawn), 3 strokes each")
}

func TestReliabilityAndScatterAsReadersSeeThem(t *testing.T) {
	nan := math.NaN()
	r := Reliability{Title: "TPT", ECE: 3.214, BinAccuracy: []float64{nan, 0.2, 0.5, 0.9, 1},
		BinConfidence: []float64{nan, 0.3, 0.5, 0.7, 0.95}, BinCount: []int{0, 3, 4, 10, 20}}
	svg, err := r.SVG()
	require.NoError(t, err)
	checkReadable(t, svg, "TPT (ECE 3.21%)", []string{"0.0", "1.0"},
		[]string{"accuracy per bin", "mean confidence", "perfect calibration"})
	// A title wider than small axes is centred over the whole figure and starts inside it.
	long := r
	long.Title, long.Width, long.Height = "TPT ensemble + confidence selection", DefaultWidth*2/3, DefaultHeight*3/4
	svg, err = long.SVG()
	require.NoError(t, err)
	checkReadable(t, svg, "TPT ensemble + confidence selection (ECE 3.21%)", nil, []string{"accuracy per bin"})

	s := Scatter{Title: "Accuracy vs time per example", XLabel: "seconds per example (s)",
		YLabel: "top-1 accuracy (%)", LogX: true, Points: []Point{
			{Label: "zero-shot", X: 0.01, Y: 60, Lo: 50, Hi: 70, Style: StyleAt(0)},
			{Label: "TPT", X: 0.5, Y: 66, Lo: 56, Hi: 75, Style: StyleAt(1)}}}
	svg, err = s.SVG()
	require.NoError(t, err)
	checkReadable(t, svg, s.Title, nil, nil)
	inLegend := s
	inLegend.Legend = true
	checkReadable(t, must(inLegend.SVG()), s.Title, nil, []string{"zero-shot", "TPT"})
	texts, withPaths := svgTexts(t, svg)
	assert.Contains(t, texts, "zero-shot")
	assert.Contains(t, string(svg), "#E69F00", "TPT's colour")
	noBars := s
	noBars.Points = []Point{{Label: "zero-shot", X: 0.01, Y: 60}, {Label: "TPT", X: 0.5, Y: 66}}
	_, plainPaths := svgTexts(t, must(noBars.SVG()))
	assert.GreaterOrEqual(t, withPaths-plainPaths, 2*3, "an error bar per point")
}

func TestStyles(t *testing.T) {
	seen := map[[2]string]bool{}
	for i := range 56 {
		st := StyleAt(i)
		r, g, b, _ := st.Color.RGBA()
		key := [2]string{fmt.Sprint(r>>8, g>>8, b>>8), fmt.Sprintf("%T", st.Shape)}
		assert.False(t, seen[key], "style %d repeats %v", i, key)
		seen[key] = true
	}
	assert.Equal(t, StyleAt(3), Style{}.orDefault(3))
	assert.Equal(t, OkabeIto[5], Style{Color: OkabeIto[5]}.orDefault(0).Color)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
