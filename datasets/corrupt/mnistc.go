package corrupt

import (
	"math"
	"math/rand/v2"
)

// MNIST-C parameter tables, indexed by severity-1, from google-research/mnist-c corruptions.py. The noise and
// motion blur tables are shared with ImageNet-C (imagenetc.go). Tables marked "GoTTA" extend a corruption that
// MNIST-C applies at a single strength to five severities; severity 1 is MNIST-C's setting.
var (
	// glass blur: gaussian sigma, max shuffle distance, iterations.
	glassBlurParams = [5][3]float64{{0.7, 1, 2}, {0.9, 2, 1}, {1, 2, 3}, {1.1, 3, 2}, {1.5, 4, 2}}
	// shear angle (radians, random sign).
	shearAngle = [5]float64{0.2, 0.4, 0.6, 0.8, 1.0}
	// rotation angle (radians, random sign).
	rotateAngle = [5]float64{0.2, 0.4, 0.6, 0.8, 1.0}
	// scale: the digit is shrunk by this factor about the centre (MNIST-C warps with scale 1/factor).
	scaleFactor = [5]float64{0.9, 0.8, 0.7, 0.6, 0.5}
	// translate: pixels along each axis, each with a random sign.
	translatePixels = [5]float64{1, 2, 3, 4, 5}
	// fog: plasma strength, wibble decay.
	fogParams = [5][2]float64{{1.5, 2}, {2, 2}, {2.5, 1.7}, {2.5, 1.5}, {3, 1.4}}
	// spatter (mud branch, which MNIST-C uses at every severity): liquid mean, liquid std, liquid blur
	// sigma, threshold, mask blur sigma.
	spatterParams = [5][5]float64{{0.65, 0.3, 4, 0.69, 0.6}, {0.65, 0.3, 3, 0.68, 0.6}, {0.65, 0.3, 2, 0.68, 0.5}, {0.65, 0.3, 1, 0.65, 1.5}, {0.67, 0.4, 1, 0.65, 1.5}}
	// stripe (GoTTA): width of each inverted side band as a fraction of the image width (MNIST-C: 7/28).
	stripeFraction = [5]float64{0.25, 0.30, 0.35, 0.40, 0.45}
	// canny edges (GoTTA): gaussian sigma of the smoothing (MNIST-C: skimage's default 1).
	cannySigma = [5]float64{1, 1.5, 2, 2.5, 3}
)

// glassBlurMNIST is MNIST-C's glass blur: gaussian blur, quantise to 8 bits (truncating), then `iterations`
// sweeps from the bottom-right that swap each interior pixel, with probability 1/2, with one at an offset in
// [-d, d) along each axis, then gaussian blur again.
func glassBlurMNIST(p *plane, s int, rng *rand.Rand) *plane {
	return glassBlur(p, glassBlurParams[s-1], true, rng)
}

func glassBlur(p *plane, c [3]float64, coin bool, rng *rand.Rand) *plane {
	sigma, d, iters := c[0], int(c[1]), int(c[2])
	x := gaussianBlur(p, sigma)
	for i, v := range x.pix {
		x.pix[i] = math.Floor(clip01(v)*255) / 255
	}
	for range iters {
		for h := p.h - d; h > d; h-- {
			for w := p.w - d; w > d; w-- {
				if coin && rng.IntN(2) == 0 {
					continue
				}
				dx, dy := rng.IntN(2*d)-d, rng.IntN(2*d)-d
				hp, wp := h+dy, w+dx
				for ch := 0; ch < p.c; ch++ {
					a, b := x.at(w, h, ch), x.at(wp, hp, ch)
					x.set(w, h, ch, b)
					x.set(wp, hp, ch, a)
				}
			}
		}
	}
	return gaussianBlur(x, sigma).clip()
}

func randomSign(rng *rand.Rand) float64 {
	if rng.IntN(2) == 0 {
		return -1
	}
	return 1
}

// shear: skimage AffineTransform(shear=±a) (the ≤0.18 convention, [[1, -sin a], [0, cos a]]) used as the
// inverse map about the image centre.
func shear(p *plane, s int, rng *rand.Rand) *plane {
	a := shearAngle[s-1] * randomSign(rng)
	return affineWarp(p, shearMatrix(a), [2]float64{}).clip()
}

func shearMatrix(a float64) [2][2]float64 {
	return [2][2]float64{{1, -math.Sin(a)}, {0, math.Cos(a)}}
}

// rotate: skimage AffineTransform(rotation=±a) used as the inverse map about the image centre: the content at
// input offset q from the centre lands at R(-a)·q.
func rotate(p *plane, s int, rng *rand.Rand) *plane {
	a := rotateAngle[s-1] * randomSign(rng)
	return affineWarp(p, rotationMatrix(a), [2]float64{}).clip()
}

func rotationMatrix(a float64) [2][2]float64 {
	return [2][2]float64{{math.Cos(a), -math.Sin(a)}, {math.Sin(a), math.Cos(a)}}
}

// scale: shrink about the centre by scaleFactor (inverse map scale 1/factor).
func scale(p *plane, s int, _ *rand.Rand) *plane {
	k := 1 / scaleFactor[s-1]
	return affineWarp(p, [2][2]float64{{k, 0}, {0, k}}, [2]float64{}).clip()
}

// translate: inverse map translation (dx, dy) = (±c, ±c), so the content moves by (-dx, -dy).
func translate(p *plane, s int, rng *rand.Rand) *plane {
	c := translatePixels[s-1]
	dx, dy := c*randomSign(rng), c*randomSign(rng)
	return affineWarp(p, [2][2]float64{{1, 0}, {0, 1}}, [2]float64{dx, dy}).clip()
}

// brightnessGray: MNIST-C's brightness on a gray image, where HSV's V is the gray value: x + c, clipped.
func brightnessGray(p *plane, s int, _ *rand.Rand) *plane {
	out := p.clone()
	for i, v := range out.pix {
		out.pix[i] = v + brightnessShift[s-1]
	}
	return out.clip()
}

// stripe inverts (1 - x) a band on the left and on the right of the image.
func stripe(p *plane, s int, _ *rand.Rand) *plane {
	band := int(math.Round(float64(p.w) * stripeFraction[s-1]))
	out := p.clone()
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			if x < band || x >= p.w-band {
				for ch := 0; ch < p.c; ch++ {
					out.set(x, y, ch, 1-p.at(x, y, ch))
				}
			}
		}
	}
	return out
}

// fog adds a plasma fractal (the top-left corner of a 256x256 map, or the next power of two for larger images)
// and rescales: clip((x + c·plasma) · max(x) / (max(x) + c)).
func fog(p *plane, s int, rng *rand.Rand) *plane {
	c := fogParams[s-1]
	size := 256
	for size < p.w || size < p.h {
		size *= 2
	}
	plasma := plasmaFractal(size, c[1], rng)
	maxVal := 0.0
	for _, v := range p.pix {
		maxVal = math.Max(maxVal, v)
	}
	out := p.clone()
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			for ch := 0; ch < p.c; ch++ {
				v := p.at(x, y, ch) + c[0]*plasma[y*size+x]
				out.set(x, y, ch, v*maxVal/(maxVal+c[0]))
			}
		}
	}
	return out.clip()
}

// spatterMNIST is MNIST-C's spatter (ImageNet-C's mud branch in gray): a blurred, thresholded gaussian liquid
// layer makes a mask m; x·(1-m) + (63/255)·m.
func spatterMNIST(p *plane, s int, rng *rand.Rand) *plane {
	c := spatterParams[s-1]
	liquid := newPlane(p.w, p.h, 1)
	for i := range liquid.pix {
		liquid.pix[i] = c[0] + c[1]*rng.NormFloat64()
	}
	liquid = gaussianBlur(liquid, c[2])
	mask := newPlane(p.w, p.h, 1)
	for i, v := range liquid.pix {
		if v > c[3] {
			mask.pix[i] = 1
		}
	}
	mask = gaussianBlur(mask, c[4])
	out := p.clone()
	for i := range out.pix {
		m := mask.pix[i/p.c]
		if m < 0.8 {
			m = 0
		}
		out.pix[i] = out.pix[i]*(1-m) + 63.0/255*m
	}
	return out.clip()
}

// lineFromPoints is MNIST-C's line_from_points on a w x h grid: intensity log(1 - d/2.3) + 1 (clipped to
// [0,1]) of the vertical distance d from the line through (c0, r0) and (c1, r1), zero outside the columns
// [floor(c0), ceil(c1)). Row-major [h*w].
func lineFromPoints(c0, r0, c1, r1 float64, w, h int) []float64 {
	out := make([]float64, w*h)
	if c1 == c0 {
		return out
	}
	slope := (r1 - r0) / (c1 - c0)
	left, right := int(math.Floor(c0)), int(math.Ceil(c1))
	for y := 0; y < h; y++ {
		for x := max(left, 0); x < min(right, w); x++ {
			d := math.Min(math.Abs(float64(y)-(slope*(float64(x)-c0)+r0)), 2.3-1e-10)
			out[y*w+x] = clip01(math.Log(1-d/2.3) + 1)
		}
	}
	return out
}

// addLayer adds a [h*w] layer to every channel and clips.
func addLayer(p *plane, layer []float64) {
	for i := range p.pix {
		p.pix[i] = clip01(p.pix[i] + layer[i/p.c])
	}
}

// randRow is numpy's randint(0, h-1): a row in [0, h-1), or 0 for h < 2.
func randRow(h int, rng *rand.Rand) float64 {
	if h < 2 {
		return 0
	}
	return float64(rng.IntN(h - 1))
}

// dottedLine draws `severity` dashed lines (MNIST-C draws one) from the left to the right edge between random
// rows; dashes are 2 pixels on, 2 off, starting off.
func dottedLine(p *plane, s int, rng *rand.Rand) *plane {
	out := p.clone()
	for range s {
		r0, r1 := randRow(p.h, rng), randRow(p.h, rng)
		layer := lineFromPoints(0, r0, float64(p.w-1), r1, p.w, p.h)
		for i := range layer {
			if ((i%p.w)/2)%2 == 0 {
				layer[i] = 0
			}
		}
		addLayer(out, layer)
	}
	return out
}

// zigzag draws `severity` zigzag lines (MNIST-C draws one): from column 2 to column w-3, amplitude 2 and
// half-period 2 pixels, along a line from a random row r0 to r0 + U{-5..4}.
func zigzag(p *plane, s int, rng *rand.Rand) *plane {
	out := p.clone()
	const a, b = 2.0, 2.0
	c0, c1 := 2.0, float64(p.w-3)
	if c1-c0 < a {
		return out // Too narrow for one zig.
	}
	for range s {
		r0 := randRow(p.h, rng)
		r1 := r0 + float64(rng.IntN(10)-5)
		theta := math.Atan((r1 - r0) / (c1 - c0))
		d := (c1 - c0) / math.Cos(theta)
		cs, rs := []float64{0}, []float64{0}
		ri := 0.0
		for i := range int(math.Floor((d-a)/(2*a))) + 1 {
			ri = b
			if i%2 == 1 {
				ri = -b
			}
			cs, rs = append(cs, float64(2*i+1)*a), append(rs, ri)
		}
		maxC := 2 * a * math.Floor(d/(2*a))
		if d != maxC {
			cs, rs = append(cs, d), append(rs, ri/(2*(d-maxC)))
		}
		cos, sin := math.Cos(theta), math.Sin(theta)
		for i := range cs {
			cs[i], rs[i] = cos*cs[i]-sin*rs[i]+c0, sin*cs[i]+cos*rs[i]+r0
		}
		for i := 1; i < len(cs); i++ {
			addLayer(out, lineFromPoints(cs[i-1], rs[i-1], cs[i], rs[i], p.w, p.h))
		}
	}
	return out
}

// cannyEdges replaces the image by its Canny edge map (1 on edges, 0 elsewhere), as skimage.feature.canny
// with thresholds 0.1 / 0.2 on the Sobel magnitude.
func cannyEdges(p *plane, s int, _ *rand.Rand) *plane {
	gray := p
	if p.c != 1 {
		gray = newPlane(p.w, p.h, 1)
		for i := range gray.pix {
			gray.pix[i] = 0.299*p.pix[3*i] + 0.587*p.pix[3*i+1] + 0.114*p.pix[3*i+2]
		}
	}
	edges := canny(gray, cannySigma[s-1], 0.1, 0.2)
	out := newPlane(p.w, p.h, p.c)
	for i, e := range edges {
		if e {
			for ch := 0; ch < p.c; ch++ {
				out.pix[i*p.c+ch] = 1
			}
		}
	}
	return out
}
