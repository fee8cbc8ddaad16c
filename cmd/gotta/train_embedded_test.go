package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

// TestTrainEmbedded runs `gotta train-embedded` for a few steps on a small subset and checks that both files are
// written and load with clip.Load / resnet.Load (the full training is not run here).
func TestTrainEmbedded(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := trainEmbedded(&out, dir, "", embedded.TrainOpts{Seed: 1, BatchSize: 16, TrainSize: 256, EvalSize: 32}, 3, 3)
	require.NoError(t, err, out.String())
	t.Log(out.String())
	assert.Contains(t, out.String(), "CLIP:   3 steps")
	assert.Contains(t, out.String(), "ResNet: 3 steps")
	m, err := clip.Load(filepath.Join(dir, embedded.CLIPFile), clip.LoadOpts{})
	require.NoError(t, err)
	assert.Equal(t, embedded.InputSize, m.Config.ImageResolution)
	_, err = embedded.TokenizerFromFile(filepath.Join(dir, embedded.CLIPFile))
	require.NoError(t, err)
	_, err = resnet.Load(context.New(), filepath.Join(dir, embedded.ResNetFile))
	require.NoError(t, err)
	f, err := weights.Open(filepath.Join(dir, embedded.ResNetFile))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(embedded.ResNetInputSize), f.Metadata()["image_size"], "the ResNet's own input size")
	require.NoError(t, f.Close())

	t.Run("flags", func(t *testing.T) {
		require.Error(t, runTrainEmbedded([]string{"--only", "vgg"}))
		require.Error(t, runTrainEmbedded([]string{"extra"}))
	})
}
