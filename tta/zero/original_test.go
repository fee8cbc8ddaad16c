package zero

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tptTestdata holds the tiny random CLIP and views the references were made on (tta/tpt/testdata/README.md).
const tptTestdata = "../tpt/testdata"

// original is testdata/original_zero.json: outputs of the original ZERO code (testdata/gen_original.py).
type original struct {
	Commit string         `json:"zero_commit"`
	Cases  []originalCase `json:"cases"`
}

// originalCase is one example run by the original Zero.zero.
type originalCase struct {
	Name       string           `json:"name"`
	Kind       string           `json:"kind"` // "core" (given features) or "e2e" (the whole module on a tiny CLIP)
	Gamma      float64          `json:"gamma"`
	LogitScale float64          `json:"logit_scale"` // before exp
	ZImg       [][]float64      `json:"z_img"`
	L          [][]float64      `json:"l"`
	Entropies  []float64        `json:"entropies"`
	Order      []int            `json:"order"`
	Kept       []int            `json:"kept"`
	K          int              `json:"k"`
	Ties       []int            `json:"ties"`
	Greedy     *int             `json:"greedy"`
	Fallback   bool             `json:"fallback"`
	Output     []float64        `json:"output"`
	PredMax    int              `json:"pred_max"`
	Model      string           `json:"model"`
	Views      string           `json:"views"`
	Classes    []string         `json:"classes"`
	Templates  []string         `json:"templates"`
	TokenIDs   map[string][]int `json:"token_ids"`
}

func loadOriginal(t *testing.T) original {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "original_zero.json"))
	require.NoError(t, err)
	var o original
	require.NoError(t, json.Unmarshal(data, &o))
	return o
}

// refTokenizer returns the token ids the original's clip.tokenize gave each prompt (so the comparison does not
// depend on the BPE vocabulary file).
type refTokenizer map[string][]int

// Encode implements clip.Tokenizer.
func (r refTokenizer) Encode(text string, contextLen int, _ bool) ([]int, error) {
	ids, ok := r[text]
	if !ok || len(ids) != contextLen {
		return nil, fmt.Errorf("refTokenizer: no %d ids for %q", contextLen, text)
	}
	return ids, nil
}

func f32rows(rows [][]float64) [][]float32 {
	out := make([][]float32, len(rows))
	for i, r := range rows {
		out[i] = make([]float32, len(r))
		for j, v := range r {
			out[i][j] = float32(v)
		}
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func flat32(rows [][]float32) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, f64(r)...)
	}
	return out
}

// nonNil makes nil and empty slices compare equal.
func nonNil(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

// loadViews reads tta/tpt's testdata/<file> ([N, 3, R, R]) as NHWC.
func loadViews(t *testing.T, file string) *tensors.Tensor {
	t.Helper()
	data, shape, err := weights.ReadNPYFloat32(filepath.Join(tptTestdata, file))
	require.NoError(t, err)
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(data))
	for i := range n {
		for ch := range c {
			for y := range h {
				for x := range w {
					out[((i*h+y)*w+x)*c+ch] = data[((i*c+ch)*h+y)*w+x]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, h, w, c)
}

// checkResult compares a Vote result with the original's record of the same example.
func checkResult(t *testing.T, c originalCase, r *Result) {
	t.Helper()
	assert.InDeltaSlice(t, c.Entropies, r.Entropies, 1e-4, "entropies")
	assert.Equal(t, c.Order, r.Order, "entropy order")
	assert.Equal(t, c.K, len(r.Kept), "kept count")
	assert.Equal(t, nonNil(c.Kept), nonNil(r.Kept), "kept views (ascending entropy)")
	assert.Equal(t, c.Ties, r.Ties, "tied classes")
	if c.Greedy != nil {
		assert.Equal(t, *c.Greedy, r.TieBreak, "tie-break")
	} else {
		assert.Equal(t, -1, r.TieBreak, "no tie-break")
	}
	assert.Equal(t, c.Fallback, r.Fallback, "break_sample_tie fallback")
	assert.InDeltaSlice(t, c.Output, f64(r.Output), 1e-4, "output (votes + tie-break)")
	assert.Equal(t, c.PredMax, r.Pred, "prediction")
}

// TestOriginalZERO: Vote on the cosines the original computed gives its entropy order, kept views, ties, tie-break
// and output (core cases: random features, crafted vote ties with the greedy and the break_sample_tie fallback,
// split votes, 0 kept views, int(N * gamma) truncation); the whole Adapter on the tiny CLIP and views the original
// ran gives its image features within 1e-4, its kept views exactly, its output within 1e-4 and its prediction.
func TestOriginalZERO(t *testing.T) {
	o := loadOriginal(t)
	require.Equal(t, "c609f7c", o.Commit)
	require.Len(t, o.Cases, 11)
	b := backend.MustNew()
	for _, c := range o.Cases {
		t.Run(c.Name, func(t *testing.T) {
			scale := math.Exp(float64(float32(c.LogitScale)))
			if c.Kind == "core" {
				r, err := Vote(f32rows(c.L), scale, c.Gamma)
				require.NoError(t, err)
				checkResult(t, c, r)
				return
			}
			m, err := clip.Load(filepath.Join(tptTestdata, c.Model), clip.LoadOpts{})
			require.NoError(t, err)
			templates := []string{DefaultTemplate}
			if c.Templates != nil {
				templates = imagenet.TipTemplates()
				require.Equal(t, c.Templates, templates, "the original's tip_imagenet_templates")
			}
			a, err := New(b, m, refTokenizer(c.TokenIDs), c.Classes, templates, Options{Gamma: c.Gamma})
			require.NoError(t, err)
			require.NoError(t, a.Reset())
			pred, err := a.Adapt(&tta.Views{ExampleID: c.Name, Images: loadViews(t, c.Views)})
			require.NoError(t, err)
			tr := a.LastTrace()
			assert.InDeltaSlice(t, flat(c.ZImg), flat32(tr.Features), 1e-4, "normalised image features")
			assert.InDeltaSlice(t, flat(c.L), flat32(tr.Cosines), 1e-5, "cosines")
			checkResult(t, c, tr.Result)
			assert.Equal(t, nonNil(c.Kept), nonNil(pred.Selected), "Prediction.Selected")
			assert.InDeltaSlice(t, c.Output, f64(pred.Logits), 1e-4, "Prediction.Logits")
			t.Logf("%s: max |diff| features %.2g, cosines %.2g", c.Name, maxAbsDiff(flat(c.ZImg), flat32(tr.Features)),
				maxAbsDiff(flat(c.L), flat32(tr.Cosines)))
		})
	}
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range min(len(a), len(b)) {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
