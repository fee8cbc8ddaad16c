package tta

import (
	"errors"
	"fmt"
)

// BatchAdapter adapts several examples in one call (throughput mode): each example keeps its own adapted state,
// optimizer state and selection, so the predictions are those of Reset followed by Adapt on each example alone, up
// to the float32 rounding of batched arithmetic. The runner (tta/eval) groups consecutive examples into batches.
type BatchAdapter interface {
	// BatchSize is the most examples one AdaptBatch takes (B): the compiled shape. A shorter last batch is padded
	// or run at its own size, as the method documents; padding never changes the other examples' results.
	BatchSize() int
	// AdaptBatch starts every example from the state Reset restores (it restores its own per-example state first),
	// adapts on each example's views and returns their predictions in order. 1 <= len(vs) <= BatchSize(). An error
	// fails the whole batch; the runner then evaluates its examples one at a time with Reset and Adapt.
	AdaptBatch(vs []*Views) ([]*Prediction, error)
}

// Batcher is an Adapter with a batched path.
type Batcher interface {
	Adapter
	// Batched returns the adapter's batched path for batches of size examples (the same value for the same size:
	// it owns the per-example state of that size), or an error wrapping ErrNoBatch when this configuration has none.
	Batched(size int) (BatchAdapter, error)
}

// ErrNoBatch says that a method (or one of its configurations) has no batched path.
var ErrNoBatch = errors.New("no batched path")

// BatchOf returns a's batched path for batches of size examples: an error wrapping ErrNoBatch, naming the method,
// when a is not a Batcher or refuses the size.
func BatchOf(a Adapter, size int) (BatchAdapter, error) {
	if size < 1 {
		return nil, fmt.Errorf("tta: batch size %d: want >= 1", size)
	}
	b, ok := a.(Batcher)
	if !ok {
		return nil, fmt.Errorf("tta: method %s has %w (batches of examples run only for methods that have one, "+
			"e.g. tpt, c-tpt and tpt's ensemble presets)", a.Name(), ErrNoBatch)
	}
	ba, err := b.Batched(size)
	if err != nil {
		return nil, fmt.Errorf("tta: method %s: %w", a.Name(), err)
	}
	return ba, nil
}

// Preloader is an Adapter that can move an example's views to its device before Adapt or AdaptBatch: the runner's
// prefetch stage calls Preload on another goroutine while the adapter works on earlier examples, so uploads overlap
// the computation. Preload must not change what Adapt computes.
type Preloader interface {
	Preload(v *Views) error
}
