package augment

import "fmt"

// Normalisation constants of the models GoTTA runs.
var (
	// CLIPMean and CLIPStd are OpenAI CLIP's per-channel normalisation (RGB, on [0, 1] pixels).
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
	// ImageNetMean and ImageNetStd are torchvision's ImageNet normalisation.
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Preprocess is a model's evaluation transform, torchvision's
// Compose([Resize(Resize, Filter), CenterCrop(Size), ToTensor(), Normalize(Mean, Std)]),
// producing float32 [Size, Size, 3] (HWC).
type Preprocess struct {
	// Size is the side of the square output (the center crop). Required.
	Size int
	// Resize is the shorter side after resizing, before the crop; 0 means Size.
	Resize int
	// Filter resamples the resize; 0 means Bicubic.
	Filter Filter
	// Mean and Std normalise each channel of the [0, 1] pixels: (p/255 - Mean) / Std.
	Mean, Std [3]float32
}

// CLIP is OpenAI CLIP's preprocessing (also TPT's base view): Resize(size, BICUBIC), CenterCrop(size),
// CLIP mean/std.
func CLIP(size int) Preprocess {
	return Preprocess{Size: size, Resize: size, Filter: Bicubic, Mean: CLIPMean, Std: CLIPStd}
}

// ImageNet is torchvision's classic ResNet evaluation transform (also MEMO's base view): Resize(256, BILINEAR),
// CenterCrop(224), ImageNet mean/std.
func ImageNet() Preprocess {
	return Preprocess{Size: 224, Resize: 256, Filter: Bilinear, Mean: ImageNetMean, Std: ImageNetStd}
}

func (p Preprocess) withDefaults() Preprocess {
	if p.Resize == 0 {
		p.Resize = p.Size
	}
	if p.Filter == 0 {
		p.Filter = Bicubic
	}
	return p
}

// Validate reports a configuration that cannot run.
func (p Preprocess) Validate() error {
	if p.Size <= 0 {
		return fmt.Errorf("augment: Preprocess.Size must be > 0, got %d", p.Size)
	}
	if p.Resize < 0 {
		return fmt.Errorf("augment: Preprocess.Resize must be >= 0, got %d", p.Resize)
	}
	for c, s := range p.Std {
		if s == 0 {
			return fmt.Errorf("augment: Preprocess.Std[%d] is 0", c)
		}
	}
	return nil
}

// Base is the uint8 part of the transform: ResizeShorter(img, Resize, Filter) then CenterCrop(Size).
func (p Preprocess) Base(img *RGB) *RGB {
	p = p.withDefaults()
	return CenterCrop(ResizeShorter(img, p.Resize, p.Filter), p.Size)
}

// Apply returns the preprocessed image, float32 [Size, Size, 3].
func (p Preprocess) Apply(img *RGB) ([]float32, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	out := make([]float32, p.Size*p.Size*3)
	ToTensor(out, p.Base(img), p.Mean, p.Std)
	return out, nil
}

// ToTensor writes torchvision's ToTensor + Normalize of img into dst (float32 [H, W, 3], HWC, len W*H*3):
// (float32(p)/255 - mean[c]) / std[c], in float32 as torch computes it.
func ToTensor(dst []float32, img *RGB, mean, std [3]float32) {
	var lut [3][256]float32
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			lut[c][v] = (float32(v)/255 - mean[c]) / std[c]
		}
	}
	for i, v := range img.Pix {
		dst[i] = lut[i%3][v]
	}
}
