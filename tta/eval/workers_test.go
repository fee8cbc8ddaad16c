package eval

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
)

// slowAdapter is fakeAdapter taking longer on some examples, so that workers finish out of order.
type slowAdapter struct {
	fakeAdapter
	adapted *atomic.Int32
}

func (a *slowAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	var i int
	for _, c := range v.ExampleID[2:] {
		i = 10*i + int(c-'0')
	}
	if i%3 == 0 {
		time.Sleep(3 * time.Millisecond)
	}
	a.adapted.Add(1)
	return a.fakeAdapter.Adapt(v)
}

func TestRunWorkersSameRecords(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 23, bad: 7}
	var n atomic.Int32
	run := func(out string, workers int, opts Options) ([]*Record, []*slowAdapter, error) {
		var built []*slowAdapter
		a := &slowAdapter{adapted: &n}
		opts.Out, opts.Seed, opts.Workers = out, 3, workers
		opts.NewWorker = func(w int) (tta.Adapter, tta.ViewMaker, error) {
			b := &slowAdapter{adapted: &n}
			built = append(built, b)
			return b, fakeViews{}, nil
		}
		recs, err := Run(ds, a, fakeViews{}, opts)
		return recs, append([]*slowAdapter{a}, built...), err
	}
	one := filepath.Join(dir, "one.jsonl")
	want, _, err := run(one, 1, Options{})
	require.NoError(t, err)
	for _, workers := range []int{2, 3, 40} {
		out := filepath.Join(dir, "w.jsonl")
		calls, last := 0, -1
		got, ads, err := run(out, workers, Options{Progress: func(p Progress) {
			calls++
			assert.Greater(t, p.Last.Index, last, "progress in index order")
			last = p.Last.Index
		}})
		require.NoError(t, err)
		assert.Len(t, ads, min(workers, ds.n), "one adapter per worker, no more workers than examples")
		adapts := 0
		for _, a := range ads {
			adapts += a.adapts
			assert.Equal(t, a.adapts+1, a.resets, "reset before each example and after the run")
		}
		assert.Equal(t, ds.n-1, adapts, "each readable example evaluated once")
		assert.Equal(t, ds.n, calls)
		assert.Equal(t, stripSeconds(want), stripSeconds(got), "workers %d", workers)
		fromFile, _, err := ReadRecords(out)
		require.NoError(t, err)
		assert.Equal(t, stripSeconds(want), stripSeconds(fromFile), "the file is in index order, workers %d", workers)
		require.NoError(t, WriteRecords(out, nil))
	}

	// Resume with workers: only the missing examples run.
	part := filepath.Join(dir, "part.jsonl")
	_, _, err = run(part, 1, Options{Limit: 9})
	require.NoError(t, err)
	n.Store(0)
	got, _, err := run(part, 2, Options{NoRetryErrors: true})
	require.NoError(t, err)
	assert.EqualValues(t, ds.n-9, n.Load(), "resumed examples are not evaluated again")
	assert.Equal(t, stripSeconds(want), stripSeconds(got))

	// A builder that fails is an error naming the worker.
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "fail.jsonl"), Workers: 2,
		NewWorker: func(int) (tta.Adapter, tta.ViewMaker, error) { return nil, nil, errors.New("out of memory") }})
	assert.ErrorContains(t, err, "worker 1 of 2: out of memory")
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "fail.jsonl"), Workers: 2})
	assert.ErrorContains(t, err, "NewWorker")
}

func TestRunWorkersInterrupted(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 40, bad: -1}
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := filepath.Join(dir, "int.jsonl")
	opts := Options{Out: out, Context: ctx, Workers: 3,
		NewWorker: func(int) (tta.Adapter, tta.ViewMaker, error) { return &slowAdapter{adapted: &n}, fakeViews{}, nil },
		Progress: func(p Progress) {
			if p.Done == 10 {
				cancel()
			}
		}}
	recs, err := Run(ds, &slowAdapter{adapted: &n}, fakeViews{}, opts)
	require.ErrorIs(t, err, ErrInterrupted)
	require.GreaterOrEqual(t, len(recs), 10)
	assert.Less(t, len(recs), ds.n)
	onFile, _, err := ReadRecords(out)
	require.NoError(t, err)
	assert.Equal(t, len(recs), len(onFile), "every evaluated example is written")
	for i, r := range onFile {
		assert.Equal(t, i, r.Index, "the records are a prefix, in order")
	}
	// Resuming completes the file.
	opts.Context, opts.Progress = nil, nil
	recs, err = Run(ds, &slowAdapter{adapted: &n}, fakeViews{}, opts)
	require.NoError(t, err)
	assert.Len(t, recs, ds.n)
}
