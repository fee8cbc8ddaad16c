package memo

import (
	"fmt"
	"hash/fnv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

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
	y := a.model.FeatureMap(ctx, x, resnet.ForwardOpts{BNPrior: a.opts.Prior}) // [1, h, w, F]
	d := y.Shape().Dimensions
	_, u := RandomUniform(rngState, shapes.Make(dtypes.Float32, samples, d[1], d[2], d[3])) // [S, h, w, F]
	keep := ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), dtypes.Float32)
	y = Mul(BroadcastToDims(y, samples, d[1], d[2], d[3]), MulScalar(keep, 1/(1-p))) // [S, h, w, F]
	return a.model.Classifier(ctx, nn.GlobalAvgPool(y), a.opts.ClassSubset)          // [S, C]
}
