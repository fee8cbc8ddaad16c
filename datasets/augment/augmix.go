package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// AugMixOp is one of the operations of torchvision's AugMix (all_ops=True), in its op-table order.
type AugMixOp int

// The AugMix ops, in the order of torchvision's AugMix._augmentation_space (the index the RNG draws).
const (
	ShearX AugMixOp = iota
	ShearY
	TranslateX
	TranslateY
	Rotate
	Posterize
	Solarize
	AutoContrast
	Equalize
	Brightness
	Color
	Contrast
	Sharpness
	numAugMixOps
)

var augMixOpNames = [...]string{"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Posterize", "Solarize",
	"AutoContrast", "Equalize", "Brightness", "Color", "Contrast", "Sharpness"}

// String returns torchvision's name of the op.
func (op AugMixOp) String() string {
	if op < 0 || op >= numAugMixOps {
		return fmt.Sprintf("AugMixOp(%d)", int(op))
	}
	return augMixOpNames[op]
}

// augMixBins is torchvision's AugMix._PARAMETER_MAX, the number of magnitude bins.
const augMixBins = 10

// linspace32 is torch.linspace in float32 (steps > 1): the first half from start, the second from end.
func linspace32(start, end float32, steps int) []float64 {
	out := make([]float64, steps)
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = float64(start + step*float32(i))
		} else {
			out[i] = float64(end - step*float32(steps-1-i))
		}
	}
	return out
}

// AugMixMagnitudes returns torchvision's magnitude bins of op for an image of w x h (10 bins; Posterize holds
// bit counts; AutoContrast and Equalize have none) and whether the op's magnitude gets a random sign.
func AugMixMagnitudes(op AugMixOp, w, h int) (bins []float64, signed bool) {
	switch op {
	case ShearX, ShearY:
		return linspace32(0, 0.3, augMixBins), true
	case TranslateX:
		return linspace32(0, float32(float64(w)/3), augMixBins), true
	case TranslateY:
		return linspace32(0, float32(float64(h)/3), augMixBins), true
	case Rotate:
		return linspace32(0, 30, augMixBins), true
	case Posterize:
		out := make([]float64, augMixBins)
		for i := range out {
			// 4 - round(i / ((bins-1)/4)) in float32, torch.round is half-to-even.
			out[i] = 4 - math.RoundToEven(float64(float32(i)/float32(float64(augMixBins-1)/4)))
		}
		return out, false
	case Solarize:
		return linspace32(255, 0, augMixBins), false
	case AutoContrast, Equalize:
		return nil, false
	case Brightness, Color, Contrast, Sharpness:
		return linspace32(0, 0.9, augMixBins), true
	}
	return nil, false
}

// ApplyAugMixOp applies one op at the given magnitude as torchvision's autoaugment._apply_op does on a uint8
// tensor (AugMix converts PIL images to tensors first): affine ops sample bilinearly with black fill and round,
// colour ops blend in float32 and truncate. It returns a new image.
func ApplyAugMixOp(img *RGB, op AugMixOp, magnitude float64) *RGB {
	w, h := float64(img.W), float64(img.H)
	switch op {
	case ShearX:
		return affine(img, inverseAffine(-w/2, -h/2, 0, 0, 0, math.Atan(magnitude), 0))
	case ShearY:
		return affine(img, inverseAffine(-w/2, -h/2, 0, 0, 0, 0, math.Atan(magnitude)))
	case TranslateX:
		return affine(img, inverseAffine(0, 0, float64(int(magnitude)), 0, 0, 0, 0))
	case TranslateY:
		return affine(img, inverseAffine(0, 0, 0, float64(int(magnitude)), 0, 0, 0))
	case Rotate:
		return affine(img, inverseAffine(0, 0, 0, 0, -magnitude*math.Pi/180, 0, 0))
	case Posterize:
		bits := int(magnitude)
		mask := uint8(int(-(1 << (8 - bits))) & 0xff)
		out := img.Clone()
		for i := range out.Pix {
			out.Pix[i] &= mask
		}
		return out
	case Solarize:
		th := float32(magnitude)
		out := img.Clone()
		for i, v := range out.Pix {
			if float32(v) >= th {
				out.Pix[i] = 255 - v
			}
		}
		return out
	case AutoContrast:
		return autoContrast(img)
	case Equalize:
		return equalize(img)
	case Brightness:
		return blendConst(img, nil, 0, 1+magnitude)
	case Color:
		return blendConst(img, grayscale(img), 0, 1+magnitude)
	case Contrast:
		gray := grayscale(img)
		var sum float64
		for _, g := range gray {
			sum += float64(g)
		}
		return blendConst(img, nil, float32(sum/float64(len(gray))), 1+magnitude)
	case Sharpness:
		if img.W <= 2 || img.H <= 2 {
			return img.Clone()
		}
		return blendImage(img, blurDegenerate(img), 1+magnitude)
	}
	panic(fmt.Sprintf("augment.ApplyAugMixOp: unknown op %d", int(op)))
}

// inverseAffine is torchvision's _get_inverse_affine_matrix (center and translation relative to the image
// centre, angles in radians): the map from output to input coordinates.
func inverseAffine(cx, cy, tx, ty, rot, sx, sy float64) [6]float64 {
	a := math.Cos(rot-sy) / math.Cos(sy)
	b := -math.Cos(rot-sy)*math.Tan(sx)/math.Cos(sy) - math.Sin(rot)
	c := math.Sin(rot-sy) / math.Cos(sy)
	d := -math.Sin(rot-sy)*math.Tan(sx)/math.Cos(sy) + math.Cos(rot)
	m := [6]float64{d, -b, 0, -c, a, 0}
	m[2] += m[0]*(-cx-tx) + m[1]*(-cy-ty)
	m[5] += m[3]*(-cx-tx) + m[4]*(-cy-ty)
	m[2] += cx
	m[5] += cy
	return m
}

// affine is torchvision's F_t.affine: an affine grid in float32 over pixel centres relative to the image
// centre, grid_sample bilinear (align_corners=False, zero padding), then round-half-even to uint8.
func affine(img *RGB, m [6]float64) *RGB {
	W, H := img.W, img.H
	hw, hh := float32(0.5*float64(W)), float32(0.5*float64(H))
	t := [6]float32{float32(m[0]) / hw, float32(m[1]) / hw, float32(m[2]) / hw,
		float32(m[3]) / hh, float32(m[4]) / hh, float32(m[5]) / hh}
	xs := linspace32(float32(-float64(W)*0.5+0.5), float32(float64(W)*0.5+0.5-1), W)
	ys := linspace32(float32(-float64(H)*0.5+0.5), float32(float64(H)*0.5+0.5-1), H)
	if W == 1 {
		xs[0] = -float64(W)*0.5 + 0.5
	}
	if H == 1 {
		ys[0] = -float64(H)*0.5 + 0.5
	}
	out := NewRGB(W, H)
	fw, fh := float32(W), float32(H)
	for oy := 0; oy < H; oy++ {
		y := float32(ys[oy])
		for ox := 0; ox < W; ox++ {
			x := float32(xs[ox])
			gx := x*t[0] + y*t[1] + t[2]
			gy := x*t[3] + y*t[4] + t[5]
			ix := ((gx+1)*fw - 1) / 2
			iy := ((gy+1)*fh - 1) / 2
			x0f, y0f := float32(math.Floor(float64(ix))), float32(math.Floor(float64(iy)))
			x0, y0 := int(x0f), int(y0f)
			wnw := (x0f + 1 - ix) * (y0f + 1 - iy)
			wne := (ix - x0f) * (y0f + 1 - iy)
			wsw := (x0f + 1 - ix) * (iy - y0f)
			wse := (ix - x0f) * (iy - y0f)
			o := out.Pix[(oy*W+ox)*3:]
			for c := 0; c < 3; c++ {
				var s float32
				if x0 >= 0 && x0 < W && y0 >= 0 && y0 < H {
					s += float32(img.Pix[(y0*W+x0)*3+c]) * wnw
				}
				if x0+1 >= 0 && x0+1 < W && y0 >= 0 && y0 < H {
					s += float32(img.Pix[(y0*W+x0+1)*3+c]) * wne
				}
				if x0 >= 0 && x0 < W && y0+1 >= 0 && y0+1 < H {
					s += float32(img.Pix[((y0+1)*W+x0)*3+c]) * wsw
				}
				if x0+1 >= 0 && x0+1 < W && y0+1 >= 0 && y0+1 < H {
					s += float32(img.Pix[((y0+1)*W+x0+1)*3+c]) * wse
				}
				o[c] = roundU8(s)
			}
		}
	}
	return out
}

// roundU8 is torch.round (half to even) then the uint8 cast, for values clamped to [0, 255]: adding and
// subtracting 2^23 rounds a float32 in [0, 2^22) to the nearest integer, ties to even.
func roundU8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8((v + 0x1p23) - 0x1p23)
}

// truncU8 is the float32 -> uint8 conversion of torch after clamp(0, 255) (truncation).
func truncU8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// grayscale is torchvision's rgb_to_grayscale on uint8: trunc(0.2989 r + 0.587 g + 0.114 b), [H*W].
func grayscale(img *RGB) []uint8 {
	out := make([]uint8, img.W*img.H)
	for i := range out {
		p := img.Pix[3*i:]
		out[i] = truncU8(float32(0.2989)*float32(p[0]) + float32(0.587)*float32(p[1]) + float32(0.114)*float32(p[2]))
	}
	return out
}

// blendConst is torchvision's _blend(img, other, ratio) where other is the grayscale image (per pixel, all
// channels) when gray != nil, else the constant c.
func blendConst(img *RGB, gray []uint8, c float32, ratio float64) *RGB {
	r, q := float32(ratio), float32(1-ratio)
	out := NewRGB(img.W, img.H)
	for i, v := range img.Pix {
		o := c
		if gray != nil {
			o = float32(gray[i/3])
		}
		out.Pix[i] = truncU8(r*float32(v) + q*o)
	}
	return out
}

func blendImage(img, other *RGB, ratio float64) *RGB {
	r, q := float32(ratio), float32(1-ratio)
	out := NewRGB(img.W, img.H)
	for i, v := range img.Pix {
		out.Pix[i] = truncU8(r*float32(v) + q*float32(other.Pix[i]))
	}
	return out
}

// blurDegenerate is torchvision's _blurred_degenerate_image: the 3x3 kernel [1 1 1; 1 5 1; 1 1 1]/13 on the
// interior (rounded), the border kept.
func blurDegenerate(img *RGB) *RGB {
	out := img.Clone()
	W := img.W
	k1, k5 := float32(1)/13, float32(5)/13
	for y := 1; y < img.H-1; y++ {
		for x := 1; x < W-1; x++ {
			for c := 0; c < 3; c++ {
				var s float32
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						k := k1
						if dx == 0 && dy == 0 {
							k = k5
						}
						s += float32(img.Pix[((y+dy)*W+x+dx)*3+c]) * k
					}
				}
				out.Pix[(y*W+x)*3+c] = roundU8(s)
			}
		}
	}
	return out
}

// autoContrast is torchvision's tensor autocontrast: per channel, (p - min) * 255/(max - min), truncated.
func autoContrast(img *RGB) *RGB {
	out := NewRGB(img.W, img.H)
	for c := 0; c < 3; c++ {
		lo, hi := uint8(255), uint8(0)
		for i := c; i < len(img.Pix); i += 3 {
			lo, hi = min(lo, img.Pix[i]), max(hi, img.Pix[i])
		}
		minimum, scale := float32(lo), float32(255)/(float32(hi)-float32(lo))
		if hi == lo {
			minimum, scale = 0, 1
		}
		for i := c; i < len(img.Pix); i += 3 {
			out.Pix[i] = truncU8((float32(img.Pix[i]) - minimum) * scale)
		}
	}
	return out
}

// equalize is torchvision's tensor equalize: per-channel histogram equalisation with PIL's step rule.
func equalize(img *RGB) *RGB {
	out := img.Clone()
	for c := 0; c < 3; c++ {
		var hist [256]int
		for i := c; i < len(img.Pix); i += 3 {
			hist[img.Pix[i]]++
		}
		last, sum := -1, 0
		for v := 255; v >= 0; v-- {
			if hist[v] != 0 {
				last = v
				break
			}
		}
		for v := 0; v < 256; v++ {
			if hist[v] != 0 && v != last {
				sum += hist[v]
			}
		}
		step := sum / 255
		if step == 0 {
			continue
		}
		var lut [256]uint8
		cum := 0
		for v := 0; v < 256; v++ {
			// lut = pad((cumsum + step//2) // step, [1, 0])[:-1]: lut[v] uses the cumulative count below v.
			l := (cum + step/2) / step
			lut[v] = uint8(min(max(l, 0), 255))
			cum += hist[v]
		}
		for i := c; i < len(img.Pix); i += 3 {
			out.Pix[i] = lut[img.Pix[i]]
		}
	}
	return out
}

// AugMixParams configures torchvision's AugMix; the zero value means its defaults.
type AugMixParams struct {
	// Severity bounds the magnitude bins drawn (bins 0..Severity-1 of 10); 0 means 3.
	Severity int
	// Width is the number of chains mixed; 0 means 3.
	Width int
	// Depth is each chain's op count; 0 or negative means uniform in 1..3.
	Depth int
	// Alpha is the Dirichlet/Beta concentration; 0 means 1.
	Alpha float64
}

func (p AugMixParams) withDefaults() AugMixParams {
	if p.Severity == 0 {
		p.Severity = 3
	}
	if p.Width == 0 {
		p.Width = 3
	}
	if p.Alpha == 0 {
		p.Alpha = 1
	}
	return p
}

// AugMix applies torchvision's AugMix to img with the draws of r: m ~ Dirichlet(alpha, alpha),
// w ~ Dirichlet(alpha x Width) * m[1], mix = m[0]*img + sum_i w[i]*chain_i(img), truncated to uint8, where each
// chain applies Depth random ops (uniform over the 13 ops of all_ops=True, magnitude bin uniform in
// 0..Severity-1, sign +/- with probability 1/2 for signed ops).
func (p AugMixParams) AugMix(r *rand.Rand, img *RGB) *RGB {
	return p.plan(r, img.W, img.H).apply(img)
}

// augMixOpDraw is one op of a chain with its signed magnitude.
type augMixOpDraw struct {
	Op        AugMixOp
	Magnitude float64
}

// augMixPlan holds every random draw of one AugMix call, in torchvision's order of use.
type augMixPlan struct {
	M      [2]float64       // Beta weights (original, augmented) ~ Dirichlet(alpha, alpha)
	W      []float64        // chain weights ~ Dirichlet(alpha x Width), before the factor M[1]
	Chains [][]augMixOpDraw // the ops of each chain
}

// plan draws AugMix's random choices for a w x h image.
func (p AugMixParams) plan(r *rand.Rand, w, h int) augMixPlan {
	p = p.withDefaults()
	m := dirichlet(r, p.Alpha, 2)
	pl := augMixPlan{M: [2]float64{m[0], m[1]}, W: dirichlet(r, p.Alpha, p.Width)}
	for range p.Width {
		depth := p.Depth
		if depth <= 0 {
			depth = 1 + r.IntN(3)
		}
		var chain []augMixOpDraw
		for range depth {
			op := AugMixOp(r.IntN(int(numAugMixOps)))
			bins, signed := AugMixMagnitudes(op, w, h)
			mag := 0.0
			if bins != nil {
				mag = bins[r.IntN(p.Severity)]
			}
			if signed && r.IntN(2) == 1 {
				mag = -mag
			}
			chain = append(chain, augMixOpDraw{op, mag})
		}
		pl.Chains = append(pl.Chains, chain)
	}
	return pl
}

// apply mixes as torchvision does in float32: M[0]*img + sum_i (W[i]*M[1]) * chain_i(img), truncated to uint8.
func (pl augMixPlan) apply(img *RGB) *RGB {
	mix := make([]float32, len(img.Pix))
	m0 := float32(pl.M[0])
	for i, v := range img.Pix {
		mix[i] = m0 * float32(v)
	}
	for i, chain := range pl.Chains {
		aug := img
		for _, d := range chain {
			aug = ApplyAugMixOp(aug, d.Op, d.Magnitude)
		}
		w := float32(pl.W[i]) * float32(pl.M[1])
		for j, v := range aug.Pix {
			mix[j] += w * float32(v)
		}
	}
	out := NewRGB(img.W, img.H)
	for i, v := range mix {
		out.Pix[i] = truncU8(v)
	}
	return out
}

// dirichlet draws Dirichlet(alpha, ..., alpha) of dimension k (normalised gammas, as torch does).
func dirichlet(r *rand.Rand, alpha float64, k int) []float64 {
	out := make([]float64, k)
	sum := 0.0
	for i := range out {
		out[i] = gamma(r, alpha)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// gamma draws Gamma(alpha, 1) (Marsaglia and Tsang; alpha < 1 boosted by U^(1/alpha)).
func gamma(r *rand.Rand, alpha float64) float64 {
	if alpha < 1 {
		return gamma(r, alpha+1) * math.Pow(r.Float64(), 1/alpha)
	}
	d := alpha - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}
