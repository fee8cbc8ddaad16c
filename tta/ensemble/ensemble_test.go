package ensemble

import (
	"encoding/json"
	"math"
	"os"
	"path"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

// combineRef is testdata/combine_reference.json (testdata/gen_ensemble.py, PyTorch float64).
type combineRef struct {
	Logits       [][][]float64
	Temperatures []float64
	Clean, Seed  struct {
		M       []float64
		Loss    float64
		Weights []float64
		Grads   [][][]float64
	}
}

// TestCombine checks the combination, its entropy, the weights and the gradient with respect to every member's
// view logits against PyTorch autograd (float64, atol 1e-10), clean and seed-compatible.
func TestCombine(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "combine_reference.json"))
	require.NoError(t, err)
	var ref combineRef
	require.NoError(t, json.Unmarshal(data, &ref))
	b := backend.MustNew()
	for _, seed := range []bool{false, true} {
		want := ref.Clean
		if seed {
			want = ref.Seed
		}
		e, err := NewExec(b, func(logits []*Node) []*Node {
			m, w := Combine(logits, ref.Temperatures, seed)
			loss := EntropyOf(m)
			return append([]*Node{loss, m, w}, Gradient(loss, logits...)...)
		})
		require.NoError(t, err)
		args := make([]any, len(ref.Logits))
		for i, z := range ref.Logits {
			args[i] = z
		}
		outs, err := e.Exec(args...)
		require.NoError(t, err)
		assert.InDelta(t, want.Loss, tensors.ToScalar[float64](outs[0]), 1e-10, "loss (seed %v)", seed)
		assert.InDeltaSlice(t, want.M, outs[1].Value().([]float64), 1e-10, "m (seed %v)", seed)
		assert.InDeltaSlice(t, want.Weights, outs[2].Value().([]float64), 1e-10, "weights (seed %v)", seed)
		for i, g := range want.Grads {
			got := outs[3+i].Value().([][]float64)
			for v := range g {
				assert.InDeltaSlice(t, g[v], got[v], 1e-10, "gradient of member %d view %d (seed %v)", i, v, seed)
			}
		}
		if !seed { // the clean combination is a distribution
			s := 0.0
			for _, v := range outs[1].Value().([]float64) {
				s += math.Exp(v)
			}
			assert.InDelta(t, 1, s, 1e-12)
		}
	}
}

// resnetMember is a test member: a torchvision ResNet (plain batch norm) adapting all its parameters with SGD.
type resnetMember struct {
	ctx   *context.Context
	model *resnet.Model
	vars  []*context.Variable
	opt   tta.Optimizer
	ep    *tta.Episode
}

func newResnetMember(t *testing.T, file string) *resnetMember {
	ctx := context.New()
	m, err := resnet.Load(ctx, filepath.Join("..", "resnet", "testdata", file))
	require.NoError(t, err)
	r := &resnetMember{ctx: ctx, model: m, opt: &tta.SGD{LR: 5e-3, WeightDecay: 1e-4}}
	for _, ts := range m.Config.Tensors() {
		if ts.Kind != resnet.RunningStat {
			v := ctx.GetVariableByScopeAndName(path.Join(ctx.Scope(), ts.Scope), ts.Var)
			require.NotNil(t, v, ts.Name)
			r.vars = append(r.vars, v)
		}
	}
	r.ep, err = tta.NewEpisode(backend.MustNew(), ctx, r.opt, r.vars...)
	require.NoError(t, err)
	return r
}

func (r *resnetMember) Context() *context.Context { return r.ctx }
func (r *resnetMember) ViewLogits(ctx *context.Context, views *Node) *Node {
	return r.model.Logits(ctx, views, resnet.ForwardOpts{})
}
func (r *resnetMember) Trainable() []*context.Variable { return r.vars }
func (r *resnetMember) Optimizer() tta.Optimizer       { return r.opt }
func (r *resnetMember) Reset() error {
	return r.ep.Restore()
}

// TestJointStep runs one joint step of two tiny ResNets (BasicBlock and grouped Bottleneck), each on its own views,
// and the simple ensemble, against testdata/joint_golden.safetensors (PyTorch, torch.optim.SGD per member): loss
// (atol 1e-5), selected views, each member's view-0 logits after the step and the final combination (rtol 1e-3),
// the simple ensemble (rtol 1e-4); clean and seed-compatible.
func TestJointStep(t *testing.T) {
	f, err := weights.Open(filepath.Join("testdata", "joint_golden.safetensors"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	get := func(name string) []float32 {
		data, _, err := f.Float32s(name)
		require.NoError(t, err, name)
		return data
	}
	tensor := func(name string) *tensors.Tensor {
		data, shape, err := f.Float32s(name)
		require.NoError(t, err, name)
		return tensors.FromFlatDataAndDimensions(data, shape...)
	}
	views := &tta.Views{ExampleID: "golden", Payload: PerModel{"a": tensor("views_a"), "b": tensor("views_b")}}
	ints := func(xs []float32) []int {
		out := make([]int, len(xs))
		for i, x := range xs {
			out[i] = int(x)
		}
		return out
	}
	closeTo := func(want, got []float32, rtol, atol float64, what string) {
		require.Len(t, got, len(want), what)
		for j := range want {
			assert.InDelta(t, float64(want[j]), float64(got[j]), rtol*math.Abs(float64(want[j]))+atol, "%s[%d]", what, j)
		}
	}
	b := backend.MustNew()
	for _, variant := range []string{"clean", "seed"} {
		t.Run(variant, func(t *testing.T) {
			if testing.Short() && variant == "seed" {
				t.Skip("slow on pure Go")
			}
			ma, mb := newResnetMember(t, "tiny_basic.safetensors"), newResnetMember(t, "tiny_resnext.safetensors")
			entries := []Entry{{Name: "a", Member: ma, Temperature: 1.55}, {Name: "b", Member: mb, Temperature: 0.7}}
			opts := Options{Select: 0.5, SeedCompatible: variant == "seed"}
			simple, err := New(b, entries, Options{Mode: Simple, Select: 0.5, SeedCompatible: opts.SeedCompatible})
			require.NoError(t, err)
			sp, err := simple.Adapt(views)
			require.NoError(t, err)
			closeTo(get(variant+"/simple"), sp.Logits, 1e-4, 1e-5, "simple ensemble")

			joint, err := New(b, entries, opts)
			require.NoError(t, err)
			require.NoError(t, joint.Reset())
			r, err := joint.Forward(views, 0.5, true)
			require.NoError(t, err)
			assert.InDelta(t, float64(get(variant + "/loss")[0]), r.Loss, 1e-5, "loss")
			assert.Equal(t, ints(get(variant+"/sel_a")), r.Selected[0], "selected views of a")
			assert.Equal(t, ints(get(variant+"/sel_b")), r.Selected[1], "selected views of b")
			v0, err := viewZero(views, joint)
			require.NoError(t, err)
			for i, name := range []string{"a", "b"} {
				outs, err := joint.fwd[i].Exec(v0.Payload.(PerModel)[name])
				require.NoError(t, err)
				closeTo(get(variant+"/view0_"+name), outs[0].Value().([][]float32)[0], 1e-3, 1e-4, "view 0 of "+name)
			}
			final, err := joint.Forward(v0, 1, false)
			require.NoError(t, err)
			closeTo(get(variant+"/m"), final.M, 1e-3, 1e-4, "combination after the step")

			// Adapt = Reset by the runner, then the same step and prediction.
			require.NoError(t, joint.Reset())
			pred, err := joint.Adapt(views)
			require.NoError(t, err)
			closeTo(final.M, pred.Logits, 1e-5, 1e-6, "Adapt's prediction")
			require.Len(t, pred.Steps, 1)
			assert.Equal(t, "ensemble", joint.Name())
			assert.Equal(t, "simple-ensemble", simple.Name())
		})
	}
}
