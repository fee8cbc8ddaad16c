package tpt

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/nn"
)

// The seed project's "TPT + alignment" (reference/seed-project.md 2.7): before the TPT step, AlignSteps
// AdamW steps (lr AlignLR, weight decay 0.01) on every image-tower parameter except the attention pool minimise
// 1 - mean(cos(f_i, f_j)) over the full k x k matrix of the selected views' features, with BatchNorm in training
// mode (batch statistics, running statistics updated with momentum 0.1 at every forward, including one extra
// forward after the last step); then the image features of all views are recomputed (BatchNorm in inference form
// with the updated running statistics) and TPT runs with the selection made before alignment. Reset restores the
// image tower (weights and running statistics) and the alignment optimizer. Options.AlignSteps turns it on.

// bnMomentum is torch's BatchNorm momentum (running = (1-m) running + m batch).
const bnMomentum = 0.1

// alignState holds the alignment's executables, variables and optimizer.
type alignState struct {
	params []*context.Variable // trained: visual, not attnpool, not running statistics
	opt    *tta.AdamW
	snap   *tta.Snapshot
	step   *context.Exec // selected views [k, R, R, 3] -> loss; updates params, running stats, optimizer state
	extra  *context.Exec // selected views -> loss; updates running stats only
}

// visualVars lists the variables of m's image tower (scope <m.Scope>/visual).
func visualVars(m *clip.Model) []*context.Variable {
	prefix := m.Scope + "/visual"
	var out []*context.Variable
	m.Ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Scope() == prefix || strings.HasPrefix(v.Scope(), prefix+"/") {
			out = append(out, v)
		}
	})
	return out
}

func (a *Adapter) buildAlign() error {
	m := a.model
	if m.DType != dtypes.Float32 {
		return fmt.Errorf("tpt: alignment needs a float32 model (the seed calls clip.float(); fp16 gave NaN gradients), got %s", m.DType)
	}
	all := visualVars(m)
	s := &alignState{opt: &tta.AdamW{LR: a.opts.AlignLR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}}
	for _, v := range all {
		if strings.Contains(v.Scope(), "attnpool") || v.Name() == "running_mean" || v.Name() == "running_var" {
			continue
		}
		s.params = append(s.params, v)
	}
	var err error
	if s.snap, err = tta.TakeSnapshot(all...); err != nil {
		return err
	}
	s.step, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		g := views.Graph()
		loss := alignLoss(a.trainForward(ctx, views))
		nodes := make([]*Node, len(s.params))
		for i, v := range s.params {
			nodes[i] = v.ValueGraph(g)
		}
		s.opt.Step(ctx, s.params, Gradient(loss, nodes...))
		return loss
	})
	if err != nil {
		return fmt.Errorf("tpt: alignment: %w", err)
	}
	s.extra, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		return StopGradient(alignLoss(a.trainForward(ctx, views)))
	})
	if err != nil {
		return fmt.Errorf("tpt: alignment: %w", err)
	}
	a.align = s
	return nil
}

// alignLoss is 1 - mean(F F^T) for features [k, E] normalised per row -> scalar.
func alignLoss(f *Node) *Node {
	f = clip.Normalize(f)
	sim := Einsum("ie,je->ij", f, f) // [k, k]
	return OneMinus(ReduceAllMean(sim))
}

// trainForward is the image tower in training mode: [k, R, R, 3] -> features [k, E]. For the ModifiedResNet,
// BatchNorm uses the batch statistics and updates the running statistics; the ViT has no BatchNorm.
func (a *Adapter) trainForward(ctx *context.Context, x *Node) *Node {
	m := a.model
	if m.Config.Vision != clip.ResNet {
		return m.EncodeImage(ctx, x)
	}
	c := ctx.InAbsPath(m.Scope).In("visual")
	x = activations.Relu(a.convBNTrain(c, "conv1", "bn1", x, 2, 1)) // [k, R/2, R/2, width/2]
	x = activations.Relu(a.convBNTrain(c, "conv2", "bn2", x, 1, 1))
	x = activations.Relu(a.convBNTrain(c, "conv3", "bn3", x, 1, 1)) // [k, R/2, R/2, width]
	x = nn.AvgPool2D(x, 2, 2, 0)                                    // [k, R/4, R/4, width]
	inplanes := m.Config.VisionWidth
	for stage := 0; stage < 4; stage++ {
		planes := m.Config.VisionWidth << stage
		stride := 1
		if stage > 0 {
			stride = 2
		}
		for b := 0; b < m.Config.VisionLayers[stage]; b++ {
			st := 1
			if b == 0 {
				st = stride
			}
			down := b == 0 && (stride > 1 || inplanes != 4*planes)
			x = a.bottleneckTrain(c.Inf("layer%d", stage+1).Inf("%d", b), x, st, down)
			inplanes = 4 * planes
		}
	} // [k, R/32, R/32, 32*width]
	return attentionPool(c.In("attnpool"), x, m.Config.VisionHeads)
}

func variable(ctx *context.Context, name string) *context.Variable {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		panic(fmt.Errorf("tpt: variable %s/%s missing", ctx.Scope(), name))
	}
	return v
}

// batchNormTrain is torch's BatchNorm2d in training mode: normalise with the batch mean and biased variance over
// (N, H, W), and update the running statistics (unbiased variance) with momentum 0.1. x: [N, H, W, C].
func batchNormTrain(ctx *context.Context, x *Node) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	count := x.Shape().Size() / c
	flat := Reshape(x, count, c)                           // [count, C]
	mean := ReduceAndKeep(flat, ReduceMean, 0)             // [1, C]
	d := Sub(flat, mean)                                   // [count, C]
	variance := ReduceAndKeep(Square(d), ReduceMean, 0)    // [1, C], biased
	y := Div(d, Sqrt(AddScalar(variance, 1e-5)))           // Div by Sqrt: Rsqrt has no gradient in v0.26.0
	w, b := variable(ctx, "weight"), variable(ctx, "bias") // [C]
	y = Add(Mul(y, Reshape(w.ValueGraph(g), 1, c)), Reshape(b.ValueGraph(g), 1, c))
	rm, rv := variable(ctx, "running_mean"), variable(ctx, "running_var")
	bm := StopGradient(Reshape(mean, c))
	bv := StopGradient(MulScalar(Reshape(variance, c), float64(count)/float64(count-1)))
	rm.SetValueGraph(Add(MulScalar(rm.ValueGraph(g), 1-bnMomentum), MulScalar(bm, bnMomentum)))
	rv.SetValueGraph(Add(MulScalar(rv.ValueGraph(g), 1-bnMomentum), MulScalar(bv, bnMomentum)))
	return Reshape(y, x.Shape().Dimensions...)
}

func (a *Adapter) convBNTrain(ctx *context.Context, convName, bnName string, x *Node, stride, padding int) *Node {
	w := variable(ctx.In(convName), "weight").ValueGraph(x.Graph())
	return batchNormTrain(ctx.In(bnName), nn.Conv2D(x, w, nn.ConvOpts{Stride: stride, Padding: padding}))
}

// bottleneckTrain is OpenAI's Bottleneck with training-mode BatchNorm.
func (a *Adapter) bottleneckTrain(ctx *context.Context, x *Node, stride int, downsample bool) *Node {
	out := activations.Relu(a.convBNTrain(ctx, "conv1", "bn1", x, 1, 0))
	out = activations.Relu(a.convBNTrain(ctx, "conv2", "bn2", out, 1, 1))
	if stride > 1 {
		out = nn.AvgPool2D(out, stride, stride, 0)
	}
	out = a.convBNTrain(ctx, "conv3", "bn3", out, 1, 0)
	identity := x
	if downsample {
		if stride > 1 {
			identity = nn.AvgPool2D(identity, stride, stride, 0)
		}
		ds := ctx.In("downsample")
		identity = a.convBNTrain(ds, "0", "1", identity, 1, 0)
	}
	return activations.Relu(Add(out, identity))
}

// attentionPool is OpenAI's AttentionPool2d (the mean token queries [mean, HW tokens] + positional embedding),
// x: [N, H, W, C] -> [N, outDim], with the q/k/v/out variables of ctx as tta/clip loads them.
func attentionPool(ctx *context.Context, x *Node, heads int) *Node {
	g := x.Graph()
	n, h, w, c := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2], x.Shape().Dimensions[3]
	p := func(name string) *Node { return variable(ctx, name).ValueGraph(g) }
	tokens := Reshape(x, n, h*w, c)              // [N, HW, C]
	mean := ReduceAndKeep(tokens, ReduceMean, 1) // [N, 1, C]
	kv := Concatenate([]*Node{mean, tokens}, 1)  // [N, HW+1, C]
	kv = Add(kv, Reshape(p("positional_embedding"), 1, h*w+1, c))
	q := Reshape(nn.SliceAxis(kv, 1, 0, 1), n, c) // [N, C]: mean token + its position
	hd := c / heads
	lin := func(x *Node, wName, bName string) *Node {
		wt := p(wName)
		rows := x.Shape().Size() / x.Shape().Dimensions[x.Rank()-1]
		out := Add(Dot(Reshape(x, rows, x.Shape().Dimensions[x.Rank()-1]), wt), Reshape(p(bName), 1, wt.Shape().Dimensions[1]))
		return out
	}
	qq := Reshape(MulScalar(lin(q, "q_weight", "q_bias"), 1/math.Sqrt(float64(hd))), n, heads, hd) // [N, heads, hd]
	kk := Reshape(lin(kv, "k_weight", "k_bias"), n, h*w+1, heads, hd)                              // [N, L, heads, hd]
	vv := Reshape(lin(kv, "v_weight", "v_bias"), n, h*w+1, heads, hd)
	att := Softmax(Einsum("nhd,nlhd->nhl", qq, kk), -1) // [N, heads, L]
	o := Reshape(Einsum("nhl,nlhd->nhd", att, vv), n, c)
	return lin(o, "out_weight", "out_bias") // [N, outDim]
}

// runAlign runs the alignment on the selected views of images [N, R, R, 3] and zeroes the shared AdamW step
// counter afterwards, so TPT's AdamW starts its bias correction at step 1.
func (a *Adapter) runAlign(images *tensors.Tensor, sel []int) ([]float64, error) {
	d := images.Shape().Dimensions
	per := d[1] * d[2] * d[3]
	flat := tensors.MustCopyFlatData[float32](images)
	picked := make([]float32, 0, len(sel)*per)
	for _, i := range sel {
		picked = append(picked, flat[i*per:(i+1)*per]...)
	}
	views := tensors.FromFlatDataAndDimensions(picked, len(sel), d[1], d[2], d[3])
	var losses []float64
	for i := 0; i < a.opts.AlignSteps; i++ {
		out, err := a.align.step.Exec(views)
		if err != nil {
			return nil, fmt.Errorf("tpt: alignment step %d: %w", i, err)
		}
		losses = append(losses, float64(tensors.MustCopyFlatData[float32](out[0])[0]))
	}
	if _, err := a.align.extra.Exec(views); err != nil {
		return nil, fmt.Errorf("tpt: alignment's extra forward: %w", err)
	}
	return losses, nil
}

// resetAlign restores the image tower and the alignment optimizer.
func (a *Adapter) resetAlign() error {
	if err := a.align.snap.Restore(); err != nil {
		return err
	}
	return a.align.opt.Reset()
}
