package embedded

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type bnGolden struct {
	Shape          []int     `json:"shape_nhwc"`
	XJ             []float64 `json:"x"`
	GJ             []float64 `json:"g"`
	YJ             []float64 `json:"y"`
	GradXJ         []float64 `json:"grad_x"`
	Weight         []float64 `json:"weight"`
	Bias           []float64 `json:"bias"`
	RunningMean    []float64 `json:"running_mean"`
	RunningVar     []float64 `json:"running_var"`
	NewRunningMean []float64 `json:"new_running_mean"`
	NewRunningVar  []float64 `json:"new_running_var"`
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestTrainBNGolden checks the trainer's training-mode batch norm (output, input gradient, running-statistics
// update) against torch.nn.BatchNorm2d (testdata/README.md); rtol/atol 1e-4 in float32.
func TestTrainBNGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/bn_golden.json")
	require.NoError(t, err)
	var gd bnGolden
	require.NoError(t, json.Unmarshal(raw, &gd))
	c := gd.Shape[3]
	ctx := context.New()
	bn := ctx.In("bn").Checked(false)
	bn.VariableWithValue("weight", f32s(gd.Weight))
	bn.VariableWithValue("bias", f32s(gd.Bias))
	bn.VariableWithValue("running_mean", f32s(gd.RunningMean)).SetTrainable(false)
	bn.VariableWithValue("running_var", f32s(gd.RunningVar)).SetTrainable(false)
	b, err := trainingBackend(nil)
	require.NoError(t, err)
	x := tensors.FromFlatDataAndDimensions(f32s(gd.XJ), gd.Shape...)
	g := tensors.FromFlatDataAndDimensions(f32s(gd.GJ), gd.Shape...)
	out := context.MustExecOnceN(b, ctx, func(ctx *context.Context, x, g *graph.Node) []*graph.Node {
		y := trainBN(ctx.In("bn"), x)
		grad := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, g)), x)[0]
		return []*graph.Node{y, grad}
	}, x, g)
	assert.InDeltaSlice(t, f32s(gd.YJ), tensors.MustCopyFlatData[float32](out[0]), 1e-4, "output")
	assert.InDeltaSlice(t, f32s(gd.GradXJ), tensors.MustCopyFlatData[float32](out[1]), 1e-4, "grad x")
	rm := ctx.GetVariableByScopeAndName("/bn", "running_mean")
	rv := ctx.GetVariableByScopeAndName("/bn", "running_var")
	assert.InDeltaSlice(t, f32s(gd.NewRunningMean), tensors.MustCopyFlatData[float32](rm.MustValue()), 1e-5)
	assert.InDeltaSlice(t, f32s(gd.NewRunningVar), tensors.MustCopyFlatData[float32](rv.MustValue()), 1e-5)
	assert.Len(t, gd.NewRunningMean, c)
}
