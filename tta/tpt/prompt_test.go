package tpt

import (
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/stretchr/testify/require"
)

// TestSharedPrefixTextFeatures checks that the text step's shared-prefix path (the start token and the context
// before the class run once) gives the features and the context gradient of the full prompts, for TPT's prompt,
// the seed's split "[CLS]" prompt and a random-init context, on both fixture towers.
func TestSharedPrefixTextFeatures(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	classes := []string{"goldfish", "great white shark", "jack-o'-lantern", "ox"}
	for _, kind := range []string{"rn", "vit"} {
		m := loadModel(t, kind)
		for _, tc := range []struct {
			name, prompt string
			nRandom      int
		}{{"end", "a photo of a", 0}, {"split", "a photo of a [CLS] in the wild", 0}, {"random", "", 3}} {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				pl, err := NewPromptLearner(tok, classes, tc.prompt, tc.nRandom, m.Config.ContextLength, true)
				require.NoError(t, err)
				require.Less(t, pl.SharedPrefix(), pl.Length)
				ctxData := make([]float32, pl.NCtx*m.Config.TextWidth)
				for i := range ctxData {
					ctxData[i] = float32((i*37)%29-14) / 200
				}
				wts := make([]float32, len(classes)*m.Config.EmbedDim)
				for i := range wts {
					wts[i] = float32((i*11)%17-8) / 8
				}
				run := func(full bool) (feats, grad []float32) {
					pl.FullPrompts = full
					out, err := context.ExecOnceN(b, m.Ctx, func(ctx *context.Context, c, w *Node) []*Node {
						f := pl.TextFeatures(m, ctx, c)
						return []*Node{f, Gradient(ReduceAllSum(Mul(f, w)), c)[0]}
					}, tensors.FromFlatDataAndDimensions(ctxData, pl.NCtx, m.Config.TextWidth),
						tensors.FromFlatDataAndDimensions(wts, len(classes), m.Config.EmbedDim))
					require.NoError(t, err)
					return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
				}
				wantF, wantG := run(true)
				gotF, gotG := run(false)
				require.InDeltaSlice(t, f64(wantF), f64(gotF), 1e-6, "text features")
				scale := maxAbs(f64(wantG))
				require.Greater(t, scale, 1e-6)
				require.InDeltaSlice(t, f64(wantG), f64(gotG), 1e-5*scale, "context gradient")
			})
		}
	}
}

// BenchmarkTextStep times the text step's graph (features and the context gradient of 200 class prompts, TPT's
// prompt) with the full prompts and with the shared prefix run once, on the ViT fixture's text tower.
func BenchmarkTextStep(b *testing.B) {
	tok, err := tokenizerForBench()
	require.NoError(b, err)
	be := backend.MustNew()
	m := loadModelB(b, "vit")
	classes := make([]string, 200)
	for i := range classes {
		classes[i] = []string{"goldfish", "great white shark", "jack-o'-lantern", "ox", "school bus"}[i%5]
	}
	pl, err := NewPromptLearner(tok, classes, "a photo of a", 0, m.Config.ContextLength, true)
	require.NoError(b, err)
	ctxT := tensors.FromFlatDataAndDimensions(make([]float32, pl.NCtx*m.Config.TextWidth), pl.NCtx, m.Config.TextWidth)
	for _, full := range []bool{true, false} {
		name := map[bool]string{true: "full", false: "shared-prefix"}[full]
		b.Run(name, func(b *testing.B) {
			pl.FullPrompts = full
			exec := context.MustNewExec(be, m.Ctx, func(ctx *context.Context, c *Node) []*Node {
				f := pl.TextFeatures(m, ctx, c)
				return []*Node{Gradient(ReduceAllSum(f), c)[0]}
			})
			exec.MustExec(ctxT) // compile
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exec.MustExec(ctxT)
			}
		})
	}
}

func tokenizerForBench() (*tokenizer.Tokenizer, error) { return tokenizer.OpenAI() }

func loadModelB(b *testing.B, kind string) *clip.Model {
	m, err := clip.Load(filepath.Join("testdata", "tiny_"+kind+".safetensors"), clip.LoadOpts{})
	require.NoError(b, err)
	return m
}
