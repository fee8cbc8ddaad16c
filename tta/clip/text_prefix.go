package clip

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// EncodeTextSharedPrefix is EncodeTextEmbeddings for T prompts whose first P positions are the same for every
// prompt (TPT's start token and class-shared learned context): the prefix is run through the transformer once and
// its keys and values are shared by the T prompts' remaining positions. Under the causal mask a prefix position
// never sees a later one, so the result equals EncodeTextEmbeddings on the full prompts; only the order of a few
// float32 additions differs (none here: the same products are computed, just once).
//
// prefix [P, TextWidth] or [1, P, TextWidth] are the token embeddings of the shared positions 0..P-1; rest
// [T, R, TextWidth] are those of positions P..P+R-1 (P+R <= ContextLength); eotIndex [T] are the EOT positions,
// counted from the start of the prompt (each >= P) -> text features [T, EmbedDim], float32.
//
// Several groups of prompts, each with its own prefix (TPT on a batch of examples, each with its own context):
// prefix [G, P, TextWidth], and rest [T, R, TextWidth] with T a multiple of G, the prompts of group g being rows
// g*T/G .. (g+1)*T/G-1 of rest.
func (m *Model) EncodeTextSharedPrefix(ctx *context.Context, prefix, rest, eotIndex *Node) *Node {
	cfg, im := m.Config, m.ops()
	w := cfg.TextWidth
	if prefix.Rank() == 2 {
		prefix = graph.Reshape(prefix, 1, prefix.Shape().Dimensions[0], prefix.Shape().Dimensions[1])
	}
	if prefix.Rank() != 3 || prefix.Shape().Dimensions[2] != w {
		panicf("clip.EncodeTextSharedPrefix: prefix must be [P, %d] or [G, P, %d], got %s", w, w, prefix.Shape())
	}
	p := prefix.Shape().Dimensions[1]
	if rest.Rank() != 3 || rest.Shape().Dimensions[2] != w || p+rest.Shape().Dimensions[1] > cfg.ContextLength {
		panicf("clip.EncodeTextSharedPrefix: rest must be [T, R, %d] with P+R <= %d (P=%d), got %s", w,
			cfg.ContextLength, p, rest.Shape())
	}
	t, r := rest.Shape().Dimensions[0], rest.Shape().Dimensions[1]
	if groups := prefix.Shape().Dimensions[0]; groups < 1 || t%groups != 0 {
		panicf("clip.EncodeTextSharedPrefix: %d prompts (rest %s) do not split into %d groups (prefix %s)", t,
			rest.Shape(), groups, prefix.Shape())
	}
	if eotIndex.Rank() != 1 || eotIndex.Shape().Dimensions[0] != t || !eotIndex.DType().IsInt() {
		panicf("clip.EncodeTextSharedPrefix: eotIndex must be integer [%d], got %s", t, eotIndex.Shape())
	}
	c := m.root(ctx)
	g := prefix.Graph()
	pos := graph.ConvertDType(param(c, g, "positional_embedding"), m.DType) // [ContextLength, width]
	xp := graph.Add(graph.ConvertDType(prefix, m.DType),
		graph.Reshape(im.SliceAxis(pos, 0, 0, p, 1), 1, p, w)) // [G, P, width]
	xr := graph.Add(graph.ConvertDType(rest, m.DType),
		graph.Reshape(im.SliceAxis(pos, 0, p, p+r, 1), 1, r, w)) // [T, R, width]
	maskP := causalMask(g, p, m.DType)
	maskR := offsetCausalMask(g, r, p, m.DType)
	tc := c.In("transformer")
	for i := 0; i < cfg.TextLayers; i++ {
		xp, xr = sharedPrefixBlock(im, tc.In("resblocks").Inf("%d", i), xp, xr, cfg.TextHeads, maskP, maskR)
	}
	xr = layerNorm(c.In("ln_final"), xr) // [T, R, width]
	rel := graph.Sub(eotIndex, graph.Scalar(g, eotIndex.DType(), p))
	sel := graph.OneHot(rel, r, xr.DType())                             // [T, R]
	x := im.DotGeneral(sel, []int{1}, []int{0}, xr, []int{1}, []int{0}) // [T, width]
	x = im.MatMul(x, param(c, g, "text_projection"))                    // [T, EmbedDim]
	return graph.ConvertDType(x, f32)
}

// sharedPrefixBlock is residualBlock on the two streams: the prefixes xp [G, P, width] attend causally to
// themselves; the rest xr [T, R, width] attends to its group's prefix (all of it; rows g*T/G .. (g+1)*T/G-1 are
// group g) and causally to itself. Returns the new streams.
func sharedPrefixBlock(im ops, ctx *context.Context, xp, xr *Node, heads int, maskP, maskR *Node) (*Node, *Node) {
	g := xp.Graph()
	t, p, w := xr.Shape().Dimensions[0], xp.Shape().Dimensions[1], xp.Shape().Dimensions[2]
	groups := xp.Shape().Dimensions[0]
	actx := ctx.In("attn")
	hp := layerNorm(ctx.In("ln_1"), xp)
	hr := layerNorm(ctx.In("ln_1"), xr)
	qw, qb := param(actx, g, "q_weight"), param(actx, g, "q_bias")
	kw, kb := param(actx, g, "k_weight"), param(actx, g, "k_bias")
	vw, vb := param(actx, g, "v_weight"), param(actx, g, "v_bias")
	kp, vp := linearWith(im, hp, kw, kb), linearWith(im, hp, vw, vb) // [G, P, width]
	ap := attentionCore(im, actx, linearWith(im, hp, qw, qb), kp, vp, heads, maskP)
	perGroup := func(x *Node) *Node { // [G, P, width] -> [T, P, width], group g's rows repeated T/G times
		if groups == 1 {
			return graph.BroadcastToDims(x, t, p, w)
		}
		x = graph.BroadcastToDims(graph.Reshape(x, groups, 1, p, w), groups, t/groups, p, w) // [G, T/G, P, width]
		return graph.Reshape(x, t, p, w)
	}
	kpT := perGroup(kp)                                                             // [T, P, width]
	vpT := perGroup(vp)                                                             // [T, P, width]
	kr := graph.Concatenate([]*Node{kpT, linearWith(im, hr, kw, kb)}, 1)            // [T, P+R, width]
	vr := graph.Concatenate([]*Node{vpT, linearWith(im, hr, vw, vb)}, 1)            // [T, P+R, width]
	ar := attentionCore(im, actx, linearWith(im, hr, qw, qb), kr, vr, heads, maskR) // [T, R, width]
	xp, xr = graph.Add(xp, ap), graph.Add(xr, ar)
	mlp := func(x *Node) *Node {
		h := layerNorm(ctx.In("ln_2"), x)
		h = quickGELU(linear(im, ctx.In("mlp").In("c_fc"), h, true))
		return graph.Add(x, linear(im, ctx.In("mlp").In("c_proj"), h, true))
	}
	return mlp(xp), mlp(xr)
}

// offsetCausalMask is the additive mask [R, P+R] of positions P..P+R-1 over positions 0..P+R-1: 0 where the key
// position is at or before the query's, -inf after it.
func offsetCausalMask(g *graph.Graph, r, p int, dt dtypes.DType) *Node {
	mask := make([][]float32, r)
	for i := range mask {
		mask[i] = make([]float32, p+r)
		for j := p + i + 1; j < p+r; j++ {
			mask[i][j] = float32(math.Inf(-1))
		}
	}
	return graph.ConvertDType(graph.Const(g, mask), dt)
}
