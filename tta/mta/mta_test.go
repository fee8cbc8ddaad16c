package mta

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAugmentedViewOrderDoesNotMatter: the MeanShift starts at view 0 and treats the other views as a set, so
// reversing the order of views 1..N-1 gives the same logits; they are not view 0's zero-shot logits.
func TestAugmentedViewOrderDoesNotMatter(t *testing.T) {
	c := loadOriginal(t).Cases[5]
	require.Equal(t, "e2e_classes5", c.Name)
	m, err := clip.Load(filepath.Join(tptTestdata, c.Model), clip.LoadOpts{})
	require.NoError(t, err)
	a, err := New(backend.MustNew(), m, refTokenizer(c.TokenIDs), c.Classes, nil, Options{})
	require.NoError(t, err)
	views := loadViews(t, c.Views)
	d := views.Shape().Dimensions
	per := d[1] * d[2] * d[3]
	all := tensors.MustCopyFlatData[float32](views)
	permuted := func(order []int) *tensors.Tensor {
		out := make([]float32, 0, len(all))
		for _, i := range order {
			out = append(out, all[i*per:(i+1)*per]...)
		}
		return tensors.FromFlatDataAndDimensions(out, len(order), d[1], d[2], d[3])
	}
	adapt := func(order []int) []float32 {
		p, err := a.Adapt(&tta.Views{ExampleID: "perm", Images: permuted(order)})
		require.NoError(t, err)
		return p.Logits
	}
	ident, rev := []int{0}, []int{0}
	for i := 1; i < d[0]; i++ {
		ident = append(ident, i)
		rev = append(rev, d[0]-i)
	}
	base := adapt(ident)
	assert.InDeltaSlice(t, f64(base), f64(adapt(rev)), 1e-5, "views 1..N-1 reversed")
	head := clip.NewZeroShot(backend.MustNew(), m, refTokenizer(c.TokenIDs))
	text, err := head.TextFeatures(c.Classes, []string{DefaultTemplate})
	require.NoError(t, err)
	f0, err := head.ImageFeatures(permuted([]int{0}))
	require.NoError(t, err)
	ls, err := m.LogitScaleValue()
	require.NoError(t, err)
	assert.Greater(t, maxAbsDiff(f64(base), f64(clip.LogitsHost(f0, text, ls)[0])), 1e-2, "not view 0's zero-shot")
}

// TestTooFewViews: fewer than 5 views leave no neighbour for the bandwidth.
func TestTooFewViews(t *testing.T) {
	f := [][]float32{{1, 0}, {0, 1}, {0.6, 0.8}, {0.8, 0.6}}
	_, err := MeanShift(f, f, DefaultLambdaY, DefaultLambdaQ, DefaultMaxIter)
	require.Error(t, err)
	f = append(f, []float32{0.28, 0.96})
	tr, err := MeanShift(f, f, DefaultLambdaY, DefaultLambdaQ, DefaultMaxIter)
	require.NoError(t, err)
	assert.InDelta(t, 1, tr.Mode[0]*tr.Mode[0]+tr.Mode[1]*tr.Mode[1], 1e-12, "unit mode")
}
