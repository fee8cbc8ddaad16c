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
//
// With OnDevice the views are made by the adapter on its backend instead (see device_views.go): MakeViews sets
// tta.Views.Payload to a *RawImage (the uint8 image zero-padded to a Canvas, the regions [N, 2, 4], the view
// configuration) and leaves Images nil. The device views equal the host views up to the host's uint8 rounding (about
// one level).
type ViewMaker struct {
	// ViewMaker makes the host views; its Views is the augment configuration (N, Kind, Preprocess), whose Seed is
	// replaced by MakeViews' seed.
	clip.ViewMaker
	// OnDevice makes the views on the device (tpt.Adapter only; Kind RandomResizedCrop or Identity); default false.
	OnDevice bool
	// Canvas maps an h x w image to the padded shape it is sent in for OnDevice (hb >= h, wb >= w; each distinct
	// canvas compiles one views graph); nil means BucketCanvas.
	Canvas func(h, w int) (hb, wb int)
}

// NewViewMaker returns TPT's view maker for m with n views (the paper: 64).
func NewViewMaker(m *clip.Model, n int) *ViewMaker {
	return &ViewMaker{ViewMaker: *clip.NewViewMaker(m, n)}
}

// MakeViews implements tta.ViewMaker.
func (v *ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	cfg := v.Views
	cfg.Seed = seed
	if cfg.N <= 0 {
		return nil, fmt.Errorf("tpt: ViewMaker needs N >= 1 views, got %d (example %q)", cfg.N, exampleID)
	}
	if v.OnDevice {
		return v.makeRaw(cfg, augment.FromImage(img), exampleID, seed)
	}
	return v.ViewMaker.MakeViews(img, exampleID, seed)
}

// makeRaw is MakeViews for OnDevice: the padded raw image and the views' regions.
func (v *ViewMaker) makeRaw(cfg augment.Views, img *augment.RGB, exampleID string, seed int64) (*tta.Views, error) {
	regions, err := cfg.CropRegions(img.W, img.H, exampleID)
	if err != nil {
		return nil, fmt.Errorf("tpt: device views of %q: %w", exampleID, err)
	}
	canvas := v.Canvas
	if canvas == nil {
		canvas = BucketCanvas
	}
	hb, wb := canvas(img.H, img.W)
	if hb < img.H || wb < img.W {
		return nil, fmt.Errorf("tpt: ViewMaker.Canvas maps the %dx%d image %q to %dx%d, smaller than the image",
			img.W, img.H, exampleID, wb, hb)
	}
	return &tta.Views{ExampleID: exampleID, Seed: seed, Payload: &RawImage{Pixels: rawTensor(img, hb, wb),
		Regions: tensors.FromFlatDataAndDimensions(regions, cfg.N, 2, 4), Views: &cfg}}, nil
}

// ViewConfig implements tta.ViewConfigurer: Views.Config() (the same for host and device views, which are equal).
func (v *ViewMaker) ViewConfig() map[string]any { return v.ViewMaker.ViewConfig() }
