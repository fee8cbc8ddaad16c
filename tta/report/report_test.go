package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
)

// toyDataset has n 2x2 gray images; label i%3; the example id carries index and label.
type toyDataset struct {
	name string
	n    int
}

func (d toyDataset) Name() string      { return d.name }
func (d toyDataset) Len() int          { return d.n }
func (d toyDataset) Classes() []string { return []string{"a", "b", "c"} }
func (d toyDataset) Example(i int) (datasets.Example, error) {
	return datasets.Example{Image: image.NewGray(image.Rect(0, 0, 2, 2)), Label: i % 3,
		ID: fmt.Sprintf("%s/%d/%d", d.name, i, i%3)}, nil
}

// toyAdapter is right on example i iff i%8 < views/8 (so accuracy grows with the views param).
type toyAdapter struct{ views int }

func (a *toyAdapter) Name() string           { return "toy" }
func (a *toyAdapter) Config() map[string]any { return map[string]any{"views": a.views} }
func (a *toyAdapter) Reset() error           { return nil }
func (a *toyAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	parts := strings.Split(v.ExampleID, "/")
	i, _ := strconv.Atoi(parts[1])
	label, _ := strconv.Atoi(parts[2])
	pred := label
	if i%8 >= a.views/8 {
		pred = (label + 1) % 3
	}
	logits := []float32{0, 0, 0}
	logits[pred] = 2
	return &tta.Prediction{Logits: logits, EntropyBefore: math.NaN()}, nil
}

type toyViews struct{}

func (toyViews) MakeViews(img image.Image, id string, seed int64) (*tta.Views, error) {
	return &tta.Views{ExampleID: id, Seed: seed}, nil
}

var toyBuilds atomic.Int32

func init() {
	method.Register(&method.Spec{Name: "toy", Params: []method.Param{
		method.Int("views", 8, "views").AtLeast(1), method.Float("select", 1, "rho").Above(0).AtMost(1),
		method.Int("steps", 1, "steps").AtLeast(0), method.Float("lr", 1e-3, "lr").Above(0)},
		Build: func(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
			toyBuilds.Add(1)
			return &toyAdapter{views: v.Int("views")}, toyViews{}, nil
		}})
}

// toyEnv is an environment without models (the toy method needs none).
func toyEnv() *method.Env {
	env := method.NewEnv(nil, method.Models{})
	env.ModelsID, env.Description, env.BackendName = "toy-models", "toy models", "none"
	return env
}

func toySuite(n int) *Suite {
	open := func(name string) func() (datasets.Dataset, error) {
		return func() (datasets.Dataset, error) { return toyDataset{name: name, n: 100}, nil }
	}
	base := Experiment{ID: "base", Name: "Toy baseline", Method: "toy", Group: "toy", Params: Params{"views": 8}}
	better := Experiment{ID: "better", Name: "Toy better", Method: "toy", Group: "toy", Baseline: "base",
		Params: Params{"views": 32}}
	missing := Experiment{ID: "missing", Name: "Toy missing", Method: "toy-missing", Group: "toy", Baseline: "base"}
	return &Suite{Name: "toy", RecordsKey: "toy", Description: "toy suite",
		Datasets: []DatasetSpec{{ID: "clean", N: n, Open: open("clean")},
			{ID: "fog", N: n, Open: open("fog"), Shifted: true}, {ID: "zigzag", N: n, Open: open("zigzag"), Shifted: true}},
		Rows: []Experiment{base, better, missing},
		Ablations: []Ablation{{ID: "views", Title: "Accuracy vs views", XLabel: "views", YLabel: "top-1 (%)",
			Param: "views", Values: []float64{8, 16, 64}, Series: []Experiment{better, missing}, LogX: true}},
		AblationDatasets: []string{"fog"}, AblationN: n / 2,
		Reliability: []string{"base", "better", "missing"}}
}

// independent accuracy of the toy adapter on the first n examples: i%8 < views/8.
func toyAccuracy(views, n int) float64 {
	c := 0
	for i := range n {
		if i%8 < views/8 {
			c++
		}
	}
	return 100 * float64(c) / float64(n)
}

func TestRunTablesAndResume(t *testing.T) {
	dir := t.TempDir()
	env := toyEnv()
	var log bytes.Buffer
	toyBuilds.Store(0)
	res, err := Run(toySuite(16), env, Options{Dir: dir, Log: &log})
	require.NoError(t, err)
	// Cells: 3 rows x 3 datasets + ablation points on fog: better views 8, 16 (views 32 is not swept), 64 -> new
	// cells for views 8/16/64 of "better" (views 8 equals the baseline's params: shared).
	assert.Equal(t, 2*3*16+2*8, res.Computed, "examples computed: two rows x 3 sets x 16, views 16 and 64 on fog x 8")
	assert.Contains(t, log.String(), `not available (unknown method "toy-missing"`)

	sum := Summaries(res)
	require.Len(t, sum, 3)
	for _, ds := range []string{"clean", "fog", "zigzag"} {
		assert.InDelta(t, toyAccuracy(8, 16), sum[0].Top1[ds], 1e-9, ds)
		assert.InDelta(t, toyAccuracy(32, 16), sum[1].Top1[ds], 1e-9, ds)
		assert.True(t, math.IsNaN(sum[2].Top1[ds]))
	}
	assert.InDelta(t, toyAccuracy(32, 16)-toyAccuracy(8, 16), sum[1].Delta, 1e-9)
	assert.True(t, math.IsNaN(sum[0].Delta), "a row without baseline has no delta")
	assert.Contains(t, sum[2].Status, "not available")

	tab := MainTable(res)
	assert.Equal(t, []string{"method", "model", "clean", "fog", "zigzag", "mean (shifted)", "Δ", "p", "ECE",
		"s/example"}, tab.Header)
	assert.Equal(t, "Toy better", tab.Rows[1][0])
	// 8 of 16 right on each set: Wilson(16, 32) for the pooled mean (statsmodels: 0.33631, 0.66369).
	assert.Equal(t, "50.0 [33.6, 66.4]", tab.Rows[1][5])
	// On the 32 shifted examples the better row is alone right on 12 (i%8 in 1..3), the baseline on none: exact
	// McNemar p = 2·2^-12.
	assert.InDelta(t, 2/4096.0, sum[1].DeltaP, 1e-12)
	assert.Equal(t, 32, sum[1].Pairs)
	assert.True(t, strings.HasPrefix(tab.Rows[1][6], fmt.Sprintf("%+.1f [", toyAccuracy(32, 16)-toyAccuracy(8, 16))))
	assert.True(t, strings.HasSuffix(tab.Rows[1][6], "]*"), "significant: marked, %q", tab.Rows[1][6])
	assert.Equal(t, "<0.001", tab.Rows[1][7])
	assert.Equal(t, "Toy missing †", tab.Rows[2][0])
	assert.Equal(t, "n/a", tab.Rows[2][3])
	require.Len(t, tab.Notes, 1)
	assert.Contains(t, tab.Notes[0], `unknown method "toy-missing"`)
	assert.Contains(t, tab.Text(), "Toy better")
	assert.Contains(t, tab.Markdown(), "| Toy better | toy | ")

	abl := AblationTable(res, res.Suite.Ablations[0])
	require.Len(t, abl.Rows, 2)
	// views 8 is the baseline row's cell (16 examples: 2 right); views 16 and 64 have 8 examples (2 and 8 right).
	// Wilson bounds from statsmodels' proportion_confint(method="wilson").
	assert.Equal(t, []string{"Toy better", "12.5 [3.5, 36.0]", "25.0 [7.1, 59.1]", "100.0 [67.6, 100.0]"},
		abl.Rows[0])

	t.Run("second run reuses the records", func(t *testing.T) {
		builds := toyBuilds.Load()
		again, err := Run(toySuite(16), env, Options{Dir: dir})
		require.NoError(t, err)
		assert.Equal(t, 0, again.Computed)
		assert.Equal(t, builds, toyBuilds.Load(), "no adapter is built when every cell is complete")
		assert.Equal(t, MainTable(res), MainTable(again))
	})
	t.Run("a larger run only computes the new examples", func(t *testing.T) {
		more, err := Run(toySuite(24), env, Options{Dir: dir, SkipAblations: true})
		require.NoError(t, err)
		assert.Equal(t, 2*3*8, more.Computed)
		assert.InDelta(t, toyAccuracy(32, 24), Summaries(more)[1].Top1["fog"], 1e-9)
	})
	t.Run("Load reads without computing", func(t *testing.T) {
		loaded, err := Load(toySuite(16), "toy-models", dir)
		require.NoError(t, err)
		assert.Equal(t, MainTable(res).Rows, MainTable(loaded).Rows)
	})
	t.Run("records live under the experiment key", func(t *testing.T) {
		c := res.Cell(res.Suite.Rows[1], "fog")
		require.NotNil(t, c)
		assert.Equal(t, filepath.Join(dir, "toy", res.Suite.Rows[1].Key("toy-models"), "fog.jsonl"), c.Path)
		recs, _, err := eval.ReadRecords(c.Path)
		require.NoError(t, err)
		assert.Len(t, recs, 24)
	})
}

func TestHTMLHasEveryTableAndFigure(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(toySuite(16), toyEnv(), Options{Dir: dir})
	require.NoError(t, err)
	rep, err := Make(res)
	require.NoError(t, err)
	page := rep.HTML(PageInfo{Title: "Toy report", Command: "gotta report --toy"})

	// The page parses as XML-ish HTML: count the tables and the inline SVGs, and collect ids.
	ids := map[string]bool{}
	svgs := 0
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if e, ok := tok.(xml.StartElement); ok {
			if e.Name.Local == "svg" {
				svgs++
			}
			for _, a := range e.Attr {
				if a.Name.Local == "id" {
					ids[a.Value] = true
				}
			}
		}
	}
	for _, id := range []string{"main-table", "ablation-views", "configs-table", "fig-bars", "fig-ablation-views",
		"fig-reliability-base", "fig-reliability-better", "fig-time"} {
		assert.True(t, ids[id], "the page has #%s", id)
	}
	// bars + 1 ablation + 2 reliability diagrams (the missing row has none) + time.
	assert.Equal(t, 1+1+2+1, svgs)
	assert.Contains(t, string(page), "Toy better (ECE ")
	assert.Contains(t, string(page), "No results (failed or not available): Toy missing")
	assert.False(t, strings.Contains(string(page), "<?xml"), "SVGs are inlined without their XML declaration")
	noNS := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "", `xmlns:xlink="http://www.w3.org/1999/xlink"`,
		"").Replace(string(page))
	assert.False(t, strings.Contains(noNS, "http://") || strings.Contains(noNS, "https://"),
		"no external resource besides the SVG namespaces")
	assert.Contains(t, rep.Text(), "Accuracy vs views")
}

func TestKeysHashResolvedValues(t *testing.T) {
	e := Experiment{Method: "toy", Params: Params{"views": 64, "select": 0.1}}
	assert.Equal(t, e.Key("m"), Experiment{ID: "other", Method: "toy", Params: Params{"select": 0.1, "views": 64.0}}.Key("m"))
	assert.Equal(t, Experiment{Method: "toy"}.Key("m"), Experiment{Method: "toy", Params: Params{"views": 8}}.Key("m"),
		"a default given explicitly is the same configuration")
	assert.NotEqual(t, e.Key("m"), e.With("views", 8).Key("m"))
	assert.NotEqual(t, e.Key("m"), e.Key("other-models"))
	assert.NotEqual(t, Experiment{Method: "nope"}.Key("m"), Experiment{Method: "nope", Preset: "x"}.Key("m"),
		"an unknown method is keyed by its preset and overrides")

	_, _, err := build(toyEnv(), Experiment{ID: "x", Method: "toy", Params: Params{"viewz": 1}}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown parameter "viewz"`)
	_, _, err = build(toyEnv(), Experiment{ID: "x", Method: "toy", Params: Params{"views": 0}}, nil)
	assert.ErrorContains(t, err, "x: method toy: views 0: want views >= 1")
	_, _, err = build(toyEnv(), Experiment{ID: "x", Method: "nope"}, nil)
	assert.ErrorIs(t, err, ErrNotAvailable)
}

// failingAdapter fails on every example.
type failingAdapter struct{ toyAdapter }

func (*failingAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	return nil, fmt.Errorf("toy failure on %s", v.ExampleID)
}

func TestFailedExamplesAreNoted(t *testing.T) {
	if _, err := method.Lookup("toy-fail"); err != nil {
		method.Register(&method.Spec{Name: "toy-fail", Params: []method.Param{method.Int("views", 8, "views")},
			Build: func(*method.Env, []string, method.Values) (tta.Adapter, tta.ViewMaker, error) {
				return &failingAdapter{}, toyViews{}, nil
			}})
	}
	s := toySuite(4)
	s.Rows = append(s.Rows[:2], Experiment{ID: "fail", Name: "Toy fail", Method: "toy-fail", Baseline: "base",
		Params: Params{"views": 8}})
	s.Ablations[0].Series = []Experiment{s.Rows[2]}
	res, err := Run(s, toyEnv(), Options{Dir: t.TempDir()})
	require.NoError(t, err)
	sum := Summaries(res)
	assert.Equal(t, "failed: 12 examples on clean, fog, zigzag (e.g. clean example 0 (clean/0/0): toy failure on clean/0/0)",
		sum[2].Status)
	assert.True(t, math.IsNaN(sum[2].Mean))
	abl := AblationTable(res, s.Ablations[0])
	require.Len(t, abl.Notes, 1)
	assert.Contains(t, abl.Notes[0], "failed: ")
}
