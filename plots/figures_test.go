package plots

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svgElements counts the SVG elements by local name (path, text, ...).
func svgElements(t *testing.T, svg []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if e, ok := tok.(xml.StartElement); ok {
			counts[e.Name.Local]++
		}
	}
	return counts
}

func TestReliability(t *testing.T) {
	nan := math.NaN()
	r := Reliability{Title: "TPT on fog", ECE: 3.214,
		BinAccuracy:   []float64{nan, 0.2, 0.5, 0.9, 1},
		BinConfidence: []float64{nan, 0.3, 0.5, 0.7, 0.95},
		BinCount:      []int{0, 3, 4, 10, 20}}
	assert.Equal(t, "TPT on fog (ECE 3.21%)", r.FullTitle())
	svg, err := r.SVG()
	require.NoError(t, err)
	texts, paths := svgTexts(t, svg)
	for _, want := range []string{"TPT on fog (ECE 3.21%)", "confidence", "accuracy", "accuracy per bin",
		"mean confidence", "perfect calibration"} {
		assert.Contains(t, texts, want)
	}
	// 4 non-empty bins (each a filled polygon and its outline), 4 confidence markers, the diagonal.
	empty := r
	empty.BinCount = []int{0, 0, 0, 0, 0}
	emptySVG, err := empty.SVG()
	require.NoError(t, err)
	_, emptyPaths := svgTexts(t, emptySVG)
	assert.GreaterOrEqual(t, paths-emptyPaths, 4+4, "each non-empty bin draws a bar and a marker")

	again, err := r.SVG()
	require.NoError(t, err)
	assert.Equal(t, svg, again, "same data must give the same bytes")
	pngBytes, err := r.PNG()
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(pngBytes))
	require.NoError(t, err)

	t.Run("errors", func(t *testing.T) {
		_, err := Reliability{Title: "bad", BinAccuracy: []float64{1, 1}, BinCount: []int{1}}.SVG()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"bad"`)
		assert.Equal(t, "ECE n/a", Reliability{ECE: nan}.FullTitle())
	})
}

func TestScatter(t *testing.T) {
	s := Scatter{Title: "Accuracy vs time", XLabel: "seconds per example", YLabel: "top-1 (%)", LogX: true,
		Points: []Point{{Label: "zero-shot", X: 0.01, Y: 60}, {Label: "TPT", X: 0.5, Y: 66},
			{Label: "MEMO top-k", X: 2, Y: 70},
			{Label: "skipped", X: math.NaN(), Y: 1}}}
	svg, err := s.SVG()
	require.NoError(t, err)
	texts, _ := svgTexts(t, svg)
	for _, want := range []string{"Accuracy vs time", "seconds per example", "top-1 (%)", "zero-shot", "TPT",
		"MEMO top-k"} {
		assert.Contains(t, texts, want)
	}
	assert.NotContains(t, texts, "skipped", "a NaN point draws no label")
	again, err := s.SVG()
	require.NoError(t, err)
	assert.Equal(t, svg, again)

	t.Run("log axis rejects x <= 0", func(t *testing.T) {
		_, err := Scatter{Title: "bad", LogX: true, Points: []Point{{Label: "p", X: 0, Y: 1}}}.SVG()
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"p"`)
	})
	t.Run("linear axis and no points", func(t *testing.T) {
		_, err := Scatter{Title: "lin", Points: []Point{{Label: "a", X: 1, Y: 1}, {Label: "b", X: 1, Y: 2}}}.SVG()
		require.NoError(t, err)
		_, err = Line{Title: "one point", LogX: true, Series: []Series{{Name: "one", X: []float64{0.1}, Y: []float64{50}}}}.SVG()
		require.NoError(t, err, "a log-x line chart with a single x value renders")
		_, err = Scatter{Title: "one point", LogX: true, Points: []Point{{Label: "p", X: 0.1, Y: 50}}}.SVG()
		require.NoError(t, err, "a log-x scatter with a single point renders")
		_, err = Scatter{Title: "empty", LogX: true}.SVG()
		require.NoError(t, err, "an empty log-x scatter renders (linear axis)")
		_, err = Line{Title: "empty", LogX: true, Series: []Series{{Name: "nan", X: []float64{1}, Y: []float64{math.NaN()}}}}.SVG()
		require.NoError(t, err, "an empty log-x line chart renders")
	})
}

func TestBars(t *testing.T) {
	b := Bars{Title: "Accuracy per corruption", XLabel: "corruption", YLabel: "top-1 (%)", YMin: 0, YMax: 100,
		Groups: []string{"clean", "fog", "shear"},
		Series: []BarSeries{{Name: "zero-shot", Values: []float64{90, 40, 70}},
			{Name: "TPT", Values: []float64{92, 45, math.NaN()}}}}
	svg, err := b.SVG()
	require.NoError(t, err)
	texts, _ := svgTexts(t, svg)
	for _, want := range []string{"Accuracy per corruption", "corruption", "top-1 (%)", "clean", "fog", "shear",
		"zero-shot", "TPT", "100"} {
		assert.Contains(t, texts, want)
	}
	// One more series adds one bar per group (3 paths) and its legend swatch.
	one := b
	one.Series = b.Series[:1]
	oneSVG, err := one.SVG()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, svgElements(t, svg)["path"]-svgElements(t, oneSVG)["path"], 3+1)
	again, err := b.SVG()
	require.NoError(t, err)
	assert.Equal(t, svg, again)
	pngBytes, err := b.PNG()
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(pngBytes))
	require.NoError(t, err)

	t.Run("errors", func(t *testing.T) {
		_, err := Bars{Title: "bad", Groups: []string{"a"}, Series: []BarSeries{{Name: "s", Values: []float64{1, 2}}}}.SVG()
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), `"s"`))
		_, err = Bars{Title: "none", Groups: []string{"a"}}.SVG()
		require.Error(t, err)
	})
}
