package datasets

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// BenchmarkDecodeRGB decodes a 500x375 4:2:0 JPEG (a typical ImageNet size) to RGB.
func BenchmarkDecodeRGB(b *testing.B) {
	src := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for y := range 375 {
		for x := range 500 {
			src.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		img, err := DecodeBytes(buf.Bytes(), "bench.jpg")
		if err != nil {
			b.Fatal(err)
		}
		_ = ToRGB(img)
	}
}
