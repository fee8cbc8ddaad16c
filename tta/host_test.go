package tta

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMeanLogProbsHost: the entropy of the host mean softmax is PyTorch's marginal entropy (testdata/
// core_reference.json), over all views and over the selected ones.
func TestMeanLogProbsHost(t *testing.T) {
	r := loadCoreRef(t)
	logits := make([][]float32, len(r.Logits0))
	for i, row := range r.Logits0 {
		logits[i] = make([]float32, len(row))
		for j, v := range row {
			logits[i][j] = float32(v)
		}
	}
	assert.InDelta(t, r.MarginalEntropyAll, EntropyOfLogits(MeanLogProbsHost(logits, nil)), 1e-5)
	assert.InDelta(t, r.MarginalEntropySelected, EntropyOfLogits(MeanLogProbsHost(logits, r.Selected)), 1e-5)
	assert.Nil(t, MeanLogProbsHost(logits, []int{}))
}

// TestPickViews: rows in the order asked, shape [k, ...]; errors name the bad view or dtype.
func TestPickViews(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 2, 2)
	got, err := PickViews(x, []int{2, 0})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2, 2}, got.Shape().Dimensions)
	assert.Equal(t, []float32{8, 9, 10, 11, 0, 1, 2, 3}, tensors.MustCopyFlatData[float32](got))
	_, err = PickViews(x, []int{3})
	assert.ErrorContains(t, err, "view 3")
	_, err = PickViews(x, nil)
	assert.Error(t, err)
	_, err = PickViews(tensors.FromFlatDataAndDimensions([]int32{1, 2}, 2, 1), []int{0})
	assert.ErrorContains(t, err, "float32")
}
