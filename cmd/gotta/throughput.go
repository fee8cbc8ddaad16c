package main

import (
	"fmt"
	"image"
	"io"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/tpt"
)

// benchTPTBatch is gotta bench tpt --batch-examples B: iters examples one at a time (Reset, Adapt), then iters
// batches of B examples (AdaptBatch), each after a first one that compiles; prints the median milliseconds per
// example and the examples per second of both (compute only: the views are made before the clock starts), and
// their ratio.
func benchTPTBatch(w io.Writer, b backends.Backend, a *tpt.Adapter, vm *tpt.ViewMaker, img image.Image, size, iters int, what string) error {
	ba, err := a.Batched(size)
	if err != nil {
		return err
	}
	makeViews := func(first, n int) ([]*tta.Views, error) {
		vs := make([]*tta.Views, n)
		for i := range vs {
			var err error
			if vs[i], err = vm.MakeViews(img, fmt.Sprintf("bench%d", first+i), int64(first+i)); err != nil {
				return nil, err
			}
		}
		return vs, nil
	}
	single := &benchPhase{name: "one example at a time (Reset, Adapt), per example", images: vm.Views.N}
	batched := &benchPhase{name: fmt.Sprintf("batches of %d (AdaptBatch), per example", size), images: vm.Views.N}
	for i := 0; i <= iters; i++ {
		vs, err := makeViews(i, 1)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := a.Reset(); err != nil {
			return err
		}
		if _, err := a.Adapt(vs[0]); err != nil {
			return err
		}
		single.add(i, time.Since(start))
	}
	for i := 0; i <= iters; i++ {
		vs, err := makeViews(i*size, size)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := ba.AdaptBatch(vs); err != nil {
			return err
		}
		batched.add(i, time.Since(start)/time.Duration(size))
	}
	fmt.Fprintf(w, "TPT throughput bench: %s; batches of %d examples\n", what, size)
	writePhaseTable(w, []*benchPhase{single, batched})
	one, per := single.medianMS(), batched.medianMS()
	fmt.Fprintf(w, "examples/s (compute, median): one at a time %.2f, batches of %d %.2f (x%.2f)\n", 1000/one, size,
		1000/per, one/per)
	writePeakMemory(w, b)
	return nil
}
