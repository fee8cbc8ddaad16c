package augment

import (
	"fmt"
	"math"
)

// Filter is a resampling filter of PIL's Image.resize. The zero value means "the default of the caller"
// (documented on each field that takes a Filter).
type Filter int

const (
	// Nearest is PIL's NEAREST: the source pixel under the output pixel centre (no antialiasing).
	Nearest Filter = iota + 1
	// Bilinear is PIL's BILINEAR: the triangle filter, support 1, scaled by the downscale factor (antialiased).
	Bilinear
	// Bicubic is PIL's BICUBIC: Keys' cubic with a = -0.5, support 2, scaled by the downscale factor.
	Bicubic
)

// String returns the PIL name of the filter.
func (f Filter) String() string {
	switch f {
	case Nearest:
		return "nearest"
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// ParseFilter maps "nearest", "bilinear", "bicubic" to a Filter.
func ParseFilter(s string) (Filter, error) {
	for _, f := range []Filter{Nearest, Bilinear, Bicubic} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("augment: unknown filter %q (want nearest, bilinear or bicubic)", s)
}

// support is the filter's half-width at scale 1; kernel is the filter function (PIL's Resample.c).
func (f Filter) support() float64 {
	switch f {
	case Bilinear:
		return 1
	case Bicubic:
		return 2
	}
	return 0.5
}

func (f Filter) kernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	switch f {
	case Bilinear:
		if x < 1 {
			return 1 - x
		}
		return 0
	case Bicubic:
		const a = -0.5
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x <= 0.5 { // box
		return 1
	}
	return 0
}

// precisionBits is PIL's fixed-point precision for 8-bit resampling (32 - 8 - 2).
const precisionBits = 22

// coeffs are the resampling weights of one axis: output i reads inputs [Start[i], Start[i]+Count[i]) with
// float weights W[i*K:] (normalised to sum 1) and their fixed-point versions Fixed[i*K:].
type coeffs struct {
	K            int
	Start, Count []int
	W            []float64
	Fixed        []int32
}

// precompute mirrors PIL's precompute_coeffs: the filter support grows with the downscale factor
// (antialiasing), windows are clipped to the input, and weights are normalised per output.
func precompute(inSize int, in0, in1 float64, outSize int, f Filter) *coeffs {
	scale := (in1 - in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := f.support() * filterscale
	k := int(math.Ceil(support))*2 + 1
	c := &coeffs{K: k, Start: make([]int, outSize), Count: make([]int, outSize),
		W: make([]float64, outSize*k), Fixed: make([]int32, outSize*k)}
	ss := 1.0 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := in0 + (float64(xx)+0.5)*scale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		w := c.W[xx*k : xx*k+k]
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := f.kernel((float64(x+xmin) - center + 0.5) * ss)
			w[x] = v
			ww += v
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				w[x] /= ww
			}
			if w[x] < 0 {
				c.Fixed[xx*k+x] = int32(-0.5 + w[x]*(1<<precisionBits))
			} else {
				c.Fixed[xx*k+x] = int32(0.5 + w[x]*(1<<precisionBits))
			}
		}
		c.Start[xx], c.Count[xx] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	if v <= 0 {
		return 0
	}
	v >>= precisionBits
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize returns img resized to w x h exactly as Pillow's Image.resize((w, h), filter) does for an RGB image:
// Nearest samples the pixel under each output centre; Bilinear and Bicubic convolve horizontally then
// vertically with the support scaled by the downscale factor, 22-bit fixed-point weights and rounding to
// uint8 after each pass. filter 0 means Bicubic (PIL's default).
func Resize(img *RGB, w, h int, filter Filter) *RGB {
	return resizeBox(img, Box{Width: img.W, Height: img.H}, w, h, filter)
}

// ResizeCrop is Resize(Crop(img, box), w, h, filter), flipped left-right when box.Flip, without the
// intermediate copy (torchvision's resized_crop followed by hflip).
func ResizeCrop(img *RGB, box Box, w, h int, filter Filter) *RGB {
	out := resizeBox(img, box, w, h, filter)
	if box.Flip {
		FlipH(out)
	}
	return out
}

// scratch holds buffers reused across views by one worker: fresh large allocations in every view stop
// goroutines from scaling (heap lock, page faults).
type scratch struct {
	tmp, out []uint8
}

// grow returns buf resized to n bytes, reallocated only when too small (contents are not cleared).
func grow(buf *[]uint8, n int) []uint8 {
	if cap(*buf) < n {
		*buf = make([]uint8, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// resizeBox treats the box (clipped to the image by the caller) as the whole source image.
func resizeBox(img *RGB, b Box, w, h int, filter Filter) *RGB {
	return resizeBoxScratch(img, b, w, h, filter, nil)
}

// resizeBoxScratch is resizeBox; with s != nil the result and temporaries live in s's buffers (valid until
// the next call with s).
func resizeBoxScratch(img *RGB, b Box, w, h int, filter Filter, s *scratch) *RGB {
	if filter == 0 {
		filter = Bicubic
	}
	if b.Top < 0 || b.Left < 0 || b.Top+b.Height > img.H || b.Left+b.Width > img.W || b.Width <= 0 || b.Height <= 0 {
		return resizeBox(Crop(img, b), Box{Width: b.Width, Height: b.Height}, w, h, filter)
	}
	if w == b.Width && h == b.Height {
		out := Crop(img, b)
		return out
	}
	if filter == Nearest {
		return resizeNearest(img, b, w, h)
	}
	cw, ch := b.Width, b.Height
	horiz := precompute(cw, 0, float64(cw), w, filter)
	vert := precompute(ch, 0, float64(ch), h, filter)
	// Horizontal pass over the rows the vertical pass uses, into a uint8 [rows, w, 3] buffer.
	y0 := vert.Start[0]
	y1 := vert.Start[h-1] + vert.Count[h-1]
	var tmp []uint8
	tmpW := w
	if w != cw {
		if s != nil {
			tmp = grow(&s.tmp, (y1-y0)*w*3)
		} else {
			tmp = make([]uint8, (y1-y0)*w*3)
		}
		for y := y0; y < y1; y++ {
			src := img.Pix[((b.Top+y)*img.W+b.Left)*3:]
			dst := tmp[(y-y0)*w*3:]
			for xx := 0; xx < w; xx++ {
				k := horiz.Fixed[xx*horiz.K:]
				p := src[horiz.Start[xx]*3:]
				ss0, ss1, ss2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
				for x := 0; x < horiz.Count[xx]; x++ {
					ss0 += int32(p[3*x]) * k[x]
					ss1 += int32(p[3*x+1]) * k[x]
					ss2 += int32(p[3*x+2]) * k[x]
				}
				dst[3*xx], dst[3*xx+1], dst[3*xx+2] = clip8(ss0), clip8(ss1), clip8(ss2)
			}
		}
	} else {
		tmp = Crop(img, Box{Top: b.Top + y0, Left: b.Left, Height: y1 - y0, Width: cw}).Pix
	}
	var out *RGB
	if s != nil {
		out = &RGB{W: w, H: h, Pix: grow(&s.out, w*h*3)}
	} else {
		out = NewRGB(w, h)
	}
	if h == ch {
		copy(out.Pix, tmp)
		return out
	}
	stride := tmpW * 3
	acc := make([]int32, stride) // one output row's fixed-point sums; rows of tmp are read in order
	for yy := 0; yy < h; yy++ {
		k := vert.Fixed[yy*vert.K:]
		start, n := vert.Start[yy]-y0, vert.Count[yy]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y := 0; y < n; y++ {
			ky := k[y]
			row := tmp[(start+y)*stride : (start+y+1)*stride]
			for xc, p := range row {
				acc[xc] += int32(p) * ky
			}
		}
		dst := out.Pix[yy*stride : (yy+1)*stride]
		for xc, a := range acc {
			dst[xc] = clip8(a)
		}
	}
	return out
}

// resizeNearest mirrors PIL's ImagingScaleAffine (Image.resize with NEAREST).
func resizeNearest(img *RGB, b Box, w, h int) *RGB {
	a0 := float64(b.Width) / float64(w)
	a4 := float64(b.Height) / float64(h)
	xin := make([]int, w)
	xo := a0 * 0.5
	for x := 0; x < w; x++ {
		xin[x] = coord(xo)
		xo += a0
	}
	out := NewRGB(w, h)
	yo := a4 * 0.5
	for y := 0; y < h; y++ {
		yi := coord(yo)
		yo += a4
		if yi < 0 || yi >= b.Height {
			continue
		}
		src := img.Pix[((b.Top+yi)*img.W+b.Left)*3:]
		dst := out.Pix[y*w*3:]
		for x := 0; x < w; x++ {
			if xin[x] < 0 || xin[x] >= b.Width {
				continue
			}
			copy(dst[3*x:3*x+3], src[3*xin[x]:])
		}
	}
	return out
}

func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}

// ShorterSize is torchvision's Resize(size) output size for a w x h image: the shorter side becomes size and
// the longer int(size * long / short).
func ShorterSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// ResizeShorter is torchvision's Resize(size, interpolation) on a PIL image: the shorter side becomes size.
func ResizeShorter(img *RGB, size int, filter Filter) *RGB {
	w, h := ShorterSize(img.W, img.H, size)
	return Resize(img, w, h, filter)
}

// CenterCropBox is torchvision's CenterCrop box: top = int(round((H - size) / 2)), left likewise, with
// Python's round-half-to-even.
func CenterCropBox(w, h, size int) Box {
	return Box{Top: int(math.RoundToEven(float64(h-size) / 2)), Left: int(math.RoundToEven(float64(w-size) / 2)),
		Height: size, Width: size}
}

// CenterCrop is torchvision's CenterCrop(size): a size x size crop at CenterCropBox; an image smaller than
// size is first padded with zeros to at least size, as torchvision does.
func CenterCrop(img *RGB, size int) *RGB {
	if img.W < size || img.H < size {
		// torchvision pads (left, top, right, bottom) = ((size-W)//2, (size-H)//2, (size-W+1)//2, (size-H+1)//2).
		pl, pt := 0, 0
		nw, nh := img.W, img.H
		if img.W < size {
			pl, nw = (size-img.W)/2, size
		}
		if img.H < size {
			pt, nh = (size-img.H)/2, size
		}
		img = Crop(img, Box{Top: -pt, Left: -pl, Height: nh, Width: nw})
		if img.W == size && img.H == size {
			return img
		}
	}
	return Crop(img, CenterCropBox(img.W, img.H, size))
}
