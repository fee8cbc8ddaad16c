package tta

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coreRef is testdata/core_reference.json, made by testdata/gen_core.py with PyTorch.
type coreRef struct {
	X, W0, Logits0          [][]float64
	Rho                     float64
	Entropies0              []float64
	Selected                []int
	MarginalEntropyAll      float64 `json:"marginal_entropy_all"`
	MarginalEntropySelected float64 `json:"marginal_entropy_selected"`
	AdamW, SGD              []struct {
		Loss   float64
		Grad   [][]float64
		WAfter [][]float64 `json:"w_after"`
	}
}

func loadCoreRef(t *testing.T) *coreRef {
	data, err := os.ReadFile("testdata/core_reference.json")
	require.NoError(t, err)
	var r coreRef
	require.NoError(t, json.Unmarshal(data, &r))
	return &r
}

func assertClose2D(t *testing.T, want [][]float64, got any, rtol, atol float64, what string) {
	t.Helper()
	g := got.([][]float64)
	require.Len(t, g, len(want), what)
	for i := range want {
		for j := range want[i] {
			assert.InDelta(t, want[i][j], g[i][j], atol+rtol*math.Abs(want[i][j]), "%s[%d][%d]", what, i, j)
		}
	}
}

func TestEntropiesAndSelection(t *testing.T) {
	r := loadCoreRef(t)
	b := backend.MustNew()
	out := MustExecOnceN(b, func(logits *Node) (*Node, *Node, *Node) {
		return ViewEntropies(logits), MarginalEntropy(logits), MeanLogProbs(logits)
	}, r.Logits0)
	ent := out[0].Value().([]float64)
	for i := range ent {
		assert.InDelta(t, r.Entropies0[i], ent[i], 1e-12)
	}
	assert.InDelta(t, r.MarginalEntropyAll, out[1].Value().(float64), 1e-12)
	// exp(MeanLogProbs) is a distribution.
	sum := 0.0
	for _, v := range out[2].Value().([]float64) {
		sum += math.Exp(v)
	}
	assert.InDelta(t, 1.0, sum, 1e-12)

	// Host entropies and selection agree with PyTorch's argsort.
	logits32 := make([][]float32, len(r.Logits0))
	for i, row := range r.Logits0 {
		for _, v := range row {
			logits32[i] = append(logits32[i], float32(v))
		}
	}
	hostEnt := ViewEntropiesHost(logits32)
	for i := range hostEnt {
		assert.InDelta(t, r.Entropies0[i], hostEnt[i], 1e-5)
	}
	assert.Equal(t, r.Selected, ConfidenceSelectHost(r.Entropies0, r.Rho))
	assert.Equal(t, r.Selected, ConfidenceSelectHost(hostEnt, r.Rho))
}

func TestSelectCount(t *testing.T) {
	// TPT: int(N * top).
	for _, c := range []struct {
		n    int
		rho  float64
		want int
	}{{64, 0.1, 6}, {64, 0.2, 12}, {32, 0.2, 6}, {8, 1, 8}, {1, 1, 1}, {8, 0.1, 1}, {63, 0.1, 6}, {10, 0.3, 3}} {
		assert.Equal(t, c.want, SelectCount(c.n, c.rho), "n=%d rho=%g", c.n, c.rho)
	}
}

func TestMarginalEntropyNoNaN(t *testing.T) {
	// A view distribution with exact zeros (after float underflow) must give a finite entropy and gradient.
	b := backend.MustNew()
	out := MustExecOnceN(b, func(logits *Node) (*Node, *Node) {
		h := MarginalEntropy(logits)
		return h, Gradient(h, logits)[0]
	}, [][]float32{{1000, -1000, 0}, {1000, -1000, 0}})
	h := out[0].Value().(float32)
	assert.False(t, math.IsNaN(float64(h)) || math.IsInf(float64(h), 0))
	for _, row := range out[1].Value().([][]float32) {
		for _, v := range row {
			assert.False(t, math.IsNaN(float64(v)))
		}
	}
}

// TestOptimizersAndReset runs three steps of each optimizer on the marginal entropy of the selected views of logits = x
// w^T, compares with torch.optim, then checks that an Episode's Restore (weights and optimizer state, on the device)
// replays the same trajectory.
func TestOptimizersAndReset(t *testing.T) {
	r := loadCoreRef(t)
	b := backend.MustNew()
	for _, tc := range []struct {
		name string
		opt  Optimizer
		ref  []struct {
			Loss   float64
			Grad   [][]float64
			WAfter [][]float64 `json:"w_after"`
		}
	}{
		{"adamw", NewAdamW(5e-3), r.AdamW},
		{"sgd", &SGD{LR: 5e-3, WeightDecay: 1e-4}, r.SGD},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.New()
			wVar := ctx.In("model").VariableWithValue("w", r.W0)
			ep, err := NewEpisode(b, ctx, tc.opt, wVar)
			require.NoError(t, err)
			exec := context.MustNewExec(b, ctx, func(ctx *context.Context, x, sel *Node) (*Node, *Node) {
				w := wVar.ValueGraph(x.Graph())
				logits := Gather(MatMul(x, Transpose(w, 0, 1)), InsertAxes(sel, -1))
				loss := MarginalEntropy(logits)
				grad := Gradient(loss, w)[0]
				tc.opt.Step(ctx, []*context.Variable{wVar}, []*Node{grad})
				return loss, grad
			})
			sel := tensors.FromValue(r.Selected)
			for episode := 0; episode < 2; episode++ {
				require.NoError(t, ep.Restore()) // the weights and the optimizer state, in one execution
				for step, ref := range tc.ref {
					out := exec.MustExec(r.X, sel)
					assert.InDelta(t, ref.Loss, out[0].Value().(float64), 1e-12, "episode %d step %d loss", episode, step)
					assertClose2D(t, ref.Grad, out[1].Value(), 1e-9, 1e-12, "grad")
					assertClose2D(t, ref.WAfter, wVar.MustValue().Value(), 1e-9, 1e-12, "w after")
				}
			}
		})
	}
}
