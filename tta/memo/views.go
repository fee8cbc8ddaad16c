package memo

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
)

// PaperViews is the number of views of the MEMO paper's batch with PaperOptions: 64 AugMix copies plus the clean
// view 0.
const PaperViews = 65

// PaperViewMaker returns the MEMO paper's views for PaperOptions: PaperViews views, view 0 the base preprocessing
// pre (MEMO's te_transforms: resnet.Preprocessing()), views 1..64 augment.PaperAugMix, MEMO's own augmentation
// (`_augmix_aug`: RandomResizedCrop(S) + flip, then the AugMix paper's ops and mixing in the normalised space; see
// augment.PaperAugMix for what is exact and what is not).
func PaperViewMaker(pre augment.Preprocess) ViewMaker {
	return ViewMaker{Views: augment.Views{N: PaperViews, Kind: augment.PaperAugMix, Preprocess: pre}}
}

// ViewMaker makes a ResNet's views of an image with augment.Views (view 0: the base preprocessing; views 1..N-1:
// Views.Kind's augmentations, deterministic per (seed, example id, view)). It implements tta.ViewMaker; its Seed
// field is ignored (the run's seed is used). PaperViewMaker gives the MEMO paper's; the spec's seed-* presets
// list the seed project's kinds.
type ViewMaker struct {
	// Views configures the views; Preprocess is usually resnet.Preprocessing().
	Views augment.Views
}

// MakeViews implements tta.ViewMaker: the views as Images [N, S, S, 3].
func (vm ViewMaker) MakeViews(img image.Image, exampleID string, seed int64) (*tta.Views, error) {
	v := vm.Views
	v.Seed = seed
	if v.N == 0 {
		v.N = 64
	}
	data, err := v.Generate(augment.FromImage(img), exampleID)
	if err != nil {
		return nil, fmt.Errorf("memo: views of %q: %w", exampleID, err)
	}
	s := v.Preprocess.Size
	return &tta.Views{ExampleID: exampleID, Seed: seed,
		Images: tensors.FromFlatDataAndDimensions(data, v.N, s, s, 3)}, nil
}

// ViewConfig implements tta.ViewConfigurer: Views.Config() (whose N defaults to 64 as MakeViews').
func (vm ViewMaker) ViewConfig() map[string]any { return vm.Views.Config() }
