package embedded

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// TestResNetBF16AgreesWithF32 runs the embedded ResNet with its convolutions in bfloat16 (resnet.Model.DType) and
// in float32 over 250 clean and 250 fog-shifted MNIST test images (DefaultSeverity): the predicted classes agree on
// at least 95% of the images and the top-1 accuracies differ by at most 2 points. The numbers are in the log.
func TestResNetBF16AgreesWithF32(t *testing.T) {
	const n = 250
	b := backend.MustNew()
	ctx := context.New()
	m, err := LoadResNet(ctx)
	require.NoError(t, err)
	m16 := *m
	m16.DType = dtypes.BFloat16
	exec := context.MustNewExec(b, ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
		f32 := m.Logits(ctx, x, resnet.ForwardOpts{})
		bf16 := m16.Logits(ctx, x, resnet.ForwardOpts{})
		require.Equal(t, dtypes.Float32, bf16.DType(), "logits stay float32")
		return []*graph.Node{graph.ArgMax(f32, 1, dtypes.Int32), graph.ArgMax(bf16, 1, dtypes.Int32)}
	})
	var agree, right32, right16, total int
	for _, name := range []string{"", "fog"} {
		ds, err := Clean(n)
		if name != "" {
			ds, err = ShiftedMNIST(name, DefaultSeverity, n, DefaultShiftSeed)
		}
		require.NoError(t, err)
		data, labels, err := Batch(ds, 0, n, ResNetPreprocess())
		require.NoError(t, err)
		s := ResNetPreprocess().Size
		out := exec.MustExec(tensors.FromFlatDataAndDimensions(data, n, s, s, 3))
		p32, p16 := tensors.MustCopyFlatData[int32](out[0]), tensors.MustCopyFlatData[int32](out[1])
		a, r32, r16 := 0, 0, 0
		for i := range n {
			if p32[i] == p16[i] {
				a++
			}
			if p32[i] == labels[i] {
				r32++
			}
			if p16[i] == labels[i] {
				r16++
			}
		}
		t.Logf("%-6s %d images: bf16 agrees with f32 on %d (%.1f%%); top-1 f32 %.1f%%, bf16 %.1f%%", map[bool]string{
			true: "clean", false: name}[name == ""], n, a, 100*float64(a)/n, 100*float64(r32)/n, 100*float64(r16)/n)
		agree, right32, right16, total = agree+a, right32+r32, right16+r16, total+n
	}
	acc32, acc16 := float64(right32)/float64(total), float64(right16)/float64(total)
	t.Logf("all %d images: agreement %.1f%%, top-1 f32 %.1f%%, bf16 %.1f%% (difference %+.1f points)", total,
		100*float64(agree)/float64(total), 100*acc32, 100*acc16, 100*(acc16-acc32))
	assert.GreaterOrEqual(t, float64(agree)/float64(total), 0.95)
	assert.InDelta(t, acc32, acc16, 0.02)
}
