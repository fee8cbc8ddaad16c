package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdaptViewsNPY: gotta adapt on the tiny ResNet CLIP with the views of tta/tpt's golden data writes the
// PyTorch reference's selection, loss, context and logits (testdata/README.md of tta/tpt).
func TestAdaptViewsNPY(t *testing.T) {
	var golden []struct {
		Prompt      string      `json:"prompt"`
		Classes     []string    `json:"classes"`
		Rho         float64     `json:"rho"`
		Selected    []int       `json:"selected"`
		Entropies   []float64   `json:"entropies"`
		Losses      []float64   `json:"losses"`
		CtxAfter    [][]float64 `json:"ctx_after"`
		LogitsAfter []float64   `json:"logits_view0_after"`
		Logits      [][]float64 `json:"logits_before"`
	}
	data, err := os.ReadFile("../../tta/tpt/testdata/rn_golden.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &golden))
	g := golden[0]
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, adaptMain([]string{"--weights", tinyCLIP, "--vocab", openAIVocab, "--classes", strings.Join(g.Classes, ","),
		"--prompt", g.Prompt, "--views-npy", "../../tta/tpt/testdata/rn_views_nchw.npy", "--select", "0.5", "--steps", "1",
		"--out", out}, &stdout, &stderr), stderr.String())
	var rep adaptReport
	js, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &rep))
	assert.Equal(t, "tpt", rep.Method)
	assert.Equal(t, g.Selected, rep.Selected)
	assert.InDeltaSlice(t, g.Entropies, rep.Entropies, 1e-5)
	require.NotNil(t, rep.LossBefore)
	assert.InDelta(t, g.Losses[0], *rep.LossBefore, 1e-5)
	require.NotNil(t, rep.Before)
	assert.Equal(t, argmaxF(g.Logits[0]), rep.Before.Index)
	assert.Equal(t, argmaxF(g.LogitsAfter), rep.After.Index)
	assert.Equal(t, g.Classes[rep.After.Index], rep.After.Class)

	ctxAfter, shape, err := weights.ReadNPYFloat32(filepath.Join(out, "ctx_after.npy"))
	require.NoError(t, err)
	assert.Equal(t, []int{4, 16}, shape)
	var want []float64
	for _, r := range g.CtxAfter {
		want = append(want, r...)
	}
	for i, v := range ctxAfter {
		assert.InDelta(t, want[i], float64(v), 1e-5)
	}
	after, _, err := weights.ReadNPYFloat32(filepath.Join(out, "logits_view0_after.npy"))
	require.NoError(t, err)
	for i, v := range after {
		assert.InDelta(t, g.LogitsAfter[i], float64(v), 1e-4)
	}
	for _, f := range []string{"ctx_before.npy", "ctx_grad.npy", "logits_view0_before.npy"} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, f)
	}

	// From an image file: the method's views (6 here), selection floor(6 * 0.5) = 3.
	dir := tinyImageFolder(t, []string{"goldfish"}, 1)
	out2 := t.TempDir()
	require.NoError(t, adaptMain([]string{"--method", "tpt", "--weights", tinyCLIP, "--vocab", openAIVocab, "--classes",
		"goldfish, tiger shark", "--image", filepath.Join(dir, "goldfish", "a.png"), "--views", "6", "--seed", "3",
		"--select", "0.5", "--out", out2}, &stdout, &stderr), stderr.String())
	js, err = os.ReadFile(filepath.Join(out2, "report.json"))
	require.NoError(t, err)
	rep = adaptReport{}
	require.NoError(t, json.Unmarshal(js, &rep))
	assert.Equal(t, 6, rep.Views)
	assert.Len(t, rep.Selected, 3)
	assert.Equal(t, []string{"goldfish", "tiger shark"}, rep.Classes)

	assert.Error(t, adaptMain([]string{"--weights", tinyCLIP, "--classes", "a", "--out", out2}, &stdout, &stderr))
}

func argmaxF(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
