package tta

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// MeanLogProbsHost is MeanLogProbs on the host: log of the mean over the rows sel of softmax(logits[row]),
// computed in float64: logits [N][C] -> [C] float32. sel nil means every row. TPT's and MEMO's no-gradient
// ensembles predict with it; tta.EntropyOfLogits of it is the marginal entropy of the selected views.
func MeanLogProbsHost(logits [][]float32, sel []int) []float32 {
	if sel == nil {
		sel = make([]int, len(logits))
		for i := range sel {
			sel[i] = i
		}
	}
	if len(sel) == 0 {
		return nil
	}
	sum := make([]float64, len(logits[sel[0]]))
	for _, i := range sel {
		for j, lp := range LogSoftmaxHost(logits[i]) {
			sum[j] += math.Exp(lp)
		}
	}
	out := make([]float32, len(sum))
	for j, s := range sum {
		out[j] = float32(math.Log(s / float64(len(sel))))
	}
	return out
}

// PickViews returns the views idx of x [N, ...] (float32), in that order, as a new tensor [len(idx), ...]: a
// view 0 alone, a range of views, the selected views.
func PickViews(x *tensors.Tensor, idx []int) (*tensors.Tensor, error) {
	d := x.Shape().Dimensions
	if x.Rank() < 1 || len(idx) == 0 {
		return nil, fmt.Errorf("tta.PickViews: views %v of a tensor %s", idx, x.Shape())
	}
	per := x.Shape().Size() / max(d[0], 1)
	out := make([]float32, 0, len(idx)*per)
	var err error
	x.ConstFlatData(func(flat any) {
		f, ok := flat.([]float32)
		if !ok {
			err = fmt.Errorf("tta.PickViews: views must be float32, got %s", x.Shape())
			return
		}
		for _, i := range idx {
			if i < 0 || i >= d[0] {
				err = fmt.Errorf("tta.PickViews: view %d of a tensor %s", i, x.Shape())
				return
			}
			out = append(out, f[i*per:(i+1)*per]...)
		}
	})
	if err != nil {
		return nil, err
	}
	return tensors.FromFlatDataAndDimensions(out, append([]int{len(idx)}, d[1:]...)...), nil
}
