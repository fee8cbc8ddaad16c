package augment

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromImage(t *testing.T) {
	src := pattern(7, 5)
	t.Run("NRGBA round trip", func(t *testing.T) {
		require.Equal(t, src, FromImage(src.ToNRGBA()))
	})
	t.Run("sub-image with offset", func(t *testing.T) {
		sub := src.ToNRGBA().SubImage(image.Rect(2, 1, 6, 4))
		got := FromImage(sub)
		require.Equal(t, Crop(src, Box{Top: 1, Left: 2, Height: 3, Width: 4}), got)
	})
	t.Run("gray and RGBA", func(t *testing.T) {
		g := image.NewGray(image.Rect(0, 0, 2, 1))
		g.SetGray(1, 0, color.Gray{Y: 200})
		require.Equal(t, []uint8{0, 0, 0, 200, 200, 200}, FromImage(g).Pix)
		r := image.NewRGBA(image.Rect(0, 0, 1, 1))
		r.Set(0, 0, color.RGBA{10, 20, 30, 255})
		require.Equal(t, []uint8{10, 20, 30}, FromImage(r).Pix)
	})
	t.Run("flip and crop", func(t *testing.T) {
		f := FlipH(src.Clone())
		require.Equal(t, src.At(0, 2), f.At(6, 2))
		c := Crop(src, Box{Top: -1, Left: -1, Height: 2, Width: 2})
		require.Equal(t, color.NRGBA{0, 0, 0, 255}, c.At(0, 0))
		require.Equal(t, src.At(0, 0), c.At(1, 1))
	})
}

// TestFromImageJPEGMatchesPIL decodes JPEGs with image/jpeg + FromImage and compares with PIL's decoding
// (libjpeg-turbo): the chroma upsampling and colour conversion are libjpeg's, the IDCT is Go's, so pixels
// may differ by up to 4 levels, and at least 90% must be identical. (Go's own YCbCr conversion is off by up
// to ~100 levels at chroma edges of a 4:2:0 JPEG.)
func TestFromImageJPEGMatchesPIL(t *testing.T) {
	g := readGolden(t)
	require.NotEmpty(t, g.JPEG)
	for _, c := range g.JPEG {
		t.Run(c.JPG, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.JPG))
			require.NoError(t, err)
			defer func() { _ = f.Close() }()
			img, err := jpeg.Decode(f)
			require.NoError(t, err)
			want := readNPY(t, c.NPY)
			got := FromImage(img)
			require.Equal(t, []int{got.H, got.W, 3}, want.Shape)
			maxDiff, exact := diffStats(got.Pix, want.Data)
			t.Logf("%s (%T): max |diff| %d, %.2f%% exact", c.JPG, img, maxDiff, 100*exact)
			require.LessOrEqual(t, maxDiff, 4)
			require.GreaterOrEqual(t, exact, 0.90)
		})
	}
}

func TestNames(t *testing.T) {
	for _, f := range []Filter{Nearest, Bilinear, Bicubic} {
		got, err := ParseFilter(f.String())
		require.NoError(t, err)
		require.Equal(t, f, got)
	}
	_, err := ParseFilter("lanczos")
	require.Error(t, err)
	for _, k := range []Kind{Identity, RandomResizedCrop, AugMix, CropAugMix} {
		got, err := ParseKind(k.String())
		require.NoError(t, err)
		require.Equal(t, k, got)
	}
	k, err := ParseKind("rrc")
	require.NoError(t, err)
	require.Equal(t, RandomResizedCrop, k)
	_, err = ParseKind("mixup")
	require.Error(t, err)
	require.Equal(t, "Sharpness", Sharpness.String())
}
