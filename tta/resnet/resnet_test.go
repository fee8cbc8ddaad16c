package resnet

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/weights"
)

// Tolerances of the golden comparisons against torchvision (testdata/README.md).
const (
	goldenRTol = 1e-4
	goldenATol = 1e-5
)

// tf32Loose reports whether the backend may run float32 convolutions and matmuls in TF32 (XLA on an NVIDIA GPU
// does by default; NVIDIA_TF32_OVERRIDE=0 turns it off in cuDNN and cuBLAS): then the golden tolerances are
// loosened to looseTol, and the test logs it. On an H100 with TF32 on, logits differed from torch's f32 by ~4e-3.
func tf32Loose(t *testing.T) bool {
	_, choice, err := backend.New()
	require.NoError(t, err)
	if choice.IsPureGo() || os.Getenv("NVIDIA_TF32_OVERRIDE") == "0" {
		return false
	}
	t.Logf("backend %s may compute float32 in TF32: tolerances loosened to %g (set NVIDIA_TF32_OVERRIDE=0 for "+
		"the strict ones)", choice.Config, looseTol)
	return true
}

// looseTol is the rtol and atol of the golden comparisons when TF32 may be on.
const looseTol = 2e-2

// golden reads a tensor of testdata/<name>_golden.safetensors as float32s with its shape.
func golden(t *testing.T, name, tensor string) ([]float32, []int) {
	t.Helper()
	f, err := weights.Open(filepath.Join("testdata", name+"_golden.safetensors"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	v, shape, err := f.Float32s(tensor)
	require.NoError(t, err)
	return v, shape
}

// assertClose checks |got-want| <= atol + rtol*|want| elementwise.
func assertClose(t *testing.T, want, got []float32, rtol, atol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	worst, worstI := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		excess := d - (atol + rtol*math.Abs(float64(want[i])))
		if excess > 0 && (worstI < 0 || excess > worst) {
			worst, worstI = excess, i
		}
	}
	if worstI >= 0 {
		t.Errorf("%s: element %d: got %g, want %g (rtol %g, atol %g)", what, worstI, got[worstI], want[worstI],
			rtol, atol)
	}
}

func argmaxRows(v []float32, cols int) []int {
	out := make([]int, len(v)/cols)
	for r := range out {
		best := 0
		for c := 1; c < cols; c++ {
			if v[r*cols+c] > v[r*cols+best] {
				best = c
			}
		}
		out[r] = best
	}
	return out
}

func flat(t *tensors.Tensor) []float32 {
	var out []float32
	tensors.MustConstFlatData[float32](t, func(f []float32) { out = append(out, f...) })
	return out
}

func TestGolden(t *testing.T) {
	b := backend.MustNew()
	t.Logf("backend: %s", b.Name())
	rtol, atol := goldenRTol, goldenATol
	if tf32Loose(t) {
		rtol, atol = looseTol, looseTol
	}
	for _, name := range []string{"tiny_basic", "tiny_resnext"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.New()
			m, err := Load(ctx, filepath.Join("testdata", name+".safetensors"))
			require.NoError(t, err)
			t.Logf("config: %s", m.Config)
			x, xShape := golden(t, name, "inputs")
			xt := tensors.FromFlatDataAndDimensions(x, xShape...)
			for _, tc := range []struct {
				ref  string
				opts ForwardOpts
			}{
				{"logits", ForwardOpts{}},
				{"logits", ForwardOpts{BNPrior: 1}},
				{"logits_prior094", ForwardOpts{BNPrior: 0.94}},
			} {
				want, wantShape := golden(t, name, tc.ref)
				exec := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
					return m.Logits(ctx, x, tc.opts)
				})
				out := exec.MustExec1(xt)
				require.Equal(t, wantShape, out.Shape().Dimensions, tc.ref)
				got := flat(out)
				assertClose(t, want, got, rtol, atol, name+" "+tc.ref)
				assert.Equal(t, argmaxRows(want, wantShape[1]), argmaxRows(got, wantShape[1]), "argmax "+tc.ref)
			}
		})
	}
}

func TestConfigFromFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Config
	}{
		{"tiny_basic", Config{Block: Basic, Layers: [4]int{1, 1, 1, 1}, Groups: 1, WidthPerGroup: 64, NumClasses: 10,
			StemWidth: 8, Planes: [4]int{8, 16, 32, 64}, Widths: [4]int{8, 16, 32, 64}}},
		{"tiny_resnext", Config{Block: Bottleneck, Layers: [4]int{2, 1, 1, 1}, Groups: 2, WidthPerGroup: 4,
			NumClasses: 10, StemWidth: 16, Planes: [4]int{16, 32, 64, 128}, Widths: [4]int{2, 4, 8, 16}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := weights.Open(filepath.Join("testdata", tc.name+".safetensors"))
			require.NoError(t, err)
			defer func() { _ = f.Close() }()
			cfg, err := LoadConfig(f)
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg)
		})
	}
}

// TestPresets checks the presets against torchvision's parameter counts (torchvision.models docs: resnet18
// 11,689,512; resnet34 21,797,672; resnet50 25,557,032; resnet101 44,549,160; resnet152 60,192,808;
// resnext50_32x4d 25,028,904) and that ConfigFromShapes recovers each preset from its own tensor list.
func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		params int
	}{
		{"resnet18", ResNet18(), 11689512},
		{"resnet34", ResNet34(), 21797672},
		{"resnet50", ResNet50(), 25557032},
		{"resnet101", ResNet101(), 44549160},
		{"resnet152", ResNet152(), 60192808},
		{"resnext50_32x4d", ResNeXt50x32x4d(), 25028904},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			shapes := map[string][]int{}
			for _, ts := range tc.cfg.Tensors() {
				shapes[ts.Name] = ts.Shape
				if ts.Kind != RunningStat {
					size := 1
					for _, d := range ts.Shape {
						size *= d
					}
					n += size
				}
			}
			assert.Equal(t, tc.params, n)
			got, err := ConfigFromShapes(tc.name, shapes)
			require.NoError(t, err)
			assert.Equal(t, tc.cfg, got)
		})
	}
}

// rewriteSafetensors copies a safetensors file, letting edit change the header entries (name -> entry) and the
// tensors' bytes, and writes it under dir. It is written here, independently of package weights' writer.
func rewriteSafetensors(t *testing.T, src, dst string, edit func(h map[string]json.RawMessage, data map[string][]byte)) {
	t.Helper()
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw[:8])
	var h map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw[8:8+n], &h))
	body := raw[8+n:]
	data := map[string][]byte{}
	for name, e := range h {
		if name == "__metadata__" {
			continue
		}
		var entry struct {
			Offsets [2]int `json:"data_offsets"`
		}
		require.NoError(t, json.Unmarshal(e, &entry))
		data[name] = body[entry.Offsets[0]:entry.Offsets[1]]
	}
	edit(h, data)
	var out []byte
	newH := map[string]any{}
	if m, ok := h["__metadata__"]; ok {
		newH["__metadata__"] = m
	}
	// Deterministic order.
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	sortStrings(names)
	off := 0
	for _, name := range names {
		var entry map[string]any
		require.NoError(t, json.Unmarshal(h[name], &entry))
		entry["data_offsets"] = []int{off, off + len(data[name])}
		newH[name] = entry
		off += len(data[name])
		out = append(out, data[name]...)
	}
	js, err := json.Marshal(newH)
	require.NoError(t, err)
	file := make([]byte, 8, 8+len(js)+len(out))
	binary.LittleEndian.PutUint64(file, uint64(len(js)))
	file = append(append(file, js...), out...)
	require.NoError(t, os.WriteFile(dst, file, 0o644))
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestStrictLoading(t *testing.T) {
	src := filepath.Join("testdata", "tiny_basic.safetensors")
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		edit     func(h map[string]json.RawMessage, data map[string][]byte)
		mentions []string
	}{
		{"missing", func(h map[string]json.RawMessage, data map[string][]byte) {
			delete(data, "layer2.0.bn1.running_var")
		}, []string{"layer2.0.bn1.running_var", "missing"}},
		{"missing_block_tensor", func(h map[string]json.RawMessage, data map[string][]byte) {
			delete(data, "layer3.0.downsample.0.weight")
		}, []string{"layer3.0.downsample.0.weight", "missing"}},
		{"extra", func(h map[string]json.RawMessage, data map[string][]byte) {
			h["layer1.0.extra.weight"] = json.RawMessage(`{"dtype":"F32","shape":[2]}`)
			data["layer1.0.extra.weight"] = make([]byte, 8)
		}, []string{"layer1.0.extra.weight", "unused"}},
		{"extra_block", func(h map[string]json.RawMessage, data map[string][]byte) {
			// A second block in layer4 with only its bn2: the block count is derived from conv1, so bn2 is unused.
			h["layer4.1.bn2.bias"] = json.RawMessage(`{"dtype":"F32","shape":[64]}`)
			data["layer4.1.bn2.bias"] = make([]byte, 256)
		}, []string{"layer4.1.bn2.bias", "unused"}},
		{"wrong_shape", func(h map[string]json.RawMessage, data map[string][]byte) {
			h["fc.bias"] = json.RawMessage(`{"dtype":"F32","shape":[5,2]}`)
		}, []string{"fc.bias", "[5 2]"}},
		{"wrong_conv_shape", func(h map[string]json.RawMessage, data map[string][]byte) {
			h["layer2.0.conv2.weight"] = json.RawMessage(`{"dtype":"F32","shape":[16,16,9,1]}`)
		}, []string{"layer2.0.conv2.weight", "[16 16 9 1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(dir, tc.name+".safetensors")
			rewriteSafetensors(t, src, dst, tc.edit)
			_, err := Load(context.New(), dst)
			require.Error(t, err)
			msg := err.Error()
			t.Logf("error: %s", msg)
			assert.Contains(t, msg, dst, "the error names the file")
			for _, s := range tc.mentions {
				assert.Contains(t, msg, s)
			}
		})
	}
	t.Run("unchanged_copy_loads", func(t *testing.T) {
		dst := filepath.Join(dir, "same.safetensors")
		rewriteSafetensors(t, src, dst, func(map[string]json.RawMessage, map[string][]byte) {})
		m, err := Load(context.New(), dst)
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(m.Source, "same.safetensors"))
	})
}
