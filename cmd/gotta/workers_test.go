package main

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/eval"
)

// recordsUnder reads every records file under dir (by path relative to dir) without the Seconds of each record.
func recordsUnder(t *testing.T, dir string) map[string][]eval.Record {
	t.Helper()
	out := map[string][]eval.Record{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".jsonl") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = readRecs(t, path)
		return nil
	}))
	return out
}

// TestReportWorkersSameRecords runs the quick report's rows (2 examples per set, no ablations) with 1 and with 2
// workers and compares every record but its seconds. -short keeps the rows that adapt weights (TPT + alignment,
// MEMO, MEMO top-k) and the joint ensemble.
func TestReportWorkersSameRecords(t *testing.T) {
	dir := t.TempDir()
	only := ""
	if testing.Short() {
		only = "tpt-align,memo,memo-topk,memo-tpt-joint"
	}
	run := func(workers int) (map[string][]eval.Record, string) {
		sub := filepath.Join(dir, strings.Repeat("w", workers))
		f := reportFlags{quick: true, out: filepath.Join(sub, "report.html"), results: filepath.Join(sub, "results"),
			n: 2, only: only, noAblations: true, workers: workers}
		var out bytes.Buffer
		require.NoError(t, reportMain(&out, f, "gotta report --quick"))
		return recordsUnder(t, f.results), out.String()
	}
	one, _ := run(1)
	two, log := run(2)
	assert.Contains(t, log, "2 workers")
	require.NotEmpty(t, one)
	assert.Equal(t, len(one), len(two), "records files")
	n := 0
	for path, recs := range one {
		assert.Equal(t, recs, two[path], path)
		n += len(recs)
		for _, r := range recs {
			assert.Empty(t, r.Error, path)
		}
	}
	t.Logf("%d records in %d files compared", n, len(one))
}

// TestEvalWorkersSameRecords evaluates MEMO and TPT + alignment (both adapt weights) with 1 and 3 workers.
func TestEvalWorkersSameRecords(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--method", "memo", "--views", "4", "--view-kind", "cut"},
		{"--method", "tpt", "--preset", "seed-align", "--views", "8"},
	} {
		t.Run(args[1], func(t *testing.T) {
			var want []eval.Record
			for _, workers := range []string{"1", "3"} {
				out := filepath.Join(dir, args[1]+workers+".jsonl")
				var stdout, stderr bytes.Buffer
				require.NoError(t, evalMain(append(args, "--data", "mnist-c:fog", "--limit", "5", "--out", out,
					"--quiet", "--workers", workers), &stdout, &stderr), stderr.String())
				recs := readRecs(t, out)
				require.Len(t, recs, 5)
				if want == nil {
					want = recs
					continue
				}
				assert.Equal(t, want, recs, "workers %s", workers)
			}
		})
	}
	err := evalMain([]string{"--method", "memo", "--data", "mnist", "--workers", "-1"}, &bytes.Buffer{}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "--workers -1")
}
