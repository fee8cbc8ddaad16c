package ctpt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/method"
	_ "github.com/gotta-ml/gotta/tta/tpt" // the registry builds C-TPT on TPT
	"github.com/gotta-ml/gotta/tta/weights"
)

// originalCase is one case of testdata/original_golden.json (hee-suk-yoon/C-TPT's own code, run by
// testdata/gen_original.py on tta/tpt's tiny random CLIPs).
type originalCase struct {
	Name       string      `json:"name"`
	Model      string      `json:"model"`
	Views      string      `json:"views"`
	Prompt     string      `json:"prompt"`
	SelectionP float64     `json:"selection_p"`
	TTASteps   int         `json:"tta_steps"`
	LR         float64     `json:"lr"`
	Lambda     float64     `json:"lambda_term"`
	Classes    []string    `json:"classes"`
	Selected   []int       `json:"selected"`
	Entropies  []float64   `json:"entropies"`
	Losses     []float64   `json:"losses"`
	CtxGrad    [][]float64 `json:"ctx_grad"`
	CtxAfter   [][]float64 `json:"ctx_after"`
	LogitsPost []float64   `json:"logits_view0_after"`
}

// TestOriginalCTPT: C-TPT built by name through the registry (the c-tpt spec over tta/tpt) gives what the original
// C-TPT code gives in float32 on tiny random CLIPs no other C-TPT test tuned on (lambda 20 and 50, 1 and 2 steps, and
// lambda 0, which is TPT): the selected views exactly, the losses (entropy minus lambda times ATFD) within 1e-5 plus 2e-6 relative, the
// first step's gradient within 1e-3 relative, the context after AdamW within 1e-5, view 0's logits after within
// 1e-4, and the predicted class.
func TestOriginalCTPT(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "original_golden.json"))
	require.NoError(t, err)
	var g struct {
		Cases []originalCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &g))
	require.Len(t, g.Cases, 4)
	b := backend.MustNew()
	tpt := filepath.Join("..", "tpt", "testdata")
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			env := method.FileEnv(b, filepath.Join(tpt, c.Model), filepath.Join("..", "clip", "tokenizer",
				"bpe_simple_vocab_16e6.txt.gz"))
			a, _, _, err := method.Build(env, "c-tpt", "natural", method.Values{"lambda": c.Lambda, "views": 16,
				"select": c.SelectionP, "steps": c.TTASteps, "lr": c.LR, "prompt": c.Prompt}, c.Classes)
			require.NoError(t, err)
			wantName := "c-tpt"
			if c.Lambda == 0 {
				wantName = "tpt"
			}
			assert.Equal(t, wantName, a.Name())
			require.NoError(t, a.Reset())
			pred, err := a.Adapt(&tta.Views{ExampleID: c.Name, Images: loadViews(t, filepath.Join(tpt, c.Views))})
			require.NoError(t, err)
			assert.Equal(t, c.Selected, pred.Selected, "selected views")
			require.Len(t, pred.Steps, c.TTASteps)
			for i, s := range pred.Steps {
				// lambda * ATFD makes the loss ~10: 1e-5 plus float32's relative rounding of it.
				assert.InDelta(t, c.Losses[i], s.Loss, 1e-5+2e-6*math.Abs(c.Losses[i]), "loss of step %d", i)
			}
			tr := a.(tta.Tracer).AdaptTrace()
			arrays := map[string][]float32{}
			for _, x := range tr.Arrays {
				arrays[x.Name] = x.Data
			}
			want := flat(c.CtxGrad)
			scale := 0.0
			for _, v := range want {
				scale = math.Max(scale, math.Abs(v))
			}
			require.Len(t, arrays["ctx_grad"], len(want))
			for i, v := range arrays["ctx_grad"] {
				require.InDelta(t, want[i], float64(v), 1e-3*scale+1e-3*math.Abs(want[i]), "gradient element %d", i)
			}
			assert.InDeltaSlice(t, flat(c.CtxAfter), f64(arrays["ctx_after"]), 1e-5, "context after AdamW")
			assert.InDeltaSlice(t, c.LogitsPost, f64(pred.Logits), 1e-4, "view-0 logits after")
			assert.Equal(t, argmax(c.LogitsPost), argmax(f64(pred.Logits)), "predicted class")
		})
	}
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// loadViews reads an NCHW float32 .npy of views and returns them NHWC.
func loadViews(t *testing.T, path string) *tensors.Tensor {
	t.Helper()
	data, shape, err := weights.ReadNPYFloat32(path)
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
