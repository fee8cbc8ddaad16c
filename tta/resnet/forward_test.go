package resnet

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/weights"
)

func loadTiny(t *testing.T, name string) (*context.Context, *Model, *tensors.Tensor) {
	t.Helper()
	ctx := context.New()
	m, err := Load(ctx, filepath.Join("testdata", name+".safetensors"))
	require.NoError(t, err)
	x, xShape := golden(t, name, "inputs")
	return ctx, m, tensors.FromFlatDataAndDimensions(x, xShape...)
}

func TestClassSubsetAndFeatures(t *testing.T) {
	ctx, m, x := loadTiny(t, "tiny_resnext")
	b := backend.MustNew()
	subset := []int{7, 0, 3, 3}
	outs := context.MustExecOnceN(b, ctx, func(ctx *context.Context, x *Node) []*Node {
		return []*Node{
			m.Logits(ctx, x, ForwardOpts{}),
			m.Logits(ctx, x, ForwardOpts{ClassSubset: subset}),
			m.Features(ctx, x, ForwardOpts{}),
		}
	}, x)
	full, sub := flat(outs[0]), flat(outs[1])
	require.Equal(t, []int{4, len(subset)}, outs[1].Shape().Dimensions)
	for r := range 4 {
		for k, c := range subset {
			assert.Equal(t, full[r*10+c], sub[r*len(subset)+k], "row %d class %d", r, c)
		}
	}
	assert.Equal(t, []int{4, m.Config.FeatureDim()}, outs[2].Shape().Dimensions)
	assert.Equal(t, 512, m.Config.FeatureDim())

	require.Panics(t, func() {
		context.MustExecOnce(b, ctx, func(ctx *context.Context, x *Node) *Node {
			return m.Logits(ctx, x, ForwardOpts{ClassSubset: []int{10}})
		}, x)
	}, "a class outside [0, 10) is refused")
}

func TestDropout(t *testing.T) {
	ctx, m, x := loadTiny(t, "tiny_basic")
	b := backend.MustNew()
	plain := flat(context.MustExecOnce(b, ctx, func(ctx *context.Context, x *Node) *Node {
		return m.Logits(ctx, x, ForwardOpts{})
	}, x))
	run := func(seed int64, calls int) [][]float32 {
		require.NoError(t, ctx.SetRNGStateFromSeed(seed))
		exec := context.MustNewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
			return m.Logits(ctx, x, ForwardOpts{Dropout: 0.5})
		})
		var out [][]float32
		for range calls {
			out = append(out, flat(exec.MustExec1(x)))
		}
		return out
	}
	a := run(7, 2)
	assert.NotEqual(t, plain, a[0], "dropout changes the logits")
	assert.NotEqual(t, a[0], a[1], "each call draws a new mask")
	assert.Equal(t, a, run(7, 2), "the same seed gives the same masks")
}

func TestDTypes(t *testing.T) {
	// tiny_basic rewritten as BF16 (rounded to nearest even by package weights' encoder) loads and computes in
	// float32; its logits stay within bf16 rounding of the F32 golden logits. (F16 is covered by tiny_resnext.)
	src := filepath.Join("testdata", "tiny_basic.safetensors")
	f, err := weights.Open(src)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	dst := filepath.Join(t.TempDir(), "bf16.safetensors")
	rewriteSafetensors(t, src, dst, func(h map[string]json.RawMessage, data map[string][]byte) {
		for name := range data {
			info, _ := f.Info(name)
			if info.DType != dtypes.Float32 {
				continue
			}
			v, _, err := f.Float32s(name)
			require.NoError(t, err)
			enc, err := weights.EncodeFloat32s(v, dtypes.BFloat16)
			require.NoError(t, err)
			data[name] = enc
			js, err := json.Marshal(map[string]any{"dtype": "BF16", "shape": info.Shape})
			require.NoError(t, err)
			h[name] = js
		}
	})
	ctx := context.New()
	m, err := Load(ctx, dst)
	require.NoError(t, err)
	x, xShape := golden(t, "tiny_basic", "inputs")
	got := flat(context.MustExecOnce(backend.MustNew(), ctx, func(ctx *context.Context, x *Node) *Node {
		return m.Logits(ctx, x, ForwardOpts{})
	}, tensors.FromFlatDataAndDimensions(x, xShape...)))
	want, _ := golden(t, "tiny_basic", "logits")
	assertClose(t, want, got, 0.05, 0.05, "bf16 logits")
}

func TestPreprocess(t *testing.T) {
	// A uniform image stays uniform through resize and crop, so every value is (v/255 - mean) / std.
	img := augment.NewRGB(300, 260)
	for i := range img.Pix {
		img.Pix[i] = []uint8{200, 100, 30}[i%3]
	}
	x, err := Preprocess(img)
	require.NoError(t, err)
	require.Len(t, x, InputSize*InputSize*3)
	mean, std := [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}
	for c, v := range []float64{200, 100, 30} {
		want := (v/255 - mean[c]) / std[c]
		assert.InDelta(t, want, x[c], 1e-5)
		assert.InDelta(t, want, x[len(x)-3+c], 1e-5)
	}
}
