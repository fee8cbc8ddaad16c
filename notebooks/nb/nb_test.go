package nb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/report"
	"github.com/gotta-ml/gotta/tta/report/suites"
)

// captureDisplays makes the package display into a slice (as in a notebook) for the test's duration.
func captureDisplays(t *testing.T) (shown *[]string, updates map[string]string) {
	t.Helper()
	oldDisplay, oldUpdate, oldIsNotebook := display, updateDisplay, isNotebook
	t.Cleanup(func() { display, updateDisplay, isNotebook = oldDisplay, oldUpdate, oldIsNotebook })
	shown, updates = &[]string{}, map[string]string{}
	display = func(fragment string) { *shown = append(*shown, fragment) }
	updateDisplay = func(id, html string) { updates[id] = html }
	isNotebook = func() bool { return true }
	return shown, updates
}

// env is a getenv of the quick embedded suite with n examples per dataset, records in dir.
func env(dir string, n string) func(string) string {
	vars := map[string]string{suites.EnvQuick: "1", suites.EnvResults: dir, suites.EnvN: n}
	return func(k string) string { return vars[k] }
}

func TestShowTableAndFigure(t *testing.T) {
	shown, _ := captureDisplays(t)
	Show(report.Table{ID: "t1", Title: "A & B", Header: []string{"method", "clean"},
		Rows: [][]string{{"TPT", "58.3 [52.1, 65.2]"}}, Notes: []string{"row x: not available"}})
	ShowFigure(report.Figure{ID: "f1", SVG: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`),
		Caption: "bands: 95% Wilson"})
	SVG([]byte(`<?xml version="1.0"?><svg id="plain"></svg>`))
	require.Len(t, *shown, 3)
	for _, s := range *shown {
		assert.True(t, strings.HasPrefix(s, `<div class="gotta-nb"><style>.gotta-nb `), "scoped style first: %.80s", s)
		assert.True(t, strings.HasSuffix(s, "</div>"))
	}
	assert.Contains(t, (*shown)[0], `<table class="gotta-report" id="t1">`)
	assert.Contains(t, (*shown)[0], `58.3 <span class="ci">[52.1, 65.2]</span>`, "the interval is shown")
	assert.Contains(t, (*shown)[0], "<h3>A &amp; B</h3>")
	assert.Contains(t, (*shown)[0], "<li>row x: not available</li>")
	assert.Contains(t, (*shown)[1], `<div class="fig" id="fig-f1"><svg`)
	assert.Contains(t, (*shown)[1], `<p class="caption">bands: 95% Wilson</p>`)
	assert.Contains(t, (*shown)[2], `<svg id="plain"></svg>`)
	assert.NotContains(t, (*shown)[2], "<?xml")
}

func TestOutsideNotebook(t *testing.T) {
	shown, _ := captureDisplays(t)
	isNotebook = func() bool { return false }
	HTML("<b>x</b>")
	ShowFigure(report.Figure{ID: "f"})
	assert.Empty(t, *shown, "nothing is sent outside a notebook")
}

func TestSmoke(t *testing.T) {
	sess, err := setup(env(t.TempDir(), "3"))
	require.NoError(t, err)
	var out bytes.Buffer
	sess.smoke(&out)
	s := out.String()
	assert.Contains(t, s, "suite:   embedded (quick)")
	assert.Contains(t, s, "methods: ")
	assert.Contains(t, s, "tpt")
	assert.NotContains(t, s, "not resolved", "every row of the catalogue resolves")
	assert.Regexp(t, `rows:    \d+, 3 datasets, \d+ ablations \(\d+ points\)`, s)

	sess.Suite = &report.Suite{Name: "broken", Rows: []report.Experiment{{ID: "x", Method: "no-such-method"}}}
	out.Reset()
	sess.smoke(&out)
	assert.Contains(t, out.String(), "not resolved: x: ")
	assert.Contains(t, out.String(), "rows:    1, 0 datasets, 0 ablations (0 points)")

	_, err = setup(func(k string) string {
		if k == suites.EnvN {
			return "many"
		}
		return ""
	})
	assert.ErrorContains(t, err, "GOTTA_N")
}

func TestRunRows(t *testing.T) {
	shown, updates := captureDisplays(t)
	dir := t.TempDir()
	res, err := runRows(env(dir, "2"), []string{"zero-shot"}, false)
	require.NoError(t, err)
	require.Len(t, res.Suite.Rows, 1, "the results are restricted to the rows asked for")
	assert.Equal(t, "zero-shot", res.Suite.Rows[0].ID)
	assert.Equal(t, 2*len(res.Suite.Datasets), res.Computed, "2 examples per dataset evaluated")
	require.Len(t, updates, 1, "one progress display")
	for _, h := range updates {
		assert.Equal(t, len(res.Suite.Datasets), strings.Count(h, "\n"), "a line per cell: %s", h)
		assert.Contains(t, h, "CLIP zero-shot on clean: ")
	}

	again, err := runRows(env(dir, "2"), []string{"zero-shot"}, false)
	require.NoError(t, err)
	assert.Equal(t, 0, again.Computed, "the second run reads the records")
	assert.Len(t, updates, 1, "no progress display when nothing is evaluated")

	Table(res, "")
	Reliability(res)
	Time(res)
	require.Len(t, *shown, 3)
	assert.Contains(t, (*shown)[0], `<table class="gotta-report" id="main-table">`)
	assert.Contains(t, (*shown)[0], "<td>CLIP zero-shot</td>")
	assert.Equal(t, 1, strings.Count((*shown)[1], "<svg"), "one reliability diagram: zero-shot's")
	assert.Contains(t, (*shown)[1], `<div class="figs"><div class="fig" id="fig-reliability-zero-shot">`)
	assert.Contains(t, (*shown)[2], `<div class="fig" id="fig-time"><svg`)

	_, err = runRows(env(dir, "2"), []string{"no-such-row"}, false)
	assert.ErrorContains(t, err, `no row "no-such-row"`)
}
