package corrupt

import (
	"bytes"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Parameter tables, indexed by severity-1. Values from the ImageNet-C code (hendrycks/robustness,
// ImageNet-C/imagenet_c/imagenet_c/corruptions.py); MNIST-C (google-research/mnist-c, corruptions.py) uses the
// same tables for the corruptions the two share.
var (
	gaussianNoiseStd   = [5]float64{0.08, 0.12, 0.18, 0.26, 0.38}
	shotNoiseRate      = [5]float64{60, 25, 12, 5, 3}
	impulseNoiseAmount = [5]float64{0.03, 0.06, 0.09, 0.17, 0.27}
	// defocus: disk radius, alias blur sigma.
	defocusParams = [5][2]float64{{3, 0.1}, {4, 0.5}, {6, 0.5}, {8, 0.5}, {10, 0.5}}
	// motion blur: ImageMagick radius, sigma; the angle is uniform in [-45, 45) degrees.
	motionBlurParams = [5][2]float64{{10, 3}, {15, 5}, {15, 8}, {15, 12}, {20, 15}}
	contrastFactor   = [5]float64{0.4, 0.3, 0.2, 0.1, 0.05}
	brightnessShift  = [5]float64{0.1, 0.2, 0.3, 0.4, 0.5}
	jpegQuality      = [5]int{25, 18, 15, 10, 7}
	pixelateFactor   = [5]float64{0.6, 0.5, 0.4, 0.3, 0.25}
)

// gaussianNoise: clip(x + N(0, σ²)), per channel value.
func gaussianNoise(p *plane, s int, rng *rand.Rand) *plane {
	out := p.clone()
	std := gaussianNoiseStd[s-1]
	for i, v := range out.pix {
		out.pix[i] = v + std*rng.NormFloat64()
	}
	return out.clip()
}

// shotNoise: clip(Poisson(x·c) / c), per channel value.
func shotNoise(p *plane, s int, rng *rand.Rand) *plane {
	out := p.clone()
	c := shotNoiseRate[s-1]
	for i, v := range out.pix {
		out.pix[i] = float64(poisson(v*c, rng)) / c
	}
	return out.clip()
}

// poisson draws from Poisson(lambda) by Knuth's product-of-uniforms method (exact; lambda <= 60 here).
func poisson(lambda float64, rng *rand.Rand) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 500 { // Not reached by the tables above; a normal approximation keeps it finite.
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	limit := math.Exp(-lambda)
	k, prod := 0, rng.Float64()
	for prod > limit {
		k++
		prod *= rng.Float64()
	}
	return k
}

// impulseNoise is skimage's random_noise(mode="s&p", amount=a): each channel value is replaced with
// probability a, by 1 or 0 with equal probability.
func impulseNoise(p *plane, s int, rng *rand.Rand) *plane {
	out := p.clone()
	amount := impulseNoiseAmount[s-1]
	for i := range out.pix {
		flip := rng.Float64() < amount
		salt := rng.Float64() < 0.5
		if flip {
			if salt {
				out.pix[i] = 1
			} else {
				out.pix[i] = 0
			}
		}
	}
	return out
}

// defocusBlur: correlation with a Gaussian-smoothed disk, BORDER_REFLECT_101.
func defocusBlur(p *plane, s int, _ *rand.Rand) *plane {
	c := defocusParams[s-1]
	return correlate2D(p, diskKernel(c[0], c[1])).clip()
}

// motionBlur: ImageMagick's motion blur at a uniform random angle in [-45, 45) degrees.
func motionBlur(p *plane, s int, rng *rand.Rand) *plane {
	c := motionBlurParams[s-1]
	angle := rng.Float64()*90 - 45
	return motionBlurPlane(p, c[0], c[1], angle).clip()
}

// contrast: (x - mean) · c + mean, with the mean per channel over the image.
func contrast(p *plane, s int, _ *rand.Rand) *plane {
	c := contrastFactor[s-1]
	out := p.clone()
	means := make([]float64, p.c)
	for i, v := range p.pix {
		means[i%p.c] += v
	}
	for ch := range means {
		means[ch] /= float64(p.w * p.h)
	}
	for i, v := range out.pix {
		m := means[i%p.c]
		out.pix[i] = (v-m)*c + m
	}
	return out.clip()
}

// brightnessRGB: in HSV, V += c (clipped to 1), back to RGB.
func brightnessRGB(p *plane, s int, _ *rand.Rand) *plane {
	c := brightnessShift[s-1]
	out := p.clone()
	for i := 0; i < len(out.pix); i += 3 {
		h, sat, v := rgbToHSV(out.pix[i], out.pix[i+1], out.pix[i+2])
		out.pix[i], out.pix[i+1], out.pix[i+2] = hsvToRGB(h, sat, math.Min(v+c, 1))
	}
	return out.clip()
}

// jpegCompression: encode with image/jpeg at the severity's quality and decode again.
func jpegCompression(p *plane, s int, _ *rand.Rand) *plane {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, p.toRGBA(), &jpeg.Options{Quality: jpegQuality[s-1]}); err != nil {
		panic("corrupt: jpeg_compression: encode: " + err.Error()) // Writing to a bytes.Buffer does not fail.
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		panic("corrupt: jpeg_compression: decode: " + err.Error())
	}
	return fromImage(img, p.c)
}

// pixelate: PIL BOX resize to (int(w·c), int(h·c)) (at least 1x1) and BOX resize back.
func pixelate(p *plane, s int, _ *rand.Rand) *plane {
	c := pixelateFactor[s-1]
	w, h := max(1, int(float64(p.w)*c)), max(1, int(float64(p.h)*c))
	return resizeBox(resizeBox(p, w, h), p.w, p.h)
}
