package main

import (
	"bytes"
	"image"
	"math"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/ensemble"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/tpt"
	"github.com/gotta-ml/gotta/tta/weights"
)

// TestEvalEnsemble runs gotta eval --method ensemble with the seed's triple preset (two MEMO ResNets and TPT) on
// tiny models, jointly and as the simple ensemble, and the MEMO pair with the clean combination.
func TestEvalEnsemble(t *testing.T) {
	classes := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	data := tinyImageFolder(t, classes, 1)
	tinyResNeXt := "../../tta/resnet/testdata/tiny_resnext.safetensors"
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"triple-joint", []string{"--preset", "seed-rn50-rnxt-tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab}},
		{"triple-simple", []string{"--preset", "seed-rn50-rnxt-tpt", "--mode", "simple", "--model", "clip:tiny=" + tinyCLIP,
			"--vocab", openAIVocab}},
		{"pair-clean", []string{"--members", "memo,memo", "--temps", "1,0.7"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.name != "pair-clean" {
				t.Skip("slow on pure Go")
			}
			out := filepath.Join(t.TempDir(), "r.jsonl")
			var stdout, stderr bytes.Buffer
			args := append([]string{"--method", "ensemble", "--model", "resnet=" + tinyResNet, "--model",
				"resnet=" + tinyResNeXt, "--data", "folder=" + data, "--views", "4", "--select", "0.5", "--limit", "2",
				"--quiet", "--out", out}, c.extra...)
			require.NoError(t, evalMain(args, &stdout, &stderr), stderr.String())
			recs := readRecs(t, out)
			require.Len(t, recs, 2)
			for _, r := range recs {
				assert.Empty(t, r.Error)
				assert.Len(t, r.Top5, 5)
			}
			cfg := recs[0].Config
			members := cfg["members"].([]any)
			if c.name == "pair-clean" {
				assert.Equal(t, false, cfg["seed_compatible"])
				assert.Len(t, members, 2)
			} else {
				assert.Equal(t, true, cfg["seed_compatible"])
				require.Len(t, members, 3)
				assert.Equal(t, 0.7, members[2].(map[string]any)["temperature"])
			}
		})
	}
}

// TestEnsembleOfOne: an ensemble of one member with temperature 1 (clean combination) minimises that member's own
// marginal entropy of its selected views, so its prediction must be the member's own method's: MEMO (prior 0.94,
// rho 0.5, SGD) and TPT ("A bad photo of a [CLS]", rho 0.5, AdamW). This checks the ensemble's gradient path
// through each kind of member against the methods' own steps.
func TestEnsembleOfOne(t *testing.T) {
	b := backend.MustNew()
	logSoftmax := func(x []float32) []float64 { return tta.LogSoftmaxHost(x) }
	compare := func(t *testing.T, own, ens *tta.Prediction) {
		want, got := logSoftmax(own.Logits), logSoftmax(ens.Logits)
		require.Len(t, got, len(want))
		for j := range want {
			assert.InDelta(t, want[j], got[j], 1e-4*(1+math.Abs(want[j])), "class %d", j)
		}
		require.Len(t, own.Steps, 1)
		require.Len(t, ens.Steps, 1)
		assert.InDelta(t, own.Steps[0].Loss, ens.Steps[0].Loss, 1e-5, "loss")
	}
	t.Run("memo", func(t *testing.T) {
		g, err := weights.Open(memoGolden)
		require.NoError(t, err)
		defer func() { _ = g.Close() }()
		data, shape, err := g.Float32s("views")
		require.NoError(t, err)
		views := &tta.Views{ExampleID: "x", Images: tensors.FromFlatDataAndDimensions(data, shape...)}
		mk := func() *memo.Adapter {
			ctx := context.New()
			m, err := resnet.Load(ctx, tinyResNet)
			require.NoError(t, err)
			a, err := memo.New(b, ctx, m, memo.Options{Prior: 0.94, Select: 0.5, Optimizer: memo.SeedOptimizer()})
			require.NoError(t, err)
			return a
		}
		own := mk()
		require.NoError(t, own.Reset())
		po, err := own.Adapt(views)
		require.NoError(t, err)
		e, err := ensemble.New(b, []ensemble.Entry{{Name: "m", Member: mk()}}, ensemble.Options{Select: 0.5})
		require.NoError(t, err)
		require.NoError(t, e.Reset())
		pe, err := e.Adapt(views)
		require.NoError(t, err)
		compare(t, po, pe)
	})
	t.Run("tpt", func(t *testing.T) {
		classes := []string{"goldfish", "tiger shark", "electric ray", "tench"}
		const prompt = "A bad photo of a [CLS]"
		m1, err := clip.Load(tinyCLIP, clip.LoadOpts{})
		require.NoError(t, err)
		tok, err := tokenizer.Load(openAIVocab)
		require.NoError(t, err)
		own, err := tpt.New(b, m1, tok, classes, tpt.Options{Prompt: prompt, Select: 0.5, Steps: 1,
			WeightDecay: tpt.PaperWeightDecay})
		require.NoError(t, err)
		// The member as the ensemble builds it: through the registry, on a CLIP of its own.
		a, _, _, err := method.Build(method.FileEnv(b, tinyCLIP, openAIVocab), "tpt", "paper",
			method.Values{"prompt": prompt, "lr": 5e-3}, classes)
		require.NoError(t, err)
		tm := a.(ensemble.Member)
		img := image.NewRGBA(image.Rect(0, 0, 90, 70))
		r := rand.New(rand.NewSource(3))
		for i := range img.Pix {
			img.Pix[i] = uint8(r.Intn(256))
		}
		views, err := tpt.NewViewMaker(m1, 8).MakeViews(img, "x", 1)
		require.NoError(t, err)
		require.NoError(t, own.Reset())
		po, err := own.Adapt(views)
		require.NoError(t, err)
		e, err := ensemble.New(b, []ensemble.Entry{{Name: "t", Member: tm}}, ensemble.Options{Select: 0.5})
		require.NoError(t, err)
		require.NoError(t, e.Reset())
		pe, err := e.Adapt(views)
		require.NoError(t, err)
		compare(t, po, pe)
	})
}
