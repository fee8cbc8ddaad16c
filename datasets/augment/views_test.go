package augment

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// cropStats are the statistics of crop boxes compared with torchvision: area fraction, log aspect ratio
// (width/height) and the crop centre relative to the image size.
func cropStats(boxes [][4]int, w, h int) (area, logRatio, cx, cy []float64) {
	for _, b := range boxes {
		top, left, bh, bw := float64(b[0]), float64(b[1]), float64(b[2]), float64(b[3])
		area = append(area, bh*bw/float64(w*h))
		logRatio = append(logRatio, math.Log(bw/bh))
		cx = append(cx, (left+bw/2)/float64(w))
		cy = append(cy, (top+bh/2)/float64(h))
	}
	return
}

// ks2 is the two-sample Kolmogorov-Smirnov statistic sup |F1 - F2|.
func ks2(a, b []float64) float64 {
	a, b = append([]float64(nil), a...), append([]float64(nil), b...)
	sort.Float64s(a)
	sort.Float64s(b)
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// TestRandomResizedCropMatchesTorchvision compares this sampler's boxes with torchvision's get_params samples
// (testdata/rrc_*.npy) by two-sample KS tests on area fraction, log aspect ratio and relative centre, at
// significance 0.001 (critical D = 1.949 * sqrt((n+m)/(n*m))), and the flip rate with 0.5 +/- 3 sigma.
func TestRandomResizedCropMatchesTorchvision(t *testing.T) {
	g := readGolden(t)
	require.Len(t, g.RRC, 2)
	for _, c := range g.RRC {
		t.Run(c.File, func(t *testing.T) {
			ref := readNPY(t, c.File)
			require.Equal(t, []int{c.N, 4}, ref.Shape)
			var want, got [][4]int
			flips := 0
			for i := 0; i < c.N; i++ {
				r := ref.Data[4*i:]
				want = append(want, [4]int{int(r[0]), int(r[1]), int(r[2]), int(r[3])})
				b := CropParams{}.SampleCrop(ViewRNG(7, "rrc-test", i+1), c.W, c.H)
				require.True(t, b.Top >= 0 && b.Left >= 0 && b.Top+b.Height <= c.H && b.Left+b.Width <= c.W, "%+v", b)
				got = append(got, [4]int{b.Top, b.Left, b.Height, b.Width})
				if b.Flip {
					flips++
				}
			}
			crit := 1.949 * math.Sqrt(2/float64(c.N))
			wa, wr, wx, wy := cropStats(want, c.W, c.H)
			ga, gr, gx, gy := cropStats(got, c.W, c.H)
			for _, s := range []struct {
				name   string
				ga, wa []float64
			}{{"area", ga, wa}, {"log-ratio", gr, wr}, {"centre-x", gx, wx}, {"centre-y", gy, wy}} {
				d := ks2(s.ga, s.wa)
				t.Logf("%s %s: KS D = %.4f (critical %.4f)", c.File, s.name, d, crit)
				assert.Less(t, d, crit, "%s %s", c.File, s.name)
			}
			rate := float64(flips) / float64(c.N)
			sigma := math.Sqrt(0.25 / float64(c.N))
			t.Logf("flip rate %.4f (0.5 +/- %.4f)", rate, 3*sigma)
			assert.InDelta(t, 0.5, rate, 3*sigma)
		})
	}
}

func TestViews(t *testing.T) {
	img := pattern(75, 50)
	base := Views{N: 6, Kind: RandomResizedCrop, Seed: 3, Preprocess: CLIP(32)}
	t.Run("view 0 is the base preprocessing", func(t *testing.T) {
		for _, kind := range []Kind{Identity, RandomResizedCrop, AugMix, CropAugMix} {
			v := base
			v.Kind = kind
			got, err := v.Generate(img, "a")
			require.NoError(t, err)
			want, err := v.Preprocess.Apply(img)
			require.NoError(t, err)
			require.Equal(t, want, got[:len(want)], "%s", kind)
			if kind == Identity {
				require.Equal(t, want, got[len(want):2*len(want)])
			}
		}
	})
	t.Run("deterministic and independent of workers", func(t *testing.T) {
		for _, kind := range []Kind{RandomResizedCrop, AugMix, CropAugMix} {
			v := base
			v.Kind = kind
			v.Workers = 1
			a, err := v.Generate(img, "a")
			require.NoError(t, err)
			v.Workers = 3
			b, err := v.Generate(img, "a")
			require.NoError(t, err)
			require.Equal(t, a, b, "%s: same seed, example and view must give the same bytes", kind)
			per := 32 * 32 * 3
			for i := 1; i < v.N; i++ {
				for j := i + 1; j < v.N; j++ {
					require.NotEqual(t, a[i*per:(i+1)*per], a[j*per:(j+1)*per], "%s: views %d and %d", kind, i, j)
				}
			}
			c, err := v.Generate(img, "b")
			require.NoError(t, err)
			require.NotEqual(t, a[per:], c[per:], "%s: another example id", kind)
			v.Seed++
			d, err := v.Generate(img, "a")
			require.NoError(t, err)
			require.NotEqual(t, a[per:], d[per:], "%s: another seed", kind)
		}
	})
	t.Run("crop view equals crop-resize-flip", func(t *testing.T) {
		b := base.Crop.SampleCrop(ViewRNG(base.Seed, "a", 2), img.W, img.H)
		want := Resize(Crop(img, b), 32, 32, Bilinear)
		if b.Flip {
			FlipH(want)
		}
		require.Equal(t, want.Pix, base.View(img, "a", 2).Pix)
		require.Equal(t, b, SampleCropBoxes(img.W, img.H, 3, base.Seed, "a")[2])
	})
	t.Run("errors", func(t *testing.T) {
		_, err := Views{N: 2}.Generate(img, "x")
		require.ErrorContains(t, err, "Size")
		_, err = base.Generate(&RGB{W: 3, H: 3}, "x")
		require.ErrorContains(t, err, "x")
		require.Error(t, base.GenerateInto(make([]float32, 5), img, "x"))
	})
	t.Run("AugMix mixes in range and varies", func(t *testing.T) {
		src := pattern(40, 31)
		diff := 0
		for i := 0; i < 20; i++ {
			out := AugMixParams{}.AugMix(ViewRNG(1, "mix", i), src)
			require.Equal(t, len(src.Pix), len(out.Pix))
			for j := range out.Pix {
				if out.Pix[j] != src.Pix[j] {
					diff++
				}
			}
		}
		require.Greater(t, diff, 0)
	})
}

func TestDirichlet(t *testing.T) {
	// Dirichlet(1,1,1): mean 1/3 each, variance (1/3)(2/3)/4 = 1/18.
	r := ViewRNG(0, "dirichlet", 0)
	n := 20000
	var sum, sum2 float64
	for i := 0; i < n; i++ {
		d := dirichlet(r, 1, 3)
		require.InDelta(t, 1, d[0]+d[1]+d[2], 1e-12)
		sum += d[0]
		sum2 += d[0] * d[0]
	}
	mean := sum / float64(n)
	variance := sum2/float64(n) - mean*mean
	assert.InDelta(t, 1.0/3, mean, 4*math.Sqrt(1.0/18/float64(n)))
	assert.InDelta(t, 1.0/18, variance, 0.003)
}

// TestCropResizeGraphMatchesHost runs the in-graph path on the configured backend (pure Go by default) and
// compares it with the host views before rounding: |graph - host| <= 1.5 levels (the host rounds to uint8 after
// each pass, the graph does not), and the normalised outputs within 1.5/255/std.
func TestCropResizeGraphMatchesHost(t *testing.T) {
	be := backend.MustNew()
	img := pattern(75, 50)
	for _, tc := range []struct {
		name string
		v    Views
	}{
		{"rrc clip bicubic base", Views{N: 5, Kind: RandomResizedCrop, Seed: 1, Preprocess: CLIP(24), CropFilter: Bicubic}},
		{"rrc imagenet", Views{N: 4, Kind: RandomResizedCrop, Seed: 2, Preprocess: Preprocess{Size: 24, Resize: 28,
			Filter: Bilinear, Mean: ImageNetMean, Std: ImageNetStd}, CropFilter: Bicubic}},
		{"identity nearest", Views{N: 2, Kind: Identity, Preprocess: Preprocess{Size: 16, Filter: Nearest,
			Mean: CLIPMean, Std: CLIPStd}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			S := v.Preprocess.Size
			wy, wx, err := v.CropResizeWeights(img.W, img.H, "g")
			require.NoError(t, err)
			pix := make([]float32, len(img.Pix))
			for i, p := range img.Pix {
				pix[i] = float32(p)
			}
			exec, err := graph.NewExec(be, func(im, wy, wx *graph.Node) (*graph.Node, *graph.Node) {
				views := CropResizeGraph(im, wy, wx)
				return views, NormalizeGraph(views, v.Preprocess.Mean, v.Preprocess.Std)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(pix, img.H, img.W, 3),
				tensors.FromFlatDataAndDimensions(wy, v.N, S, img.H),
				tensors.FromFlatDataAndDimensions(wx, v.N, S, img.W))
			require.NoError(t, err)
			got := tensors.MustCopyFlatData[float32](outs[0])
			gotNorm := tensors.MustCopyFlatData[float32](outs[1])
			require.Len(t, got, v.N*S*S*3)
			hostNorm, err := v.Generate(img, "g")
			require.NoError(t, err)
			maxDiff, maxNorm := 0.0, 0.0
			for i := 0; i < v.N; i++ {
				host := v.View(img, "g", i)
				for j, p := range host.Pix {
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[i*S*S*3+j])-float64(p)))
				}
			}
			for j := range hostNorm {
				maxNorm = math.Max(maxNorm, math.Abs(float64(gotNorm[j]-hostNorm[j]))*255*float64(v.Preprocess.Std[j%3]))
			}
			t.Logf("max |graph - host| = %.3f levels; normalised: %.3f levels", maxDiff, maxNorm)
			require.LessOrEqual(t, maxDiff, 1.5)
			require.LessOrEqual(t, maxNorm, 1.5)

			// The same views from regions only (weights built in the graph).
			regions, err := v.CropRegions(img.W, img.H, "g")
			require.NoError(t, err)
			out, err := graph.ExecOnce(be, func(im, reg *graph.Node) *graph.Node {
				baseFilter, viewFilter := v.GraphFilters()
				return CropResizeRegionsGraph(im, reg, S, baseFilter, viewFilter)
			}, tensors.FromFlatDataAndDimensions(img.Pix, img.H, img.W, 3), // uint8 pixels
				tensors.FromFlatDataAndDimensions(regions, v.N, 2, 4))
			require.NoError(t, err)
			fromRegions := tensors.MustCopyFlatData[float32](out)
			maxReg := 0.0
			for j := range got {
				maxReg = math.Max(maxReg, math.Abs(float64(fromRegions[j]-got[j])))
			}
			t.Logf("max |regions path - matrix path| = %.2g levels", maxReg)
			// 0.002 levels on pure Go; XLA on GPU computes f32 dots in TF32 (10-bit mantissa): 0.18 levels seen on
			// an H100.
			require.LessOrEqual(t, maxReg, 0.5)
			maxRegHost := 0.0
			for i := 0; i < v.N; i++ {
				for j, p := range v.View(img, "g", i).Pix {
					maxRegHost = math.Max(maxRegHost, math.Abs(float64(fromRegions[i*S*S*3+j])-float64(p)))
				}
			}
			t.Logf("max |regions path - host| = %.3f levels", maxRegHost)
			require.LessOrEqual(t, maxRegHost, 1.5)
		})
	}
	_, _, err := Views{N: 2, Kind: AugMix, Preprocess: CLIP(8)}.CropResizeWeights(10, 10, "e")
	require.ErrorContains(t, err, "augmix")
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		bad := func(dims ...int) *tensors.Tensor { return tensors.FromShape(shapes.Make(dtypes.Float32, dims...)) }
		_, err = graph.ExecOnce(be, func(im, wy, wx *graph.Node) *graph.Node { return CropResizeGraph(im, wy, wx) },
			bad(4, 4, 2), bad(1, 2, 4), bad(1, 2, 4))
		return err
	}()
	require.ErrorContains(t, err, "CropResizeGraph")
}

var _ = fmt.Sprint
