package viewens

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
)

type fixedModel [][]float32

func (m fixedModel) ViewLogitsHost(*tta.Views) ([][]float32, error) { return m, nil }
func (fixedModel) Config() map[string]any                           { return map[string]any{"k": 1} }

// TestPredict checks the selection, the mean softmax of the selected views and both entropies against values
// written out by hand.
func TestPredict(t *testing.T) {
	logits := fixedModel{{0, 0}, {4, 0}, {0, 1}, {-3, 0}} // entropies: view 0 highest, view 1 lowest
	a := New("toy", logits, 0.5)
	pred, err := a.Adapt(&tta.Views{ExampleID: "x"})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 3}, pred.Selected)
	p1 := []float64{math.Exp(4) / (1 + math.Exp(4)), 1 / (1 + math.Exp(4))}
	p3 := []float64{math.Exp(-3) / (1 + math.Exp(-3)), 1 / (1 + math.Exp(-3))}
	for c := range 2 {
		assert.InDelta(t, math.Log((p1[c]+p3[c])/2), float64(pred.Logits[c]), 1e-6)
	}
	// EntropyBefore: the mean softmax of all four views.
	mean := []float64{0, 0}
	for _, row := range logits {
		lp := tta.LogSoftmaxHost(row)
		for c := range 2 {
			mean[c] += math.Exp(lp[c]) / 4
		}
	}
	h := -mean[0]*math.Log(mean[0]) - mean[1]*math.Log(mean[1])
	assert.InDelta(t, h, pred.EntropyBefore, 1e-9)
	assert.InDelta(t, tta.EntropyOfLogits(pred.Logits), pred.EntropyAfter, 1e-9)
	assert.Equal(t, "toy", a.Name())
	assert.Equal(t, map[string]any{"k": 1}, a.Config())
	require.NotNil(t, a.AdaptTrace())
	assert.Len(t, a.AdaptTrace().Entropies, 4)

	all := Predict(logits, 1)
	assert.Equal(t, []int{1, 3, 2, 0}, all.Selected, "rho 1 ranks every view")
}
