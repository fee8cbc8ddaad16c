package memo

import (
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/augment"
)

// TestPaperViewMaker checks the MEMO paper's views: 65 views, view 0 the base preprocessing, views 1..64 MEMO's
// AugMix (augment.PaperAugMix) exactly as augment.Views makes them with the run's seed.
func TestPaperViewMaker(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.NRGBA{uint8(x * 6), uint8(y * 8), uint8((x * y) % 256), 255})
		}
	}
	pre := augment.Preprocess{Size: 16, Resize: 18, Filter: augment.Bilinear, Mean: augment.ImageNetMean,
		Std: augment.ImageNetStd}
	vm := PaperViewMaker(pre)
	require.Equal(t, PaperViews, vm.Views.N)
	require.Equal(t, augment.PaperAugMix, vm.Views.Kind)
	v, err := vm.MakeViews(img, "ex", 5)
	require.NoError(t, err)
	require.Equal(t, []int{65, 16, 16, 3}, v.Images.Shape().Dimensions)
	want, err := augment.Views{N: 65, Kind: augment.PaperAugMix, Seed: 5, Preprocess: pre}.Generate(
		augment.FromImage(img), "ex")
	require.NoError(t, err)
	got := make([]float32, 0, len(want))
	for _, a := range v.Images.Value().([][][][]float32) {
		for _, b := range a {
			for _, c := range b {
				got = append(got, c...)
			}
		}
	}
	assert.Equal(t, want, got)
	base, err := pre.Apply(augment.FromImage(img))
	require.NoError(t, err)
	assert.Equal(t, base, got[:16*16*3], "view 0")
	assert.NotEqual(t, got[16*16*3:2*16*16*3], got[2*16*16*3:3*16*16*3], "views 1 and 2 differ")
}
