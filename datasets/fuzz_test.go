package datasets

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzMaxPixels bounds the images the fuzzer decodes (a header may claim up to MaxPixels, which is legal but slow).
const fuzzMaxPixels = 1 << 20

// FuzzDecodeBytes feeds arbitrary bytes to DecodeBytes, which must never let a decoder panic out (it would be
// reported as "panicked"), and checks that ToRGB of every image it accepts is an opaque RGBA image of the same size
// with bounds at (0, 0). Seeds: every image of testdata/ and cut copies of them.
// Run: go test ./datasets -run '^$' -fuzz FuzzDecodeBytes -fuzztime 10s
func FuzzDecodeBytes(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if strings.HasSuffix(p, ".ref.png") || !IsImageFile(p) {
			continue
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
			f.Add(data[:len(data)/2])
		}
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil &&
			int64(cfg.Width)*int64(cfg.Height) > fuzzMaxPixels {
			return
		}
		img, err := DecodeBytes(data, "fuzz")
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatalf("a decoder panicked: %v", err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 {
			t.Fatalf("accepted an empty image %v", b)
		}
		rgb := ToRGB(img)
		if rgb.Rect.Min != (image.Point{}) || rgb.Rect.Dx() != b.Dx() || rgb.Rect.Dy() != b.Dy() {
			t.Fatalf("ToRGB bounds %v for an image of bounds %v", rgb.Rect, b)
		}
		for i := 3; i < len(rgb.Pix); i += 4 {
			if rgb.Pix[i] != 255 {
				t.Fatalf("ToRGB left alpha %d at byte %d", rgb.Pix[i], i)
			}
		}
	})
}
