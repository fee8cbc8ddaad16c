package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"math"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/plots"
)

// mdCells splits a Markdown table line into its cells, honouring escaped pipes.
func mdCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			cur.WriteByte(line[i])
			cur.WriteByte(line[i+1])
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func TestTablesCarryIntervalsAndTests(t *testing.T) {
	res, err := Run(toySuite(16), toyEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	tab := MainTable(res)
	cell := regexp.MustCompile(`^\d+\.\d \[\d+\.\d, \d+\.\d\]$`)
	for _, r := range tab.Rows[:2] {
		for c := 2; c <= 5; c++ {
			assert.Regexp(t, cell, r[c], "%s column %s", r[0], tab.Header[c])
		}
		assert.Regexp(t, cell, r[8], "ECE of %s", r[0])
	}
	assert.Equal(t, "", tab.Rows[0][6], "the baseline has no Δ")
	assert.Equal(t, "n/a", tab.Rows[2][5], "no records, no interval")

	// Every interval holds its estimate; the ECE interval comes from resampling (deterministic).
	sum := Summaries(res)
	for _, rs := range sum[:2] {
		for ds, iv := range rs.Top1CI {
			assert.True(t, iv.Lo <= rs.Top1[ds] && rs.Top1[ds] <= iv.Hi, "%s on %s", rs.Experiment.ID, ds)
		}
		assert.True(t, rs.MeanCI.Lo <= rs.Mean && rs.Mean <= rs.MeanCI.Hi)
		assert.False(t, math.IsNaN(rs.ECECI.Lo), rs.Experiment.ID)
	}
	assert.Equal(t, sum[1].ECECI, Summaries(res)[1].ECECI)
	assert.True(t, sum[1].DeltaCI.Lo > 0, "12 of 32 pairs favour the better row, none the baseline")

	for _, render := range []string{tab.Text(), tab.Markdown(), html.UnescapeString(tab.HTML())} {
		assert.Contains(t, render, "95% Wilson interval")
		assert.Contains(t, render, "exact McNemar")
		assert.Contains(t, render, "p < 0.05")
		assert.Contains(t, render, "n = 16 examples")
	}

	// The Markdown is a valid table: one header, its separator, every row with as many cells as the header; the
	// significance mark is escaped (no emphasis).
	lines := strings.Split(tab.Markdown(), "\n")
	require.True(t, strings.HasPrefix(lines[2], "| method |"), lines[2])
	header := mdCells(lines[2])
	assert.Len(t, mdCells(lines[3]), len(header), "separator")
	rows := 0
	for _, l := range lines[4:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		assert.Len(t, mdCells(l), len(header), l)
		rows++
	}
	assert.Equal(t, len(tab.Rows), rows)
	assert.Contains(t, tab.Markdown(), `]\*`)

	abl := AblationTable(res, res.Suite.Ablations[0])
	assert.Contains(t, abl.Text(), "95% Wilson interval on their 8 to 16 examples pooled")
}

func TestPValueFormat(t *testing.T) {
	for p, want := range map[float64]string{0.031: "0.031", 0.5: "0.5", 0.0004: "<0.001", 1: "1", 0.996: "1",
		0.12345: "0.12", math.NaN(): "n/a"} {
		assert.Equal(t, want, pValue(p), "%g", p)
	}
}

func TestFooterStatesTimeCoresAndWorkers(t *testing.T) {
	res, err := Run(toySuite(4), toyEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Workers)
	rep, err := Make(res)
	require.NoError(t, err)
	page := string(rep.HTML(PageInfo{}))
	i := strings.Index(page, `<footer id="run-info">`)
	require.GreaterOrEqual(t, i, 0)
	footer := page[i:]
	assert.Contains(t, footer, "This run took ")
	assert.Contains(t, footer, fmt.Sprintf("evaluated %d examples", res.Computed))
	assert.Contains(t, footer, fmt.Sprintf("%d CPU cores", runtime.NumCPU()))
	assert.Contains(t, footer, "workers: 1.")
}

// svgTextsOf returns the text elements of an SVG and the fill/stroke colours it uses.
func svgTextsOf(t *testing.T, svg []byte) (texts map[string]bool, colours string) {
	t.Helper()
	texts = map[string]bool{}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	in := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			in = e.Name.Local == "text"
		case xml.CharData:
			if in {
				texts[strings.TrimSpace(string(e))] = true
			}
		case xml.EndElement:
			in = false
		}
	}
	return texts, string(svg)
}

func hexColour(s plots.Style) string {
	r, g, b, _ := s.Color.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

func TestFiguresAsReadersSeeThem(t *testing.T) {
	s := toySuite(16)
	s.BarRows = []string{"base", "better"}
	res, err := Run(s, toyEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	styles := RowStyles(s)
	assert.NotEqual(t, styles["base"], styles["better"])

	figs, err := AblationFigures(res)
	require.NoError(t, err)
	require.Len(t, figs, 1)
	texts, svg := svgTextsOf(t, figs[0].SVG)
	for _, want := range []string{"Accuracy vs views", "8", "16", "64", "Toy better", "top-1 accuracy (%)"} {
		assert.True(t, texts[want], "ablation figure has %q", want)
	}
	assert.False(t, texts["10"], "no power-of-ten tick: the swept values are the ticks")
	assert.Contains(t, svg, hexColour(styles["better"]), "the series in its row's colour")
	assert.Contains(t, figs[0].Caption, "95% Wilson")
	assert.Contains(t, figs[0].Caption, "mean over fog")
	assert.Contains(t, figs[0].Note, "Toy missing")

	bars, err := BarsFigure(res)
	require.NoError(t, err)
	texts, svg = svgTextsOf(t, bars.SVG)
	for _, want := range []string{"Top-1 accuracy per dataset", "clean", "fog", "zigzag", "Toy baseline",
		"Toy better", "top-1 accuracy (%)"} {
		assert.True(t, texts[want], "bar chart has %q", want)
	}
	assert.Contains(t, svg, hexColour(styles["better"]))

	tf, err := TimeFigure(res)
	require.NoError(t, err)
	texts, _ = svgTextsOf(t, tf.SVG)
	for _, want := range []string{"Accuracy vs time per example", "Toy baseline", "Toy better",
		"seconds per example (s, log scale)"} {
		assert.True(t, texts[want], "time figure has %q", want)
	}

	rel, missing, err := ReliabilityFigures(res)
	require.NoError(t, err)
	assert.Equal(t, []string{"Toy missing"}, missing)
	for _, f := range rel {
		texts, _ = svgTextsOf(t, f.SVG)
		assert.True(t, texts[f.Title], f.Title)
		for _, want := range []string{"accuracy per bin", "perfect calibration"} {
			assert.True(t, texts[want], "%s has %q", f.Title, want)
		}
	}

	// The HTML shows every caption.
	rep, err := Make(res)
	require.NoError(t, err)
	page := string(rep.HTML(PageInfo{}))
	assert.Equal(t, 1+1+1+2, strings.Count(page, `<p class="caption">`),
		"bars, ablation, time and the 2 reliability figures")
	assert.Contains(t, page, "[95% bootstrap interval ")
}
