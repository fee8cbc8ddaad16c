package memo

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

// tinyWeights is tta/resnet's tiny BasicBlock ResNet (BN statistics and affine parameters perturbed), 10 classes.
var tinyWeights = filepath.Join("..", "resnet", "testdata", "tiny_basic.safetensors")

// golden reads the tensors of testdata/memo_golden.safetensors (see testdata/README.md).
type golden struct{ f *weights.File }

func openGolden(t *testing.T) golden {
	f, err := weights.Open(filepath.Join("testdata", "memo_golden.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return golden{f}
}

func (g golden) get(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	data, shape, err := g.f.Float32s(name)
	require.NoError(t, err, name)
	return data, shape
}

func (g golden) rows(t *testing.T, name string) [][]float32 {
	data, shape := g.get(t, name)
	require.Len(t, shape, 2, name)
	out := make([][]float32, shape[0])
	for i := range out {
		out[i] = data[i*shape[1] : (i+1)*shape[1]]
	}
	return out
}

func (g golden) tensor(t *testing.T, name string) *tensors.Tensor {
	data, shape := g.get(t, name)
	return tensors.FromFlatDataAndDimensions(data, shape...)
}

// assertRowsClose checks |got - want| <= rtol |want| + atol elementwise, and equal argmax per row.
func assertRowsClose(t *testing.T, want, got [][]float32, rtol, atol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		require.Len(t, got[i], len(want[i]), what)
		bad := 0
		for j := range want[i] {
			if math.Abs(float64(got[i][j]-want[i][j])) > rtol*math.Abs(float64(want[i][j]))+atol {
				bad++
				if bad <= 3 {
					t.Errorf("%s[%d][%d]: got %g, want %g", what, i, j, got[i][j], want[i][j])
				}
			}
		}
		assert.Equal(t, argmax(want[i]), argmax(got[i]), "%s: argmax of row %d", what, i)
	}
}

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

func loadTiny(t *testing.T) (*context.Context, *resnet.Model) {
	ctx := context.New()
	m, err := resnet.Load(ctx, tinyWeights)
	require.NoError(t, err)
	return ctx, m
}

// TestMEMOGolden runs MEMO on the tiny ResNet over 8 views (48x48) and compares with the PyTorch reference of
// testdata/gen_memo.py (torchvision's ResNet, a BN-prior module written from the formula, torch.optim): logits
// before (rtol 1e-4), the loss of every step (atol 1e-5), the selected views, and the logits after (rtol 1e-3) of
// view 0 with the prior and without it, and of all views; then Reset restores the logits before.
func TestMEMOGolden(t *testing.T) {
	g := openGolden(t)
	x := g.tensor(t, "views")
	x0, err := View(x, 0)
	require.NoError(t, err)
	b := backend.MustNew()
	cases := []struct {
		name   string
		prior  float64
		rho    float64
		opt    func() tta.Optimizer
		params Params
		steps  int
		short  bool // runs in -short mode too
	}{
		{"prior_all", 0.94, 1, sgdSeed, AllParams, 1, true},
		{"plain_all", 1, 1, sgdSeed, AllParams, 1, false},
		{"prior_top025", 0.94, 0.25, sgdSeed, AllParams, 1, false},
		{"plain_top025", 1, 0.25, sgdSeed, AllParams, 1, false},
		{"adamw_bn_top05_2steps", 16.0 / 17, 0.5, func() tta.Optimizer {
			o := tta.NewAdamW(1e-3)
			return o
		}, BNAffine, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("slow on pure Go")
			}
			ctx, m := loadTiny(t)
			a, err := New(b, ctx, m, Options{Prior: c.prior, Select: c.rho, Optimizer: c.opt(), Params: c.params,
				Steps: c.steps})
			require.NoError(t, err)
			before, err := a.Logits(x, c.prior)
			require.NoError(t, err)
			assertRowsClose(t, g.rows(t, c.name+"/logits_before"), before, 1e-4, 1e-5, "logits before")
			v0, err := a.Logits(x0, c.prior)
			require.NoError(t, err)
			assertRowsClose(t, g.rows(t, c.name+"/view0_before"), v0, 1e-4, 1e-5, "view 0 before")

			pred, err := a.Adapt(&tta.Views{ExampleID: "golden", Images: x})
			require.NoError(t, err)
			wantLoss, _ := g.get(t, c.name+"/loss")
			wantSel := g.rows(t, c.name+"/selected")
			require.Len(t, pred.Steps, c.steps)
			for s, rep := range pred.Steps {
				assert.InDelta(t, float64(wantLoss[s]), rep.Loss, 1e-5, "loss of step %d", s)
				want := make([]int, len(wantSel[s]))
				for i, v := range wantSel[s] {
					want[i] = int(v)
				}
				if c.rho < 1 {
					assert.Equal(t, want, rep.Selected, "selected views of step %d", s)
				} else {
					assert.Equal(t, sortedCopy(want), sortedCopy(rep.Selected), "views of step %d", s)
				}
			}
			assertRowsClose(t, g.rows(t, c.name+"/view0_after"), [][]float32{pred.Logits}, 1e-3, 1e-4,
				"view 0 after (prediction)")
			plain, err := a.Logits(x0, 1)
			require.NoError(t, err)
			assertRowsClose(t, g.rows(t, c.name+"/view0_after_plain"), plain, 1e-3, 1e-4, "view 0 after, p = 1")
			after, err := a.Logits(x, c.prior)
			require.NoError(t, err)
			assertRowsClose(t, g.rows(t, c.name+"/logits_after"), after, 1e-3, 1e-4, "logits after")

			// Episodic reset: the weights and the optimizer state come back.
			require.NoError(t, a.Reset())
			again, err := a.Logits(x, c.prior)
			require.NoError(t, err)
			assertRowsClose(t, before, again, 0, 0, "logits after Reset")
		})
	}
}

func sgdSeed() tta.Optimizer { return SeedOptimizer() }

// TestOriginalMEMO compares with the original MEMO code (zhangmarvin/memo's _modified_bn_forward and
// marginal_entropy, run by testdata/gen_memo_original.py): prior 16/17, the adaptation batch of augmented copies
// only (AugmentedOnly: views 1..7), one SGD step (lr 5e-3, no weight decay), prediction on view 0 with the prior.
func TestOriginalMEMO(t *testing.T) {
	g := openGolden(t)
	x := g.tensor(t, "views")
	f, err := weights.Open(filepath.Join("testdata", "memo_original.safetensors"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	orig := golden{f}
	ctx, m := loadTiny(t)
	a, err := New(backend.MustNew(), ctx, m, Options{AugmentedOnly: true, Optimizer: &tta.SGD{LR: 5e-3}})
	require.NoError(t, err)
	assert.Equal(t, PaperPrior, a.Options().Prior)
	x0, err := View(x, 0)
	require.NoError(t, err)
	before, err := a.Logits(x0, PaperPrior)
	require.NoError(t, err)
	assertRowsClose(t, orig.rows(t, "view0_before"), before, 1e-4, 1e-5, "view 0 before")
	pred, err := a.Adapt(&tta.Views{ExampleID: "original", Images: x})
	require.NoError(t, err)
	loss, _ := orig.get(t, "loss")
	require.Len(t, pred.Steps, 1)
	assert.InDelta(t, float64(loss[0]), pred.Steps[0].Loss, 1e-5, "loss")
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, sortedCopy(pred.Selected), "adaptation views")
	assertRowsClose(t, orig.rows(t, "view0_after"), [][]float32{pred.Logits}, 1e-3, 1e-4, "view 0 after")
}

// sortedCopy is a sorted copy of ints.
func sortedCopy(xs []int) []int {
	out := append([]int(nil), xs...)
	sort.Ints(out)
	return out
}
