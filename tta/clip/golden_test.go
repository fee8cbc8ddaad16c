package clip

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/require"
)

// Tolerances of the golden comparisons against OpenAI's model.py (float32 on both sides).
const (
	goldenRTol = 1e-4
	goldenATol = 1e-5
)

func td(name string) string { return filepath.Join("testdata", name) }

// readNPY reads a float32 .npy from testdata.
func readNPY(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	data, shape, err := weights.ReadNPYFloat32(td(name))
	require.NoError(t, err)
	return data, shape
}

// readTokens reads an int64 .npy of token ids from testdata as an int32 tensor.
func readTokens(t *testing.T, name string) *tensors.Tensor {
	t.Helper()
	n, err := weights.ReadNPY(td(name))
	require.NoError(t, err)
	ids := n.Data.([]int64)
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return tensors.FromFlatDataAndDimensions(out, n.Shape...)
}

// nchwToNHWC converts a float32 NCHW buffer to NHWC.
func nchwToNHWC(data []float32, shape []int) *tensors.Tensor {
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(data))
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					out[((b*h+y)*w+x)*c+ch] = data[((b*c+ch)*h+y)*w+x]
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, h, w, c)
}

// assertClose checks |got-want| <= atol + rtol*|want| element-wise.
func assertClose(t *testing.T, what string, want, got []float32, rtol, atol float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", what)
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		lim := atol + rtol*math.Abs(float64(want[i]))
		if d-lim > worst || (at < 0 && d > lim) {
			worst, at = d-lim, i
		}
	}
	if at >= 0 {
		t.Fatalf("%s: element %d: got %g, want %g (rtol %g, atol %g)", what, at, got[at], want[at], rtol, atol)
	}
}

var testBackend backends.Backend

func be() backends.Backend {
	if testBackend == nil {
		testBackend = backend.MustNew()
	}
	return testBackend
}

// features runs EncodeImage, EncodeText and Logits of m on images [N,R,R,3] and tokens [T,L].
func features(t *testing.T, m *Model, images, tokens *tensors.Tensor) (img, txt, logits []float32) {
	t.Helper()
	exec, err := context.NewExec(be(), m.Ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		i := m.EncodeImage(ctx, images)
		x := m.EncodeText(ctx, tokens)
		return []*Node{i, x, m.Logits(ctx, i, x)}
	})
	require.NoError(t, err)
	outs, err := exec.Exec(images, tokens)
	require.NoError(t, err)
	return tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1]),
		tensors.MustCopyFlatData[float32](outs[2])
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, file, ref string }{
		{"RN-f16", "tiny_rn.safetensors", "tiny_rn"},
		{"ViT", "tiny_vit.safetensors", "tiny_vit"},
		{"ViT-HF", "tiny_vit_hf.safetensors", "tiny_vit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(td(tc.file), LoadOpts{})
			require.NoError(t, err)
			imgData, imgShape := readNPY(t, tc.ref+"_images_nchw.npy")
			images := nchwToNHWC(imgData, imgShape)
			tokens := readTokens(t, tc.ref+"_tokens.npy")
			img, txt, logits := features(t, m, images, tokens)
			wantImg, _ := readNPY(t, tc.ref+"_image_features.npy")
			wantTxt, _ := readNPY(t, tc.ref+"_text_features.npy")
			wantLogits, _ := readNPY(t, tc.ref+"_logits.npy")
			assertClose(t, "image features", wantImg, img, goldenRTol, goldenATol)
			assertClose(t, "text features", wantTxt, txt, goldenRTol, goldenATol)
			assertClose(t, "logits", wantLogits, logits, goldenRTol, goldenATol)
		})
	}
}

// TestGoldenGradients checks the gradients the adapters need against torch autograd through OpenAI's model.py:
// d/d(token embeddings) of sum(EncodeTextEmbeddings * w) (TPT) and d/d(images) of sum(EncodeImage * w) (image
// alignment), on the pure-Go backend too.
func TestGoldenGradients(t *testing.T) {
	for _, ref := range []string{"tiny_rn", "tiny_vit"} {
		t.Run(ref, func(t *testing.T) {
			m, err := Load(td(ref+".safetensors"), LoadOpts{})
			require.NoError(t, err)
			imgData, imgShape := readNPY(t, ref+"_images_nchw.npy")
			wt, wtShape := readNPY(t, ref+"_grad_weights_text.npy")
			wi, wiShape := readNPY(t, ref+"_grad_weights_image.npy")
			exec, err := context.NewExec(be(), m.Ctx, func(ctx *context.Context, images, tokens, wText, wImage *Node) []*Node {
				emb := m.TokenEmbedding(ctx, tokens)
				eot := graph.ArgMax(tokens, -1, dtypes.Int32)
				lossText := graph.ReduceAllSum(graph.Mul(m.EncodeTextEmbeddings(ctx, emb, eot), wText))
				lossImage := graph.ReduceAllSum(graph.Mul(m.EncodeImage(ctx, images), wImage))
				return []*Node{graph.Gradient(lossText, emb)[0], graph.Gradient(lossImage, images)[0]}
			})
			require.NoError(t, err)
			outs, err := exec.Exec(nchwToNHWC(imgData, imgShape), readTokens(t, ref+"_tokens.npy"),
				tensors.FromFlatDataAndDimensions(wt, wtShape...), tensors.FromFlatDataAndDimensions(wi, wiShape...))
			require.NoError(t, err)
			// atol is relative to the largest gradient entry (the RN image gradient is ~1e-6 in size).
			wantEmb, _ := readNPY(t, ref+"_grad_token_embeddings.npy")
			assertClose(t, "d/d(token embeddings)", wantEmb, tensors.MustCopyFlatData[float32](outs[0]), goldenRTol,
				goldenATol*maxAbs(wantEmb))
			wantImg, wantShape := readNPY(t, ref+"_grad_images_nchw.npy")
			assertClose(t, "d/d(images)", tensors.MustCopyFlatData[float32](nchwToNHWC(wantImg, wantShape)),
				tensors.MustCopyFlatData[float32](outs[1]), goldenRTol, goldenATol*maxAbs(wantImg))
		})
	}
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
