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

var _ tta.Adapter = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
