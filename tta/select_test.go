package tta

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/stretchr/testify/require"
)

// TestConfidenceSelectGraph checks the in-graph selection against the host's ConfidenceSelectHost (sort.SliceStable on
// the entropies): the same views in the same order, ties included, and a selection matrix that picks them.
func TestConfidenceSelectGraph(t *testing.T) {
	b := backend.MustNew()
	r := rand.New(rand.NewPCG(3, 4))
	for trial, n := range []int{1, 2, 7, 64, 64, 65} {
		ent := make([]float32, n)
		for i := range ent {
			ent[i] = float32(r.IntN(9)) / 4 // few distinct values: many ties
			if trial == 4 {
				ent[i] = r.Float32()
			}
		}
		for _, rho := range []float64{0.1, 0.3, 1} {
			k := SelectCount(n, rho)
			e64 := make([]float64, n)
			for i, v := range ent {
				e64[i] = float64(v)
			}
			want := ConfidenceSelectHost(e64, rho)
			out := MustExecOnceN(b, func(e *Node) []*Node {
				sel, idx := ConfidenceSelect(e, k)
				return []*Node{sel, idx, Dot(sel, e)}
			}, ent)
			got := tensors.MustCopyFlatData[int32](out[1])
			require.Len(t, got, k)
			for r, i := range want {
				require.Equal(t, int32(i), got[r], "n %d rho %g rank %d (entropies %v)", n, rho, r, ent)
			}
			picked := tensors.MustCopyFlatData[float32](out[2])
			for r, i := range want {
				require.Equal(t, ent[i], picked[r], "the selection matrix picks view %d at rank %d", i, r)
			}
		}
	}
}

// TestTextFeatureDispersion checks ATFD against a hand computation: features (1,0), (-1,0), (0,3) have centroid
// (0,1) and distances sqrt(2), sqrt(2), 2.
func TestTextFeatureDispersion(t *testing.T) {
	out := MustExecOnce(backend.MustNew(), TextFeatureDispersion, [][]float64{{1, 0}, {-1, 0}, {0, 3}})
	require.InDelta(t, (2*1.4142135623730951+2)/3, out.Value().(float64), 1e-12)
}

// TestBatchedSelectAndEntropy: the per-example forms of ConfidenceSelect ([batch, N]), MarginalEntropy and
// TextFeatureDispersion ([batch, ...]) equal the single-example forms on each example.
func TestBatchedSelectAndEntropy(t *testing.T) {
	b := backend.MustNew()
	r := rand.New(rand.NewPCG(5, 6))
	const batch, n, c, k = 3, 9, 5, 3
	ent := make([][]float32, batch)
	logits := make([][][]float32, batch)
	for i := range ent {
		ent[i] = make([]float32, n)
		logits[i] = make([][]float32, n)
		for j := range ent[i] {
			ent[i][j] = float32(r.IntN(4)) // ties
			logits[i][j] = make([]float32, c)
			for x := range logits[i][j] {
				logits[i][j][x] = r.Float32()*8 - 4
			}
		}
	}
	out := MustExecOnceN(b, func(e, l *Node) []*Node {
		_, idx := ConfidenceSelect(e, k)
		return []*Node{idx, MarginalEntropy(l), TextFeatureDispersion(l)}
	}, ent, logits)
	idx := tensors.MustCopyFlatData[int32](out[0])
	me := tensors.MustCopyFlatData[float32](out[1])
	disp := tensors.MustCopyFlatData[float32](out[2])
	require.Len(t, idx, batch*k)
	require.Len(t, me, batch)
	require.Len(t, disp, batch)
	for i := 0; i < batch; i++ {
		one := MustExecOnceN(b, func(e, l *Node) []*Node {
			_, idx := ConfidenceSelect(e, k)
			return []*Node{idx, MarginalEntropy(l), TextFeatureDispersion(l)}
		}, ent[i], logits[i])
		require.Equal(t, tensors.MustCopyFlatData[int32](one[0]), idx[i*k:(i+1)*k], "selection of example %d", i)
		require.InDelta(t, tensors.MustCopyFlatData[float32](one[1])[0], me[i], 1e-6, "entropy of example %d", i)
		require.InDelta(t, tensors.MustCopyFlatData[float32](one[2])[0], disp[i], 1e-6, "dispersion of example %d", i)
	}
}
