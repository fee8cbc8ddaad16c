package tpt

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// ViewMaker makes TPT's views of an image: view 0 is CLIP's base preprocessing (bicubic resize of the shorter
// side, center crop), views 1..N-1 are random resized crops (scale 0.08-1, ratio 3/4-4/3, bilinear) with a random
// horizontal flip, all normalised with CLIP's mean and std: [N, R, R, 3] float32.
type ViewMaker struct {
	// Views is the augment configuration (N, Kind, Preprocess); its Seed is replaced by MakeViews' seed.
	Views augment.Views
}

// NewViewMaker returns TPT's view maker for m with n views (the paper: 64).
func NewViewMaker(m *clip.Model, n int) *ViewMaker {
	return &ViewMaker{Views: augment.Views{N: n, Kind: augment.RandomResizedCrop, Preprocess: m.Preprocess()}}
}

// MakeViews implements tta.ViewMaker.
func (v *ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	cfg := v.Views
	cfg.Seed = seed
	if cfg.N <= 0 {
		return nil, fmt.Errorf("tpt: ViewMaker needs N >= 1 views, got %d (example %q)", cfg.N, exampleID)
	}
	data, err := cfg.Generate(augment.FromImage(img), exampleID)
	if err != nil {
		return nil, fmt.Errorf("tpt: views of %q: %w", exampleID, err)
	}
	s := cfg.Preprocess.Size
	return &tta.Views{ExampleID: exampleID, Seed: seed,
		Images: tensors.FromFlatDataAndDimensions(data, cfg.N, s, s, 3)}, nil
}
