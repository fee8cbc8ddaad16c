// Package mcdropout is the seed project's MC-dropout on a torchvision ResNet: the trunk runs once on view 0,
// then dropout masks on the last stage's output, global average pooling and the classifier give one logit row per
// mask. Its Model gives those rows as "view logits" to the no-gradient view ensemble (tta/viewens), which averages
// the softmax of the confidence-selected samples; memo's spec reaches it as mode mc-dropout (presets seed-dropout
// and seed-dropout-topk).
//
// Usage:
//
//	m, err := mcdropout.New(b, ctx, resnetModel, mcdropout.Options{Samples: 8})
//	a := viewens.New("memo-mc-dropout", m, 1)
package mcdropout

import (
	"fmt"
	"hash/fnv"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// Options configure MC-dropout.
type Options struct {
	// Dropout is the drop probability; 0 means 0.5 (the seed project's).
	Dropout float64
	// Samples is the number of dropout samples (the seed project's 8 or 64); 0 means the number of views given.
	Samples int
	// Prior is the batch-norm prior of the trunk's forward (batch statistics of view 0 alone, unbiased over H x W,
	// when below 1); 0 means 1, plain inference batch norm (the seed's).
	Prior float64
	// ClassSubset restricts the logits to these classes, in this order; nil: all.
	ClassSubset []int
}

// WithDefaults returns o with every default filled in.
func (o Options) WithDefaults() Options {
	if o.Dropout == 0 {
		o.Dropout = 0.5
	}
	if o.Prior == 0 {
		o.Prior = 1
	}
	return o
}

// Model is MC-dropout's sampler: the logits of Samples dropout masks of view 0.
type Model struct {
	opts    Options
	backend backends.Backend
	ctx     *context.Context
	model   *resnet.Model
	exec    *context.Exec // view 0 [1,H,W,3], rng state, dummy [samples] -> logits [samples, C]
}

// New returns the sampler of model m, whose variables live in ctx.
func New(b backends.Backend, ctx *context.Context, m *resnet.Model, opts Options) (*Model, error) {
	opts = opts.WithDefaults()
	if opts.Dropout < 0 || opts.Dropout >= 1 || opts.Samples < 0 || opts.Prior <= 0 || opts.Prior > 1 {
		return nil, fmt.Errorf("mcdropout: Dropout %g must lie in [0, 1), Samples %d not be negative, Prior %g lie "+
			"in (0, 1]", opts.Dropout, opts.Samples, opts.Prior)
	}
	return &Model{opts: opts, backend: b, ctx: ctx, model: m}, nil
}

// Options returns the effective options.
func (s *Model) Options() Options { return s.opts }

// Config implements viewens.Model: the dropout, the number of samples and the prior.
func (s *Model) Config() map[string]any {
	return map[string]any{"dropout": s.opts.Dropout, "samples": s.opts.Samples, "bn_prior": s.opts.Prior}
}

// Seed is the seed of the dropout masks of one example, derived from the run's seed and the example's id
// (FNV-1a), so the masks do not depend on the order, batching or sharding of the examples.
func Seed(seed int64, exampleID string) int64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "memo-dropout/%d/%s", seed, exampleID)
	return int64(h.Sum64() >> 1)
}

// ViewLogitsHost implements viewens.Model: the logits [samples][C] of the dropout samples of view 0 of v.Images
// [N, H, W, 3]; samples is Options.Samples, or N when 0.
func (s *Model) ViewLogitsHost(v *tta.Views) ([][]float32, error) {
	if v == nil || v.Images == nil || v.Images.Rank() != 4 || v.N() < 1 {
		return nil, fmt.Errorf("mcdropout: need views [N >= 1, H, W, 3]")
	}
	x0, err := tta.PickViews(v.Images, []int{0})
	if err != nil {
		return nil, fmt.Errorf("mcdropout: example %q: %w", v.ExampleID, err)
	}
	samples := s.opts.Samples
	if samples == 0 {
		samples = v.N()
	}
	if s.exec == nil {
		s.exec, err = context.NewExec(s.backend, s.ctx, func(ctx *context.Context, x, rng, dummy *Node) *Node {
			return s.Graph(ctx, x, rng, dummy.Shape().Dimensions[0])
		})
		if err != nil {
			return nil, fmt.Errorf("mcdropout: %w", err)
		}
	}
	rng, err := RNGStateFromSeed(Seed(v.Seed, v.ExampleID))
	if err != nil {
		return nil, fmt.Errorf("mcdropout: example %q: %w", v.ExampleID, err)
	}
	// The number of samples reaches the graph as the shape of a dummy input, so one executable serves each count.
	outs, err := s.exec.Exec(x0, rng, make([]int8, samples))
	if err != nil {
		return nil, fmt.Errorf("mcdropout: example %q: %w", v.ExampleID, err)
	}
	return outs[0].Value().([][]float32), nil
}

// Graph is the MC-dropout forward with the trunk run once: x [1, H, W, 3] is one image, rngState the
// graph.RNGStateShape state of the masks; it returns the logits [samples, classes] of samples independent dropout
// masks (drop probability Options.Dropout, survivors scaled by 1/(1-p), as nn.Dropout in train mode) applied to
// the last stage's output [1, h, w, features] before global average pooling and the classifier.
func (s *Model) Graph(ctx *context.Context, x, rngState *Node, samples int) *Node {
	if x.Rank() != 4 || x.Shape().Dimensions[0] != 1 {
		panic(errors.Errorf("mcdropout.Graph: x must be one image [1, H, W, 3], got %s", x.Shape()))
	}
	p := s.opts.Dropout
	y := s.model.FeatureMap(ctx, x, resnet.ForwardOpts{BNPrior: s.opts.Prior}) // [1, h, w, F]
	d := y.Shape().Dimensions
	_, u := RandomUniform(rngState, shapes.Make(dtypes.Float32, samples, d[1], d[2], d[3])) // [S, h, w, F]
	keep := ConvertDType(GreaterOrEqual(u, Scalar(x.Graph(), dtypes.Float32, p)), dtypes.Float32)
	y = Mul(BroadcastToDims(y, samples, d[1], d[2], d[3]), MulScalar(keep, 1/(1-p))) // [S, h, w, F]
	return s.model.Classifier(ctx, nn.GlobalAvgPool(y), s.opts.ClassSubset)          // [S, C]
}
