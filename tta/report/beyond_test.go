package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestECETable(t *testing.T) {
	res, err := Run(toySuite(16), toyEnv(), Options{Dir: t.TempDir(), SkipAblations: true})
	require.NoError(t, err)
	tab := ECETable(res)
	assert.Equal(t, []string{"method", "clean", "fog", "zigzag", "pooled (shifted)", "top-1, pooled (shifted)"},
		tab.Header)
	require.Len(t, tab.Rows, 3)
	cell := regexp.MustCompile(`^\d+\.\d \[\d+\.\d, \d+\.\d\]$`)
	main := MainTable(res)
	for i, r := range tab.Rows[:2] {
		for c := 1; c <= 5; c++ {
			assert.Regexp(t, cell, r[c], "%s column %s", r[0], tab.Header[c])
		}
		assert.Equal(t, main.Rows[i][8], r[4], "the pooled ECE is the main table's")
		assert.Equal(t, main.Rows[i][5], r[5], "the pooled top-1 is the main table's mean")
	}
	assert.Equal(t, []string{"Toy missing", "n/a", "n/a", "n/a"}, tab.Rows[2][:4])
	assert.Contains(t, tab.Legend[0], "bootstrap interval")
}

func TestStreamFigure(t *testing.T) {
	s := toySuite(16)
	s.StreamRows = []string{"base", "better", "missing"}
	res, err := Run(s, toyEnv(), Options{Dir: t.TempDir(), SkipAblations: true})
	require.NoError(t, err)

	// The toy adapter is right on example i when i%8 < views/8: the baseline (8 views) on i%8 == 0, "better" (32
	// views) on i%8 < 4; both shifted sets (fog, zigzag) give the same stream.
	base, _ := res.Suite.Row("base")
	xs, ys, lo, hi := streamCurve(res, base)
	require.Len(t, ys, 16)
	assert.Equal(t, 1.0, xs[0])
	assert.InDelta(t, 100, ys[0], 1e-9)
	assert.InDelta(t, 50, ys[1], 1e-9)
	assert.InDelta(t, 100.0/8, ys[7], 1e-9)
	assert.InDelta(t, 100.0*2/9, ys[8], 1e-9)
	better, _ := res.Suite.Row("better")
	_, ys, _, _ = streamCurve(res, better)
	assert.InDelta(t, 100, ys[3], 1e-9)
	assert.InDelta(t, 80, ys[4], 1e-9)
	assert.InDelta(t, 50, ys[15], 1e-9)
	for i := range lo {
		assert.True(t, lo[i] <= hi[i], "band %d", i)
	}

	f, err := StreamFigure(res)
	require.NoError(t, err)
	require.NotEmpty(t, f.SVG)
	assert.True(t, strings.Contains(string(f.SVG), "Toy better"), "legend names the rows")
	assert.Contains(t, f.Note, "Toy missing")

	// The page shows the ECE table and the stream figure when the suite asks for them.
	res.Suite.ECEPerDataset = true
	rep, err := Make(res)
	require.NoError(t, err)
	page := string(rep.HTML(PageInfo{}))
	assert.Contains(t, page, `id="ece-table"`)
	assert.Contains(t, page, `id="fig-stream"`)
}
