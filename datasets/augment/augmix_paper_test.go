package augment

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// paperLowContrast is gen_paper_augmix.py's low_contrast: pattern/3 + 50 in channels 0 and 1, channel 2 constant
// 77 (autocontrast's and equalize's flat-channel cases).
func paperLowContrast(w, h int) *RGB {
	img := pattern(w, h)
	for i := range img.Pix {
		img.Pix[i] = img.Pix[i]/3 + 50
		if i%3 == 2 {
			img.Pix[i] = 77
		}
	}
	return img
}

// paperDraw is one op of a plan in paper_golden.json.
type paperDraw struct {
	Op     string  `json:"op"`
	Level  float64 `json:"level"`
	Negate bool    `json:"negate"`
}

type paperPlan struct {
	W      []float64     `json:"w"`
	M      float64       `json:"m"`
	Chains [][]paperDraw `json:"chains"`
}

type paperMix struct {
	Image     [2]int      `json:"image"`
	ImageSize int         `json:"image_size"`
	Stride    int         `json:"stride"`
	Mean, Std [3]float32  `json:"-"`
	MeanJ     []float64   `json:"mean"`
	StdJ      []float64   `json:"std"`
	Plans     []paperPlan `json:"plans"`
}

// paperGolden is testdata/paper_golden.json, written by gen_paper_augmix.py.
type paperGolden struct {
	Versions map[string]string `json:"versions"`
	Ops      []struct {
		Image     string    `json:"image"`
		Code      string    `json:"code"`
		Op        string    `json:"op"`
		Level     float64   `json:"level"`
		Negate    bool      `json:"negate"`
		ImageSize int       `json:"image_size"`
		Coeffs    []float64 `json:"coeffs"`
		Out       [2]int    `json:"out"`
		Degrees   float64   `json:"degrees"`
		W, H      int       `json:"-"`
		WJ        int       `json:"w"`
		HJ        int       `json:"h"`
		Offset    int       `json:"offset"`
	} `json:"ops"`
	MixTPT  paperMix `json:"mix_tpt"`
	MixMEMO paperMix `json:"mix_memo"`
}

func readPaperGolden(t *testing.T) *paperGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/paper_golden.json")
	require.NoError(t, err)
	var g paperGolden
	require.NoError(t, json.Unmarshal(b, &g), "testdata/paper_golden.json")
	for _, m := range []*paperMix{&g.MixTPT, &g.MixMEMO} {
		for c := range 3 {
			m.Mean[c], m.Std[c] = float32(m.MeanJ[c]), float32(m.StdJ[c])
		}
	}
	return &g
}

func paperOpByName(t *testing.T, name string) PaperOp {
	t.Helper()
	for _, op := range PaperOps() {
		if op.String() == name {
			return op
		}
	}
	t.Fatalf("unknown op %q", name)
	return 0
}

func (p paperPlan) plan(t *testing.T) PaperAugMixPlan {
	pl := PaperAugMixPlan{M: float32(p.M)}
	for _, w := range p.W {
		pl.W = append(pl.W, float32(w)) // np.float32(np.random.dirichlet(...))
	}
	for _, c := range p.Chains {
		var chain []PaperOpDraw
		for _, d := range c {
			chain = append(chain, PaperOpDraw{Op: paperOpByName(t, d.Op), Level: d.Level, Negate: d.Negate})
		}
		pl.Chains = append(pl.Chains, chain)
	}
	return pl
}

// TestPaperOpsMatchPIL compares every op with the original code run on Pillow 9.4 (testdata/paper_ops.npy):
// TPT's augmix_ops functions (black fill) at levels 0.55, 0.95, 3.3, 7.7 and both signs on three images (one
// non-square with IMAGE_SIZE 22, one with a flat channel), MEMO's rotate (fillcolor=128), Image.transform with
// MEMO's fillcolor=128, and Image.rotate at angles of its fast paths and general ones. Exact uint8 equality:
// Pillow computes these in float64 (or integer tables) and truncates, and so does augmix_paper.go.
func TestPaperOpsMatchPIL(t *testing.T) {
	g := readPaperGolden(t)
	ref := readNPY(t, "paper_ops.npy")
	images := map[string]*RGB{"p24": pattern(24, 24), "p26x19": pattern(26, 19), "low20": paperLowContrast(20, 20)}
	require.Len(t, g.Ops, 204)
	for _, c := range g.Ops {
		name := fmt.Sprintf("%s/%s/%s/level=%g/neg=%v/coeffs=%v/deg=%g", c.Image, c.Code, c.Op, c.Level, c.Negate,
			c.Coeffs, c.Degrees)
		t.Run(name, func(t *testing.T) {
			img := images[c.Image]
			require.NotNil(t, img)
			var got *RGB
			switch c.Code {
			case "tpt":
				got = paperOpByName(t, c.Op).Apply(img, c.Level, c.Negate, c.ImageSize, [3]uint8{})
			case "memo":
				got = paperOpByName(t, c.Op).Apply(img, c.Level, c.Negate, c.ImageSize, MEMOFill)
			case "pil_affine":
				got = PILAffine(img, c.Out[0], c.Out[1], [6]float64(c.Coeffs), MEMOFill)
			case "pil_rotate":
				got = PILRotate(img, c.Degrees, [3]uint8{})
			default:
				t.Fatalf("unknown case %q", c.Code)
			}
			require.Equal(t, []int{c.HJ, c.WJ}, []int{got.H, got.W}, "output size")
			want := ref.Data[c.Offset : c.Offset+len(got.Pix)]
			maxDiff, exact := diffStats(got.Pix, want)
			require.Equal(t, 0, maxDiff, "max |diff| %d, exact fraction %.4f", maxDiff, exact)
		})
	}
}

// TestPaperMixMatchesOriginals runs whole AugMix views with fixed plans through Mix and compares them with the
// originals' functions run unchanged on the same plans (np.random scripted): TPT's datautils.augmix (CLIP
// normalisation, black fill, IMAGE_SIZE 32, a 32 x 32 image; plans at severity 1 and 10) and MEMO's
// `_augmix_aug` (ImageNet normalisation, fill (128, 0, 0), a 224 x 224 image compared on every 4th row and
// column). Tolerance atol 1e-6 on normalised floats (the same float32 operations in the same order; observed 0).
func TestPaperMixMatchesOriginals(t *testing.T) {
	g := readPaperGolden(t)
	for _, tc := range []struct {
		name   string
		mix    paperMix
		file   string
		params PaperAugMixParams
	}{
		{"tpt", g.MixTPT, "paper_mix_tpt.npy", PaperAugMixParams{TPTFill: true, ImageSize: g.MixTPT.ImageSize}},
		{"memo", g.MixMEMO, "paper_mix_memo.npy", PaperAugMixParams{}},
	} {
		if tc.name == "memo" && testing.Short() {
			continue
		}
		ref := readNPY(t, tc.file)
		w, h := tc.mix.Image[0], tc.mix.Image[1]
		stride := max(tc.mix.Stride, 1)
		gw, gh := (w+stride-1)/stride, (h+stride-1)/stride
		require.Equal(t, []int{len(tc.mix.Plans), gh, gw, 3}, ref.Shape, tc.file)
		img := pattern(w, h)
		for i, p := range tc.mix.Plans {
			t.Run(fmt.Sprintf("%s/plan%d", tc.name, i), func(t *testing.T) {
				got := make([]float32, w*h*3)
				require.NoError(t, tc.params.Mix(got, img, p.plan(t), tc.mix.Mean, tc.mix.Std))
				maxDiff := 0.0
				for y := 0; y < gh; y++ {
					for x := 0; x < gw; x++ {
						for c := range 3 {
							gv := float64(got[((y*stride)*w+x*stride)*3+c])
							rv := ref.Data[((i*gh+y)*gw+x)*3+c]
							maxDiff = math.Max(maxDiff, math.Abs(gv-rv))
						}
					}
				}
				assert.LessOrEqual(t, maxDiff, 1e-6, "max |diff|")
			})
		}
	}
}

// TestPaperMixConvention checks MWeightsMix against the default on a plan: swapping the weights of the original
// and of the mix is the same as m -> 1-m.
func TestPaperMixConvention(t *testing.T) {
	img := pattern(16, 16)
	pl := PaperAugMixPlan{W: []float32{0.2, 0.5, 0.3}, M: 0.25,
		Chains: [][]PaperOpDraw{{{Op: PaperShearX, Level: 0.7}}, {{Op: PaperEqualize}},
			{{Op: PaperRotate, Level: 0.9, Negate: true}, {Op: PaperSolarize, Level: 0.5}}}}
	a, b := make([]float32, 16*16*3), make([]float32, 16*16*3)
	require.NoError(t, PaperAugMixParams{MWeightsMix: true}.Mix(a, img, pl, ImageNetMean, ImageNetStd))
	pl.M = 0.75
	require.NoError(t, PaperAugMixParams{}.Mix(b, img, pl, ImageNetMean, ImageNetStd))
	assert.Equal(t, a, b)
	// M = 1 gives the normalised original.
	pl.M = 1
	want := make([]float32, len(a))
	ToTensor(want, img, ImageNetMean, ImageNetStd)
	require.NoError(t, PaperAugMixParams{}.Mix(b, img, pl, ImageNetMean, ImageNetStd))
	assert.Equal(t, want, b)
	// A non-square image or a chain that changes the size is an error.
	require.Error(t, PaperAugMixParams{}.Mix(make([]float32, 16*8*3), pattern(16, 8), pl, ImageNetMean, ImageNetStd))
	require.Error(t, PaperAugMixParams{ImageSize: 20}.Mix(b, img, pl, ImageNetMean, ImageNetStd))
}

// TestPaperSamplePlan checks the plan's distributions against the originals' (exact probabilities, 5-sigma
// bounds over 20000 plans): depth uniform on 1..3, ops uniform over the nine, levels uniform on [0.1, severity),
// signs fair, W on the simplex with mean 1/3, M uniform on [0, 1] (Beta(1, 1): mean 1/2, variance 1/12).
func TestPaperSamplePlan(t *testing.T) {
	const n = 20000
	p := PaperAugMixParams{}
	depths := make([]int, 4)
	ops := make([]int, numPaperOps)
	var levels, signs, nOps, nSigned, mSum, mSq, w0 float64
	for i := range n {
		pl := p.SamplePlan(ViewRNG(7, "plan", i))
		require.Len(t, pl.W, 3)
		require.Len(t, pl.Chains, 3)
		require.InDelta(t, 1, float64(pl.W[0]+pl.W[1]+pl.W[2]), 1e-6)
		w0 += float64(pl.W[0])
		mSum += float64(pl.M)
		mSq += float64(pl.M) * float64(pl.M)
		for _, c := range pl.Chains {
			depths[len(c)]++
			for _, d := range c {
				ops[d.Op]++
				nOps++
				if d.Op.UsesLevel() {
					require.True(t, d.Level >= 0.1 && d.Level < 1, "level %g", d.Level)
					levels += d.Level
				} else {
					require.Zero(t, d.Level)
				}
				if d.Op.Signed() {
					nSigned++
					if d.Negate {
						signs++
					}
				} else {
					require.False(t, d.Negate)
				}
			}
		}
	}
	within := func(name string, got, p, trials float64) {
		sigma := math.Sqrt(p * (1 - p) / trials)
		assert.InDelta(t, p, got, 5*sigma, name)
	}
	for d := 1; d <= 3; d++ {
		within(fmt.Sprintf("depth %d", d), float64(depths[d])/(3*n), 1.0/3, 3*n)
	}
	for op, c := range ops {
		within(PaperOp(op).String(), float64(c)/nOps, 1.0/9, nOps)
	}
	within("negate", signs/nSigned, 0.5, nSigned)
	nLevel := nOps * 7 / 9
	assert.InDelta(t, 0.55, levels/nLevel, 5*0.26/math.Sqrt(nLevel), "mean level (uniform [0.1, 1): sd 0.26)")
	assert.InDelta(t, 1.0/3, w0/n, 5*math.Sqrt(1.0/18/n), "mean W[0] (Dirichlet(1,1,1): variance 1/18)")
	mean := mSum / n
	assert.InDelta(t, 0.5, mean, 5*math.Sqrt(1.0/12/n), "mean M")
	assert.InDelta(t, 1.0/12, mSq/n-mean*mean, 0.005, "variance of M")

	// Fixed depth and op list, severity 4.
	p = PaperAugMixParams{Depth: 2, Severity: 4, Ops: []PaperOp{PaperTranslateY}}
	for i := range 200 {
		for _, c := range p.SamplePlan(ViewRNG(1, "x", i)).Chains {
			require.Len(t, c, 2)
			for _, d := range c {
				require.Equal(t, PaperTranslateY, d.Op)
				require.True(t, d.Level >= 0.1 && d.Level < 4)
			}
		}
	}
	require.Error(t, PaperAugMixParams{Ops: []PaperOp{numPaperOps}}.Validate())
	require.Error(t, PaperAugMixParams{Ops: []PaperOp{}}.Validate())
	require.NoError(t, PaperAugMixParams{}.Validate())
}

// TestViewsPaperAugMix checks the PaperAugMix kind's wiring: view 0 is the base preprocessing, view i >= 1 is
// Mix of View's crop under the plan drawn after the crop from ViewRNG, independent of Workers; ParseKind and
// Validate.
func TestViewsPaperAugMix(t *testing.T) {
	k, err := ParseKind("memo-augmix")
	require.NoError(t, err)
	require.Equal(t, PaperAugMix, k)
	require.Equal(t, "memo-augmix", PaperAugMix.String())

	img := pattern(61, 47)
	pre := Preprocess{Size: 32, Resize: 36, Filter: Bilinear, Mean: ImageNetMean, Std: ImageNetStd}
	v := Views{N: 6, Kind: PaperAugMix, Seed: 3, Preprocess: pre, Workers: 1}
	got, err := v.Generate(img, "ex")
	require.NoError(t, err)
	per := 32 * 32 * 3
	base, err := pre.Apply(img)
	require.NoError(t, err)
	assert.Equal(t, base, got[:per], "view 0")
	for i := 1; i < v.N; i++ {
		r := ViewRNG(3, "ex", i)
		crop := ResizeCrop(img, v.Crop.SampleCrop(r, img.W, img.H), 32, 32, Bilinear)
		assert.Equal(t, crop, v.View(img, "ex", i), "View %d is the crop", i)
		want := make([]float32, per)
		require.NoError(t, PaperAugMixParams{}.Mix(want, crop, PaperAugMixParams{}.SamplePlan(r), ImageNetMean,
			ImageNetStd))
		assert.Equal(t, want, got[i*per:(i+1)*per], "view %d", i)
	}
	v.Workers = 3
	got3, err := v.Generate(img, "ex")
	require.NoError(t, err)
	assert.Equal(t, got, got3, "independent of Workers")
	v.Seed = 4
	other, err := v.Generate(img, "ex")
	require.NoError(t, err)
	assert.NotEqual(t, got[per:], other[per:], "another seed")

	v.PaperAugMix.ImageSize = 224
	require.ErrorContains(t, v.Validate(), "ImageSize")
	v.PaperAugMix.ImageSize = 32
	require.NoError(t, v.Validate())
}
