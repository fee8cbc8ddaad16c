package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// This file is the AugMix paper's augmentation (Hendrycks et al., "AugMix: A Simple Data Processing Method to
// Improve Robustness and Uncertainty", ICLR 2020; google-research/augmix augmentations.py), as MEMO
// (zhangmarvin/memo imagenet-exps/utils/third_party.py `_augmix_aug`) and TPT (azshue/TPT data/augmix_ops.py,
// data/datautils.py `augmix`) use it: nine PIL ops at severity 1, three chains of 1-3 ops mixed with Dirichlet
// weights, then blended with the original in the normalised float space. The PIL primitives (PILAutoContrast ...
// PILAffine) reproduce Pillow 9.4's arithmetic exactly (double precision, truncation to uint8), and Mix reproduces
// the torch float32 arithmetic of the originals exactly; only the random draws differ (see PaperAugMixParams).

// PaperOp is one op of the AugMix paper's `augmentations` list (augmentations.py), in that list's order (TPT's
// order; MEMO lists the same nine in another order, which only matters for numpy's draw).
type PaperOp int

// The nine ops of augmentations.py's `augmentations` (the ImageNet-C-overlapping colour ops of
// `augmentations_all` are not included).
const (
	PaperAutoContrast PaperOp = iota // ImageOps.autocontrast (no level)
	PaperEqualize                    // ImageOps.equalize (no level)
	PaperPosterize                   // ImageOps.posterize(4 - int_parameter(level, 4))
	PaperRotate                      // Image.rotate(+/-int_parameter(level, 30), BILINEAR)
	PaperSolarize                    // ImageOps.solarize(256 - int_parameter(level, 256))
	PaperShearX                      // transform AFFINE (1, +/-float_parameter(level, 0.3), 0, 0, 1, 0)
	PaperShearY                      // transform AFFINE (1, 0, 0, +/-float_parameter(level, 0.3), 1, 0)
	PaperTranslateX                  // transform AFFINE (1, 0, +/-int_parameter(level, IMAGE_SIZE/3), 0, 1, 0)
	PaperTranslateY                  // transform AFFINE (1, 0, 0, 0, 1, +/-int_parameter(level, IMAGE_SIZE/3))
	numPaperOps
)

var paperOpNames = [...]string{"autocontrast", "equalize", "posterize", "rotate", "solarize", "shear_x", "shear_y",
	"translate_x", "translate_y"}

// String returns the op's function name in augmentations.py.
func (op PaperOp) String() string {
	if op < 0 || op >= numPaperOps {
		return fmt.Sprintf("PaperOp(%d)", int(op))
	}
	return paperOpNames[op]
}

// PaperOps returns the nine ops of augmentations.py's `augmentations`, in its order.
func PaperOps() []PaperOp {
	out := make([]PaperOp, numPaperOps)
	for i := range out {
		out[i] = PaperOp(i)
	}
	return out
}

// UsesLevel reports whether the op draws a level (sample_level); autocontrast and equalize do not.
func (op PaperOp) UsesLevel() bool { return op != PaperAutoContrast && op != PaperEqualize }

// Signed reports whether the op draws a random sign (rotate, shears, translations).
func (op PaperOp) Signed() bool { return op == PaperRotate || op >= PaperShearX }

// paperIntParameter is augmentations.py's int_parameter: int(level * maxval / 10) (truncation toward zero).
func paperIntParameter(level, maxval float64) int { return int(float64(level*maxval) / 10) }

// paperFloatParameter is augmentations.py's float_parameter: float(level) * maxval / 10.
func paperFloatParameter(level, maxval float64) float64 { return float64(level*maxval) / 10 }

// Apply applies op as augmentations.py does at the given level (sample_level's draw, in [0.1, severity)), negated
// when negate (the op's `np.random.uniform() > 0.5` draw; ignored by unsigned ops). imageSize is the code's
// IMAGE_SIZE: the shears and translations output imageSize x imageSize images (Image.transform's size argument) and
// translate by up to imageSize/3 * level/10 pixels. fill is the colour of pixels mapped from outside the image
// (rotate, shears, translations): {0, 0, 0} for TPT's augmix_ops, {128, 0, 0} for MEMO's fillcolor=128 (see
// MEMOFill). It returns a new image.
func (op PaperOp) Apply(img *RGB, level float64, negate bool, imageSize int, fill [3]uint8) *RGB {
	sign := func(v float64) float64 {
		if negate {
			return -v
		}
		return v
	}
	s := imageSize
	switch op {
	case PaperAutoContrast:
		return PILAutoContrast(img)
	case PaperEqualize:
		return PILEqualize(img)
	case PaperPosterize:
		return PILPosterize(img, 4-paperIntParameter(level, 4))
	case PaperRotate:
		return PILRotate(img, sign(float64(paperIntParameter(level, 30))), fill)
	case PaperSolarize:
		return PILSolarize(img, 256-paperIntParameter(level, 256))
	case PaperShearX:
		return PILAffine(img, s, s, [6]float64{1, sign(paperFloatParameter(level, 0.3)), 0, 0, 1, 0}, fill)
	case PaperShearY:
		return PILAffine(img, s, s, [6]float64{1, 0, 0, sign(paperFloatParameter(level, 0.3)), 1, 0}, fill)
	case PaperTranslateX:
		t := float64(paperIntParameter(level, float64(s)/3))
		return PILAffine(img, s, s, [6]float64{1, 0, sign(t), 0, 1, 0}, fill)
	case PaperTranslateY:
		t := float64(paperIntParameter(level, float64(s)/3))
		return PILAffine(img, s, s, [6]float64{1, 0, 0, 0, 1, sign(t)}, fill)
	}
	panic(fmt.Sprintf("augment.PaperOp.Apply: unknown op %d", int(op)))
}

// MEMOFill is the fill colour of MEMO's ops (fillcolor=128 in third_party.py): PIL reads the integer 128 as the
// RGB colour (128, 0, 0), a dark red.
var MEMOFill = [3]uint8{128, 0, 0}

// applyLUT maps every byte of img through the per-channel tables.
func applyLUT(img *RGB, lut *[3][256]uint8) *RGB {
	out := NewRGB(img.W, img.H)
	for i, v := range img.Pix {
		out.Pix[i] = lut[i%3][v]
	}
	return out
}

// channelHistograms returns the 256-bin histogram of each channel (PIL's Image.histogram of an RGB image).
func channelHistograms(img *RGB) (h [3][256]int) {
	for i, v := range img.Pix {
		h[i%3][v]++
	}
	return h
}

// PILAutoContrast is Pillow's ImageOps.autocontrast(img) (cutoff 0): per channel, lo and hi are the lowest and
// highest values present; the table maps v to int(v*255/(hi-lo) - lo*255/(hi-lo)) (in float64, truncated,
// clamped to [0, 255]); channels with hi <= lo are unchanged.
func PILAutoContrast(img *RGB) *RGB {
	hist := channelHistograms(img)
	var lut [3][256]uint8
	for c := range 3 {
		lo, hi := 0, 255
		for lo < 256 && hist[c][lo] == 0 {
			lo++
		}
		for hi >= 0 && hist[c][hi] == 0 {
			hi--
		}
		if hi <= lo {
			for v := range 256 {
				lut[c][v] = uint8(v)
			}
			continue
		}
		scale := 255.0 / float64(hi-lo)
		offset := float64(float64(-lo) * scale)
		for v := range 256 {
			lut[c][v] = clampInt8(int(float64(float64(v)*scale) + offset))
		}
	}
	return applyLUT(img, &lut)
}

// clampInt8 is PIL's CLIP8 of an int.
func clampInt8(v int) uint8 {
	return uint8(min(max(v, 0), 255))
}

// PILEqualize is Pillow's ImageOps.equalize(img): per channel, with step = (number of pixels - count of the
// highest value present) // 255, value i maps to (step//2 + count of values below i) // step (clamped to 255);
// channels with one value or step 0 are unchanged.
func PILEqualize(img *RGB) *RGB {
	hist := channelHistograms(img)
	var lut [3][256]uint8
	for c := range 3 {
		var total, last, distinct int
		for v := range 256 {
			if n := hist[c][v]; n != 0 {
				total += n
				last = n
				distinct++
			}
		}
		step := 0
		if distinct > 1 {
			step = (total - last) / 255
		}
		if step == 0 {
			for v := range 256 {
				lut[c][v] = uint8(v)
			}
			continue
		}
		n := step / 2
		for v := range 256 {
			lut[c][v] = clampInt8(n / step)
			n += hist[c][v]
		}
	}
	return applyLUT(img, &lut)
}

// PILPosterize is Pillow's ImageOps.posterize(img, bits): every value keeps its bits high bits (v & ~(2^(8-bits)-1));
// bits <= 0 gives black, bits >= 8 the image unchanged.
func PILPosterize(img *RGB, bits int) *RGB {
	var mask uint8
	switch {
	case bits <= 0:
		mask = 0
	case bits >= 8:
		mask = 0xff
	default:
		mask = ^uint8(1<<(8-bits) - 1)
	}
	var lut [3][256]uint8
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = uint8(v) & mask
		}
	}
	return applyLUT(img, &lut)
}

// PILSolarize is Pillow's ImageOps.solarize(img, threshold): values >= threshold become 255 - v.
func PILSolarize(img *RGB, threshold int) *RGB {
	var lut [3][256]uint8
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = uint8(v)
			if v >= threshold {
				lut[c][v] = uint8(255 - v)
			}
		}
	}
	return applyLUT(img, &lut)
}

// pyMod is Python's float %: the result has the sign of m.
func pyMod(x, m float64) float64 {
	r := math.Mod(x, m)
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}

// pyRound15 is Python's round(x, 15): the correctly rounded 15-decimal value (half to even on the exact binary
// value), as strconv's fixed formatting computes it.
func pyRound15(x float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 15, 64), 64)
	if err != nil {
		panic(fmt.Sprintf("augment.pyRound15(%v): %v", x, err))
	}
	return v
}

// PILRotate is Pillow's Image.rotate(degrees, resample=BILINEAR, fillcolor=fill) (counter-clockwise, same size,
// about the centre (w/2, h/2)): angles 0 and 180 (mod 360), and 90 and 270 on square images, are exact
// transpositions; other angles are PILAffine with Pillow's inverse matrix (cos/sin rounded to 15 decimals).
func PILRotate(img *RGB, degrees float64, fill [3]uint8) *RGB {
	angle := pyMod(degrees, 360)
	switch {
	case angle == 0:
		return img.Clone()
	case angle == 180:
		return rotate180(img)
	case (angle == 90 || angle == 270) && img.W == img.H:
		return rotate90(img, angle == 90)
	}
	w, h := img.W, img.H
	cx, cy := float64(w)/2, float64(h)/2
	pi := math.Pi
	rad := -(angle * (pi / 180)) // math.radians: angle * (pi / 180) in float64
	m := [6]float64{pyRound15(math.Cos(rad)), pyRound15(math.Sin(rad)), 0,
		pyRound15(-math.Sin(rad)), pyRound15(math.Cos(rad)), 0}
	// matrix[2], matrix[5] = transform(-cx, -cy, matrix), evaluated as a*x + b*y + c.
	m2 := float64(m[0]*-cx) + float64(m[1]*-cy) + m[2]
	m5 := float64(m[3]*-cx) + float64(m[4]*-cy) + m[5]
	m[2], m[5] = m2+cx, m5+cy
	return PILAffine(img, w, h, m, fill)
}

// rotate180 is Pillow's transpose(ROTATE_180).
func rotate180(img *RGB) *RGB {
	out := NewRGB(img.W, img.H)
	n := img.W * img.H
	for i := range n {
		copy(out.Pix[3*(n-1-i):3*(n-i)], img.Pix[3*i:3*i+3])
	}
	return out
}

// rotate90 is Pillow's transpose(ROTATE_90) (counter-clockwise) when ccw, else ROTATE_270.
func rotate90(img *RGB, ccw bool) *RGB {
	W, H := img.W, img.H
	out := NewRGB(H, W)
	for y := range W {
		for x := range H {
			// ROTATE_90: out(x, y) = in(W-1-y, x); ROTATE_270: out(x, y) = in(y, H-1-x).
			sx, sy := W-1-y, x
			if !ccw {
				sx, sy = y, H-1-x
			}
			copy(out.Pix[(y*H+x)*3:(y*H+x)*3+3], img.Pix[(sy*W+sx)*3:])
		}
	}
	return out
}

// PILAffine is Pillow's img.transform((w, h), Image.AFFINE, a, resample=BILINEAR, fillcolor=fill): output pixel
// (x, y) samples the input at (a0 X + a1 Y + a2, a3 X + a4 Y + a5) with X = x + 0.5, Y = y + 0.5 (in float64);
// points outside [0, W) x [0, H) keep fill; others are bilinear over the pixel centres with edge pixels
// repeated, truncated to uint8 (Pillow's Geometry.c bilinear_filter32RGB).
func PILAffine(img *RGB, w, h int, a [6]float64, fill [3]uint8) *RGB {
	out := NewRGB(w, h)
	W, H := img.W, img.H
	fw, fh := float64(W), float64(H)
	xclip := func(x int) int { return min(max(x, 0), W-1) }
	for y := range h {
		Y := float64(y) + 0.5
		for x := range w {
			X := float64(x) + 0.5
			o := out.Pix[(y*w+x)*3 : (y*w+x)*3+3]
			xin := float64(a[0]*X) + float64(a[1]*Y) + a[2]
			yin := float64(a[3]*X) + float64(a[4]*Y) + a[5]
			if xin < 0 || xin >= fw || yin < 0 || yin >= fh {
				copy(o, fill[:])
				continue
			}
			xin -= 0.5
			yin -= 0.5
			xi, yi := pilFloor(xin), pilFloor(yin)
			dx, dy := xin-float64(xi), yin-float64(yi)
			x0, x1 := xclip(xi), xclip(xi+1)
			r0 := img.Pix[min(max(yi, 0), H-1)*W*3:]
			var r1 []uint8
			if yi+1 >= 0 && yi+1 < H {
				r1 = img.Pix[(yi+1)*W*3:]
			}
			for c := range 3 {
				a0, b0 := int(r0[3*x0+c]), int(r0[3*x1+c])
				v1 := float64(a0) + float64(float64(b0-a0)*dx)
				v2 := v1
				if r1 != nil {
					a1, b1 := int(r1[3*x0+c]), int(r1[3*x1+c])
					v2 = float64(a1) + float64(float64(b1-a1)*dx)
				}
				v1 += float64((v2 - v1) * dy)
				o[c] = uint8(v1)
			}
		}
	}
	return out
}

// pilFloor is Geometry.c's FLOOR: floor for negative values, truncation otherwise.
func pilFloor(v float64) int {
	if v < 0 {
		return int(math.Floor(v))
	}
	return int(v)
}

// PaperAugMixParams configures the AugMix paper's augmentation as MEMO and TPT run it; the zero value is MEMO's
// ImageNet configuration. Same distributions as the originals, not the same draws: the originals draw from
// numpy's global RNG, this from the view's own RNG (ViewRNG).
type PaperAugMixParams struct {
	// Severity is the upper end of each op's level, drawn uniformly in [0.1, Severity) (sample_level); 0 means 1,
	// the severity of MEMO's ops and of TPT's AugMixAugmenter.
	Severity int
	// Width is the number of chains mixed; 0 means 3 (both codes).
	Width int
	// Depth is each chain's op count; 0 or negative means uniform in 1..3 (np.random.randint(1, 4)).
	Depth int
	// Alpha is the Dirichlet concentration of the chain weights and the Beta(Alpha, Alpha) of m; 0 means 1.
	Alpha float64
	// ImageSize is the code's IMAGE_SIZE: the output size of the shears and translations and the base of the
	// translation range (IMAGE_SIZE/3). 0 means the width of the image augmented, i.e. 224 (IMAGE_SIZE) on
	// MEMO's and TPT's 224 x 224 crops.
	ImageSize int
	// Ops are the ops a chain draws from, uniformly; nil means PaperOps() (augmentations.py's nine).
	Ops []PaperOp
	// TPTFill selects TPT's fill (augmix_ops.py, PIL's default: black) for pixels that rotate, shear and translate
	// bring in from outside the image; false, the default, is MEMO's fillcolor=128 (MEMOFill, (128, 0, 0)).
	TPTFill bool
	// MWeightsMix mixes (1-m) orig + m mix, the AugMix paper's training code; false, the default, is
	// m orig + (1-m) mix, as both MEMO's `_augmix_aug` and TPT's `augmix` compute it. m ~ Beta(Alpha, Alpha) is
	// symmetric, so both give the same distribution of views.
	MWeightsMix bool
}

func (p PaperAugMixParams) withDefaults() PaperAugMixParams {
	if p.Severity == 0 {
		p.Severity = 1
	}
	if p.Width == 0 {
		p.Width = 3
	}
	if p.Alpha == 0 {
		p.Alpha = 1
	}
	if p.Ops == nil {
		p.Ops = PaperOps()
	}
	return p
}

// Validate reports parameters that cannot run.
func (p PaperAugMixParams) Validate() error {
	p = p.withDefaults()
	if p.Severity < 0 || p.Width < 0 || p.Alpha < 0 || p.ImageSize < 0 {
		return fmt.Errorf("augment: PaperAugMixParams has a negative Severity %d, Width %d, Alpha %g or ImageSize %d",
			p.Severity, p.Width, p.Alpha, p.ImageSize)
	}
	if len(p.Ops) == 0 {
		return fmt.Errorf("augment: PaperAugMixParams.Ops is empty")
	}
	for _, op := range p.Ops {
		if op < 0 || op >= numPaperOps {
			return fmt.Errorf("augment: PaperAugMixParams.Ops has an unknown op %d", int(op))
		}
	}
	return nil
}

// Fill is the fill colour of the geometric ops: MEMOFill, or black with TPTFill.
func (p PaperAugMixParams) Fill() [3]uint8 {
	if p.TPTFill {
		return [3]uint8{}
	}
	return MEMOFill
}

// PaperOpDraw is one op of a chain with its draws.
type PaperOpDraw struct {
	Op PaperOp
	// Level is sample_level's draw in [0.1, Severity) (0 for ops without a level).
	Level float64
	// Negate is the sign draw (`np.random.uniform() > 0.5`) of signed ops.
	Negate bool
}

// PaperAugMixPlan holds every random draw of one AugMix view.
type PaperAugMixPlan struct {
	// W are the chain weights ~ Dirichlet(Alpha x Width), in float32 (np.float32(np.random.dirichlet(...))).
	W []float32
	// M ~ Beta(Alpha, Alpha), in float32 (np.float32(np.random.beta(...))).
	M float32
	// Chains are the ops of each chain, applied in order to the original.
	Chains [][]PaperOpDraw
}

// SamplePlan draws one view's plan from r: W, M, then for each chain its depth and, per op, the op (uniform over
// Ops), its level (if it has one) and its sign (if signed), in the originals' order of draws.
func (p PaperAugMixParams) SamplePlan(r *rand.Rand) PaperAugMixPlan {
	p = p.withDefaults()
	var pl PaperAugMixPlan
	for _, w := range dirichlet(r, p.Alpha, p.Width) {
		pl.W = append(pl.W, float32(w))
	}
	x, y := gamma(r, p.Alpha), gamma(r, p.Alpha)
	pl.M = float32(x / (x + y))
	for range p.Width {
		depth := p.Depth
		if depth <= 0 {
			depth = 1 + r.IntN(3)
		}
		chain := make([]PaperOpDraw, depth)
		for j := range chain {
			d := PaperOpDraw{Op: p.Ops[r.IntN(len(p.Ops))]}
			if d.Op.UsesLevel() {
				d.Level = 0.1 + (float64(p.Severity)-0.1)*r.Float64()
			}
			if d.Op.Signed() {
				d.Negate = r.Float64() > 0.5
			}
			chain[j] = d
		}
		pl.Chains = append(pl.Chains, chain)
	}
	return pl
}

// ApplyOp applies one drawn op with p's ImageSize (0: img's width) and fill.
func (p PaperAugMixParams) ApplyOp(img *RGB, d PaperOpDraw) *RGB {
	size := p.ImageSize
	if size == 0 {
		size = img.W
	}
	return d.Op.Apply(img, d.Level, d.Negate, size, p.Fill())
}

// Mix writes the AugMix view of img under plan pl into dst (float32 [S, S, 3], S = img's size, len S*S*3),
// normalised with mean and std: mix = sum_i W[i] * preprocess(chain_i(img)) accumulated chain by chain, then
// M * preprocess(img) + (1-M) * mix (or the paper's (1-M), M with MWeightsMix), each operation in float32 as
// torch computes it (preprocess = ToTensor + Normalize, see ToTensor). img must be square, and every chain must
// keep its size (ImageSize 0 or img's size).
func (p PaperAugMixParams) Mix(dst []float32, img *RGB, pl PaperAugMixPlan, mean, std [3]float32) error {
	p = p.withDefaults()
	per := img.W * img.H * 3
	if img.W != img.H || len(dst) != per {
		return fmt.Errorf("augment: PaperAugMixParams.Mix: image %dx%d (want square) into %d floats (want %d)",
			img.W, img.H, len(dst), per)
	}
	if len(pl.W) != len(pl.Chains) {
		return fmt.Errorf("augment: PaperAugMixParams.Mix: %d weights for %d chains", len(pl.W), len(pl.Chains))
	}
	orig := make([]float32, per)
	ToTensor(orig, img, mean, std)
	mix := make([]float32, per)
	aug := make([]float32, per)
	for i, chain := range pl.Chains {
		x := img
		for _, d := range chain {
			x = p.ApplyOp(x, d)
		}
		if x.W != img.W || x.H != img.H {
			return fmt.Errorf("augment: PaperAugMixParams.Mix: chain %d made a %dx%d image from %dx%d (ImageSize %d)",
				i, x.W, x.H, img.W, img.H, p.ImageSize)
		}
		ToTensor(aug, x, mean, std)
		w := pl.W[i]
		for j, v := range aug {
			mix[j] += float32(w * v) // mix += w[i] * preprocess(x_aug)
		}
	}
	mo, mm := pl.M, 1-pl.M // weights of the original and of the mix
	if p.MWeightsMix {
		mo, mm = mm, mo
	}
	for j := range dst {
		dst[j] = float32(mo*orig[j]) + float32(mm*mix[j])
	}
	return nil
}
