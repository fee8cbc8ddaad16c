package clip

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"
)

// TestSharedPrefix checks EncodeTextSharedPrefix against EncodeTextEmbeddings on prompts that share their first P
// positions: the features, and the gradient of a loss with respect to the shared prefix's embeddings (the path TPT's
// context takes), on the RN and ViT fixtures.
func TestSharedPrefix(t *testing.T) {
	for _, ref := range []string{"tiny_rn", "tiny_vit"} {
		t.Run(ref, func(t *testing.T) {
			m, err := Load(td(ref+".safetensors"), LoadOpts{})
			require.NoError(t, err)
			const p, l = 5, 11
			// Three prompts: SOT + 4 shared tokens, then tails of different lengths, EOT, zero padding.
			sot, eot := int32(m.Config.VocabSize-2), int32(m.Config.VocabSize-1)
			shared := []int32{sot, 7, 11, 13, 17}
			tails := [][]int32{{21, 23, eot}, {29, 31, 37, 41, 43, eot}, {47, eot}}
			ids := make([]int32, 0, 3*l)
			eots := make([]int32, 3)
			for i, tail := range tails {
				row := append(append([]int32{}, shared...), tail...)
				eots[i] = int32(len(row) - 1)
				for len(row) < l {
					row = append(row, 0)
				}
				ids = append(ids, row...)
			}
			weightsOut := make([]float32, 3*m.Config.EmbedDim)
			for i := range weightsOut {
				weightsOut[i] = float32((i*7)%13-6) / 6
			}
			run := func(sharedPath bool) (feats, grad []float32) {
				out, err := context.ExecOnceN(be(), m.Ctx, func(ctx *context.Context, tok, eotN, wo *Node) []*Node {
					emb := m.TokenEmbedding(ctx, tok) // [3, L, W]
					// The prefix as its own node, [1, P, W], so both paths differentiate with respect to it.
					pre := graph.Slice(emb, graph.AxisElem(0), graph.AxisRange(0, p))
					rest := graph.Slice(emb, graph.AxisRange(), graph.AxisRange(p, l))
					var f *Node
					if sharedPath {
						f = m.EncodeTextSharedPrefix(ctx, pre, rest, eotN)
					} else {
						full := graph.Concatenate([]*Node{graph.BroadcastToDims(pre, 3, p, m.Config.TextWidth), rest}, 1)
						f = m.EncodeTextEmbeddings(ctx, full, eotN)
					}
					loss := graph.ReduceAllSum(graph.Mul(f, wo))
					return []*Node{f, graph.Gradient(loss, pre)[0]}
				}, tensors.FromFlatDataAndDimensions(ids, 3, l), eots,
					tensors.FromFlatDataAndDimensions(weightsOut, 3, m.Config.EmbedDim))
				require.NoError(t, err)
				return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			}
			wantF, wantG := run(false)
			gotF, gotG := run(true)
			assertClose(t, "shared-prefix text features", wantF, gotF, 1e-5, 1e-6)
			assertClose(t, "shared-prefix gradient", wantG, gotG, 1e-5, 1e-6)
			require.Greater(t, maxAbs(gotG), 1e-6, "the gradient reaches the prefix")
		})
	}
}

// TestSharedPrefixGroups checks EncodeTextSharedPrefix with two groups of three prompts, each group with its own
// prefix (TPT on a batch of examples), against EncodeTextEmbeddings on the six whole prompts: the features and the
// gradient with respect to both prefixes.
func TestSharedPrefixGroups(t *testing.T) {
	m, err := Load(td("tiny_vit.safetensors"), LoadOpts{})
	require.NoError(t, err)
	const p, l, g, per = 5, 11, 2, 3
	sot, eot := int32(m.Config.VocabSize-2), int32(m.Config.VocabSize-1)
	prefixes := [][]int32{{sot, 7, 11, 13, 17}, {sot, 19, 3, 5, 2}}
	tails := [][]int32{{21, 23, eot}, {29, 31, 37, 41, 43, eot}, {47, eot}}
	var ids, eots []int32
	for _, pre := range prefixes {
		for _, tail := range tails {
			row := append(append([]int32{}, pre...), tail...)
			eots = append(eots, int32(len(row)-1))
			for len(row) < l {
				row = append(row, 0)
			}
			ids = append(ids, row...)
		}
	}
	w := m.Config.TextWidth
	weightsOut := make([]float32, g*per*m.Config.EmbedDim)
	for i := range weightsOut {
		weightsOut[i] = float32((i*5)%11-5) / 5
	}
	run := func(sharedPath bool) (feats, grad []float32) {
		out, err := context.ExecOnceN(be(), m.Ctx, func(ctx *context.Context, tok, eotN, wo *Node) []*Node {
			emb := graph.Reshape(m.TokenEmbedding(ctx, tok), g, per, l, w) // [G, 3, L, W]
			pre := graph.Reshape(graph.Slice(emb, graph.AxisRange(), graph.AxisElem(0), graph.AxisRange(0, p)),
				g, p, w) // [G, P, W]
			rest := graph.Reshape(graph.Slice(emb, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(p, l)),
				g*per, l-p, w) // [G*3, L-P, W]
			var f *Node
			if sharedPath {
				f = m.EncodeTextSharedPrefix(ctx, pre, rest, eotN)
			} else {
				full := graph.Reshape(graph.BroadcastToDims(graph.Reshape(pre, g, 1, p, w), g, per, p, w), g*per, p, w)
				f = m.EncodeTextEmbeddings(ctx, graph.Concatenate([]*Node{full, rest}, 1), eotN)
			}
			loss := graph.ReduceAllSum(graph.Mul(f, wo))
			return []*Node{f, graph.Gradient(loss, pre)[0]}
		}, tensors.FromFlatDataAndDimensions(ids, g*per, l), eots,
			tensors.FromFlatDataAndDimensions(weightsOut, g*per, m.Config.EmbedDim))
		require.NoError(t, err)
		return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	}
	wantF, wantG := run(false)
	gotF, gotG := run(true)
	assertClose(t, "grouped shared-prefix text features", wantF, gotF, 1e-5, 1e-6)
	assertClose(t, "grouped shared-prefix gradient", wantG, gotG, 1e-5, 1e-6)
	half := len(gotG) / 2
	require.Greater(t, maxAbs(gotG[:half]), 1e-6, "the gradient reaches prefix 0")
	require.Greater(t, maxAbs(gotG[half:]), 1e-6, "the gradient reaches prefix 1")
	require.NotEqual(t, gotF[:len(gotF)/2], gotF[len(gotF)/2:], "the groups' prefixes differ")
}
