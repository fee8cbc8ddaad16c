package tpt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
)

// TestImageFeaturesCache: with the forward cache on (as in a report), TPT rows with other steps and selection on
// the same views read the image tower's output from the cache, and predict exactly what they predict without it;
// another prompt (other initial text features) or other views miss.
func TestImageFeaturesCache(t *testing.T) {
	tok := loadTokenizer(t)
	g := loadGolden(t, "vit")[0]
	b := backend.MustNew()
	views := loadViews(t, "vit")
	run := func(opts Options, id string) ([]float32, []tta.StepReport) {
		a, err := New(b, loadModel(t, "vit"), tok, g.Classes, opts)
		require.NoError(t, err)
		require.NoError(t, a.Reset())
		pred, err := a.Adapt(&tta.Views{ExampleID: id, Images: views})
		require.NoError(t, err)
		return pred.Logits, pred.Steps
	}
	rows := []Options{
		{Prompt: g.Prompt, Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay},
		{Prompt: g.Prompt, Select: 0.5, Steps: 2, WeightDecay: PaperWeightDecay},
		{Prompt: g.Prompt, Select: g.Rho, Ensemble: true},
	}
	var want [][]float32
	for _, o := range rows {
		l, _ := run(o, "e")
		want = append(want, l)
	}
	disable := tta.EnableForwardCache(0)
	defer disable()
	cache := tta.SharedForwardCache()
	for i, o := range rows {
		l, _ := run(o, "e")
		require.Equal(t, want[i], l, "row %d with the cache", i)
	}
	hits, misses := cache.Stats()
	require.Equal(t, 2, hits, "rows 2 and 3 read row 1's image features")
	require.Equal(t, 1, misses)
	// The view-ensemble path (tta/viewens over TPT's ViewLogitsHost: the ensemble presets) reads them too.
	a, err := New(b, loadModel(t, "vit"), tok, g.Classes, rows[2])
	require.NoError(t, err)
	logits, err := a.ViewLogitsHost(&tta.Views{ExampleID: "e", Images: views})
	require.NoError(t, err)
	_, want0, err := a.ImageFeatures(views)
	require.NoError(t, err)
	require.Equal(t, want0, logits)
	hits, misses = cache.Stats()
	require.Equal(t, 3, hits)
	require.Equal(t, 1, misses)
	run(Options{Prompt: "a picture of a", Select: g.Rho, Steps: 1}, "e") // other initial text features
	run(rows[0], "other example")                                        // other example id
	hits, misses = cache.Stats()
	require.Equal(t, 3, hits)
	require.Equal(t, 3, misses)
}
