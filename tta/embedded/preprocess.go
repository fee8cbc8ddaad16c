package embedded

import (
	"fmt"
	"image"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/augment"
)

// InputSize is the side of the square RGB images the embedded CLIP takes: MNIST's 28x28 digits are resized
// (bicubic) to 32x32 and the gray value is repeated on the three channels.
const InputSize = 32

// ResNetInputSize is the side of the square RGB images the embedded ResNet takes (MNIST resized, bicubic, to
// 36x36, gray repeated on the channels). It is larger than InputSize so that one image alone leaves layer4 a 2x2
// map (36 -> 18 stem conv -> 9 max pool -> 9 layer1 -> 5 -> 3 -> 2): MEMO predicts on a single view with the
// BN prior, which needs batch statistics over more than one value per channel (at 32 layer4's map is 1x1). It is
// the smallest such size: the MEMO rows (64 views, forward and backward) dominate the report's time, and on the
// pure-Go backend a 64-view MEMO step costs about 40% less at 36 than at 48.
const ResNetInputSize = 36

// Normalisation of the embedded models' inputs (on [0, 1] pixels, per RGB channel).
var (
	// CLIPMean and CLIPStd are CLIP's own constants (augment.CLIPMean/CLIPStd), so clip.Model.Preprocess of the
	// embedded CLIP (augment.CLIP(32)) is its preprocessing.
	CLIPMean = augment.CLIPMean
	CLIPStd  = augment.CLIPStd
	// ResNetMean and ResNetStd are torchvision's ImageNet constants (augment.ImageNetMean/ImageNetStd).
	ResNetMean = augment.ImageNetMean
	ResNetStd  = augment.ImageNetStd
)

// CLIPPreprocess is the embedded CLIP's evaluation transform: Resize(32, bicubic), CenterCrop(32), CLIP mean/std;
// it equals augment.CLIP(InputSize) and clip.Model.Preprocess of the loaded model. Output [32, 32, 3] float32.
func CLIPPreprocess() augment.Preprocess {
	return augment.Preprocess{Size: InputSize, Resize: InputSize, Filter: augment.Bicubic, Mean: CLIPMean, Std: CLIPStd}
}

// ResNetPreprocess is the embedded ResNet's evaluation transform: Resize(36, bicubic), CenterCrop(36), ImageNet
// mean/std (ResNetInputSize). Output [36, 36, 3] float32.
func ResNetPreprocess() augment.Preprocess {
	return augment.Preprocess{Size: ResNetInputSize, Resize: ResNetInputSize, Filter: augment.Bicubic, Mean: ResNetMean,
		Std: ResNetStd}
}

// Batch preprocesses examples [from, to) of ds with p into a flat float32 batch [to-from, Size, Size, 3] (NHWC)
// and their labels. Errors name the dataset and example.
func Batch(ds datasets.Dataset, from, to int, p augment.Preprocess) ([]float32, []int32, error) {
	per := p.Size * p.Size * 3
	x := make([]float32, 0, (to-from)*per)
	labels := make([]int32, 0, to-from)
	for i := from; i < to; i++ {
		ex, err := ds.Example(i)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded: %s example %d: %w", ds.Name(), i, err)
		}
		v, err := PreprocessImage(ex.Image, p)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded: %s example %d: %w", ds.Name(), i, err)
		}
		x = append(x, v...)
		labels = append(labels, int32(ex.Label))
	}
	return x, labels, nil
}

// PreprocessImage converts any image (gray MNIST digits included) to RGB and applies p: [Size, Size, 3] float32.
func PreprocessImage(img image.Image, p augment.Preprocess) ([]float32, error) {
	return p.Apply(augment.FromImage(img))
}
