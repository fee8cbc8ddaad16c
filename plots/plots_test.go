package plots

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svgTexts returns every <text> content of an SVG document, and the number of <path> elements.
func svgTexts(t *testing.T, svg []byte) (texts []string, paths int) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	inText := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			inText = e.Name.Local == "text"
			if e.Name.Local == "path" {
				paths++
			}
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(e)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return texts, paths
}

func TestLineSVG(t *testing.T) {
	l := Line{Title: "Accuracy vs views", XLabel: "views", YLabel: "top-1 (%)", Series: []Series{
		{Name: "TPT", X: []float64{8, 16, 32, 64}, Y: []float64{60, 62, 63, 64}},
		{Name: "MEMO", X: []float64{8, 16, 32, 64}, Y: []float64{50, 52, 55, 56}},
	}}
	svg, err := l.SVG()
	require.NoError(t, err)
	texts, paths := svgTexts(t, svg)
	for _, want := range []string{"Accuracy vs views", "views", "top-1 (%)", "TPT", "MEMO"} {
		assert.Contains(t, texts, want)
	}
	// Two series, each a line and 4 markers, plus axes and grid.
	assert.Greater(t, paths, 2*(1+4))

	again, err := l.SVG()
	require.NoError(t, err)
	assert.Equal(t, svg, again, "same data must give the same bytes")

	pngBytes, err := l.PNG()
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(pngBytes))
	require.NoError(t, err)
	// 6 inches at 96 dpi for the axes, plus the legend strip.
	assert.Greater(t, img.Bounds().Dx(), 576)
	assert.Less(t, img.Bounds().Dx(), 576+200)
	assert.Equal(t, 384, img.Bounds().Dy())
}

func TestLineErrors(t *testing.T) {
	_, err := Line{Title: "bad", Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}.SVG()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"s"`)
}
