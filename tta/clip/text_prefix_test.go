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
