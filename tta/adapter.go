package tta

import (
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/augment"
)

// Views is the batch of views of one example, preprocessed for one model: view 0 is the model's base
// preprocessing of the image, views 1..N-1 are augmentations.
type Views struct {
	// ExampleID is the stable id of the example (e.g. its relative path); view randomness derives from it.
	ExampleID string
	// Seed is the run's seed the views were made with.
	Seed int64
	// Images is [N, H, W, 3] float32, preprocessed (normalised) for the model. It may be nil when Raw is set.
	Images *tensors.Tensor
	// Raw, when set, holds the example's raw image for views made on the device, in the adapter's own graph
	// (tpt.ViewMaker.OnDevice): uint8 [Hb, Wb, 3], the image's H x W pixels at the top left, zero-padded to a size
	// bucket (Hb >= H, Wb >= W) so that few shapes reach the compiler. Adapters that cannot make views on the
	// device return an error naming the example when Images is nil.
	Raw *tensors.Tensor
	// Regions are the source regions of the N views in Raw, float32 [N, 2, 4] (augment.Views.CropRegions of the
	// unpadded image: view 0 the base preprocessing, views 1..N-1 the random crops, flips as in0 > in1); set with
	// Raw.
	Regions *tensors.Tensor
	// RawViews is the view configuration Regions were made with (output size, resampling filters,
	// normalisation; N = Regions' first dimension); set with Raw.
	RawViews *augment.Views
	// PerModel holds one view batch per member model, keyed by member name, for adapters that combine models
	// with different preprocessing (the multi-model ensemble); nil otherwise.
	PerModel map[string]*tensors.Tensor
}

// N is the number of views: Images' first dimension, else Regions' (views made on the device), else 0.
func (v *Views) N() int {
	switch {
	case v == nil:
		return 0
	case v.Images != nil && v.Images.Rank() > 0:
		return v.Images.Shape().Dimensions[0]
	case v.Regions != nil && v.Regions.Rank() > 0:
		return v.Regions.Shape().Dimensions[0]
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

// Prediction is an adapter's output for one example.
type Prediction struct {
	// Logits over the classes: for single-view methods the (adapted) view-0 logits; for ensembles the log of the
	// averaged probabilities.
	Logits []float32
	// EntropyBefore is the marginal entropy of the views before adaptation (NaN when not computed).
	EntropyBefore float64
	// EntropyAfter is the entropy of the final prediction's softmax.
	EntropyAfter float64
	// Selected are the views the method selected, in ascending-entropy order (nil when none were selected).
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
