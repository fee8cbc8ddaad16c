package embedded

import (
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestTrainFewSteps runs a few steps of both trainers on a small subset and checks that the loss decreases.
func TestTrainFewSteps(t *testing.T) {
	b := backend.MustNew()
	t.Run("clip", func(t *testing.T) {
		_, tok, res, err := TrainCLIP(TrainOpts{Seed: 1, Steps: 12, BatchSize: 32, TrainSize: 512, EvalSize: -1,
			Backend: b, Log: os.Stderr, LogEvery: 4})
		require.NoError(t, err)
		require.Len(t, res.Losses, 12)
		assert.Equal(t, tok.VocabSize(), len(tok.Vocabulary()))
		first, last := meanOf(res.Losses[:3]), meanOf(res.Losses[9:])
		t.Logf("CLIP loss first 3 steps %.4f, last 3 %.4f, %.1fs", first, last, res.TrainSeconds)
		assert.Less(t, last, first)
		assert.True(t, math.IsNaN(res.Accuracy))
	})
	t.Run("resnet", func(t *testing.T) {
		_, _, res, err := TrainResNet(TrainOpts{Seed: 1, Steps: 12, BatchSize: 32, TrainSize: 512, EvalSize: -1,
			Backend: b, Log: os.Stderr, LogEvery: 4})
		require.NoError(t, err)
		first, last := meanOf(res.Losses[:3]), meanOf(res.Losses[9:])
		t.Logf("ResNet loss first 3 steps %.4f, last 3 %.4f, %.1fs", first, last, res.TrainSeconds)
		assert.Less(t, last, first)
	})
}

// TestTrainDeterministic trains twice with the same seed (a few steps) and checks that the weights are identical,
// which is what lets `gotta train-embedded` reproduce the committed files.
func TestTrainDeterministic(t *testing.T) {
	opts := TrainOpts{Seed: 5, Steps: 4, BatchSize: 16, TrainSize: 256, EvalSize: -1}
	t.Run("clip", func(t *testing.T) {
		m1, _, _, err := TrainCLIP(opts)
		require.NoError(t, err)
		m2, _, _, err := TrainCLIP(opts)
		require.NoError(t, err)
		for v := range m1.Ctx.IterVariables() {
			v2 := m2.Ctx.GetVariableByScopeAndName(v.Scope(), v.Name())
			require.NotNil(t, v2, v.ScopeAndName())
			assert.Equal(t, v.MustValue().Value(), v2.MustValue().Value(), v.ScopeAndName())
		}
	})
	t.Run("resnet", func(t *testing.T) {
		c1, _, _, err := TrainResNet(opts)
		require.NoError(t, err)
		c2, _, _, err := TrainResNet(opts)
		require.NoError(t, err)
		n := 0
		for v := range c1.IterVariables() {
			v2 := c2.GetVariableByScopeAndName(v.Scope(), v.Name())
			require.NotNil(t, v2, v.ScopeAndName())
			assert.Equal(t, v.MustValue().Value(), v2.MustValue().Value(), v.ScopeAndName())
			n++
		}
		assert.Greater(t, n, 40)
	})
}
