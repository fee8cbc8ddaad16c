package clip

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
)

// ViewMaker makes the test-time views of CLIP methods (TPT, ZERO, MTA, zero-shot): view 0 is CLIP's base
// preprocessing (bicubic resize of the shorter side, center crop), views 1..N-1 are Views.Kind's augmentations
// (NewViewMaker: random resized crops, scale 0.08-1, ratio 3/4-4/3, bilinear, with a random horizontal flip), all
// normalised with CLIP's mean and std: tta.Views.Images [N, R, R, 3] float32. It implements tta.ViewMaker and
// tta.ViewConfigurer.
type ViewMaker struct {
	// Views is the augment configuration (N, Kind, Preprocess); its Seed is replaced by MakeViews' seed.
	Views augment.Views
}

// NewViewMaker returns the random-resized-crop view maker of m with n views (TPT's, ZERO's and MTA's views).
func NewViewMaker(m *Model, n int) *ViewMaker {
	return &ViewMaker{Views: augment.Views{N: n, Kind: augment.RandomResizedCrop, Preprocess: m.Preprocess()}}
}

// MakeViews implements tta.ViewMaker.
func (vm *ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	cfg := vm.Views
	cfg.Seed = seed
	if cfg.N <= 0 {
		return nil, fmt.Errorf("clip: ViewMaker needs N >= 1 views, got %d (example %q)", cfg.N, exampleID)
	}
	data, err := cfg.Generate(augment.FromImage(img), exampleID)
	if err != nil {
		return nil, fmt.Errorf("clip: views of %q: %w", exampleID, err)
	}
	s := cfg.Preprocess.Size
	return &tta.Views{ExampleID: exampleID, Seed: seed,
		Images: tensors.FromFlatDataAndDimensions(data, cfg.N, s, s, 3)}, nil
}

// ViewConfig implements tta.ViewConfigurer: Views.Config().
func (vm *ViewMaker) ViewConfig() map[string]any { return vm.Views.Config() }

var _ tta.ViewMaker = (*ViewMaker)(nil)
var _ tta.ViewConfigurer = (*ViewMaker)(nil)
