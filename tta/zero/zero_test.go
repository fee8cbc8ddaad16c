package zero

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOneViewGammaOneIsZeroShot: with one view and gamma 1, ZERO keeps that view and its vote is zero-shot CLIP's
// argmax, for each of the 16 reference views on their own.
func TestOneViewGammaOneIsZeroShot(t *testing.T) {
	c := loadOriginal(t).Cases[10] // e2e_single_gamma1: its classes (views disagree there) and token ids
	require.Equal(t, "e2e_single_gamma1", c.Name)
	b := backend.MustNew()
	m, err := clip.Load(filepath.Join(tptTestdata, c.Model), clip.LoadOpts{})
	require.NoError(t, err)
	tok := refTokenizer(c.TokenIDs)
	a, err := New(b, m, tok, c.Classes, nil, Options{Gamma: 1})
	require.NoError(t, err)
	head := clip.NewZeroShot(b, m, tok)
	text, err := head.TextFeatures(c.Classes, []string{DefaultTemplate})
	require.NoError(t, err)
	ls, err := m.LogitScaleValue()
	require.NoError(t, err)
	views := loadViews(t, c.Views)
	d := views.Shape().Dimensions
	all := tensors.MustCopyFlatData[float32](views)
	per := d[1] * d[2] * d[3]
	agree := map[int]bool{}
	for i := range d[0] {
		one := tensors.FromFlatDataAndDimensions(all[i*per:(i+1)*per], 1, d[1], d[2], d[3])
		f, err := head.ImageFeatures(one)
		require.NoError(t, err)
		zs := clip.LogitsHost(f, text, ls)[0]
		p, err := a.Adapt(&tta.Views{ExampleID: "one", Images: one})
		require.NoError(t, err)
		assert.Equal(t, []int{0}, p.Selected)
		want := argmax(zs)
		assert.Equal(t, want, argmax(p.Logits), "view %d", i)
		assert.InDelta(t, 1.0, float64(p.Logits[want]), 1e-6, "view %d: one whole vote", i)
		agree[want] = true
	}
	assert.Greater(t, len(agree), 1, "the views should not all predict one class")
}

// TestKeepCount: Python's int(n * gamma), unlike tta.SelectCount.
func TestKeepCount(t *testing.T) {
	assert.Equal(t, 19, KeepCount(64, DefaultGamma))
	assert.Equal(t, 28, KeepCount(50, 0.58))
	assert.Equal(t, 29, tta.SelectCount(50, 0.58))
	assert.Equal(t, 0, KeepCount(3, 0.3))
	assert.Equal(t, 4, KeepCount(16, 0.3))
}

// TestVoteTieAllKept: a vote tie with every view kept has no discarded view to break it (the original raises).
func TestVoteTieAllKept(t *testing.T) {
	_, err := Vote([][]float32{{0.9, 0.1}, {0.1, 0.9}}, 100, 1)
	require.Error(t, err)
	r, err := Vote([][]float32{{0.9, 0.1}, {0.1, 0.9}, {0.2, 0.8}}, 100, 0.7) // int(2.1) = 2 kept: the views 0, 1
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, r.Ties)
	assert.Equal(t, 1, r.TieBreak, "the discarded view votes 1")
	assert.Equal(t, []float32{1, 2}, r.Output)
	assert.False(t, math.IsNaN(r.Entropies[2]))
}
