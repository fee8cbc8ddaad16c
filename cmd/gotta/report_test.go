package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReportQuickEndToEnd runs `gotta report --quick` in-process on the embedded default, cut to 2 examples per set,
// four rows and no ablations so it stays well under a minute on pure Go; then again to check that every record is
// reused. The full `gotta report --quick` (about 3 minutes) is CI's own stage, and runs here with GOTTA_REPORT_E2E=1.
func TestReportQuickEndToEnd(t *testing.T) {
	dir := t.TempDir()
	f := reportFlags{quick: true, out: filepath.Join(dir, "report.html"), results: filepath.Join(dir, "results"),
		md: filepath.Join(dir, "table.md"), n: 2, only: "zero-shot,tpt,resnet,memo", noAblations: true}
	if os.Getenv("GOTTA_REPORT_E2E") == "1" {
		f.n, f.only, f.noAblations = 0, "", false
	}
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, reportMain(&out, f, "gotta report --quick"))
	t.Logf("gotta report --quick (n=%d, only=%q) took %s", f.n, f.only, time.Since(start).Round(time.Millisecond))
	text := out.String()
	for _, want := range []string{"Top-1 accuracy (%) on embedded (quick)", "CLIP zero-shot", "MEMO + TPT ensemble (simple)",
		"Accuracy vs number of views", "wrote " + f.out, "took"} {
		assert.Contains(t, text, want)
	}
	page, err := os.ReadFile(f.out)
	require.NoError(t, err)
	for _, id := range []string{`id="main-table"`, `id="ablation-views"`, `id="ablation-rho"`, `id="ablation-steps"`,
		`id="ablation-lr"`, `id="fig-time"`, `id="fig-bars"`, `id="configs-table"`} {
		assert.Contains(t, string(page), id)
	}
	md, err := os.ReadFile(f.md)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(md), "**Top-1 accuracy (%) on embedded (quick)**"))

	var again bytes.Buffer
	require.NoError(t, reportMain(&again, f, "gotta report --quick"))
	m := regexp.MustCompile(`(\d+) examples evaluated now`).FindStringSubmatch(again.String())
	require.NotNil(t, m, again.String())
	assert.Equal(t, "0", m[1], "the second run reads every record")
}

func TestReportFlags(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, reportMain(&out, reportFlags{quick: true, list: true}, ""))
		for _, want := range []string{"zero-shot", "memo-tpt-simple", "views", "methods in this build:"} {
			assert.Contains(t, out.String(), want)
		}
	})
	t.Run("bad --data", func(t *testing.T) {
		err := reportMain(&bytes.Buffer{}, reportFlags{data: "imagenet-a"}, "")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ID=DIR")
	})
	t.Run("ImageNet suite from --data", func(t *testing.T) {
		s, err := reportSuite(reportFlags{data: "imagenet-a=/x,imagenet-v2=/y", quick: true})
		require.NoError(t, err)
		require.Len(t, s.Datasets, 2)
		assert.Equal(t, "imagenet-a", s.Datasets[0].ID)
		assert.Equal(t, 200, s.Datasets[0].N)
		assert.Equal(t, []string{"imagenet-a"}, s.AblationDatasets)
	})
	t.Run("unexpected arguments", func(t *testing.T) {
		require.Error(t, runReport([]string{"extra"}))
	})
}
