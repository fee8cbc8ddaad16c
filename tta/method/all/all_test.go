// Package all_test runs every registered method through the report's runner on tiny models.
package all_test

import (
	"image"
	"image/color"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/method"
	_ "github.com/gotta-ml/gotta/tta/method/all"
	. "github.com/gotta-ml/gotta/tta/report"
)

// noiseDataset has n random 40x40 RGB images over the embedded CLIP's 10 classes (label i%10).
type noiseDataset struct{ n int }

func (d noiseDataset) Name() string { return "noise" }
func (d noiseDataset) Len() int     { return d.n }
func (d noiseDataset) Classes() []string {
	return embedded.ClassNames()
}
func (d noiseDataset) Example(i int) (datasets.Example, error) {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for y := range 40 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	return datasets.Example{Image: img, Label: i % 10, ID: filepath.Join("noise", string(rune('a'+i)))}, nil
}

// tinyEnv is the embedded CLIP with the tiny random ResNet of tta/resnet's testdata at 64x64 (MEMO predicts view 0
// alone with the BN prior, which needs the last stage to be larger than 1x1).
func tinyEnv(b backends.Backend) *method.Env {
	return method.NewEnv(b, method.Models{Embedded: true, ResNets: []string{"../../resnet/testdata/tiny_basic.safetensors"},
		ResNetPreprocess: augment.Preprocess{Size: 64, Resize: 64, Filter: augment.Bilinear,
			Mean: augment.ImageNetMean, Std: augment.ImageNetStd}})
}

// TestSpecsOnTinyModels runs every method's spec end to end through report.Run on small models (accuracies are
// meaningless; the builders, records, resume and timing paths are real).
func TestSpecsOnTinyModels(t *testing.T) {
	b := backend.MustNew()
	env := tinyEnv(b)
	rows := []Experiment{
		{ID: "zero-shot", Name: "CLIP zero-shot", Method: "tpt", Preset: "zero-shot"},
		{ID: "tpt", Name: "TPT", Method: "tpt", Baseline: "zero-shot", Params: Params{"views": 8, "select": 0.25}},
		{ID: "clip", Name: "CLIP templates", Method: "zero-shot", Params: Params{"templates": "ensemble80"}},
		{ID: "resnet", Name: "ResNet", Method: "memo", Preset: "seed-baseline"},
		{ID: "memo", Name: "MEMO", Method: "memo", Preset: "seed-memo", Baseline: "resnet", Params: Params{"views": 4}},
		{ID: "memo-paper", Name: "MEMO (paper)", Method: "memo", Preset: "paper", Baseline: "resnet",
			Params: Params{"views": 4}},
		{ID: "dropout", Name: "Dropout", Method: "memo", Preset: "seed-dropout", Baseline: "resnet",
			Params: Params{"views": 4}},
		{ID: "simple", Name: "MEMO + TPT (simple)", Method: "ensemble",
			Params: Params{"views": 4, "select": 0.5, "temps": "1.55,0.7", "members": "memo,tpt", "mode": "simple"}},
	}
	s := &Suite{Name: "tiny", RecordsKey: "tiny", Rows: rows,
		Datasets: []DatasetSpec{{ID: "noise", N: 2, Shifted: true,
			Open: func() (datasets.Dataset, error) { return noiseDataset{n: 2}, nil }}}}
	dir := t.TempDir()
	res, err := Run(s, env, Options{Dir: dir})
	require.NoError(t, err)
	computed := 0
	for _, rs := range Summaries(res) {
		computed += 2
		assert.Empty(t, rs.Status, rs.Experiment.ID)
		assert.Equal(t, 2, rs.N["noise"], rs.Experiment.ID)
		assert.Greater(t, rs.SecondsPerExample, 0.0, rs.Experiment.ID)
		c := res.Cell(rs.Experiment, "noise")
		require.NotNil(t, c)
		assert.Equal(t, b.Name(), c.Records[0].Backend)
	}
	assert.Equal(t, computed, res.Computed)
	// The paper row runs memo.PaperOptions on MEMO's own AugMix views.
	paper := res.Cell(rows[5], "noise").Records[0]
	assert.Equal(t, true, paper.Config["augmented_only"])
	assert.Equal(t, map[string]any{"lr": 2.5e-4, "momentum": 0.0, "optimizer": "sgd", "weight_decay": 0.0},
		paper.Config["optimizer"])
	assert.Equal(t, "memo-augmix", paper.Views["kind"])
	assert.Equal(t, 4.0, paper.Views["n"])
	assert.Equal(t, computed, res.Computed)
	again, err := Run(s, env, Options{Dir: dir})
	require.NoError(t, err)
	assert.Equal(t, 0, again.Computed, "the second run reads every record")
}

// TestRowsDoNotLeak: a row's records do not depend on the rows run before it in the same process. The rows share
// one ResNet; MEMO leaves it adapted after its last example unless the runner resets it, and the row built next
// would snapshot the adapted weights (this made a fresh report differ from one that reused earlier rows' records).
func TestRowsDoNotLeak(t *testing.T) {
	b := backend.MustNew()
	newEnv := func() *method.Env { return tinyEnv(b) }
	memoRow := Experiment{ID: "memo", Name: "MEMO", Method: "memo", Preset: "seed-memo",
		Params: Params{"views": 4, "lr": 0.05}}
	after := Experiment{ID: "crop", Name: "Crop ensemble", Method: "memo", Preset: "seed-cut-ensemble",
		Params: Params{"views": 4}}
	suite := func(rows ...Experiment) *Suite {
		return &Suite{Name: "tiny", RecordsKey: "tiny", Rows: rows,
			Datasets: []DatasetSpec{{ID: "noise", N: 3, Shifted: true,
				Open: func() (datasets.Dataset, error) { return noiseDataset{n: 3}, nil }}}}
	}
	both, err := Run(suite(memoRow, after), newEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	alone, err := Run(suite(after), newEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	got, want := both.Cell(after, "noise").Records, alone.Cell(after, "noise").Records
	require.Len(t, got, 3)
	require.Len(t, want, 3)
	for i := range want {
		assert.Equal(t, want[i].Confidence, got[i].Confidence, "example %d", i)
		assert.Equal(t, want[i].Top5, got[i].Top5, "example %d", i)
	}
}
