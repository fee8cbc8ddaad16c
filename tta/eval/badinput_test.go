package eval

import (
	"context"
	"encoding/json"
	"errors"
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

// listDataset lists its example ids (datasets.Lister); example ids[bad] is unreadable when bad >= 0.
type listDataset struct {
	root string
	ids  []string
	bad  int
}

func (d *listDataset) Name() string      { return "list" }
func (d *listDataset) Len() int          { return len(d.ids) }
func (d *listDataset) Classes() []string { return []string{"a", "b", "c", "d", "e", "f"} }
func (d *listDataset) Root() string      { return d.root }
func (d *listDataset) ExampleKey(i int) (string, int) {
	return d.ids[i], int(d.ids[i][len(d.ids[i])-1]-'0') % 6
}
func (d *listDataset) Example(i int) (datasets.Example, error) {
	if i == d.bad {
		return datasets.Example{}, errors.New("decode: unexpected EOF")
	}
	id, label := d.ExampleKey(i)
	return datasets.Example{Image: image.NewGray(image.Rect(0, 0, 2, 2)), Label: label, ID: id}, nil
}

// countAdapter predicts class 0 and counts the examples it adapted on, by id.
type countAdapter struct {
	seen map[string]int
	// nanLoss, nanLogit: the ids whose step loss or logits are NaN.
	nanLoss, nanLogit string
	lr                float64
}

func (a *countAdapter) Name() string           { return "count" }
func (a *countAdapter) Config() map[string]any { return map[string]any{"lr": a.lr} }
func (a *countAdapter) Reset() error           { return nil }
func (a *countAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if a.seen == nil {
		a.seen = map[string]int{}
	}
	a.seen[v.ExampleID]++
	p := &tta.Prediction{Logits: []float32{3, 1, 0, 0, 0, 0}, Steps: []tta.StepReport{{Step: 0, Loss: 1.5}}}
	if v.ExampleID == a.nanLoss {
		p.Steps[0].Loss = math.NaN()
	}
	if v.ExampleID == a.nanLogit {
		p.Logits[2] = float32(math.Inf(1))
	}
	return p, nil
}

func TestResumeRefusesChangedData(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.jsonl")
	ds := &listDataset{root: dir, ids: []string{"a/1", "a/2", "b/3", "b/4"}, bad: -1}
	_, err := Run(ds, &countAdapter{}, fakeViews{}, Options{Out: out, Limit: 2})
	require.NoError(t, err)

	// One image that sorts earlier: every index moves.
	changed := &listDataset{root: dir, ids: []string{"a/0", "a/1", "a/2", "b/3", "b/4"}, bad: -1}
	a := &countAdapter{}
	_, err = Run(changed, a, fakeViews{}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "other data")
	assert.Contains(t, err.Error(), "4 examples, now 5")
	assert.Empty(t, a.seen, "nothing is evaluated")

	// Another tree with the same folder name and files.
	other := &listDataset{root: filepath.Join(dir, "elsewhere"), ids: ds.ids, bad: -1}
	_, err = Run(other, &countAdapter{}, fakeViews{}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "elsewhere")

	// The same data resumes.
	a = &countAdapter{}
	recs, err := Run(ds, a, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
	assert.Len(t, recs, 4)
	assert.Equal(t, map[string]int{"b/3": 1, "b/4": 1}, a.seen)
	for _, r := range recs {
		require.NotNil(t, r.Data)
		assert.Equal(t, ds.ids[r.Index], r.ExampleID)
	}
}

func TestResumeLegacyRecords(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.jsonl")
	ds := &listDataset{root: dir, ids: []string{"a/1", "a/2", "b/3", "b/4"}, bad: -1}
	_, err := Run(ds, &countAdapter{}, fakeViews{}, Options{Out: out, Limit: 2})
	require.NoError(t, err)
	// Records as the code before data identities wrote them: no "data".
	recs, _, err := ReadRecords(out)
	require.NoError(t, err)
	for _, r := range recs {
		r.Data = nil
	}
	require.NoError(t, WriteRecords(out, recs))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"data"`)

	changed := &listDataset{root: dir, ids: []string{"a/0", "a/1", "a/2", "b/3", "b/4"}, bad: -1}
	_, err = Run(changed, &countAdapter{}, fakeViews{}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `index 0 was example "a/1", it is now "a/0"`)

	a := &countAdapter{}
	got, err := Run(ds, a, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
	assert.Len(t, got, 4)
	assert.Equal(t, map[string]int{"b/3": 1, "b/4": 1}, a.seen)
}

func TestErrorRecordsAreRetried(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.jsonl")
	ds := &listDataset{root: dir, ids: []string{"a/1", "a/2", "b/3", "b/4"}, bad: 1}
	recs, err := Run(ds, &countAdapter{}, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
	require.Len(t, recs, 4)
	assert.Contains(t, recs[1].Error, "list example 1 (a/2): reading the image: decode: unexpected EOF")

	// --no-retry-errors: the error record stays.
	a := &countAdapter{}
	recs, err = Run(ds, a, fakeViews{}, Options{Out: out, NoRetryErrors: true})
	require.NoError(t, err)
	assert.Empty(t, a.seen)
	assert.NotEmpty(t, recs[1].Error)

	// The image is fixed: the rerun evaluates only the failed example and the file holds one record per index.
	ds.bad = -1
	a = &countAdapter{}
	recs, err = Run(ds, a, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"a/2": 1}, a.seen)
	require.Len(t, recs, 4)
	assert.Empty(t, recs[1].Error)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, 4, strings.Count(string(b), "\n"))

	// An appended retry (a run killed before the rewrite) reads as the last record of its index.
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	line, _ := json.Marshal(&Record{Method: "count", Config: map[string]any{"lr": 0.0}, Dataset: "list", Index: 2,
		ExampleID: "b/3", Prediction: 5})
	_, err = f.Write(append(line, '\n'))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	read, _, err := ReadRecords(out)
	require.NoError(t, err)
	require.Len(t, read, 4)
	assert.Equal(t, 5, read[2].Prediction)
}

func TestNonFiniteValuesAreErrorRecords(t *testing.T) {
	dir := t.TempDir()
	ds := &listDataset{root: dir, ids: []string{"a/1", "a/2", "b/3"}, bad: -1}
	out := filepath.Join(dir, "r.jsonl")
	recs, err := Run(ds, &countAdapter{nanLoss: "a/1", nanLogit: "a/2", lr: math.NaN()}, fakeViews{},
		Options{Out: out})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Contains(t, recs[0].Error, "list example 0 (a/1): adaptation step 0: the loss is NaN")
	assert.Contains(t, recs[1].Error, "list example 1 (a/2): prediction: logit 2 is +Inf")
	assert.Empty(t, recs[2].Error, "the run goes on")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"lr":"NaN"`)
	// The NaN configuration resumes as the same run.
	a := &countAdapter{lr: math.NaN()}
	_, err = Run(ds, a, fakeViews{}, Options{Out: out, NoRetryErrors: true})
	require.NoError(t, err)
	assert.Empty(t, a.seen)
	// A record with a NaN step loss is still written (as an error record) by WriteRecords.
	r := &Record{Method: "m", Index: 0, Steps: []tta.StepReport{{Loss: math.Inf(-1)}}, Config: map[string]any{"x": math.Inf(1)}}
	require.NoError(t, WriteRecords(out, []*Record{r}))
	back, _, err := ReadRecords(out)
	require.NoError(t, err)
	assert.Contains(t, back[0].Error, "step 0 loss is -Inf")
	assert.Equal(t, "+Inf", back[0].Config["x"])
}

func TestOutMustBeARegularFile(t *testing.T) {
	ds := &listDataset{ids: []string{"a/1"}, bad: -1}
	dir := t.TempDir()
	_, err := Run(ds, &countAdapter{}, fakeViews{}, Options{Out: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a folder")
	if _, serr := os.Stat("/dev/null"); serr == nil {
		_, err = Run(ds, &countAdapter{}, fakeViews{}, Options{Out: "/dev/null"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a device")
	}
}

func TestOneWriterPerFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.jsonl")
	unlock, err := lockFile(out)
	require.NoError(t, err)
	_, err = Run(&listDataset{ids: []string{"a/1"}, bad: -1}, &countAdapter{}, fakeViews{}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "being written by another process (pid ")
	unlock()
	_, err = Run(&listDataset{ids: []string{"a/1"}, bad: -1}, &countAdapter{}, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
}

func TestInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	recs, err := Run(&listDataset{ids: []string{"a/1", "a/2", "a/3"}, bad: -1}, &countAdapter{}, fakeViews{},
		Options{Out: out, Context: ctx, Progress: func(Progress) {
			if n++; n == 2 {
				cancel()
			}
		}})
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Len(t, recs, 2)
	onDisk, _, err := ReadRecords(out)
	require.NoError(t, err)
	assert.Len(t, onDisk, 2)
}

func TestJSONSafe(t *testing.T) {
	type s struct {
		A float32 `json:"a"`
		B []float64
		c int
	}
	got := JSONSafe(map[string]any{"x": s{A: float32(math.NaN()), B: []float64{1, math.Inf(-1)}}, "y": 2})
	_, err := json.Marshal(got)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"x": map[string]any{"a": "NaN", "B": []any{1.0, "-Inf"}}, "y": 2.0}, got)
}
