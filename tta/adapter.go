package tta

import (
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Views is the batch of views of one example, preprocessed for one model: view 0 is the model's base
// preprocessing of the image, views 1..N-1 are augmentations. It holds what every method shares; a view maker and
// its adapter that need more (views made on the device from the raw image, one batch per member model) agree on a
// Payload type of their own, which the adapter takes back with PayloadOf.
type Views struct {
	// ExampleID is the stable id of the example (e.g. its relative path); view randomness derives from it.
	ExampleID string
	// Seed is the run's seed the views were made with.
	Seed int64
	// Images is [N, H, W, 3] float32, preprocessed (normalised) for the model. It may be nil when Payload carries
	// the views in another form; adapters that cannot use the payload return an error naming the example.
	Images *tensors.Tensor
	// Payload is a method's own form of the views (nil for most methods): tpt.RawImage (views made on the device
	// from the padded raw image) or ensemble.PerModel (one batch per member model).
	Payload Payload
}

// Payload is a method's own form of an example's views, made by its view maker and read by its adapter (see
// PayloadOf). Types in the method packages implement it; nothing else in tta looks inside.
type Payload interface {
	// N is the number of views the payload describes.
	N() int
}

// PayloadOf returns v's Payload as a T, and whether it is one.
func PayloadOf[T Payload](v *Views) (T, bool) {
	var zero T
	if v == nil || v.Payload == nil {
		return zero, false
	}
	p, ok := v.Payload.(T)
	return p, ok
}

// N is the number of views: Images' first dimension, else the Payload's, else 0.
func (v *Views) N() int {
	switch {
	case v == nil:
		return 0
	case v.Images != nil && v.Images.Rank() > 0:
		return v.Images.Shape().Dimensions[0]
	case v.Payload != nil:
		return v.Payload.N()
	}
	return 0
}

// ViewMaker makes an adapter's views of one raw image. Views must be deterministic per (seed, exampleID, view
// index), so results do not depend on worker count or sharding.
type ViewMaker interface {
	MakeViews(img image.Image, exampleID string, seed int64) (*Views, error)
}

// ViewConfigurer is a ViewMaker that describes its views as plain values (number, kind, preprocessing, augmentation
// parameters; see augment.Views.Config). tta/eval stores the description in every record, so a resumed run with
// other views is refused instead of mixing two kinds of views in one result file.
type ViewConfigurer interface {
	ViewConfig() map[string]any
}

// StepReport says what one adaptation step did.
type StepReport struct {
	// Step counts from 0.
	Step int `json:"step"`
	// Loss is the objective before the step's update (the marginal entropy of the selected views for TPT/MEMO).
	Loss float64 `json:"loss"`
	// Selected are the view indices the step used, in ascending-entropy order (nil means all views).
	Selected []int `json:"selected,omitempty"`
}

// Prediction is an adapter's output for one example. Every method fills each field with the meaning given here.
type Prediction struct {
	// Logits over the classes: for single-view methods the (adapted) view-0 logits; for ensembles the log of the
	// averaged probabilities.
	Logits []float32
	// EntropyBefore is the marginal entropy before adaptation: the entropy of the mean softmax of every view the
	// method ranks or adapts on (all the views it was given, or views 1..N-1 when view 0 serves the prediction
	// only), with the weights before any adaptation; for a multi-model ensemble, the entropy of its combination
	// of those views. NaN when not computed.
	EntropyBefore float64
	// EntropyAfter is the entropy of the final prediction's softmax.
	EntropyAfter float64
	// Selected are the views the method's confidence selection kept (at the first step for methods that reselect),
	// in ascending-entropy order, indices counting view 0; every view, ranked, when the selection keeps all; nil
	// for methods without a selection.
	Selected []int
	// Steps are the reports of the adaptation steps (empty for methods without gradient).
	Steps []StepReport
}

// Adapter is the protocol every test-time-adaptation method implements (tent's shape: configure, snapshot,
// restore before every example, adapt, predict).
//
// The evaluation runner calls, for each example: MakeViews, then Reset, then Adapt. Adapt runs the method's
// steps on the views of one example and returns the prediction made after adaptation.
type Adapter interface {
	// Name is the method's name as it appears in records and tables (e.g. "tpt", "memo", "zero-shot").
	Name() string
	// Config is the method's full effective configuration (every knob, with defaults filled in), for records.
	Config() map[string]any
	// Reset restores the adapted variables and the optimizer state to their values before any adaptation
	// (episodic test-time adaptation), without copying whole models.
	Reset() error
	// Adapt adapts on the views of one example and returns the prediction after adaptation.
	Adapt(v *Views) (*Prediction, error)
}

// Trace is what an adapter's last Adapt computed, for inspection (gotta adapt prints the prediction before
// adaptation and saves every array as .npy).
type Trace struct {
	// LogitsBefore are the views' logits before adaptation [N][C] (nil when not kept).
	LogitsBefore [][]float32
	// Entropies are the views' entropies before adaptation [N] (nil when not kept).
	Entropies []float64
	// Arrays are further float32 arrays the method keeps (e.g. TPT's prompt context before and after), saved as
	// Name + ".npy".
	Arrays []TraceArray
}

// TraceArray is one named float32 array of a Trace, row-major.
type TraceArray struct {
	// Name is the array's file name without extension.
	Name string
	// Shape is the array's shape.
	Shape []int
	// Data holds the values (nil when the last Adapt did not compute them).
	Data []float32
}

// Tracer is an Adapter that keeps what its last Adapt computed; AdaptTrace is nil before the first Adapt.
type Tracer interface {
	AdaptTrace() *Trace
}
