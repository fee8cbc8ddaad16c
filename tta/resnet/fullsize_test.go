package resnet

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/weights"
)

// EnvFullDir names the directory of testdata/gen_fullsize.py's output; TestFullSize skips when it is unset.
const EnvFullDir = "RESNET_FULL_DIR"

// TestFullSize compares full-size torchvision ResNet-18, ResNet-50 (F32) and ResNeXt-50 32x4d (BF16) with random
// perturbed weights against torch's logits on [2, 64, 64, 3] inputs, eval mode and BN prior 0.94. Opt-in (the
// files are ~200 MB): set RESNET_FULL_DIR to the directory written by gen_fullsize.py.
func TestFullSize(t *testing.T) {
	dir := os.Getenv(EnvFullDir)
	if dir == "" {
		t.Skipf("set %s to the output directory of testdata/gen_fullsize.py", EnvFullDir)
	}
	// The random deep networks' logits reach ~1000 (ResNet-50), so atol is relative to the largest: rtol 1e-4 and
	// atol 1e-6 * max|logit| (f32 summation-order noise; seen: 2e-4 on logits of scale 1e3).
	rtol, atolScale := 1e-4, 1e-6
	if tf32Loose(t) {
		rtol, atolScale = looseTol, looseTol
	}
	b := backend.MustNew()
	for _, tc := range []struct {
		name string
		want Config
	}{
		{"resnet18", ResNet18()},
		{"resnet50", ResNet50()},
		{"resnext50_32x4d", ResNeXt50x32x4d()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.New()
			m, err := Load(ctx, filepath.Join(dir, tc.name+".safetensors"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Config)
			ref, err := weights.Open(filepath.Join(dir, tc.name+"_golden.safetensors"))
			require.NoError(t, err)
			defer func() { _ = ref.Close() }()
			x, xShape, err := ref.Float32s("inputs")
			require.NoError(t, err)
			xt := tensors.FromFlatDataAndDimensions(x, xShape...)
			for _, r := range []struct {
				ref   string
				prior float64
			}{{"logits", 1}, {"logits_prior094", 0.94}} {
				want, wantShape, err := ref.Float32s(r.ref)
				require.NoError(t, err)
				got := flat(context.MustExecOnce(b, ctx, func(ctx *context.Context, x *Node) *Node {
					return m.Logits(ctx, x, ForwardOpts{BNPrior: r.prior})
				}, xt))
				scale := 0.0
				for _, v := range want {
					scale = max(scale, math.Abs(float64(v)))
				}
				assertClose(t, want, got, rtol, atolScale*scale, tc.name+" "+r.ref)
				assert.Equal(t, argmaxRows(want, wantShape[1]), argmaxRows(got, wantShape[1]), "argmax "+r.ref)
			}
		})
	}
}
