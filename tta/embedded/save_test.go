package embedded

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

func randomFloats(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// TestSaveCLIPRoundTrip saves a random embedded-architecture CLIP with SaveCLIP, reads it with clip.Load and checks
// that both give the same image and text features (the inverse name/layout map is exact).
func TestSaveCLIPRoundTrip(t *testing.T) {
	b, err := trainingBackend(nil)
	require.NoError(t, err)
	tok := NewTokenizer(VocabularyWords())
	m, err := newCLIP(tok, 7)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), CLIPFile)
	require.NoError(t, SaveCLIP(path, m, tok, map[string]string{"note": "test"}))

	loaded, err := clip.Load(path, clip.LoadOpts{})
	require.NoError(t, err)
	assert.Equal(t, m.Config.String(), loaded.Config.String())
	tok2, err := TokenizerFromFile(path)
	require.NoError(t, err)
	assert.Equal(t, tok.Vocabulary(), tok2.Vocabulary())
	f, err := weights.Open(path)
	require.NoError(t, err)
	assert.Equal(t, "test", f.Metadata()["note"])
	require.NoError(t, f.Close())

	rng := rand.New(rand.NewPCG(1, 2))
	images := tensors.FromFlatDataAndDimensions(randomFloats(rng, 3*InputSize*InputSize*3), 3, InputSize, InputSize, 3)
	var toks []int32
	for _, s := range []string{"a photo of the number seven.", "a handwritten 3.", "the digit zero."} {
		ids, err := tok.Encode(s, m.Config.ContextLength, false)
		require.NoError(t, err)
		for _, id := range ids {
			toks = append(toks, int32(id))
		}
	}
	tokens := tensors.FromFlatDataAndDimensions(toks, 3, m.Config.ContextLength)
	run := func(mm *clip.Model) ([]float32, []float32) {
		out := context.MustExecOnceN(b, mm.Ctx, func(ctx *context.Context, x, tk *graph.Node) []*graph.Node {
			return []*graph.Node{mm.EncodeImage(ctx, x), mm.EncodeText(ctx, tk)}
		}, images, tokens)
		return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	}
	img1, txt1 := run(m)
	img2, txt2 := run(loaded)
	assert.InDeltaSlice(t, img1, img2, 1e-5)
	assert.InDeltaSlice(t, txt1, txt2, 1e-5)
	s1, err := m.LogitScaleValue()
	require.NoError(t, err)
	s2, err := loaded.LogitScaleValue()
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
}

// TestSaveResNetRoundTrip saves a random ResNet with non-trivial BN statistics with SaveResNet and reads it back with
// resnet.Load: every variable must come back equal.
func TestSaveResNetRoundTrip(t *testing.T) {
	m, err := resnet.New(ResNetConfig())
	require.NoError(t, err)
	ctx := context.New()
	require.NoError(t, m.Init(ctx, 3))
	rng := rand.New(rand.NewPCG(3, 4))
	for v := range ctx.IterVariables() {
		if v.Name() == "running_mean" || v.Name() == "running_var" {
			d := randomFloats(rng, v.Shape().Size())
			for i := range d {
				if v.Name() == "running_var" {
					d[i] = d[i]*d[i] + 0.1
				}
			}
			require.NoError(t, v.SetValue(tensors.FromFlatDataAndDimensions(d, v.Shape().Dimensions...)))
		}
	}
	path := filepath.Join(t.TempDir(), ResNetFile)
	require.NoError(t, SaveResNet(path, ctx, m.Config, 5, nil))
	ctx2 := context.New()
	m2, err := resnet.Load(ctx2, path)
	require.NoError(t, err)
	assert.Equal(t, m.Config, m2.Config)
	count := 0
	for v := range ctx.IterVariables() {
		v2 := ctx2.GetVariableByScopeAndName(v.Scope(), v.Name())
		require.NotNil(t, v2, v.ScopeAndName())
		assert.Equal(t, tensors.MustCopyFlatData[float32](v.MustValue()), tensors.MustCopyFlatData[float32](v2.MustValue()),
			v.ScopeAndName())
		count++
	}
	assert.Equal(t, len(m.Config.Tensors()), count)
}
