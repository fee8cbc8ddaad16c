package tpt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// originalGolden is testdata/original_golden.json: outputs of the original TPT code (azshue/TPT's get_coop,
// ClipTestTimeTuning, select_confident_samples, avg_entropy, test_time_tuning, run by testdata/gen_original.py) on
// tiny random CLIPs made for this comparison (see testdata/README.md).
type originalGolden struct {
	TPTCommit string         `json:"tpt_commit"`
	Torch     string         `json:"torch"`
	Cases     []originalCase `json:"cases"`
}

// originalCase is one example adapted by the original code.
type originalCase struct {
	Name       string      `json:"name"`
	Model      string      `json:"model"` // file in testdata
	Views      string      `json:"views"` // file in testdata, [16, 3, R, R]
	Prompt     string      `json:"prompt"`
	NCtx       int         `json:"n_ctx"`
	SelectionP float64     `json:"selection_p"`
	TTASteps   int         `json:"tta_steps"`
	LR         float64     `json:"lr"`
	Classes    []string    `json:"classes"`
	TokenIDs   [][]int     `json:"token_ids"` // [C, 77]
	Selected   []int       `json:"selected"`
	Entropies  []float64   `json:"entropies"`
	Losses     []float64   `json:"losses"`
	CtxGrad    [][]float64 `json:"ctx_grad"` // first step
	CtxBefore  [][]float64 `json:"ctx_before"`
	CtxAfter   [][]float64 `json:"ctx_after"`
	LogitsPost []float64   `json:"logits_view0_after"`
}

// TestOriginalTPT: on tiny random CLIPs (ModifiedResNet and ViT) that no other test uses, tpt.Adapter with the
// original's defaults (ctx_init "a_photo_of_a", selection_p 0.25 of 16 views, AdamW lr 5e-3, 1 or 3 steps) gives
// what the original azshue/TPT code gives in float32: token ids exactly, the selected views exactly, entropies and
// losses within 1e-5 abs, the first step's gradient within 1e-3 relative (plus 1e-3 of its largest entry), the
// context after AdamW within 1e-5, view 0's logits after within 1e-4, and the same predicted class.
func TestOriginalTPT(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "original_golden.json"))
	require.NoError(t, err)
	var g originalGolden
	require.NoError(t, json.Unmarshal(data, &g))
	require.Len(t, g.Cases, 4)
	tok := loadTokenizer(t)
	b := backend.MustNew()
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := clip.Load(filepath.Join("testdata", c.Model), clip.LoadOpts{})
			require.NoError(t, err)
			a, err := New(b, m, tok, c.Classes, Options{Prompt: c.Prompt, Select: c.SelectionP, Steps: c.TTASteps,
				LR: c.LR, WeightDecay: PaperWeightDecay, Views: 16})
			require.NoError(t, err)
			pl := a.Learner
			require.Equal(t, c.NCtx, pl.NCtx)
			for k := range c.Classes {
				assert.Equal(t, c.TokenIDs[k][:pl.Length], pl.IDs[k], "class %d (%q) token ids", k, c.Classes[k])
				for _, v := range c.TokenIDs[k][pl.Length:] {
					require.Zero(t, v, "class %d: a token beyond the cut", k)
				}
			}
			views := loadViews(t, strings.TrimSuffix(c.Views, "_views_nchw.npy"))
			require.Equal(t, 16, views.Shape().Dimensions[0])
			require.NoError(t, a.Reset())
			pred, err := a.Adapt(&tta.Views{ExampleID: c.Name, Images: views})
			require.NoError(t, err)
			tr := a.LastTrace()

			assert.InDeltaSlice(t, flat64(c.CtxBefore), f64(tr.CtxBefore), 1e-6, "context before")
			assert.InDeltaSlice(t, c.Entropies, tr.Entropies, 1e-5, "per-view entropies")
			assert.Equal(t, c.Selected, pred.Selected, "selected views")
			require.Len(t, tr.Losses, c.TTASteps)
			assert.InDeltaSlice(t, c.Losses, tr.Losses, 1e-5, "losses")
			want := flat64(c.CtxGrad)
			tol := 1e-3 * maxAbs(want)
			got := f64(tr.CtxGrad)
			require.Len(t, got, len(want))
			for i, v := range got {
				require.InDelta(t, want[i], v, tol+1e-3*math.Abs(want[i]), "gradient element %d", i)
			}
			assert.InDeltaSlice(t, flat64(c.CtxAfter), f64(tr.CtxAfter), 1e-5, "context after AdamW")
			assert.InDeltaSlice(t, c.LogitsPost, f64(pred.Logits), 1e-4, "view-0 logits after")
			assert.Equal(t, argmax64(c.LogitsPost), argmax32(pred.Logits), "predicted class")
			t.Logf("%s: max |diff| loss %.2g, context after %.2g, view-0 logits %.2g", c.Name,
				maxAbsDiff(c.Losses, tr.Losses), maxAbsDiff(flat64(c.CtxAfter), f64(tr.CtxAfter)),
				maxAbsDiff(c.LogitsPost, f64(pred.Logits)))
		})
	}
}

// maxAbsDiff is max_i |a[i] - b[i]| over the common length.
func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range min(len(a), len(b)) {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
