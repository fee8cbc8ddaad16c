package tda

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
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

// tptTestdata holds the tiny random CLIP and the base views the references were made on.
const tptTestdata = "../tpt/testdata"

// original is testdata/original_tda.json: streams run by the original TDA code (testdata/gen_original.py).
type original struct {
	Commit    string           `json:"tda_commit"`
	Model     string           `json:"model"`
	BaseViews []string         `json:"base_views"`
	Streams   []originalStream `json:"streams"`
}

type cacheCfg struct {
	Enabled bool    `json:"enabled"`
	Shots   int     `json:"shot_capacity"`
	Alpha   float64 `json:"alpha"`
	Beta    float64 `json:"beta"`
	Entropy *bounds `json:"entropy_threshold"`
	Mask    *bounds `json:"mask_threshold"`
}

type bounds struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// originalStream is one stream: its configuration (tda_runner.py's pos_cfg / neg_cfg) and every example's record.
type originalStream struct {
	Name          string            `json:"name"`
	Classes       []string          `json:"classes"`
	Templates     []string          `json:"templates"`
	Positive      cacheCfg          `json:"positive"`
	Negative      cacheCfg          `json:"negative"`
	Views         int               `json:"views"`
	TokenIDs      map[string][]int  `json:"token_ids"`
	ClassFeatures [][]float64       `json:"class_features"`
	Examples      []originalExample `json:"examples"`
}

// originalExample is what the original computed for one example of a stream, after its cache updates.
type originalExample struct {
	Views        [][4]float64            `json:"views"` // [a, b, flip, w] per view (gen_original.py make_views)
	Entropies    []float64               `json:"entropies"`
	Selected     []int                   `json:"selected"`
	Features     []float64               `json:"features"`
	CLIPLogits   []float64               `json:"clip_logits"`
	Loss         float64                 `json:"loss"`
	ProbMap      []float64               `json:"prob_map"`
	CachePred    int                     `json:"cache_pred"`
	PropEntropy  float64                 `json:"prop_entropy"`
	PosUpdate    bool                    `json:"pos_update"`
	NegUpdate    bool                    `json:"neg_update"`
	PosLogits    []float64               `json:"pos_logits"`
	NegLogits    []float64               `json:"neg_logits"`
	FinalLogits  []float64               `json:"final_logits"`
	Prediction   int                     `json:"prediction"`
	PosCache     map[string][][2]float64 `json:"pos_cache"` // class -> [example index, loss] in cache order
	NegCache     map[string][][2]float64 `json:"neg_cache"`
	SelectionGap *float64                `json:"selection_gap"`
}

// refTokenizer returns the token ids the original's clip.tokenize gave each prompt.
type refTokenizer map[string][]int

// Encode implements clip.Tokenizer.
func (r refTokenizer) Encode(text string, contextLen int, _ bool) ([]int, error) {
	ids, ok := r[text]
	if !ok || len(ids) != contextLen {
		return nil, fmt.Errorf("refTokenizer: no %d ids for %q", contextLen, text)
	}
	return ids, nil
}

// baseViews reads the base images [32][3*R*R] (NCHW rows) and R.
func baseViews(t *testing.T, files []string) ([][]float32, int) {
	t.Helper()
	var out [][]float32
	r := 0
	for _, f := range files {
		data, shape, err := weights.ReadNPYFloat32(filepath.Join(tptTestdata, f))
		require.NoError(t, err)
		require.Len(t, shape, 4)
		r = shape[2]
		sz := shape[1] * shape[2] * shape[3]
		for i := range shape[0] {
			out = append(out, data[i*sz:(i+1)*sz])
		}
	}
	return out, r
}

// makeViews is gen_original.py's make_views, NHWC: view = base[a] + w * base[b] (flipped left-right when flip).
func makeViews(base [][]float32, r int, spec [][4]float64) *tensors.Tensor {
	n := len(spec)
	out := make([]float32, n*r*r*3)
	for i, s := range spec {
		a, b, flip, w := base[int(s[0])], base[int(s[1])], s[2] != 0, float32(s[3])
		for ch := range 3 {
			for y := range r {
				for x := range r {
					xb := x
					if flip {
						xb = r - 1 - x
					}
					out[((i*r+y)*r+x)*3+ch] = a[(ch*r+y)*r+x] + b[(ch*r+y)*r+xb]*w
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, r, r, 3)
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
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

// cacheRecord is a Cache as the original's record: class -> [example index, loss].
func cacheRecord(t *testing.T, c *Cache) map[string][][2]float64 {
	out := map[string][][2]float64{}
	for class, l := range c.Classes {
		for _, e := range l {
			idx, err := strconv.Atoi(e.Example[len("ex"):])
			require.NoError(t, err)
			out[strconv.Itoa(class)] = append(out[strconv.Itoa(class)], [2]float64{float64(idx), e.Loss})
		}
	}
	return out
}

// checkCache compares a cache with the original's: the same examples in the same order per class, losses within tol.
func checkCacheRecord(t *testing.T, name string, want, got map[string][][2]float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s cache classes", name)
	for class, w := range want {
		g := got[class]
		require.Len(t, g, len(w), "%s cache class %s", name, class)
		for i := range w {
			assert.Equal(t, w[i][0], g[i][0], "%s cache class %s entry %d: example", name, class, i)
			assert.InDelta(t, w[i][1], g[i][1], 1e-5, "%s cache class %s entry %d: loss", name, class, i)
		}
	}
}

// TestOriginalTDA runs each stream of the original through the Adapter on the same tiny CLIP and views and
// compares every example: the kept views exactly, the entropies, features, logits and loss, the cache class, which
// caches took the example, both caches' contents after it (which examples, in which order), the cache logits, the
// final logits within 1e-4, and the prediction.
func TestOriginalTDA(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "original_tda.json"))
	require.NoError(t, err)
	var o original
	require.NoError(t, json.Unmarshal(data, &o))
	require.Equal(t, "e697fb0", o.Commit)
	require.Len(t, o.Streams, 3)
	m, err := clip.Load(filepath.Join(tptTestdata, o.Model), clip.LoadOpts{})
	require.NoError(t, err)
	base, r := baseViews(t, o.BaseViews)
	b := backend.MustNew()
	for _, s := range o.Streams {
		t.Run(s.Name, func(t *testing.T) {
			require.ElementsMatch(t, imagenet.TipTemplates(), s.Templates, "the original's imagenet_templates (another order)")
			opts := Options{Select: DefaultSelect,
				Positive: CacheOptions{Enabled: s.Positive.Enabled, Shots: s.Positive.Shots, Alpha: s.Positive.Alpha,
					Beta: s.Positive.Beta},
				Negative: CacheOptions{Enabled: s.Negative.Enabled, Shots: s.Negative.Shots, Alpha: s.Negative.Alpha,
					Beta: s.Negative.Beta},
				EntropyLower: s.Negative.Entropy.Lower, EntropyUpper: s.Negative.Entropy.Upper,
				MaskLower: s.Negative.Mask.Lower, MaskUpper: s.Negative.Mask.Upper}
			a, err := New(b, m, refTokenizer(s.TokenIDs), s.Classes, s.Templates, opts)
			require.NoError(t, err)
			assert.InDeltaSlice(t, flatten(s.ClassFeatures), f64s(tensors.MustCopyFlatData[float32](a.head.TextTensor)), 1e-5,
				"class features")
			require.NoError(t, a.ResetStream())
			worst := map[string]float64{}
			for i, e := range s.Examples {
				id := fmt.Sprintf("ex%02d", i)
				require.NoError(t, a.Reset())
				pred, err := a.Adapt(&tta.Views{ExampleID: id, Images: makeViews(base, r, e.Views)})
				require.NoError(t, err, id)
				tr := a.LastTrace()
				assert.Equal(t, e.Selected, tr.Selected, "%s: kept views", id)
				assert.Equal(t, e.Selected, pred.Selected, "%s: Prediction.Selected", id)
				assert.InDeltaSlice(t, e.Entropies, tr.Entropies, 1e-4, "%s: view entropies", id)
				assert.InDeltaSlice(t, e.Features, f64s(tr.Feature), 1e-5, "%s: features", id)
				assert.InDeltaSlice(t, e.CLIPLogits, f64s(tr.CLIPLogits), 1e-4, "%s: clip logits", id)
				assert.InDelta(t, e.Loss, tr.Loss, 1e-5, "%s: loss", id)
				assert.InDelta(t, e.PropEntropy, tr.NormEntropy, 1e-5, "%s: normalised entropy", id)
				assert.InDeltaSlice(t, e.ProbMap, f64s(tr.Probs), 1e-5, "%s: prob map", id)
				assert.Equal(t, e.CachePred, tr.CachePred, "%s: cache class", id)
				assert.Equal(t, e.PosUpdate, tr.PosUpdated, "%s: positive update", id)
				assert.Equal(t, e.NegUpdate, tr.NegUpdated, "%s: negative update", id)
				pos, neg := a.Caches()
				checkCacheRecord(t, id+" positive", e.PosCache, cacheRecord(t, pos))
				checkCacheRecord(t, id+" negative", e.NegCache, cacheRecord(t, neg))
				sizes := a.AdaptTrace().Arrays[0].Data
				for class := range s.Classes {
					assert.Equal(t, float32(len(e.PosCache[strconv.Itoa(class)])), sizes[class], "%s: cache_sizes", id)
					assert.Equal(t, float32(len(e.NegCache[strconv.Itoa(class)])), sizes[len(s.Classes)+class],
						"%s: cache_sizes", id)
				}
				assert.Equal(t, e.PosLogits == nil, tr.PosLogits == nil, "%s: positive logits computed", id)
				assert.InDeltaSlice(t, e.PosLogits, tr.PosLogits, 1e-4, "%s: positive cache logits", id)
				assert.Equal(t, e.NegLogits == nil, tr.NegLogits == nil, "%s: negative logits computed", id)
				assert.InDeltaSlice(t, e.NegLogits, tr.NegLogits, 1e-4, "%s: negative cache logits", id)
				assert.InDeltaSlice(t, e.FinalLogits, f64s(pred.Logits), 1e-4, "%s: final logits", id)
				assert.Equal(t, e.Prediction, argmax(pred.Logits), "%s: prediction", id)
				worst["features"] = math.Max(worst["features"], maxAbsDiff(e.Features, f64s(tr.Feature)))
				worst["clip logits"] = math.Max(worst["clip logits"], maxAbsDiff(e.CLIPLogits, f64s(tr.CLIPLogits)))
				worst["final logits"] = math.Max(worst["final logits"], maxAbsDiff(e.FinalLogits, f64s(pred.Logits)))
				worst["loss"] = math.Max(worst["loss"], math.Abs(e.Loss-tr.Loss))
			}
			t.Logf("%s: %d examples, max |diff| %v", s.Name, len(s.Examples), worst)
		})
	}
}

func flatten(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
