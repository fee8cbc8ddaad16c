package datasets

import (
	"image"
	"image/draw"
)

// This file converts decoded YCbCr images to RGB the way the C libraries behind PIL do, so that pixels match
// what torchvision-based reference code sees:
//   - JPEG (JFIF full-range YCbCr): libjpeg(-turbo)'s default "fancy" (triangle-filter) chroma upsampling for
//     4:2:0, 4:2:2 and 4:4:0, and its fixed-point YCbCr->RGB tables (jdsample.c, jdcolor.c). Go's own conversion
//     replicates chroma samples instead, which moved colors by up to ~50 levels at chroma edges in our test files.
//   - WebP lossy (VP8, BT.601 limited-range YUV): libwebp's fancy upsampler and its 14-bit YUV->RGB formulas
//     (src/dsp/upsampling.c, src/dsp/yuv.h). golang.org/x/image/webp returns the raw limited-range planes in an
//     *image.YCbCr, which Go's color conversion would misread as full range.
// Only the facts (filter taps, rounding constants) are taken from those libraries.

// jpegYCbCrToRGB converts a JFIF YCbCr image to RGB into dst (same size, origin 0,0) with libjpeg's fancy
// upsampling. It reports false (dst untouched) for subsampling ratios libjpeg does not fancy-upsample
// (4:1:1, 4:1:0) or chroma planes too small to filter; the caller then uses Go's conversion.
func jpegYCbCrToRGB(dst *image.RGBA, src *image.YCbCr) bool {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	var hs, vs int // horizontal and vertical chroma subsampling factors
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		return false
	}
	if b.Min.X%hs != 0 || b.Min.Y%vs != 0 {
		return false // a sub-image not aligned on chroma samples
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs // downsampled_width, downsampled_height
	if (hs == 2 && cw < 2) || (vs == 2 && ch < 2) {
		return false
	}
	crow := func(plane []uint8, cy int) []uint8 {
		cy = min(max(cy, 0), ch-1) // libjpeg replicates the first and last rows as context
		off := cy * src.CStride    // chroma planes start at Rect.Min (aligned above)
		return plane[off : off+cw]
	}
	cb := make([]uint8, cw*hs) // one upsampled chroma row
	cr := make([]uint8, cw*hs)
	for y := 0; y < h; y++ {
		near, far := y/vs, y/vs
		bias := 0
		if vs == 2 {
			if y%2 == 0 {
				far = near - 1 // v == 0: the next nearest row is above
				bias = 0
			} else {
				far = near + 1
				bias = 1
			}
		}
		upsampleRow(cb, crow(src.Cb, near), crow(src.Cb, far), hs, vs, bias)
		upsampleRow(cr, crow(src.Cr, near), crow(src.Cr, far), hs, vs, bias)
		yrow := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):]
		d := dst.Pix[y*dst.Stride:]
		for x := 0; x < w; x++ {
			d[4*x], d[4*x+1], d[4*x+2] = jfifToRGB(int32(yrow[x]), int32(cb[x]), int32(cr[x]))
			d[4*x+3] = 255
		}
	}
	return true
}

// upsampleRow writes len(near)*hs upsampled chroma samples into out, libjpeg's h2v2 / h2v1 / h1v2 fancy filters
// (h1v1: a copy). near is the nearest chroma row, far the next nearest (used only when vs == 2); bias is 0 for
// output rows whose far row is above and 1 for those whose far row is below.
func upsampleRow(out, near, far []uint8, hs, vs, bias int) {
	n := len(near)
	switch {
	case hs == 1 && vs == 1:
		copy(out, near)
	case hs == 1: // h1v2_fancy_upsample: (3*near + far + 1|2) >> 2
		for i := range n {
			out[i] = uint8((3*int(near[i]) + int(far[i]) + 1 + bias) >> 2)
		}
	case vs == 1: // h2v1_fancy_upsample
		out[0] = near[0]
		out[1] = uint8((3*int(near[0]) + int(near[1]) + 2) >> 2)
		for i := 1; i < n-1; i++ {
			v := 3 * int(near[i])
			out[2*i] = uint8((v + int(near[i-1]) + 1) >> 2)
			out[2*i+1] = uint8((v + int(near[i+1]) + 2) >> 2)
		}
		v := int(near[n-1])
		out[2*n-2] = uint8((3*v + int(near[n-2]) + 1) >> 2)
		out[2*n-1] = uint8(v)
	default: // h2v2_fancy_upsample on column sums 3*near + far
		sum := func(i int) int { return 3*int(near[i]) + int(far[i]) }
		this, next := sum(0), sum(1)
		out[0] = uint8((this*4 + 8) >> 4)
		out[1] = uint8((this*3 + next + 7) >> 4)
		last := this
		this = next
		for i := 1; i < n-1; i++ {
			next = sum(i + 1)
			out[2*i] = uint8((this*3 + last + 8) >> 4)
			out[2*i+1] = uint8((this*3 + next + 7) >> 4)
			last, this = this, next
		}
		out[2*n-2] = uint8((this*3 + last + 8) >> 4)
		out[2*n-1] = uint8((this*4 + 7) >> 4)
	}
}

// libjpeg's fixed-point constants: FIX(x) = round(x * 2^16).
const (
	fix1_40200 = 91881
	fix1_77200 = 116130
	fix0_71414 = 46802
	fix0_34414 = 22554
	oneHalf    = 1 << 15
)

// jfifToRGB is libjpeg's ycc_rgb_convert for one pixel (full-range JFIF YCbCr).
func jfifToRGB(y, cb, cr int32) (uint8, uint8, uint8) {
	cb -= 128
	cr -= 128
	r := y + (fix1_40200*cr+oneHalf)>>16
	g := y + (-fix0_34414*cb+oneHalf-fix0_71414*cr)>>16
	b := y + (fix1_77200*cb+oneHalf)>>16
	return clip8(r), clip8(g), clip8(b)
}

func clip8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// webpYCbCrToRGB converts a VP8 (limited-range BT.601, 4:2:0) image to RGB the way libwebp does (fancy
// upsampling + VP8YUVToR/G/B). With alpha non-nil the result is an *image.NRGBA carrying that alpha plane,
// otherwise an opaque *image.RGBA. Bounds start at (0, 0).
func webpYCbCrToRGB(src *image.YCbCr, alpha []uint8, alphaStride int) draw.Image {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	var pix []uint8
	var stride int
	var out draw.Image
	if alpha != nil {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		pix, stride, out = m.Pix, m.Stride, m
	} else {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		pix, stride, out = m.Pix, m.Stride, m
	}
	if src.SubsampleRatio != image.YCbCrSubsampleRatio420 || b.Min.X%2 != 0 || b.Min.Y%2 != 0 {
		draw.Draw(out, out.Bounds(), src, b.Min, draw.Src) // not produced by x/image/webp; keep Go's conversion
		return out
	}
	cw, ch := (w+1)/2, (h+1)/2
	crow := func(plane []uint8, cy int) []uint8 {
		off := cy * src.CStride // chroma planes start at Rect.Min (aligned above)
		return plane[off : off+cw]
	}
	u := make([]uint8, 2*cw)
	v := make([]uint8, 2*cw)
	for y := 0; y < h; y++ {
		// io_dec.c EmitFancyRGB: row 0 and (for even heights) the last row use one chroma row; odd rows are the
		// "top" row of a pair whose nearest chroma row is above, even rows the "bottom" row.
		var near, far int
		switch {
		case y == 0:
			near, far = 0, 0
		case y == h-1 && h%2 == 0:
			near, far = ch-1, ch-1
		case y%2 == 1:
			near, far = (y-1)/2, (y+1)/2
		default:
			near, far = y/2, y/2-1
		}
		webpUpsampleRow(u, crow(src.Cb, near), crow(src.Cb, far), w)
		webpUpsampleRow(v, crow(src.Cr, near), crow(src.Cr, far), w)
		yrow := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):]
		d := pix[y*stride:]
		for x := 0; x < w; x++ {
			yy, uu, vv := int(yrow[x]), int(u[x]), int(v[x])
			d[4*x] = vp8Clip8(mulHi(yy, 19077) + mulHi(vv, 26149) - 14234)
			d[4*x+1] = vp8Clip8(mulHi(yy, 19077) - mulHi(uu, 6419) - mulHi(vv, 13320) + 8708)
			d[4*x+2] = vp8Clip8(mulHi(yy, 19077) + mulHi(uu, 33050) - 17685)
			if alpha != nil {
				d[4*x+3] = alpha[y*alphaStride+x]
			} else {
				d[4*x+3] = 255
			}
		}
	}
	return out
}

// webpUpsampleRow is libwebp's UPSAMPLE_FUNC for one output row of width w: near is the chroma row that the
// output row is closest to (weight 3/4 vertically), far the other one (1/4).
func webpUpsampleRow(out, near, far []uint8, w int) {
	tl, l := int(near[0]), int(far[0])
	out[0] = uint8((3*tl + l + 2) >> 2)
	last := (w - 1) >> 1
	for x := 1; x <= last; x++ {
		t, c := int(near[x]), int(far[x])
		avg := tl + t + l + c + 8
		diag12 := (avg + 2*(t+l)) >> 3
		diag03 := (avg + 2*(tl+c)) >> 3
		out[2*x-1] = uint8((diag12 + tl) >> 1)
		out[2*x] = uint8((diag03 + t) >> 1)
		tl, l = t, c
	}
	if w&1 == 0 {
		out[w-1] = uint8((3*tl + l + 2) >> 2)
	}
}

func mulHi(v, coeff int) int { return (v * coeff) >> 8 }

// vp8Clip8 is libwebp's VP8Clip8 with YUV_FIX2 = 6.
func vp8Clip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
