package tpt

import (
	"fmt"
	"image"
	"math"
	"math/rand"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testImage is a deterministic w x h picture: smooth gradients, a disc and pseudo-random texture, so crops and
// flips all differ.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x-w/3), float64(y-h/2)
			disc := 0.0
			if dx*dx+dy*dy < float64(h*h)/9 {
				disc = 90
			}
			for c := 0; c < 3; c++ {
				noise := float64(((x*73856093)^(y*19349663)^(c*83492791))%29) - 14
				v := 40 + 150*float64(x)/float64(w)*float64(c+1)/3 + 60*float64(y)/float64(h) + disc*float64(2-c)/2 + noise
				img.Pix[y*img.Stride+4*x+c] = uint8(math.Max(0, math.Min(255, v)))
			}
			img.Pix[y*img.Stride+4*x+3] = 255
		}
	}
	return img
}

func TestBucketSide(t *testing.T) {
	prev := 0
	for n := 1; n <= 5000; n++ {
		b := BucketSide(n)
		require.GreaterOrEqual(t, b, n)
		require.GreaterOrEqual(t, b, prev, "monotonic at %d", n)
		require.Zero(t, b%32, "multiple of 32 at %d", n)
		if n > 64 {
			require.LessOrEqual(t, float64(b), 1.5*float64(n), "at most 50%% padding at %d", n)
		}
		prev = b
	}
	distinct := map[int]bool{}
	for n := 64; n <= 4096; n++ {
		distinct[BucketSide(n)] = true
	}
	assert.Len(t, distinct, 13) // 64 .. 4096: 6 octaves x 2 steps + 4096
	assert.Equal(t, []int{64, 64, 96, 96, 128, 512, 512, 768}, []int{BucketSide(1), BucketSide(64), BucketSide(65),
		BucketSide(96), BucketSide(97), BucketSide(500), BucketSide(512), BucketSide(513)})
}

// TestBucketCanvasImageNetALike counts the views executables (distinct canvases) a run over a synthetic
// ImageNet-A-like set of image sizes compiles. The set: 7,500 images (ImageNet-A's size), the longer side
// log-uniform between 200 and 4,000 pixels, the aspect ratio drawn from 1:1, 4:3, 3:4, 3:2, 2:3, 16:9, 9:16, 2:1 and
// 1:2 (photos from the web: mostly landscape, some portrait, a few panoramas), plus 40 thumbnails of 60 to 199
// pixels. A ladder of four steps per octave on each side separately gives 185 shapes on this set.
func TestBucketCanvasImageNetALike(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	aspects := [][2]int{{1, 1}, {4, 3}, {3, 4}, {3, 2}, {2, 3}, {16, 9}, {9, 16}, {2, 1}, {1, 2}}
	canvases, sides := map[[2]int]int{}, map[[2]int]bool{}
	add := func(h, w int) {
		hb, wb := BucketCanvas(h, w)
		require.GreaterOrEqual(t, hb, h)
		require.GreaterOrEqual(t, wb, w)
		canvases[[2]int{hb, wb}]++
		sides[[2]int{oldBucketSide(h), oldBucketSide(w)}] = true
	}
	for i := 0; i < 7500; i++ {
		long := math.Exp(math.Log(200) + r.Float64()*(math.Log(4000)-math.Log(200)))
		a := aspects[r.Intn(len(aspects))]
		w, h := long, long*float64(a[1])/float64(a[0]) // a is width:height
		if a[1] > a[0] {
			w, h = long*float64(a[0])/float64(a[1]), long
		}
		add(max(1, int(h)), max(1, int(w)))
	}
	for i := 0; i < 40; i++ {
		add(60+r.Intn(140), 60+r.Intn(140))
	}
	t.Logf("%d canvases %v; %d shapes with the per-side ladder of four steps per octave", len(canvases), canvases,
		len(sides))
	assert.LessOrEqual(t, len(canvases), 10)
	assert.Greater(t, len(sides), 100, "the per-side ladder compiles many more executables on this set")
}

// oldBucketSide is a per-side ladder of four steps per octave (64, 80, 96, 112, 128, 160, ...), for comparison.
func oldBucketSide(n int) int {
	for s := 16; ; s *= 2 {
		for m := 4; m <= 7; m++ {
			if m*s >= n {
				return m * s
			}
		}
	}
}

// TestDeviceViewsMatchHost: the views made on the device from the zero-padded raw image equal the host's
// PIL-exact views (view 0 = CLIP's bicubic base preprocessing, the others bilinear random resized crops, some
// flipped) within the host's uint8 rounding, |diff| <= 0.5/255/std + 1e-5 after normalisation (in fact they are the
// same uint8 levels: the float64 path emulates Pillow's fixed point), for a non-square image in three buckets. In
// float32 (DeviceViews.Float32) at most one level and under 5% of the values differ.
func TestDeviceViewsMatchHost(t *testing.T) {
	b := backend.MustNew()
	img := testImage(75, 50)
	pre := augment.CLIP(24)
	host := &ViewMaker{ViewMaker: clip.ViewMaker{Views: augment.Views{N: 12, Kind: augment.RandomResizedCrop,
		Preprocess: pre}}}
	const seed, id = 3, "nonsquare-75x50"
	hv, err := host.MakeViews(img, id, seed)
	require.NoError(t, err)
	want := tensors.MustCopyFlatData[float32](hv.Images)
	dv, dv32 := NewDeviceViews(b), NewDeviceViews(b)
	dv32.Float32 = true
	for _, tc := range []struct {
		name   string
		canvas func(h, w int) (int, int)
		hb, wb int
	}{
		{"square-canvas", nil, 256, 256},
		{"multiples-of-64", func(h, w int) (int, int) { return (h + 63) / 64 * 64, (w + 63) / 64 * 64 }, 64, 128},
		{"exact", func(h, w int) (int, int) { return h, w }, 50, 75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := *host
			vm.OnDevice, vm.Canvas = true, tc.canvas
			v, err := vm.MakeViews(img, id, seed)
			require.NoError(t, err)
			require.Nil(t, v.Images)
			require.Equal(t, 12, v.N())
			raw, ok := tta.PayloadOf[*RawImage](v)
			require.True(t, ok)
			require.Equal(t, []int{tc.hb, tc.wb, 3}, raw.Pixels.Shape().Dimensions)
			regions := tensors.MustCopyFlatData[float32](raw.Regions)
			flips := 0
			for i := 1; i < 12; i++ {
				if regions[i*8+4] > regions[i*8+5] {
					flips++
				}
			}
			require.Positive(t, flips, "the test must cover flipped views")
			require.Less(t, flips, 11, "and unflipped ones")
			per := 24 * 24 * 3
			for _, d := range []*DeviceViews{dv, dv32} {
				out, err := d.Make(v)
				require.NoError(t, err)
				require.Equal(t, []int{12, 24, 24, 3}, out.Shape().Dimensions)
				got := tensors.MustCopyFlatData[float32](out)
				out.FinalizeAll()
				maxLevels, differ := 0.0, 0
				for j := range want {
					diff := math.Abs(float64(got[j] - want[j]))
					std := float64(pre.Std[j%3])
					if d.Float32 {
						require.LessOrEqual(t, diff, 1.0/255/std+1e-5, "float32: view %d, element %d", j/per, j%per)
					} else {
						require.LessOrEqual(t, diff, 0.5/255/std+1e-5, "view %d, element %d", j/per, j%per)
					}
					maxLevels = math.Max(maxLevels, diff*255*std)
					if diff*255*std > 0.5 {
						differ++
					}
				}
				t.Logf("bucket %dx%d, float32 %t: max |device - host| %.4f levels, %d of %d values differ, %d flipped views",
					tc.wb, tc.hb, d.Float32, maxLevels, differ, len(want), flips)
				assert.Less(t, float64(differ), 0.05*float64(len(want)))
			}
		})
	}
	assert.Equal(t, 3, dv.Compiled())
}

// TestDeviceViewsTPTStep: one TPT step on the tiny RN CLIP (../clip/testdata/tiny_rn.safetensors, 64 px) with
// views made on the device and with the host's views of the same non-square image: the same selected views, the
// loss within 1e-3 relative, the same predicted class, view 0's logits within 1e-3 of their range; the same for the
// ensemble mode and for the seed's alignment (1 step; its losses within 1e-3 relative). Bad device inputs give
// errors naming the example.
func TestDeviceViewsTPTStep(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	g := loadGolden(t, "rn")[0]
	img := testImage(150, 100)
	const id = "tpt-150x100"
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"tpt", PaperOptions()},
		{"ensemble", Options{Ensemble: true}},
		{"align", Options{Steps: 1, AlignSteps: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name == "align" {
				t.Skip("short")
			}
			m := loadModel(t, "rn")
			opts := tc.opts
			opts.Prompt, opts.Select, opts.Views = g.Prompt, 0.25, 16
			a, err := New(b, m, tok, g.Classes, opts)
			require.NoError(t, err)
			host := NewViewMaker(m, 16)
			dev := NewViewMaker(m, 16)
			dev.OnDevice = true
			hv, err := host.MakeViews(img, id, 7)
			require.NoError(t, err)
			dvs, err := dev.MakeViews(img, id, 7)
			require.NoError(t, err)
			draw := dvs.Payload.(*RawImage)
			require.Equal(t, []int{256, 256, 3}, draw.Pixels.Shape().Dimensions) // BucketCanvas

			require.NoError(t, a.Reset())
			ph, err := a.Adapt(hv)
			require.NoError(t, err)
			th := *a.LastTrace()
			require.NoError(t, a.Reset())
			pd, err := a.Adapt(dvs)
			require.NoError(t, err)
			td := a.LastTrace()
			t.Logf("host: selected %v losses %v align %v; device: selected %v losses %v align %v; device views %s",
				ph.Selected, th.Losses, th.AlignLosses, pd.Selected, td.Losses, td.AlignLosses, td.ViewTime)
			require.Len(t, ph.Selected, 4)
			assert.Equal(t, ph.Selected, pd.Selected)
			require.Len(t, td.Losses, len(th.Losses))
			for i := range th.Losses {
				assert.InEpsilon(t, th.Losses[i], td.Losses[i], 1e-3, "loss of step %d", i)
			}
			require.Len(t, td.AlignLosses, len(th.AlignLosses))
			for i := range th.AlignLosses {
				assert.InEpsilon(t, th.AlignLosses[i], td.AlignLosses[i], 1e-3, "alignment loss %d", i)
			}
			assert.Equal(t, argmax(ph.Logits), argmax(pd.Logits))
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, x := range ph.Logits {
				lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
			}
			assert.InDeltaSlice(t, ph.Logits, pd.Logits, 1e-3*(hi-lo))
			if tc.name != "tpt" {
				return
			}

			bad, badRaw := *dvs, *draw
			badRaw.Regions = tensors.FromFlatDataAndDimensions(make([]float32, 15*8), 15, 2, 4)
			bad.Payload = &badRaw
			_, err = a.Adapt(&bad)
			require.ErrorContains(t, err, id)
			require.ErrorContains(t, err, "N=16")
			_, err = a.Adapt(&tta.Views{ExampleID: "empty"})
			require.ErrorContains(t, err, `"empty"`)
			bad, badRaw = *dvs, *draw
			rv := *draw.Views
			rv.Preprocess = augment.CLIP(32)
			badRaw.Views = &rv
			bad.Payload = &badRaw
			_, err = a.Adapt(&bad)
			require.ErrorContains(t, err, id)
			require.ErrorContains(t, err, "64 px")
		})
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// BenchmarkViews makes TPT's 64 views of a 500x375 image (ImageNet's typical size) at the tiny RN CLIP's 64 px:
// BenchmarkViewsHost with the host's PIL-exact path (ViewMaker.MakeViews, float32 views on the host), and
// BenchmarkViewsDevice with ViewMaker.OnDevice (padding to 512x384, regions) plus the views graph on the
// GOMLX_BACKEND backend (views left on the device). Compilation happens before the timer.
func BenchmarkViewsHost(b *testing.B) { benchmarkViews(b, false, false) }

// BenchmarkViewsDevice: see BenchmarkViewsHost (float64, PIL-exact).
func BenchmarkViewsDevice(b *testing.B) { benchmarkViews(b, true, false) }

// BenchmarkViewsDeviceFloat32: BenchmarkViewsDevice with DeviceViews.Float32.
func BenchmarkViewsDeviceFloat32(b *testing.B) { benchmarkViews(b, true, true) }

func benchmarkViews(b *testing.B, onDevice, float32 bool) {
	img := testImage(500, 375)
	vm := &ViewMaker{ViewMaker: clip.ViewMaker{Views: augment.Views{N: 64, Kind: augment.RandomResizedCrop,
		Preprocess: augment.CLIP(64)}},
		OnDevice: onDevice}
	var dv *DeviceViews
	if onDevice {
		dv = NewDeviceViews(backend.MustNew())
		dv.Float32 = float32
	}
	run := func(i int) {
		v, err := vm.MakeViews(img, fmt.Sprint("bench", i), 1)
		require.NoError(b, err)
		if onDevice {
			out, err := dv.Make(v)
			require.NoError(b, err)
			out.FinalizeAll()
		}
	}
	run(-1) // compile
	b.ResetTimer()
	i := 0
	for b.Loop() {
		run(i)
		i++
	}
}
