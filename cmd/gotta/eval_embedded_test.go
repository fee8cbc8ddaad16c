package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/report/suites"
)

// TestEvalEmbeddedDefault runs gotta eval without --model on the embedded data: the embedded CLIP and ResNet with
// their own prompt and preprocessing. The embedded models are ~91% (CLIP zero-shot) and ~99% (ResNet) accurate on
// clean MNIST, so a wrong prompt, tokenizer or preprocessing shows as a collapse of the accuracy.
func TestEvalEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		args   []string
		minAcc float64
	}{
		{"zero-shot", []string{"--method", "zero-shot", "--data", "mnist", "--limit", "40"}, 0.8},
		{"tpt", []string{"--method", "tpt", "--data", "mnist", "--limit", "6", "--views", "8", "--select", "0.5"}, 0.6},
		{"memo", []string{"--method", "memo", "--data", "mnist", "--limit", "6", "--views", "4", "--view-kind", "cut"}, 0.6},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".jsonl")
			var stdout, stderr bytes.Buffer
			require.NoError(t, evalMain(append(c.args, "--out", out, "--quiet"), &stdout, &stderr), stderr.String())
			recs := readRecs(t, out)
			correct := 0
			for _, r := range recs {
				require.Empty(t, r.Error)
				if r.Prediction == r.Label {
					correct++
				}
			}
			require.NotEmpty(t, recs)
			acc := float64(correct) / float64(len(recs))
			assert.GreaterOrEqual(t, acc, c.minAcc, "accuracy of %s on clean MNIST", c.name)
		})
	}
}

// TestEmbeddedData checks the --data values of the embedded default: the report's images (same corruption seed and
// severity), the default corruption, and clear errors.
func TestEmbeddedData(t *testing.T) {
	ds, err := openDataset("mnist-c:fog")
	require.NoError(t, err)
	want, err := embedded.ShiftedMNIST("fog", suites.EmbeddedSeverity, embedded.DefaultSize, suites.CorruptionSeed)
	require.NoError(t, err)
	assert.Equal(t, want.Name(), ds.Name())
	assert.Equal(t, want.Len(), ds.Len())
	for _, i := range []int{0, 7, 999} {
		a, err := ds.Example(i)
		require.NoError(t, err)
		b, err := want.Example(i)
		require.NoError(t, err)
		assert.Equal(t, b.Label, a.Label)
		assert.Equal(t, b.Image, a.Image, "example %d", i)
	}
	ds, err = openDataset(defaultData)
	require.NoError(t, err)
	assert.Equal(t, "mnist-c/glass_blur/s3", ds.Name())
	ds, err = openDataset("mnist-c:zigzag:5")
	require.NoError(t, err)
	assert.Equal(t, "mnist-c/zigzag/s5", ds.Name())
	ds, err = openDataset("mnist")
	require.NoError(t, err)
	assert.Equal(t, "mnist-test", ds.Name())
	for _, bad := range []string{"mnist-c:nope", "mnist-c:fog:9", "mnist-c:fog:3:1"} {
		_, err := openDataset(bad)
		assert.ErrorContains(t, err, bad)
	}
}

// TestAdaptEmbeddedDefault runs gotta adapt without --weights on an example of the embedded data: TPT on the
// embedded CLIP and MEMO on the embedded ResNet; both are right on clean MNIST test image 3 (a clear "0" at
// ~0.96 zero-shot probability) and name the example in report.json.
func TestAdaptEmbeddedDefault(t *testing.T) {
	ds, err := openDataset("mnist")
	require.NoError(t, err)
	ex, err := ds.Example(3)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"tpt", []string{"--views", "8", "--select", "0.25"}},
		{"memo", []string{"--method", "memo", "--views", "4", "--view-kind", "cut"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			args := append([]string{"--data", "mnist", "--index", "3", "--out", out}, c.args...)
			require.NoError(t, adaptMain(args, &stdout, &stderr), stderr.String())
			var rep struct {
				Source string          `json:"source"`
				After  adaptPrediction `json:"prediction_after"`
			}
			js, err := os.ReadFile(filepath.Join(out, "report.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &rep))
			assert.Contains(t, rep.Source, ex.ID)
			assert.Equal(t, ex.Label, rep.After.Index)
		})
	}
	var stdout, stderr bytes.Buffer
	err = adaptMain([]string{"--data", "imagenet-a=" + t.TempDir(), "--index", "0", "--out", t.TempDir()}, &stdout, &stderr)
	assert.ErrorContains(t, err, "--weights is required")
}

// TestTPTViewKind: --view-kind augmix gives TPT's AugMixAugmenter views (the paper ops with TPT's black fill), in
// the records' views description, and runs end to end; it refuses --device-views.
func TestTPTViewKind(t *testing.T) {
	out := filepath.Join(t.TempDir(), "aug.jsonl")
	var stdout, stderr bytes.Buffer
	require.NoError(t, evalMain([]string{"--method", "tpt", "--data", "mnist", "--limit", "2", "--views", "8",
		"--select", "0.5", "--view-kind", "augmix", "--quiet", "--out", out}, &stdout, &stderr), stderr.String())
	recs := readRecs(t, out)
	require.Len(t, recs, 2)
	assert.Equal(t, "memo-augmix", recs[0].Views["kind"])
	pa, ok := recs[0].Views["paper_augmix"].(map[string]any)
	require.True(t, ok, "%v", recs[0].Views)
	assert.Equal(t, true, pa["tpt_fill"])
	err := evalMain([]string{"--method", "tpt", "--data", "mnist", "--limit", "1", "--view-kind", "augmix",
		"--device-views", "--quiet", "--out", filepath.Join(t.TempDir(), "x.jsonl")}, &stdout, &stderr)
	assert.ErrorContains(t, err, "device")
	err = evalMain([]string{"--method", "tpt", "--data", "mnist", "--limit", "1", "--view-kind", "mixup",
		"--quiet", "--out", filepath.Join(t.TempDir(), "y.jsonl")}, &stdout, &stderr)
	assert.ErrorContains(t, err, "mixup")
}
