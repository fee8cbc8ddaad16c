package augment

import (
	"fmt"
	"image"
	"image/color"

	"github.com/gotta-ml/gotta/datasets"
)

// RGB is an 8-bit RGB image (PIL mode "RGB"): Pix holds [H, W, 3] bytes, row-major.
type RGB struct {
	W, H int
	Pix  []uint8 // [H, W, 3]
}

// NewRGB returns a black w x h image.
func NewRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: make([]uint8, w*h*3)}
}

// FromImage converts any image.Image to RGB with datasets.ToRGB, i.e. as PIL's convert("RGB") does: alpha is
// dropped, and a *image.YCbCr from image/jpeg (4:4:4, 4:2:2, 4:2:0, 4:4:0) is converted as libjpeg-turbo does for
// PIL (fancy chroma upsampling, fixed-point colour conversion) rather than by Go's color package.
func FromImage(img image.Image) *RGB {
	rgba := datasets.ToRGB(img) // PIL's convert("RGB"): libjpeg's YCbCr conversion, alpha dropped, CMYK, gray.
	out := NewRGB(rgba.Rect.Dx(), rgba.Rect.Dy())
	for y := 0; y < out.H; y++ {
		row := rgba.Pix[y*rgba.Stride:]
		o := out.Pix[y*out.W*3:]
		for x := 0; x < out.W; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
	return out
}

// ToNRGBA converts back to an opaque *image.NRGBA (for saving or display).
func (m *RGB) ToNRGBA() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255
	}
	return out
}

// At returns the pixel at (x, y) as a color (for debugging; use Pix in loops).
func (m *RGB) At(x, y int) color.NRGBA {
	i := (y*m.W + x) * 3
	return color.NRGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
}

// Clone returns a deep copy.
func (m *RGB) Clone() *RGB {
	return &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}

func (m *RGB) check() error {
	if m == nil || m.W <= 0 || m.H <= 0 || len(m.Pix) != m.W*m.H*3 {
		if m == nil {
			return fmt.Errorf("augment: nil image")
		}
		return fmt.Errorf("augment: bad image %dx%d with %d bytes (want %d)", m.W, m.H, len(m.Pix), m.W*m.H*3)
	}
	return nil
}

// Box is a crop rectangle in pixels (torchvision's (top, left, height, width)) plus a horizontal flip flag,
// applied after the crop is resized (torchvision's RandomResizedCrop then RandomHorizontalFlip).
type Box struct {
	Top, Left, Height, Width int
	Flip                     bool
}

// Crop returns the sub-image box (Flip ignored). Parts of the box outside the image are black, as with PIL's
// crop.
func Crop(img *RGB, b Box) *RGB {
	out := NewRGB(b.Width, b.Height)
	for y := 0; y < b.Height; y++ {
		sy := b.Top + y
		if sy < 0 || sy >= img.H {
			continue
		}
		for x := 0; x < b.Width; x++ {
			sx := b.Left + x
			if sx < 0 || sx >= img.W {
				continue
			}
			copy(out.Pix[(y*b.Width+x)*3:(y*b.Width+x)*3+3], img.Pix[(sy*img.W+sx)*3:])
		}
	}
	return out
}

// FlipH mirrors the image left-right in place and returns it.
func FlipH(img *RGB) *RGB {
	for y := 0; y < img.H; y++ {
		row := img.Pix[y*img.W*3 : (y+1)*img.W*3]
		for l, r := 0, img.W-1; l < r; l, r = l+1, r-1 {
			row[3*l], row[3*r] = row[3*r], row[3*l]
			row[3*l+1], row[3*r+1] = row[3*r+1], row[3*l+1]
			row[3*l+2], row[3*r+2] = row[3*r+2], row[3*l+2]
		}
	}
	return img
}
