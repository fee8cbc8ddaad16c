package augment

import (
	"image"
	"image/color"
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
