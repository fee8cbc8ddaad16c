package memo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

// TestSpecPresets checks the spec's presets against the configurations they stand for: paper == PaperOptions with
// PaperViewMaker's views; each seed-* preset == the seed project's row (stated here by hand);
// values given over a preset win, the rest come from the preset.
func TestSpecPresets(t *testing.T) {
	type summary struct {
		Mode                        Mode
		Select, Prior, LR, WD, Drop float64
		Steps, Samples, Views       int
		Kind                        augment.Kind
		AugmentedOnly               bool
		Params                      Params
	}
	sum := func(o Options, views int, kind augment.Kind) summary {
		o = o.WithDefaults()
		s := summary{Mode: o.Mode, Select: o.Select, Prior: o.Prior, Steps: o.Steps, Views: views, Kind: kind,
			AugmentedOnly: o.AugmentedOnly, Params: o.Params}
		if o.Mode == MCDropout {
			s.Drop, s.Samples = o.Dropout, o.Samples
		}
		if o.Mode == Adapt {
			sgd, ok := o.Optimizer.(*tta.SGD)
			require.True(t, ok, "SGD")
			s.LR, s.WD = sgd.LR, sgd.WeightDecay
		}
		return s
	}
	resolve := func(preset string, over method.Values) (Options, augment.Views) {
		t.Helper()
		v, err := Spec().Resolve(preset, over)
		require.NoError(t, err, preset)
		o, views, err := specOptions(v)
		require.NoError(t, err, preset)
		return o, views
	}
	o, views := resolve("", nil)
	pvm := PaperViewMaker(augment.Preprocess{})
	assert.Equal(t, sum(PaperOptions(), pvm.Views.N, pvm.Views.Kind), sum(o, views.N, views.Kind), "paper (default)")

	sgd := func() tta.Optimizer { return &tta.SGD{LR: 5e-3, WeightDecay: 1e-4} }
	crop, id := augment.RandomResizedCrop, augment.Identity
	for _, c := range []struct {
		preset string
		opts   Options
		views  int
		kind   augment.Kind
	}{
		{"seed-baseline", Options{Mode: CropEnsemble, Prior: 1}, 1, id},
		{"seed-memo", Options{Prior: SeedPrior, Optimizer: sgd()}, 8, crop},
		{"seed-memo-topk", Options{Prior: SeedPrior, Optimizer: sgd(), Select: 0.1}, 64, crop},
		{"seed-dropout", Options{Mode: MCDropout, Prior: 1, Dropout: 0.5, Samples: 8}, 1, id},
		{"seed-dropout-topk", Options{Mode: MCDropout, Prior: 1, Dropout: 0.5, Samples: 64, Select: 0.1}, 1, id},
		{"seed-cut-ensemble", Options{Mode: CropEnsemble, Prior: 1}, 8, crop},
		{"seed-cut-ensemble-topk", Options{Mode: CropEnsemble, Prior: 1, Select: 0.1}, 64, crop},
	} {
		o, views := resolve(c.preset, nil)
		assert.Equal(t, sum(c.opts, c.views, c.kind), sum(o, views.N, views.Kind), c.preset)
	}
	o, views = resolve("seed-memo", method.Values{"views": 16, "lr": 1e-3})
	assert.Equal(t, 16, views.N, "a given value wins")
	assert.Equal(t, 1e-3, o.Optimizer.(*tta.SGD).LR)
	assert.Equal(t, 0.94, o.Prior, "the rest from the preset")

	_, err := Spec().Resolve("nope", nil)
	assert.ErrorContains(t, err, "seed-memo-topk")
	_, err = Spec().Resolve("", method.Values{"prior": 0.0})
	assert.EqualError(t, err, "method memo: prior 0: want 0 < prior <= 1")
	_, err = Spec().Resolve("", method.Values{"steps": 0})
	assert.EqualError(t, err, "method memo: steps 0: want 1 <= steps <= 1000")
	_, err = Spec().Resolve("", method.Values{"view-kind": "mixup"})
	assert.ErrorContains(t, err, "memo-augmix")
}
