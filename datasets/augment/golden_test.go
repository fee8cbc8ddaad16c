package augment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pattern is the test image of testdata/gen_golden.py, computed identically here.
func pattern(w, h int) *RGB {
	img := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				noise := ((int64(x) * 73856093) ^ (int64(y) * 19349663) ^ (int64(c) * 83492791)) % 23
				v := int64(x*x*3/(c+1)+y*5+c*85+(x*y)/7) + noise
				img.Pix[(y*w+x)*3+c] = uint8(v % 256)
			}
		}
	}
	return img
}

// npyArray is a decoded .npy file: shape and data as float64 (all golden files are small).
type npyArray struct {
	Shape []int
	Descr string
	Data  []float64
}

var npyDescr = regexp.MustCompile(`'descr':\s*'([^']+)'`)
var npyShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)

func readNPY(t *testing.T, name string) *npyArray {
	t.Helper()
	path := filepath.Join("testdata", name)
	b, err := os.ReadFile(path)
	require.NoError(t, err, path)
	require.True(t, len(b) > 10 && string(b[1:6]) == "NUMPY", "%s: not a .npy file", path)
	var hlen, off int
	if b[6] == 1 {
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	} else {
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	}
	header := string(b[off : off+hlen])
	require.NotContains(t, header, "'fortran_order': True", path)
	a := &npyArray{Descr: npyDescr.FindStringSubmatch(header)[1]}
	for _, s := range strings.Split(npyShape.FindStringSubmatch(header)[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err, path)
			a.Shape = append(a.Shape, n)
		}
	}
	data := b[off+hlen:]
	size := 1
	for _, d := range a.Shape {
		size *= d
	}
	a.Data = make([]float64, size)
	for i := range a.Data {
		switch a.Descr {
		case "|u1":
			a.Data[i] = float64(data[i])
		case "<i2":
			a.Data[i] = float64(int16(binary.LittleEndian.Uint16(data[2*i:])))
		case "<f4":
			a.Data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		default:
			t.Fatalf("%s: unsupported dtype %s", path, a.Descr)
		}
	}
	return a
}

type goldenFile struct {
	Resize []struct {
		File   string `json:"file"`
		Src    [2]int `json:"src"`
		Dst    [2]int `json:"dst"`
		Filter string `json:"filter"`
	} `json:"resize"`
	Preprocess []struct {
		File       string     `json:"file"`
		Src        [2]int     `json:"src"`
		Resize     int        `json:"resize"`
		Crop       int        `json:"crop"`
		Filter     string     `json:"filter"`
		Mean       [3]float32 `json:"mean"`
		Std        [3]float32 `json:"std"`
		Normalized bool       `json:"normalized"`
	} `json:"preprocess"`
	Ops []struct {
		Op        string  `json:"op"`
		Bin       *int    `json:"bin"`
		Magnitude float64 `json:"magnitude"`
		Index     int     `json:"index"`
	} `json:"ops"`
	AugMixSpace struct {
		ImageHW [2]int `json:"image_hw"`
		Ops     []struct {
			Name       string    `json:"name"`
			Signed     bool      `json:"signed"`
			Magnitudes []float64 `json:"magnitudes"`
		} `json:"ops"`
	} `json:"augmix_space"`
	AugMixSpace500 map[string][]float64 `json:"augmix_space_500x375"`
	JPEG           []struct {
		JPG         string `json:"jpg"`
		NPY         string `json:"npy"`
		Subsampling int    `json:"subsampling"`
	} `json:"jpeg"`
	AugMixPlans []struct {
		M      [2]float64 `json:"m"`
		W      []float64  `json:"w"`
		Chains [][]struct {
			Op        string  `json:"op"`
			Magnitude float64 `json:"magnitude"`
		} `json:"chains"`
		Index int `json:"index"`
	} `json:"augmix_plans"`
	RRC []struct {
		File string `json:"file"`
		W    int    `json:"w"`
		H    int    `json:"h"`
		N    int    `json:"n"`
	} `json:"rrc"`
}

func readGolden(t *testing.T) *goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	require.NoError(t, err)
	g := &goldenFile{}
	require.NoError(t, json.Unmarshal(b, g))
	return g
}

// diffStats compares uint8 pixels: the largest absolute difference and the fraction that are exactly equal.
func diffStats(got []uint8, want []float64) (maxDiff int, exact float64) {
	n := 0
	for i, w := range want {
		d := int(math.Abs(float64(got[i]) - w))
		if d > maxDiff {
			maxDiff = d
		}
		if d == 0 {
			n++
		}
	}
	return maxDiff, float64(n) / float64(len(want))
}

func TestResizeMatchesPIL(t *testing.T) {
	g := readGolden(t)
	require.NotEmpty(t, g.Resize)
	for _, c := range g.Resize {
		t.Run(c.File, func(t *testing.T) {
			f, err := ParseFilter(c.Filter)
			require.NoError(t, err)
			want := readNPY(t, c.File)
			require.Equal(t, []int{c.Dst[1], c.Dst[0], 3}, want.Shape)
			got := Resize(pattern(c.Src[0], c.Src[1]), c.Dst[0], c.Dst[1], f)
			require.Equal(t, c.Dst[0], got.W)
			require.Equal(t, c.Dst[1], got.H)
			maxDiff, exact := diffStats(got.Pix, want.Data)
			t.Logf("%s: max |diff| %d levels, %.4f%% exact", c.File, maxDiff, 100*exact)
			// Pillow's integer arithmetic is replicated: every pixel must be identical (0 levels).
			require.Equal(t, 0, maxDiff, "%s", c.File)
		})
	}
}

var _ = fmt.Sprint

func TestPreprocessMatchesTorchvision(t *testing.T) {
	g := readGolden(t)
	require.NotEmpty(t, g.Preprocess)
	for _, c := range g.Preprocess {
		t.Run(c.File, func(t *testing.T) {
			f, err := ParseFilter(c.Filter)
			require.NoError(t, err)
			p := Preprocess{Size: c.Crop, Resize: c.Resize, Filter: f, Mean: c.Mean, Std: c.Std}
			want := readNPY(t, c.File)
			require.Equal(t, []int{c.Crop, c.Crop, 3}, want.Shape)
			img := pattern(c.Src[0], c.Src[1])
			if !c.Normalized {
				maxDiff, exact := diffStats(p.Base(img).Pix, want.Data)
				t.Logf("%s: max |diff| %d levels, %.4f%% exact", c.File, maxDiff, 100*exact)
				require.Equal(t, 0, maxDiff)
				return
			}
			got, err := p.Apply(img)
			require.NoError(t, err)
			maxAbs := 0.0
			for i, w := range want.Data {
				maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-w))
			}
			t.Logf("%s: max |diff| %.3g", c.File, maxAbs)
			require.LessOrEqual(t, maxAbs, 1e-6) // atol 1e-6 (float32 rounding only)
		})
	}
	t.Run("CLIP and ImageNet presets", func(t *testing.T) {
		require.Equal(t, Preprocess{Size: 224, Resize: 224, Filter: Bicubic, Mean: CLIPMean, Std: CLIPStd}, CLIP(224))
		require.Equal(t, 256, ImageNet().Resize)
		require.Equal(t, 224, ImageNet().Size)
		require.Equal(t, Bilinear, ImageNet().Filter)
	})
}
