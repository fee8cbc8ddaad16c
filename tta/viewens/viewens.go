// Package viewens is the no-gradient view ensemble every method shares: a model's logits of an example's views,
// confidence selection (the floor(N rho) lowest-entropy views, tta.ConfidenceSelectHost) and the log of the selected
// views' mean softmax as the prediction. With one view it is the model's plain prediction. It serves CLIP
// zero-shot with a prompt and TPT's ensemble mode (tpt), the ResNet baseline and crop ensemble (memo) and
// MC-dropout (mcdropout, whose "views" are dropout samples of view 0).
//
// Usage:
//
//	a := viewens.New("memo-crop-ensemble", memoAdapter, 0.1)
//	pred, err := a.Adapt(views)
package viewens

import (
	"fmt"

	"github.com/gotta-ml/gotta/tta"
)

// Model gives the logits of an example's views with its fixed weights.
type Model interface {
	// ViewLogitsHost returns the logits [N][C] of the N views of v, on the host.
	ViewLogitsHost(v *tta.Views) ([][]float32, error)
	// Config is the model's configuration, recorded as the adapter's.
	Config() map[string]any
}

// BatchModel is a Model that also gives the view logits of several examples in one call (throughput mode).
type BatchModel interface {
	Model
	// ViewLogitsHostBatch returns the logits [len(vs)][N][C] of each example's views, running batches of size
	// examples (len(vs) <= size; the compiled shape).
	ViewLogitsHostBatch(vs []*tta.Views, size int) ([][][]float32, error)
}

// Adapter is the view ensemble of a Model as a tta.Adapter and tta.Tracer. Nothing adapts: Reset does nothing.
type Adapter struct {
	name   string
	model  Model
	rho    float64
	logits [][]float32 // the last Adapt's view logits
}

// New returns the ensemble of m's views named name in records, keeping the SelectCount(N, rho) lowest-entropy
// views; rho 1 keeps every view.
func New(name string, m Model, rho float64) *Adapter {
	return &Adapter{name: name, model: m, rho: rho}
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.name }

// Config implements tta.Adapter: the model's.
func (a *Adapter) Config() map[string]any { return a.model.Config() }

// Model returns the ensembled model.
func (a *Adapter) Model() Model { return a.model }

// Reset implements tta.Adapter (nothing adapts).
func (a *Adapter) Reset() error { return nil }

// Adapt implements tta.Adapter: the view logits, the selection and Predict.
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if v == nil {
		return nil, fmt.Errorf("%s: no views", a.name)
	}
	logits, err := a.model.ViewLogitsHost(v)
	if err != nil {
		return nil, err
	}
	if len(logits) == 0 {
		return nil, fmt.Errorf("%s: example %q has no views", a.name, v.ExampleID)
	}
	a.logits = logits
	return Predict(logits, a.rho), nil
}

// AdaptTrace implements tta.Tracer: the last views' logits and entropies.
func (a *Adapter) AdaptTrace() *tta.Trace {
	if a.logits == nil {
		return nil
	}
	return &tta.Trace{LogitsBefore: a.logits, Entropies: tta.ViewEntropiesHost(a.logits)}
}

// Predict is the ensemble's prediction from the views' logits [N][C]: Logits the log of the mean softmax of the
// SelectCount(N, rho) lowest-entropy views, Selected those views in ascending-entropy order, EntropyBefore the
// marginal entropy of all N views, EntropyAfter the prediction's entropy (see tta.Prediction).
func Predict(logits [][]float32, rho float64) *tta.Prediction {
	sel := tta.ConfidenceSelectHost(tta.ViewEntropiesHost(logits), rho)
	out := tta.MeanLogProbsHost(logits, sel)
	return &tta.Prediction{Logits: out, Selected: sel, EntropyBefore: tta.EntropyOfLogits(tta.MeanLogProbsHost(logits,
		nil)), EntropyAfter: tta.EntropyOfLogits(out)}
}

// Batched implements tta.Batcher: the ensemble of batches of size examples, when the Model is a BatchModel; an
// error wrapping tta.ErrNoBatch otherwise.
func (a *Adapter) Batched(size int) (tta.BatchAdapter, error) {
	bm, ok := a.model.(BatchModel)
	if !ok {
		return nil, fmt.Errorf("%s: its model has %w", a.name, tta.ErrNoBatch)
	}
	if size < 1 {
		return nil, fmt.Errorf("%s: batch size %d: want >= 1", a.name, size)
	}
	return &batch{a: a, model: bm, size: size}, nil
}

// batch is an Adapter's batched path.
type batch struct {
	a     *Adapter
	model BatchModel
	size  int
}

// BatchSize implements tta.BatchAdapter.
func (b *batch) BatchSize() int { return b.size }

// AdaptBatch implements tta.BatchAdapter: Predict on each example's view logits (the Adapter's trace is not set).
func (b *batch) AdaptBatch(vs []*tta.Views) ([]*tta.Prediction, error) {
	logits, err := b.model.ViewLogitsHostBatch(vs, b.size)
	if err != nil {
		return nil, err
	}
	if len(logits) != len(vs) {
		return nil, fmt.Errorf("%s: %d examples' view logits for %d examples", b.a.name, len(logits), len(vs))
	}
	preds := make([]*tta.Prediction, len(vs))
	for i, l := range logits {
		if len(l) == 0 {
			return nil, fmt.Errorf("%s: example %q has no views", b.a.name, vs[i].ExampleID)
		}
		preds[i] = Predict(l, b.a.rho)
	}
	return preds, nil
}

var _ tta.Adapter = (*Adapter)(nil)
var _ tta.Batcher = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
