package zeroshot

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tiny ViT CLIP and PyTorch reference of tta/tpt (testdata/README.md there): logits_before are OpenAI's
// model.py logits of every view with the prompts "a photo of a {class}.", i.e. zero-shot CLIP.
const (
	tinyModel  = "../tpt/testdata/tiny_vit.safetensors"
	tinyGolden = "../tpt/testdata/vit_golden.json"
	tinyViews  = "../tpt/testdata/vit_views_nchw.npy"
)

func setup(t *testing.T) (*clip.Model, *tokenizer.Tokenizer) {
	t.Helper()
	tok, err := tokenizer.OpenAI()
	require.NoError(t, err)
	m, err := clip.Load(tinyModel, clip.LoadOpts{})
	require.NoError(t, err)
	return m, tok
}

// view0 is view 0 of the reference views, NHWC [1, R, R, 3].
func view0(t *testing.T) *tensors.Tensor {
	data, shape, err := weights.ReadNPYFloat32(tinyViews)
	require.NoError(t, err)
	c, h, w := shape[1], shape[2], shape[3]
	out := make([]float32, h*w*c)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[(y*w+x)*c+ch] = data[(ch*h+y)*w+x]
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, 1, h, w, c)
}

func TestSinglePromptMatchesReference(t *testing.T) {
	m, tok := setup(t)
	var g []struct {
		Classes      []string    `json:"classes"`
		LogitsBefore [][]float64 `json:"logits_before"`
	}
	data, err := os.ReadFile(tinyGolden)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &g))
	ts, err := Templates("single")
	require.NoError(t, err)
	a, err := New(backend.MustNew(), m, tok, g[0].Classes, ts, "")
	require.NoError(t, err)
	assert.Equal(t, "zero-shot", a.Name())
	require.NoError(t, a.Reset())
	p, err := a.Adapt(&tta.Views{ExampleID: "v0", Images: view0(t)})
	require.NoError(t, err)
	for k, want := range g[0].LogitsBefore[0] {
		assert.InDelta(t, want, float64(p.Logits[k]), 1e-4, "class %d", k)
	}
	assert.InDelta(t, tta.EntropyOfLogits(p.Logits), p.EntropyAfter, 1e-12)
}

// TestEnsemble: the ensemble's class features are the renormalised mean of the single-template features.
func TestEnsemble(t *testing.T) {
	m, tok := setup(t)
	classes := []string{"goldfish", "tiger shark", "electric ray"}
	ts, err := Templates("tip7")
	require.NoError(t, err)
	require.Len(t, ts, 7)
	e80, err := Templates("ensemble80")
	require.NoError(t, err)
	require.Len(t, e80, 80)
	_, err = Templates("nope")
	require.Error(t, err)
	b := backend.MustNew()
	ens, err := New(b, m, tok, classes, ts[:3], "")
	require.NoError(t, err)
	assert.Equal(t, "zero-shot-ensemble", ens.Name())
	mean := make([][]float64, len(classes))
	for _, tpl := range ts[:3] {
		single, err := New(b, m, tok, classes, []string{tpl}, "")
		require.NoError(t, err)
		for c, f := range single.TextFeatures() {
			if mean[c] == nil {
				mean[c] = make([]float64, len(f))
			}
			for k, v := range f {
				mean[c][k] += float64(v)
			}
		}
	}
	for c := range classes {
		n := 0.0
		for _, v := range mean[c] {
			n += v * v
		}
		for k, v := range mean[c] {
			assert.InDelta(t, v/math.Sqrt(n), float64(ens.TextFeatures()[c][k]), 1e-5)
		}
	}
	// The view maker gives one view of the model's resolution.
	img := image.NewRGBA(image.Rect(0, 0, 40, 50))
	img.Set(3, 4, color.RGBA{200, 10, 10, 255})
	v, err := NewViewMaker(m).MakeViews(img, "x", 1)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 32, 32, 3}, v.Images.Shape().Dimensions)
	p, err := ens.Adapt(v)
	require.NoError(t, err)
	assert.Len(t, p.Logits, 3)
}

func TestConfig(t *testing.T) {
	m, tok := setup(t)
	e80, err := Templates("ensemble80")
	require.NoError(t, err)
	a, err := New(backend.MustNew(), m, tok, []string{"goldfish", "tiger shark"}, e80, "")
	require.NoError(t, err)
	c := a.Config()
	assert.Equal(t, 80, c["n_templates"])
	assert.Equal(t, e80[0], c["templates_first"])
	assert.Len(t, c["templates_fnv64a"], 16)
	assert.NotContains(t, c, "templates")
}
