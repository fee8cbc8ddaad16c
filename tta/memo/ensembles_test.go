package memo

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// TestFeatureMap checks that the MC-dropout path (resnet.Model.FeatureMap run once, masks drawn on the feature
// map, then pooling and resnet.Model.Classifier) with a vanishing drop probability is resnet.Model.Logits (pooled
// resnet.Model.Features and the classifier) of view 0, with and without the prior, for the BasicBlock and the
// grouped Bottleneck tiny models.
func TestFeatureMap(t *testing.T) {
	g := openGolden(t)
	x0, err := View(g.tensor(t, "views"), 0)
	require.NoError(t, err)
	b := backend.MustNew()
	rng, err := RNGStateFromSeed(5)
	require.NoError(t, err)
	for _, name := range []string{"tiny_basic", "tiny_resnext"} {
		for _, prior := range []float64{1, 0.94} {
			ctx := context.New()
			m, err := resnet.Load(ctx, filepath.Join("..", "resnet", "testdata", name+".safetensors"))
			require.NoError(t, err)
			a, err := New(b, ctx, m, Options{Mode: MCDropout, Samples: 2, Dropout: 1e-9, Prior: prior})
			require.NoError(t, err)
			outs := context.MustNewExec(b, ctx, func(ctx *context.Context, x, rng *Node) (*Node, *Node) {
				return a.mc.Graph(ctx, x, rng, 2), m.Logits(ctx, x, resnet.ForwardOpts{BNPrior: prior})
			}).MustExec(x0, rng)
			got, want := outs[0].Value().([][]float32), outs[1].Value().([][]float32)
			require.Len(t, got, 2)
			for _, row := range got {
				for j := range want[0] {
					require.InDelta(t, want[0][j], row[j], 1e-5*(1+math.Abs(float64(want[0][j]))), "%s p=%g", name, prior)
				}
			}
		}
	}
}

// hostEnsemble is the crop ensemble written out: the log of the mean softmax of the floor(N rho) views of lowest
// entropy.
func hostEnsemble(logits [][]float32, rho float64) ([]float64, []int) {
	type ve struct {
		i int
		h float64
	}
	var vs []ve
	for i, row := range logits {
		lse := 0.0
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		for _, v := range row {
			lse += math.Exp(float64(v) - mx)
		}
		lse = mx + math.Log(lse)
		h := 0.0
		for _, v := range row {
			h -= math.Exp(float64(v)-lse) * (float64(v) - lse)
		}
		vs = append(vs, ve{i, h})
	}
	for a := 1; a < len(vs); a++ { // insertion sort: stable
		for b := a; b > 0 && vs[b].h < vs[b-1].h; b-- {
			vs[b], vs[b-1] = vs[b-1], vs[b]
		}
	}
	k := int(float64(len(logits)) * rho)
	mean := make([]float64, len(logits[0]))
	var sel []int
	for _, v := range vs[:k] {
		sel = append(sel, v.i)
		sm := 0.0
		for _, z := range logits[v.i] {
			sm += math.Exp(float64(z))
		}
		for j, z := range logits[v.i] {
			mean[j] += math.Exp(float64(z)) / sm / float64(k)
		}
	}
	for j := range mean {
		mean[j] = math.Log(mean[j])
	}
	return mean, sel
}

// TestCropEnsemble checks the crop ensemble on the golden views against the mean softmax of the selected views of
// the PyTorch logits (plain batch norm and p = 0.94).
func TestCropEnsemble(t *testing.T) {
	g := openGolden(t)
	x := g.tensor(t, "views")
	for _, c := range []struct {
		name  string
		prior float64
		rho   float64
	}{{"plain_all", 1, 1}, {"plain_top025", 1, 0.25}, {"prior_top025", 0.94, 0.25}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, m := loadTiny(t)
			a, err := New(backend.MustNew(), ctx, m, Options{Mode: CropEnsemble, Prior: c.prior, Select: c.rho})
			require.NoError(t, err)
			pred, err := a.Adapt(&tta.Views{ExampleID: "x", Images: x})
			require.NoError(t, err)
			want, sel := hostEnsemble(g.rows(t, c.name+"/logits_before"), c.rho)
			for j := range want {
				assert.InDelta(t, want[j], float64(pred.Logits[j]), 1e-4, "class %d", j)
			}
			if c.rho < 1 {
				assert.Equal(t, sel, pred.Selected)
			}
			assert.Empty(t, pred.Steps)
			assert.Equal(t, "memo-crop-ensemble", a.Name())
		})
	}
}

// TestMCDropout checks MC-dropout: masks are a function of (seed, example id); samples differ; a vanishing drop
// probability gives the plain logits of view 0 in every sample; a sample's features are a dropout of the trunk's.
func TestMCDropout(t *testing.T) {
	g := openGolden(t)
	x := g.tensor(t, "views")
	b := backend.MustNew()
	ctx, m := loadTiny(t)
	a, err := New(b, ctx, m, Options{Mode: MCDropout, Samples: 6})
	require.NoError(t, err)
	assert.Equal(t, 0.5, a.Options().Dropout)
	assert.Equal(t, 1.0, a.Options().Prior)
	run := func(a *Adapter, seed int64, id string) [][]float32 {
		out, err := a.mc.ViewLogitsHost(&tta.Views{ExampleID: id, Seed: seed, Images: x})
		require.NoError(t, err)
		require.Len(t, out, a.opts.Samples)
		return out
	}
	s1, s2, s3 := run(a, 1, "a"), run(a, 1, "a"), run(a, 1, "b")
	assert.Equal(t, s1, s2, "same seed and example: same masks")
	assert.NotEqual(t, s1, s3, "another example: other masks")
	assert.NotEqual(t, s1[0], s1[1], "samples differ")
	pred, err := a.Adapt(&tta.Views{ExampleID: "a", Seed: 1, Images: x})
	require.NoError(t, err)
	want, _ := hostEnsemble(s1, 1)
	for j := range want {
		assert.InDelta(t, want[j], float64(pred.Logits[j]), 1e-5)
	}

	tiny, err := New(b, ctx, m, Options{Mode: MCDropout, Samples: 3, Dropout: 1e-9})
	require.NoError(t, err)
	plain := g.rows(t, "plain_all/logits_before")[0]
	for _, row := range run(tiny, 7, "z") {
		for j := range plain {
			assert.InDelta(t, float64(plain[j]), float64(row[j]), 1e-4*(1+math.Abs(float64(plain[j]))))
		}
	}
}

// TestSeedModes checks that the seed project's MEMO table (the spec's seed-* presets) builds adapters and runs on
// the golden views.
func TestSeedModes(t *testing.T) {
	g := openGolden(t)
	x := g.tensor(t, "views")
	b := backend.MustNew()
	ctx, m := loadTiny(t)
	n := 0
	for _, name := range Spec().PresetNames() {
		if !strings.HasPrefix(name, "seed-") {
			continue
		}
		n++
		v, err := Spec().Resolve(name, nil)
		require.NoError(t, err, name)
		opts, _, err := specOptions(v)
		require.NoError(t, err, name)
		a, err := New(b, ctx, m, opts)
		require.NoError(t, err, name)
		if opts.Mode == Adapt {
			assert.Equal(t, SeedPrior, a.Options().Prior)
			continue // the golden test runs these
		}
		pred, err := a.Adapt(&tta.Views{ExampleID: name, Images: x})
		require.NoError(t, err, name)
		require.Len(t, pred.Logits, 10, name)
	}
	assert.Equal(t, 7, n, "the seed's seven rows")
	assert.Equal(t, PaperPrior, PaperOptions().Prior)
	assert.Equal(t, 1, PaperOptions().Steps)
	assert.Equal(t, 1.0, PaperOptions().Select)
	assert.Equal(t, map[string]any{"optimizer": "sgd", "lr": PaperLR, "weight_decay": 0.0, "momentum": 0.0},
		PaperOptions().Optimizer.Config())
}
