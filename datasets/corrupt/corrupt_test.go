package corrupt

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digitImage is a 28x28 digit-like test image: an anti-aliased ring ("0") of radius 7 and width ~3 pixels,
// centred at (13.5, 13.5), white on black, like MNIST.
func digitImage() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			d := math.Hypot(float64(x)-13.5, (float64(y)-13.5)*0.8)
			v := clip01(2 - math.Abs(d-7))
			img.SetGray(x, y, color.Gray{Y: to8(v)})
		}
	}
	return img
}

// photoImage is a w x h RGB test image: colour gradients, a dark disc and a bright bar.
func photoImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := 0.2 + 0.6*float64(x)/float64(max(w-1, 1))
			g := 0.3 + 0.5*float64(y)/float64(max(h-1, 1))
			b := 0.5
			if math.Hypot(float64(x)-float64(w)/3, float64(y)-float64(h)/2) < float64(min(w, h))/4 {
				r, g, b = 0.1, 0.15, 0.3
			}
			if x > 2*w/3 && x < 2*w/3+4 {
				r, g, b = 0.95, 0.9, 0.85
			}
			img.SetRGBA(x, y, color.RGBA{to8(r), to8(g), to8(b), 255})
		}
	}
	return img
}

func pixels(img image.Image) []byte {
	switch im := img.(type) {
	case *image.Gray:
		return im.Pix
	case *image.RGBA:
		return im.Pix
	}
	panic(fmt.Sprintf("unexpected image type %T", img))
}

// meanAbsDiff is the mean absolute difference of the two images' RGB values, in [0,1].
func meanAbsDiff(a, b image.Image) float64 {
	pa, pb := fromImage(a, 3), fromImage(b, 3)
	s := 0.0
	for i := range pa.pix {
		s += math.Abs(pa.pix[i] - pb.pix[i])
	}
	return s / float64(len(pa.pix))
}

func TestRegistry(t *testing.T) {
	require.Len(t, MNISTC(), 15)
	require.Len(t, ImageNetC(), 9)
	seen := map[string]bool{}
	for _, c := range All() {
		require.False(t, seen[c.ID()], c.ID())
		seen[c.ID()] = true
		got, err := ByName(c.ID())
		require.NoError(t, err)
		assert.Equal(t, c.ID(), got.ID())
		if c.Set == SetMNISTC {
			assert.True(t, c.ReleaseSeverity >= 1 && c.ReleaseSeverity <= 5, c.ID())
		}
	}
	t.Run("bare unique name", func(t *testing.T) {
		c, err := ByName("fog")
		require.NoError(t, err)
		assert.Equal(t, "mnistc/fog", c.ID())
		c, err = ByName("pixelate")
		require.NoError(t, err)
		assert.Equal(t, "imagenetc/pixelate", c.ID())
	})
	t.Run("ambiguous", func(t *testing.T) {
		_, err := ByName("shot_noise")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mnistc/shot_noise")
		assert.Contains(t, err.Error(), "imagenetc/shot_noise")
	})
	t.Run("unknown lists names", func(t *testing.T) {
		_, err := ByName("snowstorm")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mnistc/canny_edges")
		assert.Contains(t, err.Error(), "imagenetc/jpeg_compression")
	})
}

func TestApplyErrors(t *testing.T) {
	for _, s := range []int{0, 6, -1} {
		_, err := Apply("mnistc/fog", digitImage(), s, 1, 0)
		require.Error(t, err, "severity %d", s)
		assert.Contains(t, err.Error(), "severity")
	}
	_, err := Apply("mnistc/fog", nil, 1, 1, 0)
	require.Error(t, err)
	_, err = Apply("nope", digitImage(), 1, 1, 0)
	require.Error(t, err)
	c, _ := ByName("mnistc/fog")
	assert.Panics(t, func() { c.Apply(digitImage(), 7, rand.New(rand.NewPCG(1, 2))) })
}

// TestEveryCorruptionEverySeverity runs each corruption at every severity on a 28x28 digit (MNIST-C) or a
// 64x48 RGB image (ImageNet-C), and on degenerate sizes, checking output type and size.
func TestEveryCorruptionEverySeverity(t *testing.T) {
	for _, c := range All() {
		t.Run(c.ID(), func(t *testing.T) {
			var img image.Image = digitImage()
			if c.Set == SetImageNetC {
				img = photoImage(64, 48)
			}
			for s := MinSeverity; s <= MaxSeverity; s++ {
				out, err := Apply(c.ID(), img, s, 7, 3)
				require.NoError(t, err)
				require.Equal(t, img.Bounds(), out.Bounds(), "severity %d", s)
				if c.Set == SetMNISTC {
					require.IsType(t, &image.Gray{}, out)
				} else {
					require.IsType(t, &image.RGBA{}, out)
				}
				if c.Name != "canny_edges" && c.Name != "stripe" {
					assert.Less(t, meanAbsDiff(img, out), 0.6, "severity %d changed the image beyond recognition", s)
				}
			}
			// Degenerate and odd sizes, and bounds not at the origin: no panic, same size, origin (0,0).
			for _, r := range []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(0, 0, 2, 7), image.Rect(0, 0, 5, 3),
				image.Rect(3, 4, 20, 17), image.Rect(0, 0, 0, 0)} {
				src := image.NewRGBA(r)
				for i := range src.Pix {
					src.Pix[i] = uint8(i * 37)
				}
				for s := MinSeverity; s <= MaxSeverity; s++ {
					out, err := Apply(c.ID(), src, s, 1, 0)
					require.NoError(t, err, "%v severity %d", r, s)
					assert.Equal(t, image.Rect(0, 0, r.Dx(), r.Dy()), out.Bounds())
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	for _, c := range All() {
		t.Run(c.ID(), func(t *testing.T) {
			var img image.Image = digitImage()
			if c.Set == SetImageNetC {
				img = photoImage(40, 30)
			}
			a, err := Apply(c.ID(), img, 3, 11, 5)
			require.NoError(t, err)
			b, err := Apply(c.ID(), img, 3, 11, 5)
			require.NoError(t, err)
			require.Equal(t, pixels(a), pixels(b), "same arguments must give the same bytes")
			if !c.Random {
				other, err := Apply(c.ID(), img, 3, 12, 6)
				require.NoError(t, err)
				assert.Equal(t, pixels(a), pixels(other), "a deterministic corruption ignores seed and example")
				return
			}
			// Another seed or example gives another output: among 8 seeds (and 8 examples) at least 2 distinct
			// outputs (the geometric ones only draw a sign); for the others, seed 12 differs from seed 11.
			seeds, examples := map[string]bool{}, map[string]bool{}
			for i := range 8 {
				o, err := Apply(c.ID(), img, 3, int64(100+i), 5)
				require.NoError(t, err)
				seeds[string(pixels(o))] = true
				o, err = Apply(c.ID(), img, 3, 11, 100+i)
				require.NoError(t, err)
				examples[string(pixels(o))] = true
			}
			assert.Greater(t, len(seeds), 1, "seeds")
			assert.Greater(t, len(examples), 1, "examples")
			switch c.Name {
			case "shear", "rotate", "translate":
			default:
				other, err := Apply(c.ID(), img, 3, 12, 5)
				require.NoError(t, err)
				assert.NotEqual(t, pixels(a), pixels(other), "another seed should differ")
			}
		})
	}
}

// TestSeverityMonotonicity: the mean absolute difference to the clean image, averaged over examples, grows
// with severity.
func TestSeverityMonotonicity(t *testing.T) {
	names := []string{"mnistc/shot_noise", "mnistc/impulse_noise", "mnistc/glass_blur",
		"mnistc/fog", "mnistc/brightness", "mnistc/stripe", "mnistc/dotted_line", "mnistc/zigzag",
		"imagenetc/gaussian_noise", "imagenetc/shot_noise", "imagenetc/impulse_noise", "imagenetc/defocus_blur",
		"imagenetc/motion_blur", "imagenetc/contrast", "imagenetc/brightness", "imagenetc/jpeg_compression"}
	// Severities compared, where not all five. Only 1 and 5: the geometric ones (checked semantically in
	// TestGeometry), pixelate (a factor of exactly 1/2 reconstructs a 64x48 image better than 0.6 does) and
	// MNIST-C's motion blur (its 224-pixel radii saturate on 28x28: severities 4 and 5 both smear the digit
	// away, MAD 0.233 for both over 200 examples). Fog: 1, 3, 5 over 4x the examples (gaps between neighbours are
	// ~0.01 over 200 examples, below the spread over a few dozen).
	levels := map[string][]int{"mnistc/scale": {1, 5}, "mnistc/rotate": {1, 5}, "mnistc/shear": {1, 5},
		"mnistc/translate": {1, 5}, "imagenetc/pixelate": {1, 5}, "mnistc/motion_blur": {1, 5}, "mnistc/fog": {1, 3, 5}}
	names = append(names, "mnistc/scale", "mnistc/rotate", "mnistc/shear", "mnistc/translate", "mnistc/motion_blur",
		"imagenetc/pixelate")
	// Expected MAD gaps between severities can be small next to the spread over examples (fog's plasma), so
	// average over enough examples; the seeds are fixed, so the test is deterministic.
	const examples = 24
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, err := ByName(name)
			require.NoError(t, err)
			var img image.Image = digitImage()
			if c.Set == SetImageNetC {
				img = photoImage(64, 48)
			}
			sevs, ok := levels[name]
			if !ok {
				sevs = []int{1, 2, 3, 4, 5}
			}
			prev := 0.0
			for _, s := range sevs {
				n := examples
				if name == "mnistc/fog" {
					n = 4 * examples
				}
				mad := 0.0
				for e := range n {
					out, err := Apply(name, img, s, 2026, e)
					require.NoError(t, err)
					mad += meanAbsDiff(img, out) / float64(n)
				}
				assert.Greater(t, mad, prev, "severity %d", s)
				prev = mad
			}
		})
	}
}

// centroid is the intensity-weighted centre of mass (x, y) of channel 0.
func centroid(img image.Image) (float64, float64) {
	p := fromImage(img, 1)
	var sx, sy, sw float64
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			v := p.at(x, y, 0)
			sx, sy, sw = sx+v*float64(x), sy+v*float64(y), sw+v
		}
	}
	return sx / sw, sy / sw
}

// blobImage is a w x h black image with a 3x3 white blob centred on (x, y).
func blobImage(w, h, x, y int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			img.SetGray(x+dx, y+dy, color.Gray{Y: 255})
		}
	}
	return img
}

// TestGeometry checks the geometric corruptions semantically: a blob at offset q from the centre must land
// where the stated transform puts it (for either random sign).
func TestGeometry(t *testing.T) {
	const cx, cy = 13.5, 13.5
	bx, by := 20, 10 // Blob centre; offset q = (6.5, -3.5) from the image centre.
	qx, qy := float64(bx)-cx, float64(by)-cy
	img := blobImage(28, 28, bx, by)
	type pt struct{ x, y float64 }
	closest := func(gx, gy float64, want []pt) float64 {
		best := math.Inf(1)
		for _, w := range want {
			best = math.Min(best, math.Hypot(gx-w.x, gy-w.y))
		}
		return best
	}
	for s := MinSeverity; s <= MaxSeverity; s++ {
		for e := range 4 {
			t.Run(fmt.Sprintf("rotate/s%d/e%d", s, e), func(t *testing.T) {
				out, err := Apply("rotate", img, s, 1, e)
				require.NoError(t, err)
				gx, gy := centroid(out)
				var want []pt
				for _, a := range []float64{rotateAngle[s-1], -rotateAngle[s-1]} {
					// The inverse map samples R(a)·p, so content at q lands at R(-a)·q.
					want = append(want, pt{cx + math.Cos(a)*qx + math.Sin(a)*qy, cy - math.Sin(a)*qx + math.Cos(a)*qy})
				}
				assert.Less(t, closest(gx, gy, want), 0.3, "centroid (%.2f, %.2f), want one of %v", gx, gy, want)
			})
			t.Run(fmt.Sprintf("shear/s%d/e%d", s, e), func(t *testing.T) {
				out, err := Apply("shear", img, s, 1, e)
				require.NoError(t, err)
				gx, gy := centroid(out)
				var want []pt
				for _, a := range []float64{shearAngle[s-1], -shearAngle[s-1]} {
					// Inverse of [[1, -sin a], [0, cos a]]: y' = y/cos a, x' = x + sin a · y'.
					y := qy / math.Cos(a)
					want = append(want, pt{cx + qx + math.Sin(a)*y, cy + y})
				}
				assert.Less(t, closest(gx, gy, want), 0.6, "centroid (%.2f, %.2f), want one of %v", gx, gy, want)
			})
			t.Run(fmt.Sprintf("translate/s%d/e%d", s, e), func(t *testing.T) {
				d := blobImage(28, 28, 14, 13)
				x0, y0 := centroid(d)
				out, err := Apply("translate", d, s, 1, e)
				require.NoError(t, err)
				x1, y1 := centroid(out)
				c := translatePixels[s-1]
				assert.InDelta(t, c, math.Abs(x1-x0), 0.05, "x shift")
				assert.InDelta(t, c, math.Abs(y1-y0), 0.05, "y shift")
			})
		}
		t.Run(fmt.Sprintf("scale/s%d", s), func(t *testing.T) {
			out, err := Apply("scale", img, s, 1, 0)
			require.NoError(t, err)
			gx, gy := centroid(out)
			f := scaleFactor[s-1]
			assert.InDelta(t, cx+f*qx, gx, 0.3)
			assert.InDelta(t, cy+f*qy, gy, 0.3)
		})
	}
}

func TestCannySquare(t *testing.T) {
	// A 10x10 white square on a 28x28 black image: rows and columns 9..18.
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 9; y <= 18; y++ {
		for x := 9; x <= 18; x++ {
			img.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	out, err := Apply("canny_edges", img, 1, 0, 0)
	require.NoError(t, err)
	g := out.(*image.Gray)
	// The true border lies between pixels 8|9 and 18|19; every edge pixel must be within 1 pixel of it, and
	// every stretch of the border must have an edge pixel next to it.
	distToBorder := func(x, y int) float64 {
		fx, fy := float64(x), float64(y)
		inside := func(v float64) float64 { return math.Max(8.5-v, math.Max(v-18.5, 0)) }
		// Distance to the square's boundary: outside, distance to the square; inside, distance to the nearest side.
		if fx > 8.5 && fx < 18.5 && fy > 8.5 && fy < 18.5 {
			return math.Min(math.Min(fx-8.5, 18.5-fx), math.Min(fy-8.5, 18.5-fy))
		}
		return math.Hypot(inside(fx), inside(fy))
	}
	edges := 0
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			if g.GrayAt(x, y).Y == 255 {
				edges++
				assert.LessOrEqual(t, distToBorder(x, y), 1.0, "edge pixel (%d,%d) far from the border", x, y)
			} else {
				assert.Zero(t, g.GrayAt(x, y).Y)
			}
		}
	}
	hasEdgeNear := func(x, y int) bool {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if g.GrayAt(x+dx, y+dy).Y == 255 {
					return true
				}
			}
		}
		return false
	}
	for i := 10; i <= 17; i++ { // Along each side, away from the corners.
		assert.True(t, hasEdgeNear(i, 9) || hasEdgeNear(i, 8), "top side at x=%d", i)
		assert.True(t, hasEdgeNear(i, 18) || hasEdgeNear(i, 19), "bottom side at x=%d", i)
		assert.True(t, hasEdgeNear(9, i) || hasEdgeNear(8, i), "left side at y=%d", i)
		assert.True(t, hasEdgeNear(18, i) || hasEdgeNear(19, i), "right side at y=%d", i)
	}
	assert.Greater(t, edges, 30)
	assert.Less(t, edges, 60, "edges should be thin (one pixel)")
	// A flat image has no edges.
	flat, err := Apply("canny_edges", image.NewGray(image.Rect(0, 0, 28, 28)), 3, 0, 0)
	require.NoError(t, err)
	for _, v := range flat.(*image.Gray).Pix {
		require.Zero(t, v)
	}
}

func TestJPEG(t *testing.T) {
	img := photoImage(64, 48)
	for s := MinSeverity; s <= MaxSeverity; s++ {
		out, err := Apply("jpeg_compression", img, s, 0, 0)
		require.NoError(t, err)
		// Identical to decoding what image/jpeg encodes at the table's quality.
		var buf bytes.Buffer
		require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality[s-1]}))
		dec, err := jpeg.Decode(&buf)
		require.NoError(t, err)
		assert.Equal(t, pixels(fromImage(dec, 3).toRGBA()), pixels(out))
		// The output itself re-encodes and decodes.
		buf.Reset()
		require.NoError(t, jpeg.Encode(&buf, out, nil))
		_, err = jpeg.Decode(&buf)
		require.NoError(t, err)
		assert.Less(t, meanAbsDiff(img, out), 0.1)
		assert.Greater(t, meanAbsDiff(img, out), 0.0)
	}
}

func TestGrid(t *testing.T) {
	a := image.NewGray(image.Rect(0, 0, 28, 28))
	b := image.NewRGBA(image.Rect(5, 5, 15, 45)) // 10 x 40, not at the origin
	g := Grid([][]image.Image{{a, b, a}, {nil, a}})
	// Cells are 28 x 40; 3 columns, 2 rows.
	assert.Equal(t, image.Rect(0, 0, 3*(28+GridPadding)+GridPadding, 2*(40+GridPadding)+GridPadding), g.Bounds())
	r, gg, bb, _ := g.At(0, 0).RGBA()
	assert.Equal(t, []uint32{0xffff, 0xffff, 0xffff}, []uint32{r, gg, bb}, "padding is white")
	r, _, _, _ = g.At(GridPadding, GridPadding).RGBA()
	assert.Zero(t, r, "the first tile is drawn at (pad, pad)")
	assert.Equal(t, image.Pt(GridPadding, GridPadding), Grid(nil).Bounds().Size())
}

func TestGallery(t *testing.T) {
	// Every corruption at every severity, as a notebook would show it; checks the grid's size.
	var rows [][]image.Image
	for _, c := range MNISTC() {
		row := []image.Image{digitImage()}
		for s := MinSeverity; s <= MaxSeverity; s++ {
			out, err := Apply(c.ID(), digitImage(), s, 0, 0)
			require.NoError(t, err)
			row = append(row, out)
		}
		rows = append(rows, row)
	}
	g := Grid(rows)
	assert.Equal(t, image.Pt(6*30+2, 15*30+2), g.Bounds().Size())
}
