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
