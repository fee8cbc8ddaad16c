package clip

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeImageTrain checks the training-mode BatchNorm of the image tower (torch's model.train(); the TPT
// alignment golden test of tta/tpt compares it with PyTorch): the ViT has no BatchNorm, so it is EncodeImage; for the
// ModifiedResNet the features depend on the batch only (two runs on the same batch give the same features, while
// the running statistics have moved), and the running statistics follow torch's momentum rule, so that two updates
// with the same batch statistics b satisfy r2 - r1 = (1 - 0.1) (r1 - r0).
func TestEncodeImageTrain(t *testing.T) {
	b := be()
	t.Run("vit", func(t *testing.T) {
		m, err := Load(td("tiny_vit.safetensors"), LoadOpts{})
		require.NoError(t, err)
		data, shape := readNPY(t, "tiny_vit_images_nchw.npy")
		outs := context.MustNewExec(b, m.Ctx, func(ctx *context.Context, x *Node) (*Node, *Node) {
			return m.EncodeImage(ctx, x), m.EncodeImageTrain(ctx, x)
		}).MustExec(nchwToNHWC(data, shape))
		assert.Equal(t, tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1]))
	})
	t.Run("rn", func(t *testing.T) {
		m, err := Load(td("tiny_rn.safetensors"), LoadOpts{})
		require.NoError(t, err)
		data, shape := readNPY(t, "tiny_rn_images_nchw.npy")
		images := nchwToNHWC(data, shape)
		var stats []*context.Variable
		m.Ctx.EnumerateVariables(func(v *context.Variable) {
			if v.Name() == "running_mean" || v.Name() == "running_var" {
				stats = append(stats, v)
			}
		})
		require.NotEmpty(t, stats)
		values := func() [][]float32 {
			out := make([][]float32, len(stats))
			for i, v := range stats {
				out[i] = tensors.MustCopyFlatData[float32](v.MustValue())
			}
			return out
		}
		exec := context.MustNewExec(b, m.Ctx, func(ctx *context.Context, x *Node) *Node {
			return m.EncodeImageTrain(ctx, x)
		})
		r0 := values()
		f1 := tensors.MustCopyFlatData[float32](exec.MustExec(images)[0])
		r1 := values()
		f2 := tensors.MustCopyFlatData[float32](exec.MustExec(images)[0])
		r2 := values()
		assertClose(t, "features of the second run", f1, f2, 1e-6, 1e-6)
		inference := tensors.MustCopyFlatData[float32](context.MustNewExec(b, m.Ctx, func(ctx *context.Context, x *Node) *Node {
			return m.EncodeImage(ctx, x)
		}).MustExec(images)[0])
		assert.NotEqual(t, inference, f1, "training-mode features differ from inference-mode ones")
		moved := 0
		for i, v := range stats {
			d1, d2 := make([]float32, len(r0[i])), make([]float32, len(r0[i]))
			for j := range r0[i] {
				d1[j] = (1 - BatchNormMomentum) * (r1[i][j] - r0[i][j])
				d2[j] = r2[i][j] - r1[i][j]
				if r1[i][j] != r0[i][j] {
					moved++
				}
			}
			assertClose(t, "momentum update of "+v.ScopeAndName(), d1, d2, 1e-3, 1e-6)
		}
		assert.Positive(t, moved, "the running statistics were updated")
	})
}
