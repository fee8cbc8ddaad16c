package report

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
)

// continualGroup returns the cells of order that are c's experiment, in order, when it is continual and some of
// them are not complete (the stream has to run); nil otherwise (complete cells are reused one by one).
func continualGroup(order []*Cell, c *Cell, modelsID string) []*Cell {
	if !c.Experiment.Continual {
		return nil
	}
	key := c.Experiment.Key(modelsID)
	var group []*Cell
	complete := true
	for _, g := range order {
		if g.Experiment.Key(modelsID) == key {
			group = append(group, g)
			if recs, err := readComplete(g.Path, g.N); err != nil || recs == nil {
				complete = false
			}
		}
	}
	if complete {
		return nil
	}
	return group
}

// runContinual evaluates the cells of a continual experiment (group, one per dataset) as one stream over their
// datasets in order (eval.RunStream, each cell's first N examples into its records file) on the adapter build
// makes. A failure (an adapter that fails to build or is not online, datasets with other classes, a failed stream)
// becomes every cell's Err; the error returned is a dataset that cannot be opened, a records folder that cannot be
// written, or an interruption.
func runContinual(group []*Cell, openDS func(id string) (datasets.Dataset, error),
	build func(classes []string) (tta.Adapter, tta.ViewMaker, error), eo eval.Options) error {
	fail := func(err error) error {
		for _, g := range group {
			g.Err = err
		}
		return nil
	}
	id := group[0].Experiment.ID
	var parts []eval.StreamPart
	for _, g := range group {
		ds, err := openDS(g.Dataset)
		if err != nil {
			return err
		}
		if len(parts) > 0 && !slices.Equal(ds.Classes(), parts[0].Dataset.Classes()) {
			return fail(fmt.Errorf("%s: a continual stream needs the same classes on every dataset: %s has %d, %s %d",
				id, group[0].Dataset, len(parts[0].Dataset.Classes()), g.Dataset, len(ds.Classes())))
		}
		parts = append(parts, eval.StreamPart{Dataset: ds, Out: g.Path, Limit: g.N})
	}
	a, vm, err := build(parts[0].Dataset.Classes())
	if err != nil {
		return fail(err)
	}
	online, ok := a.(tta.Online)
	if !ok {
		return fail(fmt.Errorf("%s: continual is for online methods; %s adapts each example afresh", id,
			group[0].Experiment.Method))
	}
	for _, g := range group {
		if err := writeExperimentFile(g); err != nil {
			return err
		}
	}
	res, err := eval.RunStream(parts, online, vm, eo)
	for j, g := range group {
		if j < len(res) {
			g.Records = firstN(res[j], g.N)
		}
	}
	if errors.Is(err, eval.ErrInterrupted) {
		return err
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
