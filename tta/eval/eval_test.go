package eval

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memDataset has n examples; example bad is unreadable.
type memDataset struct{ n, bad int }

func (d memDataset) Name() string      { return "mem" }
func (d memDataset) Len() int          { return d.n }
func (d memDataset) Classes() []string { return []string{"a", "b", "c", "d", "e", "f"} }
func (d memDataset) Example(i int) (datasets.Example, error) {
	if i == d.bad {
		return datasets.Example{}, errors.New("decode: /data/bad.jpg: unexpected EOF")
	}
	return datasets.Example{Image: image.NewGray(image.Rect(0, 0, 2, 2)), Label: i % 6, ID: fmt.Sprintf("ex%03d", i)}, nil
}

// fakeAdapter predicts class (index % 6) for even indices (correct) and class 0 for odd ones, with a logit
// margin that makes the confidence known.
type fakeAdapter struct{ resets, adapts int }

func (a *fakeAdapter) Name() string           { return "fake" }
func (a *fakeAdapter) Config() map[string]any { return map[string]any{"lr": 0.005, "views": 4} }
func (a *fakeAdapter) Reset() error           { a.resets++; return nil }
func (a *fakeAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	a.adapts++
	var i int
	fmt.Sscanf(v.ExampleID, "ex%03d", &i)
	logits := make([]float32, 6)
	if i%2 == 0 {
		logits[i%6] = 10
	} else {
		logits[0] = 10
	}
	return &tta.Prediction{Logits: logits, EntropyBefore: 1, Selected: []int{0, 2}}, nil
}

type fakeViews struct{}

func (fakeViews) MakeViews(img image.Image, id string, seed int64) (*tta.Views, error) {
	return &tta.Views{ExampleID: id, Seed: seed}, nil
}

func stripSeconds(recs []*Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = *r
		out[i].Seconds = 0
		for _, f := range []*Float{&out[i].EntropyBefore, &out[i].EntropyAfter} {
			if math.IsNaN(float64(*f)) {
				*f = -1 // NaN != NaN: compare a sentinel.
			}
		}
	}
	return out
}

func TestRunResumeShardMerge(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 20, bad: 7}
	full := filepath.Join(dir, "full.jsonl")
	var term bytes.Buffer
	calls := 0
	recs, err := Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: full, Seed: 3, Terminal: &term,
		Progress: func(p Progress) { calls++ }})
	require.NoError(t, err)
	require.Len(t, recs, 20)
	assert.Equal(t, 20, calls)
	assert.Contains(t, term.String(), "20/20")
	assert.Contains(t, recs[7].Error, "bad.jpg", "an unreadable example is a record naming the file")
	for i, r := range recs {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, int64(3), r.Seed)
		if i != 7 {
			assert.Equal(t, i%2 == 0 || i%6 == 0, r.Correct, "index %d", i)
			assert.Equal(t, []int{0, 2}, r.Selected)
		}
	}

	// Killed halfway: the file holds 9 whole records and half of the 10th line.
	data, err := os.ReadFile(full)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	partial := filepath.Join(dir, "partial.jsonl")
	require.NoError(t, os.WriteFile(partial, []byte(strings.Join(lines[:9], "")+lines[9][:len(lines[9])/2]), 0o644))
	a := &fakeAdapter{}
	resumed, err := Run(ds, a, fakeViews{}, Options{Out: partial, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, 11, a.adapts, "only the 11 missing examples are evaluated")
	assert.Equal(t, stripSeconds(recs), stripSeconds(resumed))
	onDisk, _, err := ReadRecords(partial)
	require.NoError(t, err)
	assert.Equal(t, stripSeconds(recs), stripSeconds(onDisk), "none lost, none twice")

	// A rerun of a finished run evaluates nothing.
	a = &fakeAdapter{}
	_, err = Run(ds, a, fakeViews{}, Options{Out: partial, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, 0, a.adapts)

	// Another run's file is refused.
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: partial, Seed: 4})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another run")

	// Shards joined by Merge equal the full run.
	var shardFiles []string
	for s := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", s))
		shardFiles = append(shardFiles, p)
		got, err := Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: p, Seed: 3, Shard: s, NumShards: 3})
		require.NoError(t, err)
		for _, r := range got {
			assert.Equal(t, s, r.Index%3)
		}
	}
	merged, err := Merge(filepath.Join(dir, "merged.jsonl"), shardFiles...)
	require.NoError(t, err)
	assert.Equal(t, stripSeconds(recs), stripSeconds(merged))
	_, err = Merge("", full, filepath.Join(dir, "other.jsonl"))
	require.Error(t, err) // missing file
}

func TestMetrics(t *testing.T) {
	// Hand-built records: confidences 0.95 (correct), 0.95 (wrong), 0.55 (correct), 0.25 (correct).
	// Bins (15 equal-width): 0.95 -> bin 14 (acc 0.5, conf 0.95), 0.55 -> bin 8, 0.25 -> bin 3.
	// ECE = 2/4*|0.5-0.95| + 1/4*|1-0.55| + 1/4*|1-0.25| = 0.225 + 0.1125 + 0.1875 = 0.525.
	recs := []*Record{
		{Label: 1, Prediction: 1, Correct: true, Confidence: 0.95, Top5: []int{1, 2}, LabelLogProb: math.Log(0.95), Seconds: 1},
		{Label: 1, Prediction: 2, Correct: false, Confidence: 0.95, Top5: []int{2, 1}, LabelLogProb: math.Log(0.05), Seconds: 2},
		{Label: 3, Prediction: 3, Correct: true, Confidence: 0.55, Top5: []int{3}, LabelLogProb: math.Log(0.55), Seconds: 3},
		{Label: 4, Prediction: 4, Correct: true, Confidence: 0.25, Top5: []int{4}, LabelLogProb: math.Log(0.25), Seconds: 10},
		{Error: "bad file"},
	}
	m := ComputeMetrics(recs)
	assert.Equal(t, 4, m.N)
	assert.Equal(t, 1, m.Errors)
	assert.InDelta(t, 75.0, m.Top1, 1e-9)
	assert.InDelta(t, 100.0, m.Top5, 1e-9)
	assert.InDelta(t, 52.5, m.ECE, 1e-9)
	assert.InDelta(t, -(math.Log(0.95)+math.Log(0.05)+math.Log(0.55)+math.Log(0.25))/4, m.NLL, 1e-12)
	assert.InDelta(t, 2.5, m.SecondsMedian, 1e-12)
	assert.InDelta(t, 3+0.85*7, m.SecondsP95, 1e-12) // numpy.quantile([1,2,3,10], 0.95)
	assert.Equal(t, 2, m.Reliability.BinCount[14])

	tab := Table([]Row{{Name: "TPT", Dataset: "mem", Metrics: m, Baseline: &Metrics{Top1: 70}}})
	assert.Contains(t, tab.Markdown(), "| TPT | mem | 4 (+1 errors) | 75.00 | +5.00 |")
	assert.Contains(t, tab.HTML(), "<td>75.00</td>")
	assert.True(t, strings.HasPrefix(tab.CSV(), "method,dataset,n,top-1 (%)"))
}

func TestFillPrediction(t *testing.T) {
	r := &Record{Label: 2}
	r.FillPrediction([]float32{0, 1, 3, 2, -1, 0.5, 4})
	assert.Equal(t, 6, r.Prediction)
	assert.Equal(t, []int{6, 2, 3, 1, 5}, r.Top5)
	assert.False(t, r.Correct)
	// Independent softmax: confidence = e^4 / sum.
	sum := 0.0
	for _, v := range []float64{0, 1, 3, 2, -1, 0.5, 4} {
		sum += math.Exp(v)
	}
	assert.InDelta(t, math.Exp(4)/sum, r.Confidence, 1e-6)
	assert.InDelta(t, 3-math.Log(sum), r.LabelLogProb, 1e-6)
}

// describedViews is fakeViews that describes its views (tta.ViewConfigurer).
type describedViews struct{ kind string }

func (d describedViews) MakeViews(img image.Image, id string, seed int64) (*tta.Views, error) {
	return fakeViews{}.MakeViews(img, id, seed)
}
func (d describedViews) ViewConfig() map[string]any { return map[string]any{"kind": d.kind, "n": 4} }

// TestRunViewsRecorded: the views' description is in every record; a resume with other views is refused, the same
// views resume, and records written without a description (older files) still resume.
func TestRunViewsRecorded(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 6, bad: -1}
	out := filepath.Join(dir, "v.jsonl")
	recs, err := Run(ds, &fakeAdapter{}, describedViews{"cut"}, Options{Out: out, Limit: 3})
	require.NoError(t, err)
	for _, r := range recs {
		assert.Equal(t, map[string]any{"kind": "cut", "n": 4.0}, r.Views)
	}
	_, err = Run(ds, &fakeAdapter{}, describedViews{"memo-augmix"}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another run")
	assert.Contains(t, err.Error(), "memo-augmix")
	a := &fakeAdapter{}
	recs, err = Run(ds, a, describedViews{"cut"}, Options{Out: out})
	require.NoError(t, err)
	assert.Len(t, recs, 6)
	assert.Equal(t, 3, a.adapts, "the same views resume")

	old := filepath.Join(dir, "old.jsonl")
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: old, Limit: 2})
	require.NoError(t, err)
	a = &fakeAdapter{}
	recs, err = Run(ds, a, describedViews{"cut"}, Options{Out: old})
	require.NoError(t, err)
	assert.Len(t, recs, 6)
	assert.Equal(t, 4, a.adapts, "records without views resume")
}

// sharedModelAdapter adapts a model it shares with other adapters: Adapt changes *model, Reset restores the value
// the adapter snapshotted when it was made (as tta/memo and tta/tpt do).
type sharedModelAdapter struct {
	model      *int
	snap, seen int
}

func newShared(model *int) *sharedModelAdapter {
	return &sharedModelAdapter{model: model, snap: *model}
}

func (a *sharedModelAdapter) Name() string           { return "shared" }
func (a *sharedModelAdapter) Config() map[string]any { return map[string]any{} }
func (a *sharedModelAdapter) Reset() error           { *a.model = a.snap; return nil }
func (a *sharedModelAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	a.seen = *a.model // the value this example starts from
	*a.model += 100   // the adaptation step
	logits := make([]float32, 6)
	logits[a.seen%6] = 10
	return &tta.Prediction{Logits: logits}, nil
}

// TestRunLeavesTheModelAsFound: after a run the shared model holds its value from before the run, so an adapter
// made next starts from the same model whatever ran before it.
func TestRunLeavesTheModelAsFound(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 4, bad: -1}
	model := 7
	a := newShared(&model)
	_, err := Run(ds, a, fakeViews{}, Options{Out: filepath.Join(dir, "a.jsonl")})
	require.NoError(t, err)
	assert.Equal(t, 7, model, "the last example's update is undone")
	b := newShared(&model)
	recs, err := Run(ds, b, fakeViews{}, Options{Out: filepath.Join(dir, "b.jsonl")})
	require.NoError(t, err)
	for _, r := range recs {
		assert.Equal(t, 7%6, r.Prediction, "every example of the next run starts from the original model")
	}
}
