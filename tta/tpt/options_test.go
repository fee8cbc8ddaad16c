package tpt

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptions covers the context options against the reference of TestGolden (vit, "a photo of a", rho 0.5).
func TestOptions(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	g := loadGolden(t, "vit")[0]
	views := &tta.Views{ExampleID: "o", Images: loadViews(t, "vit")}
	adapt := func(t *testing.T, m *clip.Model, o Options) (*Adapter, *tta.Prediction) {
		t.Helper()
		a, err := New(b, m, tok, g.Classes, o)
		require.NoError(t, err)
		require.NoError(t, a.Reset())
		p, err := a.Adapt(views)
		require.NoError(t, err)
		return a, p
	}

	t.Run("class-specific", func(t *testing.T) {
		// Every class starts from the shared init; the shared context's gradient is the sum over classes of the
		// class-specific gradients (the shared context enters every class's prompt).
		a, _ := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay, ClassSpecific: true})
		tr := a.LastTrace()
		c, n := len(g.Classes), len(tr.CtxGrad)/len(g.Classes)
		require.Equal(t, []int{c, 4, 16}, tr.CtxShape)
		want := flat64(g.CtxGrad)
		tol := 1e-3 * maxAbs(want)
		for i := 0; i < n; i++ {
			s := 0.0
			for k := 0; k < c; k++ {
				s += float64(tr.CtxGrad[k*n+i])
				assert.Equal(t, tr.CtxBefore[i], tr.CtxBefore[k*n+i])
			}
			assert.InDelta(t, want[i], s, tol+1e-3*math.Abs(want[i]), "element %d", i)
		}
	})

	t.Run("random-init", func(t *testing.T) {
		a, p := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay, NCtx: 8, InitSeed: 3})
		require.Equal(t, 8, a.Learner.NCtx)
		assert.Equal(t, []int{8, 16}, a.LastTrace().CtxShape)
		assert.Equal(t, "X X X X X X X X", a.Learner.Prompt)
		s := 0.0
		for _, v := range a.LastTrace().CtxBefore {
			s += float64(v) * float64(v)
		}
		assert.InDelta(t, 0.02, math.Sqrt(s/float64(len(a.LastTrace().CtxBefore))), 0.004, "init std")
		assert.Len(t, p.Logits, len(g.Classes))
	})

	t.Run("coop", func(t *testing.T) {
		// A CoOp context equal to the prompt's embeddings reproduces the reference step exactly.
		dir := t.TempDir()
		ctx := flat64(g.CtxBefore)
		ctx32 := make([]float32, len(ctx))
		for i, v := range ctx {
			ctx32[i] = float32(v)
		}
		npy := filepath.Join(dir, "ctx.npy")
		require.NoError(t, weights.WriteNPY(npy, []int{4, 16}, ctx32))
		st := filepath.Join(dir, "ctx.safetensors")
		require.NoError(t, weights.Write(st, []weights.Named{{Name: "ctx",
			Tensor: tensors.FromFlatDataAndDimensions(ctx32, 4, 16)}}, nil))
		for _, file := range []string{npy, st} {
			a, p := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay, CoOp: file})
			assert.Equal(t, g.Selected, p.Selected)
			assert.InDeltaSlice(t, flat64(g.CtxAfter), f64(a.LastTrace().CtxAfter), 1e-5)
			assert.InDeltaSlice(t, g.LogitsAfter, f64(p.Logits), 1e-4)
		}
		_, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{CoOp: filepath.Join(dir, "missing.npy")})
		assert.Error(t, err)
	})

	t.Run("reselect-and-zero-steps", func(t *testing.T) {
		_, p1 := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay, Reselect: true})
		assert.InDeltaSlice(t, g.LogitsAfter, f64(p1.Logits), 1e-4, "one step: reselection changes nothing")
		a, p3 := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 3, WeightDecay: PaperWeightDecay, Reselect: true})
		require.Len(t, p3.Steps, 3)
		assert.Equal(t, g.Selected, p3.Steps[0].Selected)
		assert.Equal(t, 3, a.Options().Steps)
		_, p0 := adapt(t, loadModel(t, "vit"), Options{Select: g.Rho, Steps: 0})
		assert.Empty(t, p0.Steps)
		assert.InDeltaSlice(t, g.LogitsBefore[0], f64(p0.Logits), 1e-4, "0 steps: zero-shot with the prompt")
	})

	t.Run("bf16", func(t *testing.T) {
		m, err := clip.Load(filepath.Join("testdata", "tiny_vit.safetensors"), clip.LoadOpts{DType: dtypes.BFloat16})
		require.NoError(t, err)
		a, p := adapt(t, m, Options{Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay})
		assert.Equal(t, "BFloat16", a.Config()["dtype"])
		assert.Len(t, a.LastTrace().CtxAfter, 64) // float32 context
		assert.InDeltaSlice(t, g.LogitsAfter, f64(p.Logits), 0.3, "bf16 compute (logit scale 20)")
	})

	t.Run("errors", func(t *testing.T) {
		m := loadModel(t, "vit")
		_, err := New(b, m, tok, g.Classes, Options{Select: 1.5})
		assert.Error(t, err)
		_, err = New(b, m, tok, g.Classes, Options{Prompt: "[CLS] and [CLS]"})
		assert.Error(t, err)
		_, err = New(b, m, tok, g.Classes, Options{AlignSteps: 1, Ensemble: true})
		assert.Error(t, err)
		_, err = New(b, m, tok, g.Classes, Options{})
		require.NoError(t, err)
		_, err = New(b, m, tok, g.Classes, Options{}) // the same scope twice
		assert.ErrorContains(t, err, "Scope")
		_, err = New(b, m, tok, g.Classes, Options{Scope: "/tpt2"})
		assert.NoError(t, err)
	})
}
