package datasets

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// diffRGB returns the largest and the mean absolute difference over the R, G, B channels of two RGB images.
func diffRGB(t *testing.T, got *image.RGBA, want image.Image) (maxAbs int, meanAbs float64) {
	t.Helper()
	require.Equal(t, want.Bounds().Size(), got.Bounds().Size())
	w := ToRGB(want) // the references are 8-bit RGB PNGs: an exact copy
	sum := 0
	for i := range got.Pix {
		if i%4 == 3 {
			require.Equal(t, uint8(255), got.Pix[i], "alpha at byte %d", i)
			continue
		}
		d := int(got.Pix[i]) - int(w.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
		maxAbs = max(maxAbs, d)
	}
	return maxAbs, float64(sum) / float64(len(got.Pix)/4*3)
}

// TestDecodeMatchesPIL compares DecodeRGB with PIL's Image.open(f).convert("RGB") (testdata/*.ref.png, made by
// testdata/make_images.py). Lossless formats and lossy WebP (libwebp's upsampling and YUV->RGB reproduced in
// ycbcr.go) must match exactly; JPEG may differ by Go's IDCT rounding vs libjpeg-turbo's: at most 4 levels,
// mean at most 0.1 (8-bit units; measured at most 3 and 0.05).
func TestDecodeMatchesPIL(t *testing.T) {
	for _, tc := range []struct {
		file    string
		model   string // the decoded (pre-RGB) image type
		maxAbs  int
		meanAbs float64
	}{
		{"rgb.jpg", "*image.YCbCr", 4, 0.1},
		{"progressive.jpg", "*image.YCbCr", 4, 0.1},
		{"rgb422.jpg", "*image.YCbCr", 4, 0.1},
		{"rgb444.jpg", "*image.YCbCr", 4, 0.1},
		{"rgb_even.jpg", "*image.YCbCr", 4, 0.1},
		{"cmyk.jpg", "*image.CMYK", 4, 0.1},
		{"gray.jpg", "*image.Gray", 4, 0.1},
		{"gray.png", "*image.Gray", 0, 0},
		{"palette.gif", "*image.Paletted", 0, 0},
		{"palette.png", "*image.Paletted", 0, 0},
		{"rgba.png", "*image.NRGBA", 0, 0},
		{"rgba_lossless.webp", "*image.NRGBA", 0, 0},
		{"rgb.webp", "*image.RGBA", 0, 0},
		{"rgb_even.webp", "*image.RGBA", 0, 0},
		{"rgba.webp", "*image.NRGBA", 0, 0},
		{"rgb.bmp", "*image.RGBA", 0, 0},
		{"rgb.tiff", "*image.RGBA", 0, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := filepath.Join("testdata", tc.file)
			img, err := Decode(p)
			require.NoError(t, err)
			assert.Equal(t, tc.model, typeName(img))
			got, err := DecodeRGB(p)
			require.NoError(t, err)
			ref, err := Decode(p + ".ref.png")
			require.NoError(t, err)
			maxAbs, meanAbs := diffRGB(t, got, ref)
			t.Logf("%s: max |diff| %d, mean |diff| %.3f", tc.file, maxAbs, meanAbs)
			assert.LessOrEqual(t, maxAbs, tc.maxAbs)
			assert.LessOrEqual(t, meanAbs, tc.meanAbs)
		})
	}
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.YCbCr:
		return "*image.YCbCr"
	case *image.NYCbCrA:
		return "*image.NYCbCrA"
	case *image.CMYK:
		return "*image.CMYK"
	case *image.Gray:
		return "*image.Gray"
	case *image.Paletted:
		return "*image.Paletted"
	case *image.NRGBA:
		return "*image.NRGBA"
	case *image.RGBA:
		return "*image.RGBA"
	}
	return "other"
}

// TestDecodeErrors checks that broken files give errors naming the file, and never panic.
func TestDecodeErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.png")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	jpg, err := os.ReadFile(filepath.Join("testdata", "rgb.jpg"))
	require.NoError(t, err)
	headerOnly := filepath.Join(dir, "header_only.jpg")
	require.NoError(t, os.WriteFile(headerOnly, jpg[:200], 0o644))
	for _, p := range []string{
		filepath.Join("testdata", "truncated.jpg"),
		filepath.Join("testdata", "random.jpg"),
		empty, headerOnly,
		filepath.Join(dir, "absent.jpg"),
	} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			_, err := DecodeRGB(p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), p)
		})
	}
	t.Run("fuzzed", func(t *testing.T) {
		// Every file of testdata with random bytes flipped: errors or images, never a panic.
		files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(1, 2))
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			for range 20 {
				b := bytes.Clone(data)
				for range 1 + rng.IntN(8) {
					b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
				}
				b = b[:1+rng.IntN(len(b))]
				assert.NotPanics(t, func() {
					img, err := DecodeBytes(b, f)
					if err == nil {
						_ = ToRGB(img)
					} else {
						assert.Contains(t, err.Error(), f)
					}
				})
			}
		}
	})
	t.Run("too large", func(t *testing.T) {
		// A PNG header claiming 20000x20000 pixels is refused before decoding.
		var buf bytes.Buffer
		require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))))
		b := buf.Bytes()
		// IHDR width and height are bytes 16..23 of a PNG; the CRC is then wrong, but DecodeConfig does not check it.
		for i, v := range []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20} {
			b[16+i] = v
		}
		_, err := DecodeBytes(b, "huge.png")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "huge.png")
	})
}

// TestToRGB checks conversions against hand-computed colors: PIL's convert("RGB") drops alpha (straight
// colors kept), maps gray to R=G=B and CMYK by (255-C)(255-K)/255.
func TestToRGB(t *testing.T) {
	t.Run("alpha dropped", func(t *testing.T) {
		src := image.NewNRGBA(image.Rect(3, 4, 5, 5)) // bounds not at the origin
		src.SetNRGBA(3, 4, color.NRGBA{200, 100, 50, 0})
		src.SetNRGBA(4, 4, color.NRGBA{10, 20, 30, 128})
		got := ToRGB(src)
		assert.Equal(t, image.Rect(0, 0, 2, 1), got.Rect)
		assert.Equal(t, []uint8{200, 100, 50, 255, 10, 20, 30, 255}, got.Pix)
	})
	t.Run("premultiplied", func(t *testing.T) {
		src := image.NewRGBA(image.Rect(0, 0, 1, 1))
		src.SetRGBA(0, 0, color.RGBA{100, 50, 0, 200}) // straight = 100*255/200 = 127.5 -> 127, 63
		got := ToRGB(src)
		assert.InDeltaSlice(t, []float64{127, 63, 0, 255}, toF(got.Pix), 1)
	})
	t.Run("gray", func(t *testing.T) {
		src := image.NewGray(image.Rect(0, 0, 2, 1))
		src.Pix = []uint8{7, 250}
		assert.Equal(t, []uint8{7, 7, 7, 255, 250, 250, 250, 255}, ToRGB(src).Pix)
	})
	t.Run("cmyk", func(t *testing.T) {
		src := image.NewCMYK(image.Rect(0, 0, 1, 1))
		src.Pix = []uint8{0, 255, 51, 102}
		// (255-0)(255-102)/255 = 153, (255-255)... = 0, (255-51)(153)/255 = 122.4
		assert.InDeltaSlice(t, []float64{153, 0, 122, 255}, toF(ToRGB(src).Pix), 1)
	})
	t.Run("jpeg round trip", func(t *testing.T) {
		src := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := range src.Pix {
			src.Pix[i] = 128
			if i%4 == 3 {
				src.Pix[i] = 255
			}
		}
		var buf bytes.Buffer
		require.NoError(t, jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}))
		img, err := DecodeBytes(buf.Bytes(), "gray128.jpg")
		require.NoError(t, err)
		assert.InDeltaSlice(t, toF(src.Pix), toF(ToRGB(img).Pix), 2)
	})
}

func toF(b []uint8) []float64 {
	f := make([]float64, len(b))
	for i, v := range b {
		f[i] = float64(v)
	}
	return f
}
