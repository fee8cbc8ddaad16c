package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvalBatchExamples: gotta eval --batch-examples 3 on the embedded CLIP over 4 examples (a full batch and a
// padded last one) writes the records of --batch-examples 1: the same selected views, predictions and top-5, the
// losses and entropies within 1e-5, the confidences within 1e-4; for TPT's paper preset and C-TPT. A method without
// a batched path is a usage error.
func TestEvalBatchExamples(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"tpt", []string{"--method", "tpt", "--views", "8", "--select", "0.25"}},
		{"c-tpt", []string{"--method", "c-tpt", "--views", "8", "--select", "0.25"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.name != "tpt" {
				t.Skip("short")
			}
			run := func(batch string) string {
				out := filepath.Join(dir, c.name+"_b"+batch+".jsonl")
				var stdout, stderr bytes.Buffer
				args := append(append([]string(nil), c.args...), "--data", "mnist-c:fog", "--limit", "4",
					"--batch-examples", batch, "--workers", "1", "--out", out, "--quiet")
				require.NoError(t, evalMain(args, &stdout, &stderr), stderr.String())
				return out
			}
			want, got := readRecs(t, run("1")), readRecs(t, run("3"))
			require.Len(t, want, 4)
			require.Len(t, got, 4)
			for i := range want {
				w, g := want[i], got[i]
				require.Empty(t, g.Error)
				assert.Equal(t, w.Selected, g.Selected, "example %d: selected views", i)
				assert.Equal(t, w.Prediction, g.Prediction, "example %d", i)
				assert.Equal(t, w.Top5, g.Top5, "example %d", i)
				require.Len(t, g.Steps, len(w.Steps))
				for s := range w.Steps {
					assert.InDelta(t, w.Steps[s].Loss, g.Steps[s].Loss, 1e-5, "example %d step %d", i, s)
					assert.Equal(t, w.Steps[s].Selected, g.Steps[s].Selected)
				}
				assert.InDelta(t, float64(w.EntropyBefore), float64(g.EntropyBefore), 1e-5, "example %d", i)
				assert.InDelta(t, float64(w.EntropyAfter), float64(g.EntropyAfter), 1e-4, "example %d", i)
				assert.InDelta(t, w.Confidence, g.Confidence, 1e-4, "example %d", i)
				assert.InDelta(t, w.LabelLogProb, g.LabelLogProb, 1e-4, "example %d", i)
				w.Seconds, g.Seconds = 0, 0
				w.Steps, g.Steps = nil, nil
				w.EntropyBefore, g.EntropyBefore, w.EntropyAfter, g.EntropyAfter = 0, 0, 0, 0
				w.Confidence, g.Confidence, w.LabelLogProb, g.LabelLogProb = 0, 0, 0, 0
				assert.Equal(t, w, g, "example %d: the rest of the record", i)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	err := evalMain([]string{"--method", "memo", "--data", "mnist", "--limit", "1", "--views", "4", "--view-kind",
		"cut", "--batch-examples", "2", "--out", filepath.Join(dir, "memo.jsonl"), "--quiet"}, &stdout, &stderr)
	var ue *usageError
	require.True(t, errors.As(err, &ue), "%v", err)
	assert.ErrorContains(t, err, "no batched path")
}
