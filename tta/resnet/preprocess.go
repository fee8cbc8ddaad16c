package resnet

import (
	"fmt"

	"github.com/gotta-ml/gotta/datasets/augment"
)

// InputSize is the side of the square images the ImageNet models take (224).
const InputSize = 224

// Preprocessing is the evaluation transform of the torchvision ImageNet ResNets as the seed project uses it for
// both weight versions: torchvision's Resize(256) (bilinear, PIL-exact, antialiased), CenterCrop(224), ToTensor,
// Normalize(mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)). It is augment.ImageNet().
func Preprocessing() augment.Preprocess { return augment.ImageNet() }

// Preprocess turns an 8-bit RGB image into the model input [224, 224, 3] (float32, HWC, flat), with
// Preprocessing(). Stack N of them for Logits' [N, 224, 224, 3].
func Preprocess(img *augment.RGB) ([]float32, error) {
	out, err := Preprocessing().Apply(img)
	if err != nil {
		return nil, fmt.Errorf("resnet.Preprocess: %w", err)
	}
	return out, nil
}
