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

// ViewMaker makes every member's views of the same image, each with its own preprocessing, into
// tta.Views.PerModel. It implements tta.ViewMaker. Members' views are independent random draws (the view RNG
// derives from the run's seed, the example id and the view index, and here also the member's name).
type ViewMaker struct {
	// Members lists every member's view configuration, keyed by the member's Entry.Name.
	Members []MemberViews
}

// MakeViews implements tta.ViewMaker.
func (vm ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	rgb := augment.FromImage(img)
	out := &tta.Views{ExampleID: exampleID, Seed: seed, PerModel: map[string]*tensors.Tensor{}}
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
		out.PerModel[mv.Name] = tensors.FromFlatDataAndDimensions(data, v.N, s, s, 3)
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
