package ensemble

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
)

// MemberViews names a member's view configuration (its own preprocessing, augmentation and number of views).
type MemberViews struct {
	// Name is the member's Entry.Name.
	Name string
	// Views makes the member's views; Seed is ignored (the run's seed is used).
	Views augment.Views
}

// PerModel is the ensemble's tta.Views payload: one view batch [N, H, W, 3] per member, keyed by the member's
// Entry.Name, each preprocessed for its member (tta.Views.Images is then nil).
type PerModel map[string]*tensors.Tensor

// N implements tta.Payload: the largest number of views of a member.
func (p PerModel) N() int {
	n := 0
	for _, x := range p {
		if x != nil && x.Rank() > 0 {
			n = max(n, x.Shape().Dimensions[0])
		}
	}
	return n
}

// ViewMaker makes every member's views of the same image, each with its own preprocessing, into a PerModel
// payload. It implements tta.ViewMaker. Members' views are independent random draws (the view RNG
// derives from the run's seed, the example id and the view index, and here also the member's name).
type ViewMaker struct {
	// Members lists every member's view configuration, keyed by the member's Entry.Name.
	Members []MemberViews
}

// MakeViews implements tta.ViewMaker.
func (vm ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	rgb := augment.FromImage(img)
	per := PerModel{}
	out := &tta.Views{ExampleID: exampleID, Seed: seed, Payload: per}
	for _, mv := range vm.Members {
		v := mv.Views
		v.Seed = seed
		if v.N == 0 {
			v.N = 64
		}
		// Each member draws its own crops, as the seed's members each had their own dataset object.
		data, err := v.Generate(rgb, mv.Name+"/"+exampleID)
		if err != nil {
			return nil, fmt.Errorf("ensemble: views of %q for member %q: %w", exampleID, mv.Name, err)
		}
		s := v.Preprocess.Size
		per[mv.Name] = tensors.FromFlatDataAndDimensions(data, v.N, s, s, 3)
	}
	return out, nil
}

// ViewConfig implements tta.ViewConfigurer: each member's augment.Views.Config(), keyed by member name.
func (vm ViewMaker) ViewConfig() map[string]any {
	c := map[string]any{}
	for _, mv := range vm.Members {
		c[mv.Name] = mv.Views.Config() // N defaults to 64 there as in MakeViews
	}
	return c
}
