package eval

import (
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
)

// batchAdapter is fakeAdapter with a batched path: AdaptBatch predicts each example as Adapt does, and fails the
// whole batch when it holds example `poison`, whose Adapt fails too. It records the batches it ran.
type batchAdapter struct {
	fakeAdapter
	poison  int
	mu      sync.Mutex
	batches [][]string // example ids of each AdaptBatch call
	size    int
	singles int // Adapt calls
}

func (a *batchAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	a.singles++
	if v.ExampleID == fmt.Sprintf("ex%03d", a.poison) {
		return nil, errors.New("the device ran out of memory")
	}
	return a.fakeAdapter.Adapt(v)
}

func (a *batchAdapter) Batched(size int) (tta.BatchAdapter, error) {
	a.size = size
	return a, nil
}

func (a *batchAdapter) BatchSize() int { return a.size }

func (a *batchAdapter) AdaptBatch(vs []*tta.Views) ([]*tta.Prediction, error) {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ExampleID
	}
	a.mu.Lock()
	a.batches = append(a.batches, ids)
	a.mu.Unlock()
	if len(vs) > a.size {
		return nil, fmt.Errorf("%d examples for batches of %d", len(vs), a.size)
	}
	var out []*tta.Prediction
	for _, v := range vs {
		if v.ExampleID == fmt.Sprintf("ex%03d", a.poison) {
			panic("a kernel failed") // a panic from graph code fails the batch as an error does
		}
		p, err := a.fakeAdapter.Adapt(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// TestRunBatches: with BatchExamples the records equal those of one example at a time (with one worker and with
// several, a partial last batch, an unreadable example that leaves its batch, and a batch that fails and is
// evaluated again one example at a time so that only its failing example is an error record); resuming with
// batches evaluates only the missing examples; an adapter without a batched path is refused.
func TestRunBatches(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 23, bad: 7}
	want, err := Run(ds, &batchAdapter{poison: 11}, fakeViews{}, Options{Out: filepath.Join(dir, "one.jsonl"), Seed: 3})
	require.NoError(t, err)
	require.Contains(t, want[11].Error, "ex011", "the poisoned example is an error record")
	require.Contains(t, want[7].Error, "reading the image")
	for _, c := range []struct{ batch, workers int }{{3, 1}, {4, 1}, {5, 2}, {3, 3}} {
		t.Run(fmt.Sprintf("batch%d-workers%d", c.batch, c.workers), func(t *testing.T) {
			var built []*batchAdapter
			a := &batchAdapter{poison: 11}
			out := filepath.Join(dir, fmt.Sprintf("b%d_w%d.jsonl", c.batch, c.workers))
			got, err := Run(ds, a, fakeViews{}, Options{Out: out, Seed: 3, BatchExamples: c.batch,
				Workers: c.workers, NewWorker: func(int) (tta.Adapter, tta.ViewMaker, error) {
					b := &batchAdapter{poison: 11}
					built = append(built, b)
					return b, fakeViews{}, nil
				}})
			require.NoError(t, err)
			assert.Equal(t, stripSeconds(want), stripSeconds(got))
			fromFile, _, err := ReadRecords(out)
			require.NoError(t, err)
			assert.Equal(t, stripSeconds(want), stripSeconds(fromFile))
			seen, singles := map[string]int{}, 0
			for _, ad := range append([]*batchAdapter{a}, built...) {
				assert.Equal(t, c.batch, ad.size)
				singles += ad.singles
				for _, b := range ad.batches {
					assert.LessOrEqual(t, len(b), c.batch)
					for _, id := range b {
						seen[id]++
					}
				}
			}
			assert.Len(t, seen, ds.n-1, "every readable example went to a batch once")
			assert.NotContains(t, seen, "ex007", "the unreadable example left its batch")
			poisoned := (11 / c.batch) * c.batch
			assert.Equal(t, min(c.batch, ds.n-poisoned)-boolInt(7/c.batch == 11/c.batch), singles,
				"only the failed batch's examples ran one at a time")
		})
	}

	// Resume with batches: only the missing examples run.
	part := filepath.Join(dir, "part.jsonl")
	_, err = Run(ds, &batchAdapter{poison: 11}, fakeViews{}, Options{Out: part, Seed: 3, Limit: 9})
	require.NoError(t, err)
	a := &batchAdapter{poison: 11}
	got, err := Run(ds, a, fakeViews{}, Options{Out: part, Seed: 3, BatchExamples: 4, NoRetryErrors: true})
	require.NoError(t, err)
	assert.Equal(t, stripSeconds(want), stripSeconds(got))
	assert.Equal(t, []string{"ex009", "ex010", "ex011", "ex012"}, a.batches[0])

	// No batched path: refused before any example.
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "nobatch.jsonl"), BatchExamples: 2})
	require.ErrorIs(t, err, tta.ErrNoBatch)
	assert.ErrorContains(t, err, "method fake")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// overlapViews counts the views it made.
type overlapViews struct{ made *atomic.Int32 }

func (v overlapViews) MakeViews(img image.Image, id string, seed int64) (*tta.Views, error) {
	v.made.Add(1)
	return &tta.Views{ExampleID: id, Seed: seed}, nil
}

// overlapAdapter waits, adapting example i, until the views of example i+1 are made (or 2 s passed), and counts
// the examples where that happened: the next example's views were made while this one adapted.
type overlapAdapter struct {
	fakeAdapter
	made       *atomic.Int32
	n          int
	overlapped int
}

func (a *overlapAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	var i int
	fmt.Sscanf(v.ExampleID, "ex%03d", &i)
	if i+1 < a.n {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if int(a.made.Load()) >= i+2 {
				a.overlapped++
				break
			}
		}
	}
	return a.fakeAdapter.Adapt(v)
}

// TestRunPrefetch: the one-worker path makes the next example's views while the adapter works on the current one,
// and the records are the same with and without the prefetch stage.
func TestRunPrefetch(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 9, bad: -1}
	var made atomic.Int32
	a := &overlapAdapter{made: &made, n: ds.n}
	got, err := Run(ds, a, overlapViews{&made}, Options{Out: filepath.Join(dir, "pre.jsonl"), Seed: 1})
	require.NoError(t, err)
	assert.Equal(t, ds.n-1, a.overlapped, "every next example's views were made during the current adaptation")
	want, err := Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "none.jsonl"), Seed: 1,
		Prefetch: -1})
	require.NoError(t, err)
	assert.Equal(t, stripSeconds(want), stripSeconds(got))
	// Without the prefetch stage nothing overlaps (one example waits out its 2 s, then the test moves on).
	made.Store(0)
	b := &overlapAdapter{made: &made, n: 2}
	_, err = Run(memDataset{n: 2, bad: -1}, b, overlapViews{&made}, Options{Out: filepath.Join(dir, "off.jsonl"),
		Seed: 1, Prefetch: -1})
	require.NoError(t, err)
	assert.Zero(t, b.overlapped)
}

// preloadAdapter is fakeAdapter with a Preload that marks the views (Adapt checks the mark) and fails on example 4.
type preloadAdapter struct {
	fakeAdapter
	unloaded int
}

func (a *preloadAdapter) Preload(v *tta.Views) error {
	if v.ExampleID == "ex004" {
		return errors.New("out of device memory")
	}
	v.Seed = -v.Seed // the mark
	return nil
}

func (a *preloadAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if v.Seed >= 0 {
		a.unloaded++
	}
	return a.fakeAdapter.Adapt(v)
}

// TestRunPreload: the prefetch stage preloads every example before its adaptation; a failed preload is that
// example's error record.
func TestRunPreload(t *testing.T) {
	dir := t.TempDir()
	a := &preloadAdapter{}
	recs, err := Run(memDataset{n: 8, bad: -1}, a, fakeViews{}, Options{Out: filepath.Join(dir, "p.jsonl"), Seed: 2})
	require.NoError(t, err)
	require.Len(t, recs, 8)
	assert.Zero(t, a.unloaded, "every example was preloaded")
	assert.Equal(t, 7, a.adapts)
	for _, r := range recs {
		if r.Index == 4 {
			assert.Contains(t, r.Error, "uploading views: out of device memory")
		} else {
			assert.Empty(t, r.Error)
		}
	}
}
