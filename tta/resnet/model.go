package resnet

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/pkg/errors"

	"github.com/gotta-ml/gotta/tta/nn"
)

// Model is a torchvision ResNet / ResNeXt whose variables live in a GoMLX context, under scopes named after the
// torchvision modules ("conv1", "bn1", "layer1/0/conv1", "layer1/0/downsample/1", "fc"), relative to the context
// given to Load or Init. Conv kernels are [kh, kw, in/groups, out], fc/weight is [in, classes], BN running
// statistics are non-trainable variables; every other variable is trainable (MEMO adapts them all).
type Model struct {
	// Config is the architecture.
	Config Config
	// Source is the checkpoint the weights came from ("" for random weights).
	Source string
	// DType is the dtype the convolutions run in: dtypes.Float32 (the default, also for the zero value) or
	// dtypes.BFloat16, in which the activations between layers are also kept. The variables, the batch-norm
	// statistics and normalisation, the pooling and the classifier stay float32 either way, and so do the logits.
	DType dtypes.DType
}

// computeDType is m.DType, float32 for the zero value; other dtypes panic (graph building).
func (m *Model) computeDType() dtypes.DType {
	switch m.DType {
	case dtypes.InvalidDType, dtypes.Float32:
		return dtypes.Float32
	case dtypes.BFloat16:
		return dtypes.BFloat16
	}
	panicf("resnet.Model: DType %s not supported (Float32 or BFloat16)", m.DType)
	return dtypes.InvalidDType
}

// ForwardOpts configures a forward pass. The zero value is plain inference (eval-mode BN, no dropout, all
// classes).
type ForwardOpts struct {
	// BNPrior is MEMO's batch-norm prior: every BN normalises with mean = p*running_mean + (1-p)*batch_mean and
	// var = p*running_var + (1-p)*unbiased_batch_var, the batch statistics taken over [batch, height, width] of the
	// forwarded batch. 1 is plain inference BN; the seed project's MEMO uses 0.94, the original MEMO N/(N+1) = 16/17.
	// 0 (the zero value) is read as 1; it must lie in (0, 1].
	BNPrior float64
	// Dropout is the probability of the seed project's MC-dropout, applied (with 1/(1-p) scaling, as nn.Dropout in
	// train mode) to the last stage's output before pooling. Default 0: off. When > 0 the mask is drawn from the
	// context's random state (context.Context.RandomUniform; seed it with ctx.SetRNGStateFromSeed), so every call
	// of an executable draws a new mask.
	Dropout float64
	// ClassSubset restricts the logits to these class indices, in this order (e.g. ImageNet-A's 200 of the 1000
	// ImageNet classes). Default nil: all classes.
	ClassSubset []int
}

func (o ForwardOpts) prior() float64 {
	if o.BNPrior == 0 {
		return 1
	}
	return o.BNPrior
}

// New returns a model of the given configuration without weights: call Init or use Load.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{Config: cfg}, nil
}

// Logits runs the network on preprocessed images x [batch, height, width, 3] (float32; ImageNet models expect
// 224x224, see Preprocess) and returns the classifier's logits [batch, classes], or [batch, len(ClassSubset)].
// The variables are read from ctx (the context given to Load or Init); they must exist.
func (m *Model) Logits(ctx *context.Context, x *Node, opts ForwardOpts) *Node {
	return m.Classifier(ctx, m.Features(ctx, x, opts), opts.ClassSubset) // [batch, classes or k]
}

// Classifier is the model's fc layer on pooled features f [n, FeatureDim] -> logits [n, classes], or
// [n, len(subset)] for a non-nil subset of class indices (in that order).
func (m *Model) Classifier(ctx *context.Context, f *Node, subset []int) *Node {
	if f.Rank() != 2 || f.Shape().Dimensions[1] != m.Config.FeatureDim() {
		panicf("resnet.Classifier: features must be [n, %d], got %s", m.Config.FeatureDim(), f.Shape())
	}
	fc := ctx.Reuse().In("fc")
	w := fc.VariableWithShape("weight", shapes.Make(dtypes.Float32, m.Config.FeatureDim(), m.Config.NumClasses))
	b := fc.VariableWithShape("bias", shapes.Make(dtypes.Float32, m.Config.NumClasses))
	g := f.Graph()
	wv, bv := w.ValueGraph(g), b.ValueGraph(g) // [featureDim, classes], [classes]
	if len(subset) > 0 {
		idx := make([]int32, len(subset))
		for i, c := range subset {
			if c < 0 || c >= m.Config.NumClasses {
				panicf("resnet.Classifier: ClassSubset[%d] = %d is outside [0, %d)", i, c, m.Config.NumClasses)
			}
			idx[i] = int32(c)
		}
		ix := Reshape(Const(g, idx), len(idx), 1)             // [k, 1]
		wv = Transpose(Gather(Transpose(wv, 0, 1), ix), 0, 1) // [featureDim, k]
		bv = Gather(bv, ix)                                   // [k]
	}
	return Add(MatMul(f, wv), ExpandDims(bv, 0)) // [n, classes or k]
}

// Features runs the network up to global average pooling: x [batch, height, width, 3] (float32) gives the pooled
// features [batch, FeatureDim] (2048 for ResNet-50), GlobalAvgPool of FeatureMap. ClassSubset is ignored.
func (m *Model) Features(ctx *context.Context, x *Node, opts ForwardOpts) *Node {
	return nn.GlobalAvgPool(m.FeatureMap(ctx, x, opts)) // [batch, featureDim]
}

// FeatureMap runs the trunk (stem and the four stages, in DType) and returns the last stage's output before pooling:
// x [batch, height, width, 3] (float32) -> float32 [batch, height/32, width/32, FeatureDim], with the batch-norm prior
// opts.BNPrior and, when opts.Dropout > 0, the MC-dropout applied to it. ClassSubset is ignored. MEMO's MC-dropout
// ensemble runs it once and draws its own masks on the result.
func (m *Model) FeatureMap(ctx *context.Context, x *Node, opts ForwardOpts) *Node {
	c := m.Config
	if x.Rank() != 4 || x.Shape().Dimensions[3] != 3 {
		panicf("resnet.FeatureMap: x must be [batch, height, width, 3], got %s", x.Shape())
	}
	if x.DType() != dtypes.Float32 {
		panicf("resnet.FeatureMap: x must be float32, got %s", x.Shape())
	}
	prior := opts.prior()
	if prior <= 0 || prior > 1 {
		panicf("resnet.FeatureMap: BNPrior %g is outside (0, 1]", opts.BNPrior)
	}
	if opts.Dropout < 0 || opts.Dropout >= 1 {
		panicf("resnet.FeatureMap: Dropout %g is outside [0, 1)", opts.Dropout)
	}
	ctx = ctx.Reuse()
	x = ConvertDType(x, m.computeDType())
	y := conv(ctx.In("conv1"), x, c.StemWidth, 7, 2, 3, 1)   // [batch, h/2, w/2, stem]
	y = activations.Relu(batchNorm(ctx.In("bn1"), y, prior)) // [batch, h/2, w/2, stem]
	y = nn.MaxPool2D(y, 3, 2, 1)                             // [batch, h/4, w/4, stem]
	for s := range NumStages {
		for b := range c.Layers[s] {
			y = m.block(ctx.In(fmt.Sprintf("layer%d", s+1)).In(fmt.Sprint(b)), y, s, b, prior)
		}
	}
	y = ConvertDType(y, dtypes.Float32) // [batch, h/32, w/32, featureDim]
	if opts.Dropout > 0 {
		u := ctx.RandomUniform(y.Graph(), y.Shape())
		y = Where(LessThan(u, Scalar(y.Graph(), dtypes.Float32, opts.Dropout)), ZerosLike(y),
			MulScalar(y, 1/(1-opts.Dropout)))
	}
	return y
}

// block is torchvision's BasicBlock or Bottleneck (v1.5: the stride is on the 3x3 convolution).
func (m *Model) block(ctx *context.Context, x *Node, s, b int, prior float64) *Node {
	c := m.Config
	stride := 1
	if s > 0 && b == 0 {
		stride = 2
	}
	out := c.Planes[s] * c.Block.Expansion()
	w := c.Widths[s]
	var y *Node
	switch c.Block {
	case Basic:
		y = conv(ctx.In("conv1"), x, w, 3, stride, 1, 1) // [batch, h/stride, w/stride, width]
		y = activations.Relu(batchNorm(ctx.In("bn1"), y, prior))
		y = conv(ctx.In("conv2"), y, out, 3, 1, 1, 1) // [batch, h/stride, w/stride, out]
		y = batchNorm(ctx.In("bn2"), y, prior)
	case Bottleneck:
		y = conv(ctx.In("conv1"), x, w, 1, 1, 0, 1) // [batch, h, w, width]
		y = activations.Relu(batchNorm(ctx.In("bn1"), y, prior))
		y = conv(ctx.In("conv2"), y, w, 3, stride, 1, c.Groups) // [batch, h/stride, w/stride, width]
		y = activations.Relu(batchNorm(ctx.In("bn2"), y, prior))
		y = conv(ctx.In("conv3"), y, out, 1, 1, 0, 1) // [batch, h/stride, w/stride, out]
		y = batchNorm(ctx.In("bn3"), y, prior)
	}
	identity := x
	if c.hasDownsample(s, b) {
		ds := ctx.In("downsample")
		identity = conv(ds.In("0"), x, out, 1, stride, 0, 1) // [batch, h/stride, w/stride, out]
		identity = batchNorm(ds.In("1"), identity, prior)
	}
	return activations.Relu(Add(y, identity))
}

// conv applies the bias-free convolution whose kernel [k, k, in/groups, out] is the variable "weight" of ctx
// (float32), in x's dtype.
func conv(ctx *context.Context, x *Node, out, k, stride, padding, groups int) *Node {
	in := x.Shape().Dimensions[3]
	kernel := ctx.VariableWithShape("weight", shapes.Make(dtypes.Float32, k, k, in/groups, out)).ValueGraph(x.Graph())
	return nn.Conv2D(x, ConvertDType(kernel, x.DType()), nn.ConvOpts{Stride: stride, Padding: padding, Groups: groups})
}

// batchNorm applies the BN whose variables weight, bias, running_mean, running_var [channels] are in ctx, with
// MEMO's prior (1 = plain inference BN). The statistics and the normalisation are float32; the result has x's dtype.
func batchNorm(ctx *context.Context, x *Node, prior float64) *Node {
	if dt := x.DType(); dt != dtypes.Float32 {
		return ConvertDType(batchNorm(ctx, ConvertDType(x, dtypes.Float32), prior), dt)
	}
	ch := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	v := func(name string) *Node {
		return ctx.VariableWithShape(name, shapes.Make(dtypes.Float32, ch)).ValueGraph(g)
	}
	scale, offset, mean, variance := v("weight"), v("bias"), v("running_mean"), v("running_var")
	if prior == 1 {
		return nn.BatchNorm(x, scale, offset, mean, variance, BNEpsilon)
	}
	return nn.BatchNormPrior(x, scale, offset, mean, variance, prior, BNEpsilon)
}

// panicf panics with an error carrying a stack trace, as GoMLX graph functions do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
