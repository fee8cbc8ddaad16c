package resnet

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/weights"
)

// marginalEntropy is MEMO's loss, written here independently of package tta: the entropy of the views' average
// softmax, logits [views, classes] -> scalar.
func marginalEntropy(logits *Node) *Node {
	logp := LogSoftmax(logits, -1)                                        // [views, classes]
	mx := StopGradient(ReduceMax(logp, 0))                                // [classes]
	avg := Add(Log(ReduceMean(Exp(Sub(logp, ExpandDims(mx, 0))), 0)), mx) // [classes]
	return Neg(ReduceAllSum(Mul(Exp(avg), avg)))                          // scalar
}

// TestMEMOStep checks one MEMO step on pure Go against torch: the marginal entropy of the tiny BasicBlock model's
// logits over the 4 golden inputs (as views) with BN prior 0.94, its gradient with respect to every parameter
// (convs, BN affine, fc), and SGD(lr 0.005, weight decay 1e-4) applied on the host, compared with the parameters
// torch's optimizer produced (testdata/README.md).
func TestMEMOStep(t *testing.T) {
	const lr, wd = 0.005, 1e-4
	lossTol, stepRTol, stepATol := 1e-5, 1e-3, 2.4e-7
	if tf32Loose(t) {
		lossTol, stepRTol, stepATol = looseTol, 5e-2, 5e-5
	}
	ctx := context.New()
	m, err := Load(ctx, filepath.Join("testdata", "tiny_basic.safetensors"))
	require.NoError(t, err)
	x, xShape := golden(t, "tiny_basic", "inputs")
	var params []TensorSpec
	for _, ts := range m.Config.Tensors() {
		if ts.Kind != RunningStat {
			params = append(params, ts)
		}
	}
	exec := context.MustNewExec(backend.MustNew(), ctx, func(ctx *context.Context, x *Node) []*Node {
		loss := marginalEntropy(m.Logits(ctx, x, ForwardOpts{BNPrior: 0.94}))
		nodes := make([]*Node, len(params))
		for i, p := range params {
			nodes[i] = inScope(ctx, p.Scope).GetVariableByScopeAndName(inScope(ctx, p.Scope).Scope(), p.Var).
				ValueGraph(x.Graph())
		}
		return append([]*Node{loss}, Gradient(loss, nodes...)...)
	})
	outs := exec.MustExec(tensors.FromFlatDataAndDimensions(x, xShape...))
	wantLoss, _ := golden(t, "tiny_basic", "sgd_loss")
	gotLoss := float64(flat(outs[0])[0])
	assert.InDelta(t, float64(wantLoss[0]), gotLoss, lossTol*math.Abs(float64(wantLoss[0]))+1e-6, "loss")

	ref, err := weights.Open(filepath.Join("testdata", "tiny_basic_golden.safetensors"))
	require.NoError(t, err)
	defer func() { _ = ref.Close() }()
	l := weights.NewLoader(ref)
	for i, p := range params {
		// Torch's parameter after the step, in the variable's layout.
		var after *tensors.Tensor
		switch p.Kind {
		case ConvKernel:
			after, err = l.Transposed("sgd/"+p.Name, p.Shape, weights.OIHWToHWIO, dtypes.Float32)
		case LinearWeight:
			after, err = l.Transposed("sgd/"+p.Name, p.Shape, []int{1, 0}, dtypes.Float32)
		default:
			after, err = l.Take("sgd/"+p.Name, p.Shape, dtypes.Float32)
		}
		require.NoError(t, err)
		before := flat(ctx.GetVariableByScopeAndName(inScope(ctx, p.Scope).Scope(), p.Var).MustValue())
		grad := flat(outs[1+i])
		want := flat(after)
		// Compare the step itself (torch's after - before vs ours), which is ~1e-3 of the parameters, with rtol 1e-3
		// and an atol covering float32 rounding of after - before (2 ulp of max |before|: 2.4e-7 * max|before|).
		gotStep, wantStep := make([]float32, len(grad)), make([]float32, len(grad))
		maxAbs := 0.0
		for j := range grad {
			gotStep[j] = float32(-lr * (float64(grad[j]) + wd*float64(before[j])))
			wantStep[j] = want[j] - before[j]
			maxAbs = max(maxAbs, math.Abs(float64(before[j])))
		}
		assertClose(t, wantStep, gotStep, stepRTol, stepATol*max(maxAbs, 1), "SGD step of "+p.Name)
	}
}
