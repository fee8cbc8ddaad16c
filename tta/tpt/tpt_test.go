package tpt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
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

// golden is one case of testdata/<model>_golden.json (see testdata/README.md).
type golden struct {
	Prompt       string      `json:"prompt"`
	Classes      []string    `json:"classes"`
	Rho          float64     `json:"rho"`
	Steps        int         `json:"steps"`
	TokenIDs     [][]int     `json:"token_ids"`
	CtxPositions [][]int     `json:"ctx_positions"`
	Losses       []float64   `json:"losses"`
	Entropies    []float64   `json:"entropies"`
	Selected     []int       `json:"selected"`
	LogitsBefore [][]float64 `json:"logits_before"`
	CtxGrad      [][]float64 `json:"ctx_grad"`
	CtxBefore    [][]float64 `json:"ctx_before"`
	CtxAfter     [][]float64 `json:"ctx_after"`
	LogitsAfter  []float64   `json:"logits_view0_after"`
}

// loadTokenizer returns OpenAI's tokenizer, the vocabulary embedded in tta/clip/tokenizer.
func loadTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.OpenAI()
	require.NoError(t, err)
	return tok
}

func loadGolden(t testing.TB, kind string) []golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", kind+"_golden.json"))
	require.NoError(t, err)
	var g []golden
	require.NoError(t, json.Unmarshal(data, &g))
	return g
}

// loadViews reads testdata/<kind>_views_nchw.npy and returns them as an NHWC tensor.
func loadViews(t testing.TB, kind string) *tensors.Tensor {
	t.Helper()
	data, shape, err := weights.ReadNPYFloat32(filepath.Join("testdata", kind+"_views_nchw.npy"))
	require.NoError(t, err)
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(data))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					out[((i*h+y)*w+x)*c+ch] = data[((i*c+ch)*h+y)*w+x]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, h, w, c)
}

// modelPaths are the tiny CLIPs of the golden tests (testdata/README.md): the ResNet is tta/clip's (one tiny
// ResNet CLIP for both packages), the ViT is this package's.
var modelPaths = map[string]string{
	"rn":  filepath.Join("..", "clip", "testdata", "tiny_rn.safetensors"),
	"vit": filepath.Join("testdata", "tiny_vit.safetensors"),
}

func loadModel(t testing.TB, kind string) *clip.Model {
	t.Helper()
	m, err := clip.Load(modelPaths[kind], clip.LoadOpts{})
	require.NoError(t, err)
	return m
}

func flat64(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// TestGolden: TPT steps on tiny random CLIPs of both towers match the independent PyTorch reference
// (testdata/make_golden.py running OpenAI's model.py): selected views exactly, loss within 1e-5, the first
// step's context gradient within 1e-3 relative, the context after AdamW within 1e-5, view 0's logits after within
// 1e-4.
func TestGolden(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	for _, kind := range []string{"rn", "vit"} {
		views := loadViews(t, kind)
		for ci, g := range loadGolden(t, kind) {
			t.Run(kind+"/"+g.Prompt+"/steps"+string(rune('0'+g.Steps)), func(t *testing.T) {
				if testing.Short() && ci > 0 {
					t.Skip("short")
				}
				m := loadModel(t, kind)
				a, err := New(b, m, tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho, Steps: g.Steps, WeightDecay: PaperWeightDecay})
				require.NoError(t, err)
				// Token layout: the reference's 77-token ids, cut to the longest prompt.
				pl := a.Learner
				for c := range g.Classes {
					assert.Equal(t, g.TokenIDs[c][:pl.Length], pl.IDs[c], "class %d ids", c)
					for _, v := range g.TokenIDs[c][pl.Length:] {
						require.Zero(t, v)
					}
					assert.Equal(t, g.CtxPositions[c], pl.CtxPos[c], "class %d context positions", c)
				}
				require.NoError(t, a.Reset())
				pred, err := a.Adapt(&tta.Views{ExampleID: "golden", Images: views})
				require.NoError(t, err)
				tr := a.LastTrace()
				assert.Equal(t, g.Selected, pred.Selected, "selected views")
				assert.InDeltaSlice(t, g.Entropies, tr.Entropies, 1e-5, "per-view entropies")
				require.Len(t, tr.Losses, g.Steps)
				assert.InDeltaSlice(t, g.Losses, tr.Losses, 1e-5, "losses")
				assert.InDeltaSlice(t, flat64(g.CtxBefore), f64(tr.CtxBefore), 1e-6, "context before")
				want := flat64(g.CtxGrad)
				tol := 1e-3 * maxAbs(want)
				for i, v := range f64(tr.CtxGrad) {
					require.InDelta(t, want[i], v, tol+1e-3*math.Abs(want[i]), "gradient element %d", i)
				}
				assert.InDeltaSlice(t, flat64(g.CtxAfter), f64(tr.CtxAfter), 1e-5, "context after AdamW")
				assert.InDeltaSlice(t, g.LogitsAfter, f64(pred.Logits), 1e-4, "view-0 logits after")
				assert.Equal(t, argmax64(g.LogitsAfter), argmax32(pred.Logits), "predicted class")
			})
		}
	}
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func argmax64(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func argmax32(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestEnsembleMode: the ensemble prediction is the log of the mean softmax of the selected views, computed here
// on the host from the reference's logits.
func TestEnsembleMode(t *testing.T) {
	tok := loadTokenizer(t)
	g := loadGolden(t, "vit")[0]
	m := loadModel(t, "vit")
	a, err := New(backend.MustNew(), m, tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho, Ensemble: true})
	require.NoError(t, err)
	require.NoError(t, a.Reset())
	pred, err := a.Adapt(&tta.Views{ExampleID: "e", Images: loadViews(t, "vit")})
	require.NoError(t, err)
	require.Equal(t, g.Selected, pred.Selected)
	assert.Empty(t, pred.Steps)
	c := len(g.Classes)
	mean := make([]float64, c)
	for _, v := range g.Selected {
		row := g.LogitsBefore[v]
		mx := row[argmax64(row)]
		s := 0.0
		for _, x := range row {
			s += math.Exp(x - mx)
		}
		for k, x := range row {
			mean[k] += math.Exp(x-mx) / s / float64(len(g.Selected))
		}
	}
	for k := range mean {
		assert.InDelta(t, mean[k], math.Exp(float64(pred.Logits[k])), 1e-5, "class %d probability", k)
	}
}

// TestResetAndContextCut: two examples in a row equal two fresh runs (Reset restores the context and AdamW's
// state), and the text features on the context cut to the longest prompt equal those on the full 77 tokens.
func TestResetAndContextCut(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	g := loadGolden(t, "vit")[0]
	views := loadViews(t, "vit")
	// A second example: the views negated.
	data := tensors.MustCopyFlatData[float32](views)
	neg := make([]float32, len(data))
	for i, v := range data {
		neg[i] = -v
	}
	views2 := tensors.FromFlatDataAndDimensions(neg, views.Shape().Dimensions...)

	run := func(a *Adapter, v *tensors.Tensor) ([]float32, []float32) {
		require.NoError(t, a.Reset())
		p, err := a.Adapt(&tta.Views{ExampleID: "x", Images: v})
		require.NoError(t, err)
		return p.Logits, a.LastTrace().CtxAfter
	}
	a, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{Select: g.Rho, Steps: 2, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	l1, c1 := run(a, views)
	l2, c2 := run(a, views2)
	fresh1, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{Select: g.Rho, Steps: 2, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	f1, fc1 := run(fresh1, views)
	fresh2, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{Select: g.Rho, Steps: 2, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	f2, fc2 := run(fresh2, views2)
	assert.Equal(t, f1, l1)
	assert.Equal(t, fc1, c1)
	assert.Equal(t, f2, l2)
	assert.Equal(t, fc2, c2)
	assert.NotEqual(t, c1, c2)

	full, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{FullContext: true, Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	require.Equal(t, 77, full.Learner.Length)
	require.Less(t, a.Learner.Length, 20)
	for c := range a.text0 {
		assert.InDeltaSlice(t, f64(full.text0[c]), f64(a.text0[c]), 1e-5, "class %d text features", c)
	}
	// A whole step on 77 tokens gives the reference's context and logits too.
	fl, fc := run(full, views)
	assert.InDeltaSlice(t, flat64(g.CtxAfter), f64(fc), 1e-5, "77 tokens: context after")
	assert.InDeltaSlice(t, g.LogitsAfter, f64(fl), 1e-4, "77 tokens: logits after")
}
