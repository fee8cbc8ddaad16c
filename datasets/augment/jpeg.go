package augment

import (
	"image"
)

// libjpeg's fixed-point YCbCr -> RGB tables (jdcolor.c, SCALEBITS = 16), the conversion PIL gets from
// libjpeg-turbo when it decodes a JPEG to RGB.
var ycc struct {
	crR, cbB, crG, cbG [256]int32
}

func init() {
	const scale = 16
	fix := func(x float64) int32 { return int32(x*(1<<scale) + 0.5) }
	half := int32(1) << (scale - 1)
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		ycc.crR[i] = (fix(1.40200)*x + half) >> scale
		ycc.cbB[i] = (fix(1.77200)*x + half) >> scale
		ycc.crG[i] = -fix(0.71414) * x
		ycc.cbG[i] = -fix(0.34414)*x + half
	}
}

func clampU8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// fromYCbCr converts a decoded JPEG's planes the way libjpeg(-turbo) does for PIL: chroma upsampled with
// libjpeg's "fancy" triangle filters (h2v2, h2v1, h1v2; edge rows and columns replicated), then the
// fixed-point YCbCr -> RGB conversion. ok is false for layouts it does not handle (the caller falls back to
// image/draw). Go's decoder uses another IDCT than libjpeg's islow, so pixels still differ by a few levels.
func fromYCbCr(m *image.YCbCr) (out *RGB, ok bool) {
	if m.Rect.Min != (image.Point{}) {
		return nil, false
	}
	W, H := m.Rect.Dx(), m.Rect.Dy()
	var hs, vs int // chroma subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		return nil, false
	}
	cw, ch := (W+hs-1)/hs, (H+vs-1)/vs
	cb := upsampleChroma(m.Cb, m.CStride, cw, ch, hs, vs, W, H)
	cr := upsampleChroma(m.Cr, m.CStride, cw, ch, hs, vs, W, H)
	out = NewRGB(W, H)
	for y := 0; y < H; y++ {
		yrow := m.Y[y*m.YStride:]
		for x := 0; x < W; x++ {
			yv := int32(yrow[x])
			b, r := cb[y*W+x], cr[y*W+x]
			o := out.Pix[(y*W+x)*3:]
			o[0] = clampU8(yv + ycc.crR[r])
			o[1] = clampU8(yv + (ycc.cbG[b]+ycc.crG[r])>>16)
			o[2] = clampU8(yv + ycc.cbB[b])
		}
	}
	return out, true
}

// upsampleChroma returns the chroma plane p (cw x ch, stride) at full resolution W x H with libjpeg's
// upsampling for the factors (hs, vs): fancy (triangle) for 2x horizontal when cw > 2, for 2x vertical,
// and replication otherwise.
func upsampleChroma(p []uint8, stride, cw, ch, hs, vs, W, H int) []uint8 {
	out := make([]uint8, W*H)
	if hs == 1 && vs == 1 {
		for y := 0; y < H; y++ {
			copy(out[y*W:(y+1)*W], p[y*stride:])
		}
		return out
	}
	row := func(i int) []uint8 { // context rows beyond the plane replicate its first and last rows
		i = min(max(i, 0), ch-1)
		return p[i*stride : i*stride+cw]
	}
	fancyH := hs == 2 && cw > 2
	if hs == 2 && vs == 2 && !fancyH { // libjpeg's h2v2_upsample: plain replication
		for y := 0; y < H; y++ {
			r := row(y / 2)
			for x := 0; x < W; x++ {
				out[y*W+x] = r[x/2]
			}
		}
		return out
	}
	wide := make([]int32, cw) // one chroma row, vertically filtered (x4 when vs == 2, else x1)
	line := make([]uint8, 2*cw)
	for y := 0; y < H; y++ {
		near := row(y / vs)
		vbias := int32(0)
		if vs == 2 {
			far := row(y/2 - 1)
			vbias = 1
			if y%2 == 1 {
				far = row(y/2 + 1)
				vbias = 2
			}
			for c := range wide {
				wide[c] = 3*int32(near[c]) + int32(far[c])
			}
		} else {
			for c := range wide {
				wide[c] = int32(near[c])
			}
		}
		dst := out[y*W : (y+1)*W]
		switch {
		case hs == 1: // h1v2_fancy_upsample
			for x := 0; x < W; x++ {
				dst[x] = uint8((wide[x] + vbias) >> 2)
			}
		case vs == 2: // h2v2_fancy_upsample
			last := cw - 1
			line[0] = uint8((wide[0]*4 + 8) >> 4)
			line[1] = uint8((wide[0]*3 + wide[1] + 7) >> 4)
			for c := 1; c < last; c++ {
				line[2*c] = uint8((wide[c]*3 + wide[c-1] + 8) >> 4)
				line[2*c+1] = uint8((wide[c]*3 + wide[c+1] + 7) >> 4)
			}
			line[2*last] = uint8((wide[last]*3 + wide[last-1] + 8) >> 4)
			line[2*last+1] = uint8((wide[last]*4 + 7) >> 4)
			copy(dst, line)
		case fancyH: // h2v1_fancy_upsample
			last := cw - 1
			line[0] = uint8(wide[0])
			line[1] = uint8((wide[0]*3 + wide[1] + 2) >> 2)
			for c := 1; c < last; c++ {
				line[2*c] = uint8((wide[c]*3 + wide[c-1] + 1) >> 2)
				line[2*c+1] = uint8((wide[c]*3 + wide[c+1] + 2) >> 2)
			}
			line[2*last] = uint8((wide[last]*3 + wide[last-1] + 1) >> 2)
			line[2*last+1] = uint8(wide[last])
			copy(dst, line)
		default: // h2v1_upsample: replication
			for x := 0; x < W; x++ {
				dst[x] = uint8(wide[x/2])
			}
		}
	}
	return out
}
