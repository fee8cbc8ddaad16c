package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// Tolerances against the PyTorch references of testdata/torch_reference.json (computed in float64 from float32
// inputs); GoTTA computes in float32: |got - want| <= atol + rtol*|want|.
const (
	valueRTol, valueATol = 1e-5, 1e-5
	gradRTol, gradATol   = 1e-4, 1e-5
)

type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (r refTensor) tensor() *tensors.Tensor {
	data := make([]float32, len(r.Data))
	for i, v := range r.Data {
		data[i] = float32(v)
	}
	if len(r.Shape) == 0 {
		return tensors.FromScalar(data[0])
	}
	return tensors.FromFlatDataAndDimensions(data, r.Shape...)
}

type refCase struct {
	Name        string               `json:"name"`
	Op          string               `json:"op"`
	Params      map[string]any       `json:"params"`
	Inputs      map[string]refTensor `json:"inputs"`
	Output      refTensor            `json:"output"`
	LossWeights refTensor            `json:"loss_weights"`
	Grads       map[string]refTensor `json:"grads"`
}

func loadReference(t *testing.T) []refCase {
	raw, err := os.ReadFile(filepath.Join("testdata", "torch_reference.json"))
	require.NoError(t, err)
	var ref struct {
		Cases []refCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(raw, &ref), "testdata/torch_reference.json")
	require.NotEmpty(t, ref.Cases)
	return ref.Cases
}

func (c refCase) intParam(name string) int { return int(c.Params[name].(float64)) }

// inputOrder lists the inputs of each op, in the order its graph function takes them.
var inputOrder = map[string][]string{
	"conv2d":           {"x", "kernel"},
	"maxpool2d":        {"x"},
	"avgpool2d":        {"x"},
	"global_avg_pool":  {"x"},
	"batch_norm":       {"x", "scale", "offset", "mean", "variance"},
	"batch_norm_prior": {"x", "scale", "offset", "run_mean", "run_var"},
	"slice_axis":       {"x"},
	"dot_general":      {"lhs", "rhs"},
}

// build returns the graph function of case c with implementation impl.
func (c refCase) build(impl Impl) func(in []*graph.Node) *graph.Node {
	switch c.Op {
	case "conv2d":
		p := c.Params["pad"].([]any)
		pads := [2][2]int{{int(p[0].(float64)), int(p[1].(float64))}, {int(p[2].(float64)), int(p[3].(float64))}}
		opts := ConvOpts{Stride: c.intParam("stride"), PadHW: pads, Dilation: c.intParam("dilation"),
			Groups: c.intParam("groups")}
		if pads[0][0] == pads[0][1] && pads[0][0] == pads[1][0] && pads[0][0] == pads[1][1] {
			opts = ConvOpts{Stride: opts.Stride, Padding: pads[0][0], Dilation: opts.Dilation, Groups: opts.Groups}
		}
		return func(in []*graph.Node) *graph.Node { return impl.Conv2D(in[0], in[1], opts) }
	case "maxpool2d":
		return func(in []*graph.Node) *graph.Node {
			return impl.MaxPool2D(in[0], c.intParam("window"), c.intParam("stride"), c.intParam("padding"))
		}
	case "avgpool2d":
		return func(in []*graph.Node) *graph.Node {
			return impl.AvgPool2D(in[0], c.intParam("window"), c.intParam("stride"), c.intParam("padding"))
		}
	case "global_avg_pool":
		return func(in []*graph.Node) *graph.Node { return GlobalAvgPool(in[0]) }
	case "batch_norm":
		return func(in []*graph.Node) *graph.Node {
			return BatchNorm(in[0], in[1], in[2], in[3], in[4], c.Params["eps"].(float64))
		}
	case "batch_norm_prior":
		return func(in []*graph.Node) *graph.Node {
			return BatchNormPrior(in[0], in[1], in[2], in[3], in[4], c.Params["prior"].(float64), c.Params["eps"].(float64))
		}
	case "dot_general":
		axes := func(name string) []int {
			var out []int
			for _, a := range c.Params[name].([]any) {
				out = append(out, int(a.(float64)))
			}
			return out
		}
		return func(in []*graph.Node) *graph.Node {
			return impl.DotGeneral(in[0], axes("lc"), axes("lb"), in[1], axes("rc"), axes("rb"))
		}
	case "slice_axis":
		return func(in []*graph.Node) *graph.Node {
			return impl.SliceAxis(in[0], c.intParam("axis"), c.intParam("start"), c.intParam("end"), c.intParam("stride"))
		}
	}
	panic("unknown op " + c.Op)
}

func requireClose(t *testing.T, what string, want refTensor, got *tensors.Tensor, rtol, atol float64) {
	t.Helper()
	require.Equal(t, want.Shape, got.Shape().Dimensions, "%s: shape", what)
	g := tensors.MustCopyFlatData[float32](got)
	worst, worstAt := 0.0, -1
	for i, w := range want.Data {
		excess := math.Abs(float64(g[i])-w) - (atol + rtol*math.Abs(w))
		if excess > worst || math.IsNaN(float64(g[i])) {
			worst, worstAt = excess, i
		}
	}
	if worstAt >= 0 {
		require.Failf(t, "mismatch", "%s: element %d is %g, want %g (rtol %g, atol %g)", what, worstAt,
			g[worstAt], want.Data[worstAt], rtol, atol)
	}
}

// TestAgainstPyTorch checks values (ImplAuto and ImplNative forward) and gradients (ImplAuto: the portable
// implementation on pure Go) of every helper against PyTorch.
func TestAgainstPyTorch(t *testing.T) {
	b := backend.MustNew()
	for _, c := range loadReference(t) {
		t.Run(c.Name, func(t *testing.T) {
			names := inputOrder[c.Op]
			args := make([]any, 0, len(names)+1)
			for _, name := range names {
				args = append(args, c.Inputs[name].tensor())
			}
			args = append(args, c.LossWeights.tensor())
			var gradNames []string
			var gradIdx []int
			for i, name := range names {
				if _, ok := c.Grads[name]; ok {
					gradNames = append(gradNames, name)
					gradIdx = append(gradIdx, i)
				}
			}
			fn := c.build(ImplAuto)
			exec := graph.MustNewExec(b, func(all []*graph.Node) []*graph.Node {
				in, w := all[:len(names)], all[len(names)]
				out := fn(in)
				loss := graph.ReduceAllSum(graph.Mul(out, w))
				wrt := make([]*graph.Node, len(gradIdx))
				for i, j := range gradIdx {
					wrt[i] = in[j]
				}
				return append([]*graph.Node{out}, graph.Gradient(loss, wrt...)...)
			})
			res := exec.MustExec(args...)
			requireClose(t, "output", c.Output, res[0], valueRTol, valueATol)
			for i, name := range gradNames {
				requireClose(t, fmt.Sprintf("d loss/d %s", name), c.Grads[name], res[1+i], gradRTol, gradATol)
			}
			// The native forward (which runs on every backend) agrees with PyTorch too.
			nfn := c.build(ImplNative)
			nexec := graph.MustNewExec(b, func(all []*graph.Node) *graph.Node { return nfn(all) })
			requireClose(t, "native output", c.Output, nexec.MustExec1(args[:len(names)]...), valueRTol, valueATol)
		})
	}
}
