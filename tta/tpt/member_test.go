package tpt

import (
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// TestMember: as a tta.Member, the adapter's ViewLogits with the initial prompt are the PyTorch reference's logits
// of every view (testdata/<model>_golden.json, logits_before), with no gradient into the image tower; its
// trainable variable is the prompt context, none for a frozen member (Steps 0) or in Ensemble mode.
func TestMember(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	for _, kind := range []string{"rn", "vit"} {
		t.Run(kind, func(t *testing.T) {
			g := loadGolden(t, kind)[0]
			a, err := New(b, loadModel(t, kind), tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay})
			require.NoError(t, err)
			require.Len(t, a.Trainable(), 1)
			assert.Same(t, a.ctxVar, a.Trainable()[0])
			assert.Equal(t, "adamw", a.Optimizer().Name())
			assert.Same(t, a.model.Ctx, a.Context())
			outs := context.MustNewExec(b, a.Context(), func(ctx *context.Context, views *Node) (*Node, *Node) {
				logits := a.ViewLogits(ctx, views)
				return logits, Gradient(ReduceAllSum(logits), views)[0]
			}).MustExec(loadViews(t, kind))
			got := tensors.MustCopyFlatData[float32](outs[0])
			assert.InDeltaSlice(t, flat64(g.LogitsBefore), f64(got), 1e-4, "logits of every view")
			for _, v := range tensors.MustCopyFlatData[float32](outs[1]) {
				require.Zero(t, v, "no gradient into the image tower")
			}
		})
	}
	g := loadGolden(t, "vit")[0]
	for _, o := range []Options{{Steps: 0, Scope: "/frozen"}, {Ensemble: true, Scope: "/ens"}} {
		a, err := New(b, loadModel(t, "vit"), tok, g.Classes, o)
		require.NoError(t, err)
		assert.Empty(t, a.Trainable(), "%+v", o)
	}
}
