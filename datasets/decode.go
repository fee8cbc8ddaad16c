package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"

	// Decoders registered with image.Decode: JPEG (baseline, progressive, grayscale, Adobe CMYK/YCCK), PNG, GIF,
	// BMP, WebP (lossy, lossless, alpha) and TIFF.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxPixels is the largest width*height that Decode accepts, checked from the header before any pixel is
// decoded, so a corrupt or hostile header cannot make the decoder allocate gigabytes. It is PIL's limit for a
// DecompressionBombError (2 * Image.MAX_IMAGE_PIXELS = 178,956,970 pixels).
const MaxPixels = 178956970

// Decode reads and decodes the image file at path (JPEG, PNG, GIF, BMP, WebP or TIFF, recognised by content, not
// by extension). The image keeps its decoded color model (*image.YCbCr, *image.Gray, *image.CMYK, *image.Paletted,
// *image.NRGBA, ...); use DecodeRGB for RGB. Exception: lossy WebP comes back already converted to RGB (*image.RGBA,
// or *image.NRGBA with its alpha), as libwebp converts it, because its planes are limited-range YCbCr that Go's
// image.YCbCr would misread as full range. Corrupt, truncated or unknown files give an error naming path, never
// a panic: panics inside a decoder are recovered and returned as errors. EXIF orientation is not applied (PIL's
// Image.open and torchvision's loaders do not apply it either). A 4-component JPEG without an Adobe APP14 marker
// is refused by Go's decoder (libjpeg reads it as CMYK).
func Decode(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: decode: %w", err)
	}
	return DecodeBytes(data, path)
}

// DecodeRGB is Decode followed by ToRGB: an opaque *image.RGBA with bounds starting at (0, 0).
func DecodeRGB(path string) (*image.RGBA, error) {
	img, err := Decode(path)
	if err != nil {
		return nil, err
	}
	return toRGBNamed(img, path)
}

// DecodeBytes decodes an encoded image held in memory; name is used in error messages (a path or an ID).
func DecodeBytes(data []byte, name string) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("datasets: decode %s: decoder panicked: %v", name, r)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("datasets: decode %s: empty file", name)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("datasets: decode %s: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("datasets: decode %s: %s image has empty size %dx%d", name, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("datasets: decode %s: %s image of %dx%d pixels exceeds datasets.MaxPixels (%d)",
			name, format, cfg.Width, cfg.Height, MaxPixels)
	}
	img, format, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("datasets: decode %s (%s): %w", name, format, err)
	}
	if format == "webp" {
		// VP8 planes are limited-range BT.601: convert them now, as libwebp does (see ycbcr.go).
		switch m := img.(type) {
		case *image.YCbCr:
			img = webpYCbCrToRGB(m, nil, 0)
		case *image.NYCbCrA:
			off := m.AOffset(m.Rect.Min.X, m.Rect.Min.Y)
			if need := off + (m.Rect.Dy()-1)*m.AStride + m.Rect.Dx(); m.Rect.Dy() > 0 && len(m.A) < need {
				return nil, fmt.Errorf("datasets: decode %s (webp): the alpha plane has %d bytes, want %d", name,
					len(m.A), need)
			}
			img = webpYCbCrToRGB(&m.YCbCr, m.A[off:], m.AStride)
		}
	}
	return img, nil
}

func toRGBNamed(img image.Image, name string) (out *image.RGBA, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("datasets: convert %s to RGB: panicked: %v", name, r)
		}
	}()
	return ToRGB(img), nil
}

// ToRGB converts any image to an opaque RGB image: an *image.RGBA whose alpha is 255 everywhere and whose bounds
// start at (0, 0). It matches PIL's Image.convert("RGB"), which torchvision's loaders use:
//   - grayscale: R = G = B = Y;
//   - CMYK (JPEG CMYK or YCCK): R = (255-C)(255-K)/255, likewise G, B (PIL's formula, rounded as Go rounds it);
//   - paletted: the palette color;
//   - alpha (RGBA PNG, WebP with alpha, ...): the alpha channel is DROPPED, not composited onto a background: the
//     stored (non-premultiplied) color of each pixel is kept, so fully transparent pixels show whatever color the
//     file stores for them. Premultiplied sources (*image.RGBA with alpha < 255) are un-premultiplied first.
//   - 16-bit sources keep their high byte.
//
// Known differences from PIL: Go's GIF decoder replaces a GIF's transparent palette entry with transparent black,
// so those pixels become black where PIL would show the palette's color; PIL opens 16-bit grayscale PNGs as mode
// "I" and clips them to 255 on conversion, where ToRGB keeps the high byte. Neither occurs in the ImageNet test
// sets (all JPEG).
func ToRGB(img image.Image) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	switch src := img.(type) {
	case *image.YCbCr:
		if !jpegYCbCrToRGB(dst, src) {
			draw.Draw(dst, dst.Rect, src, b.Min, draw.Src)
		}
	case *image.NYCbCrA:
		if !jpegYCbCrToRGB(dst, &src.YCbCr) {
			draw.Draw(dst, dst.Rect, &src.YCbCr, b.Min, draw.Src)
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				v := row[x]
				d[4*x], d[4*x+1], d[4*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				d[4*x], d[4*x+1], d[4*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				d[4*x], d[4*x+1], d[4*x+2] = color.CMYKToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	case *image.Paletted:
		var table [256][3]uint8
		for i, c := range src.Palette {
			if i >= len(table) {
				break
			}
			table[i] = rgbOf(c)
		}
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				t := table[row[x]]
				d[4*x], d[4*x+1], d[4*x+2] = t[0], t[1], t[2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				c := rgbOf(img.At(b.Min.X+x, b.Min.Y+y))
				d[4*x], d[4*x+1], d[4*x+2] = c[0], c[1], c[2]
			}
		}
	}
	for i := 3; i < len(dst.Pix); i += 4 {
		dst.Pix[i] = 255
	}
	return dst
}

// rgbOf returns the straight (non-premultiplied) 8-bit RGB of a color, dropping its alpha.
func rgbOf(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	case color.RGBA:
		if c.A == 255 {
			return [3]uint8{c.R, c.G, c.B}
		}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}
