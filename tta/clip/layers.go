package clip

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/pkg/errors"
)

// Node is GoMLX's graph node.
type Node = graph.Node

// layerNormEps is torch.nn.LayerNorm's default epsilon, which CLIP uses everywhere.
const layerNormEps = 1e-5

// param returns the value of the variable `name` in ctx's scope; it panics naming the variable when it is missing
// (the weights were not loaded into this context, or the scope is wrong).
func param(ctx *context.Context, g *graph.Graph, name string) *Node {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		panicf("clip: variable %s/%s missing from the context (was the model loaded into it?)", ctx.Scope(), name)
	}
	return v.ValueGraph(g)
}

// toRank reshapes a vector [n] to [1, ..., 1, n] of the given rank, for broadcasting along the last axis.
func toRank(v *Node, rank int) *Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Dimensions[0]
	return graph.Reshape(v, dims...)
}

// layerNorm normalises over the last axis (torch LayerNorm, eps 1e-5) with the variables weight and bias of ctx;
// x: [..., width] -> [..., width]. Statistics are computed in float32 as CLIP's fp16-safe LayerNorm does.
func layerNorm(ctx *context.Context, x *Node) *Node {
	g := x.Graph()
	dt := x.DType()
	xf := x
	if dt != f32 {
		xf = graph.ConvertDType(x, f32)
	}
	rank := x.Rank()
	mean := graph.ReduceAndKeep(xf, graph.ReduceMean, -1)
	xc := graph.Sub(xf, mean)
	variance := graph.ReduceAndKeep(graph.Square(xc), graph.ReduceMean, -1)
	// Div by Sqrt, not Rsqrt: Rsqrt has no gradient in GoMLX v0.26.0.
	y := graph.Div(xc, graph.Sqrt(graph.AddScalar(variance, layerNormEps)))
	w := graph.ConvertDType(param(ctx, g, "weight"), y.DType())
	b := graph.ConvertDType(param(ctx, g, "bias"), y.DType())
	y = graph.Add(graph.Mul(y, toRank(w, rank)), toRank(b, rank))
	if y.DType() != dt {
		y = graph.ConvertDType(y, dt)
	}
	return y
}

// linear applies x @ weight + bias with the variables of ctx: weight [in, out], bias [out] (bias optional:
// pass hasBias=false); x: [..., in] -> [..., out].
func linear(im ops, ctx *context.Context, x *Node, hasBias bool) *Node {
	g := x.Graph()
	w := param(ctx, g, "weight")
	return linearWith(im, x, w, biasOrNil(ctx, g, hasBias))
}

func biasOrNil(ctx *context.Context, g *graph.Graph, hasBias bool) *Node {
	if !hasBias {
		return nil
	}
	return param(ctx, g, "bias")
}

// linearWith computes x @ w + b for x [..., in], w [in, out], b [out] or nil -> [..., out].
func linearWith(im ops, x, w, b *Node) *Node {
	in, out := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
	dims := x.Shape().Dimensions
	if dims[len(dims)-1] != in {
		panicf("clip.linear: input %s does not end in %d (weight %s)", x.Shape(), in, w.Shape())
	}
	rows := x.Shape().Size() / in
	y := im.MatMul(graph.Reshape(x, rows, in), w) // [rows, out]
	if b != nil {
		y = graph.Add(y, graph.Reshape(b, 1, out))
	}
	outDims := append(append([]int{}, dims[:len(dims)-1]...), out)
	return graph.Reshape(y, outDims...)
}

// quickGELU is CLIP's activation x * sigmoid(1.702 x).
func quickGELU(x *Node) *Node {
	return graph.Mul(x, graph.Sigmoid(graph.MulScalar(x, 1.702)))
}

// attention is multi-head scaled dot-product attention as torch's F.multi_head_attention_forward computes it,
// with the projections held as variables of ctx: q_weight/k_weight/v_weight [width, width] and q_bias/k_bias/
// v_bias [width] (in->out layout), out_weight [width, outDim], out_bias [outDim].
//
// query: [batch, lq, width]; kv: [batch, lk, width]; mask: additive [lq, lk] or nil -> [batch, lq, outDim].
func attention(im ops, ctx *context.Context, query, kv *Node, heads int, mask *Node) *Node {
	g := query.Graph()
	width := query.Shape().Dimensions[2]
	if heads <= 0 || width%heads != 0 {
		panicf("clip.attention: width %d is not divisible by %d heads", width, heads)
	}
	q := linearWith(im, query, param(ctx, g, "q_weight"), param(ctx, g, "q_bias"))
	k := linearWith(im, kv, param(ctx, g, "k_weight"), param(ctx, g, "k_bias"))
	v := linearWith(im, kv, param(ctx, g, "v_weight"), param(ctx, g, "v_bias"))
	return attentionCore(im, ctx, q, k, v, heads, mask)
}

// attentionCore is attention after the input projections: q [batch, lq, width], k and v [batch, lk, width],
// mask additive [lq, lk] or nil -> [batch, lq, outDim] through ctx's out_weight and out_bias.
func attentionCore(im ops, ctx *context.Context, q, k, v *Node, heads int, mask *Node) *Node {
	g := q.Graph()
	batch, lq, width := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2]
	lk := k.Shape().Dimensions[1]
	hd := width / heads
	q = graph.MulScalar(q, 1/math.Sqrt(float64(hd)))
	q = graph.Reshape(q, batch, lq, heads, hd) // [batch, lq, heads, head_dim]
	k = graph.Reshape(k, batch, lk, heads, hd) // [batch, lk, heads, head_dim]
	v = graph.Reshape(v, batch, lk, heads, hd) // [batch, lk, heads, head_dim]
	// tta/nn's DotGeneral: GoMLX's own DotGeneral gradient is a broadcast product (slow on pure Go, minutes of XLA
	// compile for the text tower's gradient).
	scores := im.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [batch, heads, lq, lk]
	if mask != nil {
		scores = graph.Add(scores, graph.Reshape(graph.ConvertDType(mask, scores.DType()), 1, 1, lq, lk))
	}
	p := graph.Softmax(scores, -1)
	o := im.DotGeneral(p, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}) // [batch, heads, lq, head_dim]
	o = graph.TransposeAllAxes(o, 0, 2, 1, 3)                              // [batch, lq, heads, head_dim]
	o = graph.Reshape(o, batch, lq, width)
	return linearWith(im, o, param(ctx, g, "out_weight"), param(ctx, g, "out_bias"))
}

// residualBlock is CLIP's ResidualAttentionBlock: x + attn(ln_1(x)), then + mlp(ln_2(x)) with QuickGELU.
// x: [batch, tokens, width] -> same; mask additive [tokens, tokens] or nil.
func residualBlock(im ops, ctx *context.Context, x *Node, heads int, mask *Node) *Node {
	h := layerNorm(ctx.In("ln_1"), x)
	x = graph.Add(x, attention(im, ctx.In("attn"), h, h, heads, mask))
	h = layerNorm(ctx.In("ln_2"), x)
	h = quickGELU(linear(im, ctx.In("mlp").In("c_fc"), h, true))
	h = linear(im, ctx.In("mlp").In("c_proj"), h, true)
	return graph.Add(x, h)
}

// transformer runs the resblocks of ctx's "resblocks" scope; x: [batch, tokens, width] -> same.
func transformer(im ops, ctx *context.Context, x *Node, layers, heads int, mask *Node) *Node {
	for i := 0; i < layers; i++ {
		x = residualBlock(im, ctx.In("resblocks").Inf("%d", i), x, heads, mask)
	}
	return x
}

// ops routes the graph's matrix products and its convolutions, pools and slices to tta/nn implementations.
type ops struct {
	// mm computes matrix products (DotGeneral, MatMul).
	mm nn.Impl
	// other computes convolutions, pools and slices.
	other nn.Impl
}

// ops returns the implementations the model's graphs use: see Model.Impl and Model.NativeMatMulGradient.
func (m *Model) ops() ops {
	o := ops{mm: nn.ImplPortable, other: m.Impl}
	if m.NativeMatMulGradient {
		o.mm = m.Impl
	}
	return o
}

func (o ops) MatMul(x, w *Node) *Node { return o.mm.MatMul(x, w) }

func (o ops) DotGeneral(lhs *Node, lc, lb []int, rhs *Node, rc, rb []int) *Node {
	return o.mm.DotGeneral(lhs, lc, lb, rhs, rc, rb)
}

func (o ops) Conv2D(x, kernel *Node, opts nn.ConvOpts) *Node { return o.other.Conv2D(x, kernel, opts) }

func (o ops) AvgPool2D(x *Node, window, stride, padding int) *Node {
	return o.other.AvgPool2D(x, window, stride, padding)
}

func (o ops) SliceAxis(x *Node, axis, start, end, stride int) *Node {
	return o.other.SliceAxis(x, axis, start, end, stride)
}

// panicf panics with an error carrying a stack trace (GoMLX's graph-building convention); the message names the
// function and the bad shape.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
