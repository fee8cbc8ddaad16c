package mta

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tptTestdata holds the tiny random CLIP and views the references were made on (tta/tpt/testdata/README.md).
const tptTestdata = "../tpt/testdata"

// original is testdata/original_mta.json: outputs of the original MTA code (testdata/gen_original.py).
type original struct {
	Commit  string         `json:"mta_commit"`
	LambdaY float64        `json:"lambda_y"`
	LambdaQ float64        `json:"lambda_q"`
	Cases   []originalCase `json:"cases"`
}

// originalCase is one example run by the original solve_mta.
type originalCase struct {
	Name      string           `json:"name"`
	Kind      string           `json:"kind"` // "core" (given features) or "e2e" (the original pipeline on a tiny CLIP)
	ZImg      [][]float64      `json:"z_img"`
	ZTxt      [][]float64      `json:"z_txt"`
	Scale     float64          `json:"scale"` // exp(logit_scale)
	K         int              `json:"k"`
	Bandwidth []float64        `json:"bandwidth"`
	Modes     [][]float64      `json:"modes"`
	Ys        [][]float64      `json:"ys"`
	FinalMode []float64        `json:"final_mode"`
	Output    []float64        `json:"output"`
	Pred      int              `json:"pred"`
	Model     string           `json:"model"`
	Views     string           `json:"views"`
	Classes   []string         `json:"classes"`
	TokenIDs  map[string][]int `json:"token_ids"`
}

func loadOriginal(t *testing.T) original {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "original_mta.json"))
	require.NoError(t, err)
	var o original
	require.NoError(t, json.Unmarshal(data, &o))
	return o
}

// checkTrace compares a MeanShift trace and the mode's logits with the original's record of the same example.
func checkTrace(t *testing.T, c originalCase, tr *Trace, logits []float32) {
	t.Helper()
	assert.InDeltaSlice(t, c.Bandwidth, tr.Bandwidth, 1e-5, "bandwidths")
	require.Len(t, tr.Modes, len(c.Modes), "kernel evaluations (iteration counts)")
	require.Len(t, tr.Ys, len(c.Ys), "inlierness updates (iteration counts)")
	for i := range c.Modes {
		assert.InDeltaSlice(t, c.Modes[i], tr.Modes[i], 1e-4, "mode %d", i)
	}
	for i := range c.Ys {
		assert.InDeltaSlice(t, c.Ys[i], tr.Ys[i], 1e-4, "inlierness %d", i)
	}
	assert.InDeltaSlice(t, c.FinalMode, tr.Mode, 1e-4, "final mode")
	assert.InDeltaSlice(t, c.Output, f64(logits), 1e-4, "logits of the mode")
	assert.Equal(t, c.Pred, argmax(logits), "prediction")
}

// TestOriginalMTA: MeanShift on the features the original got gives its bandwidths, the same number of kernel
// evaluations and inlierness updates, every mode and inlierness vector, the final mode and its logits within 1e-4,
// and its prediction (core cases: random features with 64, 16, 5 views, a duplicated view); the whole Adapter on
// the tiny CLIP and views the original ran gives its image features within 1e-4 and the same.
func TestOriginalMTA(t *testing.T) {
	o := loadOriginal(t)
	require.Equal(t, "cafafdfa2918d3e9e45eb711f6aed8e3582fcb8d", o.Commit)
	require.Equal(t, []float64{DefaultLambdaY, DefaultLambdaQ}, []float64{o.LambdaY, o.LambdaQ})
	require.Len(t, o.Cases, 7)
	b := backend.MustNew()
	for _, c := range o.Cases {
		t.Run(c.Name, func(t *testing.T) {
			require.Equal(t, int(NeighborFraction*float64(len(c.ZImg)-1)), c.K)
			if c.Kind == "core" {
				feats := f32rows(c.ZImg)
				logits := make([][]float32, len(feats))
				for i, f := range feats {
					logits[i] = make([]float32, len(c.ZTxt))
					for j, tx := range c.ZTxt {
						s := 0.0
						for l := range f {
							s += float64(f[l]) * tx[l]
						}
						logits[i][j] = float32(c.Scale * s)
					}
				}
				tr, err := MeanShift(feats, logits, DefaultLambdaY, DefaultLambdaQ, DefaultMaxIter)
				require.NoError(t, err)
				out := make([]float32, len(c.ZTxt))
				for j, tx := range c.ZTxt {
					s := 0.0
					for l, m := range tr.Mode {
						s += m * tx[l]
					}
					out[j] = float32(c.Scale * s)
				}
				checkTrace(t, c, tr, out)
				return
			}
			m, err := clip.Load(filepath.Join(tptTestdata, c.Model), clip.LoadOpts{})
			require.NoError(t, err)
			a, err := New(b, m, refTokenizer(c.TokenIDs), c.Classes, nil, Options{})
			require.NoError(t, err)
			require.NoError(t, a.Reset())
			pred, err := a.Adapt(&tta.Views{ExampleID: c.Name, Images: loadViews(t, c.Views)})
			require.NoError(t, err)
			last := a.LastTrace()
			assert.InDeltaSlice(t, flat(c.ZImg), flat32(last.Features), 1e-4, "normalised image features")
			checkTrace(t, c, last.Trace, pred.Logits)
			assert.Nil(t, pred.Selected)
			t.Logf("%s: max |diff| features %.2g, final mode %.2g, logits %.2g", c.Name,
				maxAbsDiff(flat(c.ZImg), flat32(last.Features)), maxAbsDiff(c.FinalMode, last.Trace.Mode),
				maxAbsDiff(c.Output, f64(pred.Logits)))
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

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
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
