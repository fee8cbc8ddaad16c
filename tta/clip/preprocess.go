package clip

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/augment"
)

// Preprocess returns CLIP's evaluation transform for this model (OpenAI's `_transform`): Resize(R) of the shorter
// side with PIL-exact bicubic resampling, CenterCrop(R), ToTensor, Normalize with CLIP's mean (0.48145466,
// 0.4578275, 0.40821073) and std (0.26862954, 0.26130258, 0.27577711); R = Config.ImageResolution. The resampling
// is datasets/augment's (matched to PIL there).
func (m *Model) Preprocess() augment.Preprocess { return augment.CLIP(m.Config.ImageResolution) }

// PreprocessFiles decodes image files (datasets.Decode) and preprocesses them with Preprocess into a float32
// batch [N, R, R, 3] (NHWC) for EncodeImage. Errors name the file.
func (m *Model) PreprocessFiles(paths []string) (*tensors.Tensor, error) {
	p := m.Preprocess()
	r := m.Config.ImageResolution
	out := make([]float32, 0, len(paths)*r*r*3)
	for _, path := range paths {
		img, err := datasets.Decode(path)
		if err != nil {
			return nil, fmt.Errorf("clip.PreprocessFiles: %w", err)
		}
		x, err := p.Apply(augment.FromImage(img))
		if err != nil {
			return nil, fmt.Errorf("clip.PreprocessFiles %s: %w", path, err)
		}
		out = append(out, x...)
	}
	return tensors.FromFlatDataAndDimensions(out, len(paths), r, r, 3), nil
}
