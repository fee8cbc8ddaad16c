package memo

import (
	"fmt"
	"hash/fnv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// DropoutSeed is the seed of the MC-dropout masks of one example, derived from the run's seed and the example's
// id (FNV-1a), so the masks do not depend on the order, batching or sharding of the examples.
func DropoutSeed(seed int64, exampleID string) int64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "memo-dropout/%d/%s", seed, exampleID)
	return int64(h.Sum64() >> 1)
}

// mcDropout runs the trunk once on view 0 and the dropout, pooling and classifier Samples times.
func (a *Adapter) mcDropout(v *tta.Views) ([][]float32, error) {
	x0, err := View(v.Images, 0)
	if err != nil {
		return nil, err
	}
	samples := a.opts.Samples
	if samples == 0 {
		samples = v.Images.Shape().Dimensions[0]
	}
	if a.mc == nil {
		a.mc, err = context.NewExec(a.backend, a.ctx, func(ctx *context.Context, x, rng, dummy *Node) *Node {
			return a.MCDropoutGraph(ctx, x, rng, dummy.Shape().Dimensions[0])
		})
		if err != nil {
			return nil, err
		}
	}
	rng, err := RNGStateFromSeed(DropoutSeed(v.Seed, v.ExampleID))
	if err != nil {
		return nil, err
	}
	// The number of samples reaches the graph as the shape of a dummy input, so one executable serves each count.
	outs, err := a.mc.Exec(x0, rng, make([]int8, samples))
	if err != nil {
		return nil, err
	}
	return outs[0].Value().([][]float32), nil
}

// MCDropoutGraph is the seed project's MC-dropout forward with the trunk run once: x [1, H, W, 3] is one image,
// rngState the graph.RNGStateShape state of the dropout masks; it returns the logits [samples, classes] of samples
// independent dropout masks (drop probability Options.Dropout, survivors scaled by 1/(1-p), as nn.Dropout in train
// mode) applied to the last stage's output [1, h, w, features] before global average pooling and the classifier.
// The batch-norm prior is Options.Prior (batch statistics of the one image).
func (a *Adapter) MCDropoutGraph(ctx *context.Context, x, rngState *Node, samples int) *Node {
	if x.Rank() != 4 || x.Shape().Dimensions[0] != 1 {
		panicf("memo.MCDropoutGraph: x must be one image [1, H, W, 3], got %s", x.Shape())
	}
	p := a.opts.Dropout
	y := FeatureMap(ctx, a.model, x, a.opts.Prior) // [1, h, w, F]
	d := y.Shape().Dimensions
	_, u := RandomUniform(rngState, shapes.Make(dtypes.Float32, samples, d[1], d[2], d[3])) // [S, h, w, F]
	keep := ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), dtypes.Float32)
	y = Mul(BroadcastToDims(y, samples, d[1], d[2], d[3]), MulScalar(keep, 1/(1-p))) // [S, h, w, F]
	return Classifier(ctx, a.model, nn.GlobalAvgPool(y), a.opts.ClassSubset)         // [S, C]
}

// Classifier is the model's fc layer on pooled features f [n, FeatureDim] -> [n, classes] (or [n, len(subset)]).
func Classifier(ctx *context.Context, m *resnet.Model, f *Node, subset []int) *Node {
	fc := ctx.Reuse().In("fc")
	g := f.Graph()
	w := fc.VariableWithShape("weight", shapes.Make(dtypes.Float32, m.Config.FeatureDim(), m.Config.NumClasses)).
		ValueGraph(g) // [F, classes]
	b := fc.VariableWithShape("bias", shapes.Make(dtypes.Float32, m.Config.NumClasses)).ValueGraph(g) // [classes]
	if len(subset) > 0 {
		idx := make([]int32, len(subset))
		for i, c := range subset {
			idx[i] = int32(c)
		}
		ix := Reshape(Const(g, idx), len(idx), 1)           // [k, 1]
		w = Transpose(Gather(Transpose(w, 0, 1), ix), 0, 1) // [F, k]
		b = Gather(b, ix)                                   // [k]
	}
	return Add(nn.MatMul(f, w), ExpandDims(b, 0))
}

// FeatureMap is the ResNet trunk up to the last stage's output, before pooling: x [n, H, W, 3] -> [n, H/32, W/32,
// FeatureDim], with batch-norm prior p. It reads the same variables as resnet.Model.Logits and computes the same
// function (Features = GlobalAvgPool(FeatureMap); a test checks it).
//
// TODO: use a resnet.Model.FeatureMap when tta/resnet exports one (this mirrors Model.Features).
func FeatureMap(ctx *context.Context, m *resnet.Model, x *Node, prior float64) *Node {
	c := m.Config
	ctx = ctx.Reuse()
	y := convBN(ctx.In("conv1"), ctx.In("bn1"), x, c.StemWidth, 7, 2, 3, 1, prior) // [n, H/2, W/2, stem]
	y = nn.MaxPool2D(activations.Relu(y), 3, 2, 1)                                 // [n, H/4, W/4, stem]
	in := c.StemWidth
	for s := range resnet.NumStages {
		out := c.Planes[s] * c.Block.Expansion()
		w := c.Widths[s]
		for b := range c.Layers[s] {
			bc := ctx.In(fmt.Sprintf("layer%d", s+1)).In(fmt.Sprint(b))
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			var z *Node
			switch c.Block {
			case resnet.Basic:
				z = activations.Relu(convBN(bc.In("conv1"), bc.In("bn1"), y, w, 3, stride, 1, 1, prior))
				z = convBN(bc.In("conv2"), bc.In("bn2"), z, out, 3, 1, 1, 1, prior)
			default:
				z = activations.Relu(convBN(bc.In("conv1"), bc.In("bn1"), y, w, 1, 1, 0, 1, prior))
				z = activations.Relu(convBN(bc.In("conv2"), bc.In("bn2"), z, w, 3, stride, 1, c.Groups, prior))
				z = convBN(bc.In("conv3"), bc.In("bn3"), z, out, 1, 1, 0, 1, prior)
			}
			identity := y
			if b == 0 && (s > 0 || in != out) {
				ds := bc.In("downsample")
				identity = convBN(ds.In("0"), ds.In("1"), y, out, 1, stride, 0, 1, prior)
			}
			y = activations.Relu(Add(z, identity)) // [n, h, w, out]
			in = out
		}
	}
	return y
}

// convBN is a bias-free convolution (kernel "weight" [k, k, in/groups, out] in convCtx) followed by batch norm
// (weight, bias, running_mean, running_var in bnCtx) with prior p.
func convBN(convCtx, bnCtx *context.Context, x *Node, out, k, stride, padding, groups int, prior float64) *Node {
	g := x.Graph()
	in := x.Shape().Dimensions[3]
	kernel := convCtx.VariableWithShape("weight", shapes.Make(dtypes.Float32, k, k, in/groups, out)).ValueGraph(g)
	y := nn.Conv2D(x, kernel, nn.ConvOpts{Stride: stride, Padding: padding, Groups: groups})
	v := func(name string) *Node {
		return bnCtx.VariableWithShape(name, shapes.Make(dtypes.Float32, out)).ValueGraph(g)
	}
	scale, offset, mean, variance := v("weight"), v("bias"), v("running_mean"), v("running_var")
	if prior == 1 {
		return nn.BatchNorm(y, scale, offset, mean, variance, resnet.BNEpsilon)
	}
	return nn.BatchNormPrior(y, scale, offset, mean, variance, prior, resnet.BNEpsilon)
}
