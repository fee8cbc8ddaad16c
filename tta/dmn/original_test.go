package dmn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/weights"
)

// tptTestdata holds the tiny random CLIP and views the references were made on (tta/tpt/testdata/README.md).
const tptTestdata = "../tpt/testdata"

// original is testdata/original_dmn.json: streams run by the original DMN code (testdata/gen_original.py).
type original struct {
	Commit  string           `json:"dmn_commit"`
	Streams []originalStream `json:"streams"`
}

// originalStream is one stream of examples through the original's direct_inference.
type originalStream struct {
	Name       string           `json:"name"`
	Model      string           `json:"model"`
	ViewFiles  []string         `json:"view_files"`
	NViews     int              `json:"n_views"`
	SelectionP float64          `json:"selection_p"`
	MemorySize int              `json:"memory_size"`
	Beta       float64          `json:"beta"`
	Classes    []string         `json:"classes"`
	Templates  []string         `json:"templates"`
	TokenIDs   map[string][]int `json:"token_ids"`
	LogitScale float64          `json:"logit_scale"`
	TextFeat   [][]float64      `json:"text_feat"`
	ViewIndex  [][]int          `json:"view_index"`
	Weights    []float64        `json:"weights"`
	Steps      []originalStep   `json:"steps"`
}

// originalStep is what the original computed for one example of the stream.
type originalStep struct {
	ZImg          [][]float64          `json:"z_img"`
	Probs         [][]float64          `json:"probs"`
	Entropies     []float64            `json:"entropies"`
	Selected      []int                `json:"selected"`
	InitPred      []float64            `json:"init_pred"`
	PseudoLabel   int                  `json:"pseudo_label"`
	Entropy       float64              `json:"entropy"`
	Action        string               `json:"action"`
	Slot          *int                 `json:"slot"`
	Count         []int                `json:"count"`
	Memory        [][][]float64        `json:"memory"`
	MemoryEntropy [][]float64          `json:"memory_entropy"`
	PMem          []float64            `json:"p_mem"`
	PText         []float64            `json:"p_text"`
	Final         map[string][]float64 `json:"final"`
	Pred          map[string]int       `json:"pred"`
	PredGap       map[string]float64   `json:"pred_gap"`
}

func loadOriginal(t *testing.T) original {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "original_dmn.json"))
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

// viewPool reads the view files ([16, 3, R, R] each) as one pool of NCHW views.
func viewPool(t *testing.T, files []string) (pool []float32, n, r int) {
	t.Helper()
	for _, f := range files {
		data, shape, err := weights.ReadNPYFloat32(filepath.Join(tptTestdata, f))
		require.NoError(t, err)
		require.Len(t, shape, 4)
		require.Equal(t, 3, shape[1])
		require.Equal(t, shape[2], shape[3])
		pool, n, r = append(pool, data...), n+shape[0], shape[2]
	}
	return pool, n, r
}

// streamViews is gen_original.py's stream_views as NHWC: example ex's views pool[idx[i]] under the symmetry ex % 8
// of the square (bit 2: transpose, then bit 0: flip W, bit 1: flip H).
func streamViews(pool []float32, r, ex int, idx []int) *tensors.Tensor {
	m := ex % 8
	out := make([]float32, len(idx)*r*r*3)
	for i, p := range idx {
		src := pool[p*3*r*r:]
		for y := range r {
			for x := range r {
				y1, x1 := y, x
				if m&2 != 0 {
					y1 = r - 1 - y
				}
				if m&1 != 0 {
					x1 = r - 1 - x
				}
				sy, sx := y1, x1
				if m&4 != 0 {
					sy, sx = x1, y1
				}
				for ch := range 3 {
					out[((i*r+y)*r+x)*3+ch] = src[(ch*r+sy)*r+sx]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, len(idx), r, r, 3)
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
		for _, x := range r {
			out = append(out, float64(x))
		}
	}
	return out
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range min(len(a), len(b)) {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// checkMemory compares the adapter's memory with the original's after one step.
func checkMemory(t *testing.T, s originalStep, m *Memory, ex int) {
	t.Helper()
	for c := range m.Classes() {
		require.Equal(t, s.Count[c], m.Count(c), "example %d class %d: filled slots", ex, c)
		for slot := range m.Count(c) {
			f := m.Feature(c, slot)
			got := make([]float64, len(f))
			for i, x := range f {
				got[i] = float64(x)
			}
			assert.InDeltaSlice(t, s.Memory[c][slot], got, 1e-4, "example %d class %d slot %d feature", ex, c, slot)
			assert.InDelta(t, s.MemoryEntropy[c][slot], m.Entropy(c, slot), 1e-5, "example %d class %d slot %d entropy",
				ex, c, slot)
		}
	}
}

// TestOriginalDMN runs the adapter over the streams the original's direct_inference ran (tiny random ViT CLIP,
// 5 classes, 7 Tip-Adapter templates, memories of 2 and 1 slots that fill and then replace or skip) and compares
// the whole stream: every view's features, the kept views, the pseudo-label, the memory write (action, slot) and
// the memory after it, the memory read's probabilities, the final scores p_text + w * p_mem for each weight
// (within 1e-4) and every prediction (exactly). A second adapter restored from the first's SaveStream halfway
// through continues the stream identically.
func TestOriginalDMN(t *testing.T) {
	o := loadOriginal(t)
	require.Equal(t, "c6c218c", o.Commit)
	require.Len(t, o.Streams, 2)
	b := backend.MustNew()
	for _, st := range o.Streams {
		t.Run(st.Name, func(t *testing.T) {
			require.Equal(t, imagenet.TipTemplates(), st.Templates, "the original's tip_imagenet_templates")
			m, err := clip.Load(filepath.Join(tptTestdata, st.Model), clip.LoadOpts{})
			require.NoError(t, err)
			ls, err := m.LogitScaleValue()
			require.NoError(t, err)
			require.InDelta(t, st.LogitScale, float64(ls), 1e-6)
			pool, _, r := viewPool(t, st.ViewFiles)
			for _, w := range st.Weights {
				key := strconv.FormatFloat(w, 'f', 1, 64)
				t.Run("weight"+key, func(t *testing.T) {
					opts := Options{Select: st.SelectionP, MemorySize: st.MemorySize, Beta: st.Beta, Weight: w}
					a, err := New(b, m, refTokenizer(st.TokenIDs), st.Classes, st.Templates, opts)
					require.NoError(t, err)
					assert.InDeltaSlice(t, flat(st.TextFeat), flat32(a.head.Text), 1e-4, "class text features")
					require.NoError(t, a.ResetStream())
					var resumed *Adapter
					maxFeat, maxFinal := 0.0, 0.0
					for ex, s := range st.Steps {
						views := &tta.Views{ExampleID: fmt.Sprintf("%s/%d", st.Name, ex),
							Images: streamViews(pool, r, ex, st.ViewIndex[ex])}
						require.NoError(t, a.Reset())
						pred, err := a.Adapt(views)
						require.NoError(t, err, "example %d", ex)
						tr := a.LastTrace()
						assert.InDeltaSlice(t, flat(s.ZImg), flat32(tr.Features), 1e-4, "example %d features", ex)
						assert.InDeltaSlice(t, flat(s.Probs), flat(tr.Probs), 1e-4, "example %d view probabilities", ex)
						assert.InDeltaSlice(t, s.Entropies, tr.Entropies, 1e-4, "example %d entropies", ex)
						assert.Equal(t, s.Selected, tr.Selected, "example %d kept views", ex)
						assert.Equal(t, s.Selected, pred.Selected, "example %d Prediction.Selected", ex)
						assert.InDeltaSlice(t, s.InitPred, tr.Vote, 1e-4, "example %d vote", ex)
						assert.Equal(t, s.PseudoLabel, tr.PseudoLabel, "example %d pseudo-label", ex)
						assert.InDelta(t, s.Entropy, tr.VoteEntropy, 1e-5, "example %d written entropy", ex)
						assert.Equal(t, s.Action, string(tr.Action), "example %d memory action", ex)
						if s.Slot != nil {
							assert.Equal(t, *s.Slot, tr.Slot, "example %d slot", ex)
						} else {
							assert.Equal(t, -1, tr.Slot, "example %d skipped", ex)
						}
						checkMemory(t, s, a.Memory(), ex)
						assert.InDeltaSlice(t, s.PText, tr.TextProbs, 1e-4, "example %d view 0 text probabilities", ex)
						assert.InDeltaSlice(t, s.PMem, tr.MemoryProbs, 1e-4, "example %d memory probabilities", ex)
						final := s.Final[key]
						require.Len(t, final, len(st.Classes), "example %d final scores for weight %s", ex, key)
						assert.InDeltaSlice(t, final, tr.Scores, 1e-4, "example %d final scores", ex)
						got := make([]float64, len(pred.Logits))
						for j, l := range pred.Logits {
							got[j] = math.Exp(float64(l)) * (1 + w)
						}
						assert.InDeltaSlice(t, final, got, 1e-4, "example %d exp(Logits) * (1 + w)", ex)
						assert.Equal(t, s.Pred[key], argmax32(pred.Logits), "example %d prediction", ex)
						maxFeat = math.Max(maxFeat, maxAbsDiff(flat(s.ZImg), flat32(tr.Features)))
						maxFinal = math.Max(maxFinal, maxAbsDiff(final, tr.Scores))

						// Halfway: a fresh adapter restored from this one's state continues the stream.
						if ex == len(st.Steps)/2 {
							state, err := a.SaveStream()
							require.NoError(t, err)
							resumed, err = New(b, m, refTokenizer(st.TokenIDs), st.Classes, st.Templates, opts)
							require.NoError(t, err)
							require.NoError(t, resumed.RestoreStream(state))
							checkMemory(t, s, resumed.Memory(), ex)
						} else if resumed != nil {
							rp, err := resumed.Adapt(views)
							require.NoError(t, err)
							assert.Equal(t, pred.Logits, rp.Logits, "example %d: the resumed adapter's logits", ex)
							checkMemory(t, s, resumed.Memory(), ex)
						}
					}
					require.NotNil(t, resumed)
					t.Logf("%s weight %s: max |diff| features %.2g, final scores %.2g", st.Name, key, maxFeat, maxFinal)
				})
			}
		})
	}
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
