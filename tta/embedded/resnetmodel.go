package embedded

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/pkg/errors"

	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

// ResNetConfig is the embedded ResNet: torchvision's ResNet with BasicBlocks [1, 1, 1, 1], stem width 16, planes
// 16, 32, 48, 64, 10 classes, and torchvision's 7x7/2 stem and 3x3/2 max pool (so resnet.Load derives it from the
// shapes). On its ResNetInputSize (36x36) inputs the feature maps after the stem conv, the max pool and layer1..4
// are 18, 9, 9, 5, 3, 2 pixels wide (at 32x32 they would be 16, 8, 8, 4, 2, 1: too small for MEMO's single-image
// batch statistics in layer4). The widths are small because MNIST needs little and the report's MEMO rows run
// 64-view steps on the pure-Go backend.
func ResNetConfig() resnet.Config {
	return resnet.Config{Block: resnet.Basic, Layers: [4]int{1, 1, 1, 1}, Groups: 1, WidthPerGroup: 64,
		NumClasses: 10, StemWidth: 16, Planes: [4]int{16, 32, 48, 64}, Widths: [4]int{16, 32, 48, 64}}
}

// BNMomentum is the running-statistics momentum of training (torch's BatchNorm2d default 0.1):
// running = (1-m)*running + m*batch, the variance unbiased.
const BNMomentum = 0.1

// resnetTrainLogits is the embedded ResNet's forward pass in training mode: every batch norm normalises with the
// batch's statistics (biased variance, as torch in train mode) and updates its running_mean / running_var
// variables with BNMomentum. The variables are those of resnet.Model (same scopes), so resnet.Model.Logits runs the
// trained network in inference mode. x: [batch, 36, 36, 3] (ResNetInputSize) -> logits [batch, classes].
func resnetTrainLogits(ctx *context.Context, c resnet.Config, x *graph.Node) *graph.Node {
	if c.Block != resnet.Basic {
		panic(errors.Errorf("embedded.resnetTrainLogits: only BasicBlock networks, got %s", c))
	}
	ctx = ctx.Reuse()
	y := trainConv(ctx.In("conv1"), x, 2, 3)        // [batch, h/2, w/2, stem]
	y = activations.Relu(trainBN(ctx.In("bn1"), y)) // [batch, h/2, w/2, stem]
	y = nn.MaxPool2D(y, 3, 2, 1)                    // [batch, h/4, w/4, stem]
	in := c.StemWidth
	for s := range resnet.NumStages {
		for b := range c.Layers[s] {
			bc := ctx.In(fmt.Sprintf("layer%d", s+1)).In(fmt.Sprint(b))
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			out := c.Planes[s]
			z := activations.Relu(trainBN(bc.In("bn1"), trainConv(bc.In("conv1"), y, stride, 1))) // [batch, h', w', out]
			z = trainBN(bc.In("bn2"), trainConv(bc.In("conv2"), z, 1, 1))
			identity := y
			if b == 0 && (s > 0 || in != out) {
				ds := bc.In("downsample")
				identity = trainBN(ds.In("1"), trainConv(ds.In("0"), y, stride, 0)) // [batch, h', w', out]
			}
			y = activations.Relu(graph.Add(z, identity))
			in = out
		}
	}
	f := nn.GlobalAvgPool(y) // [batch, features]
	fc := ctx.In("fc")
	w := mustVar(fc, "weight").ValueGraph(x.Graph()) // [features, classes]
	bias := mustVar(fc, "bias").ValueGraph(x.Graph())
	return graph.Add(graph.MatMul(f, w), graph.ExpandDims(bias, 0)) // [batch, classes]
}

func mustVar(ctx *context.Context, name string) *context.Variable {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		panic(errors.Errorf("embedded: variable %s/%s missing (was the ResNet initialised in this context?)",
			ctx.Scope(), name))
	}
	return v
}

// trainConv is the bias-free convolution with ctx's weight [k, k, in, out].
func trainConv(ctx *context.Context, x *graph.Node, stride, padding int) *graph.Node {
	return nn.Conv2D(x, mustVar(ctx, "weight").ValueGraph(x.Graph()), nn.ConvOpts{Stride: stride, Padding: padding})
}

// trainBN is batch norm in training mode with the running-statistics update. x: [batch, h, w, c].
func trainBN(ctx *context.Context, x *graph.Node) *graph.Node {
	g := x.Graph()
	mean, uvar := nn.BatchStats(x) // [c], [c]
	count := float64(x.Shape().Size() / x.Shape().Dimensions[x.Rank()-1])
	biased := graph.MulScalar(uvar, (count-1)/count)
	rm, rv := mustVar(ctx, "running_mean"), mustVar(ctx, "running_var")
	rm.SetValueGraph(graph.Add(graph.MulScalar(rm.ValueGraph(g), 1-BNMomentum),
		graph.MulScalar(graph.StopGradient(mean), BNMomentum)))
	rv.SetValueGraph(graph.Add(graph.MulScalar(rv.ValueGraph(g), 1-BNMomentum),
		graph.MulScalar(graph.StopGradient(uvar), BNMomentum)))
	return nn.BatchNorm(x, mustVar(ctx, "weight").ValueGraph(g), mustVar(ctx, "bias").ValueGraph(g), mean, biased,
		resnet.BNEpsilon)
}

// SaveResNet writes the ResNet of configuration c whose variables are in ctx (resnet.Model's scopes) to a
// safetensors file with torchvision's state-dict names and layouts (conv OIHW, fc [out, in]), BN num_batches_tracked
// included (int64, the number of training steps), and metadata (architecture summary, preprocessing), so that
// resnet.Load reads it.
func SaveResNet(path string, ctx *context.Context, c resnet.Config, steps int64, extra map[string]string) error {
	var out []weights.RawTensor
	for _, t := range c.Tensors() {
		s := ctx
		for _, p := range strings.Split(t.Scope, "/") {
			s = s.In(p)
		}
		v := ctx.GetVariableByScopeAndName(s.Scope(), t.Var)
		if v == nil {
			return fmt.Errorf("embedded.SaveResNet %s: variable %s/%s (tensor %q) missing", path, s.Scope(), t.Var, t.Name)
		}
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("embedded.SaveResNet %s: tensor %q: %w", path, t.Name, err)
		}
		data := tensors.MustCopyFlatData[float32](val)
		vs := val.Shape().Dimensions
		switch t.Kind {
		case resnet.ConvKernel:
			data = hwioToOIHW(data, vs)
		case resnet.LinearWeight:
			data = transpose(data, vs[0], vs[1])
		}
		out = append(out, weights.RawTensor{Name: t.Name, DType: dtypes.Float32, Shape: t.Shape, Float32s: data})
		if t.Var == "running_var" {
			nbt := tensors.FromScalar(steps)
			out = append(out, weights.RawTensor{Name: t.Name[:len(t.Name)-len("running_var")] + "num_batches_tracked",
				DType: dtypes.Int64, Shape: nil, Data: int64LE(nbt)})
		}
	}
	md := map[string]string{"architecture": c.String(), "image_size": fmt.Sprint(ResNetInputSize),
		"image_mean": floats(ResNetMean), "image_std": floats(ResNetStd), "resize": "bicubic",
		"class_names": strings.Join(ClassNames(), ",")}
	for k, v := range extra {
		md[k] = v
	}
	if err := weights.WriteRaw(path, out, md); err != nil {
		return fmt.Errorf("embedded.SaveResNet: %w", err)
	}
	return nil
}

func int64LE(t *tensors.Tensor) []byte {
	v := tensors.MustCopyFlatData[int64](t)[0]
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(uint64(v) >> (8 * i))
	}
	return b
}
