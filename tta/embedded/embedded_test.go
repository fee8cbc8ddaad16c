package embedded

import (
	"fmt"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/weights"
)

// evalSize is the number of clean MNIST test images the accuracy tests use (the first ones).
const evalSize = 500

// TestEmbeddedWeights loads the committed files with clip.Load / resnet.Load and checks their accuracy on clean MNIST
// test: zero-shot CLIP >= 90%, ResNet >= 98% (first evalSize images).
func TestEmbeddedWeights(t *testing.T) {
	b, err := trainingBackend(nil)
	require.NoError(t, err)
	clean, err := Clean(evalSize)
	require.NoError(t, err)
	t.Run("files", func(t *testing.T) {
		total := 0
		for _, name := range []string{CLIPFile, ResNetFile} {
			data, err := Bytes(name)
			require.NoError(t, err)
			total += len(data)
			p, err := Path(name)
			require.NoError(t, err)
			st, err := os.Stat(p)
			require.NoError(t, err)
			assert.Equal(t, int64(len(data)), st.Size())
		}
		t.Logf("embedded weights: %d bytes together", total)
		assert.LessOrEqual(t, total, 5<<20)
	})
	t.Run("clip", func(t *testing.T) {
		m, tok, err := LoadCLIP(clip.LoadOpts{})
		require.NoError(t, err)
		assert.Equal(t, CLIPConfig(tok.VocabSize()).String(), m.Config.String())
		assert.Equal(t, CLIPPreprocess(), m.Preprocess(), "clip.Model.Preprocess is the embedded preprocessing")
		assert.Equal(t, augment.CLIP(InputSize), CLIPPreprocess())
		tok2, err := Tokenizer()
		require.NoError(t, err)
		assert.Equal(t, NewTokenizer(VocabularyWords()).Vocabulary(), tok2.Vocabulary())
		acc, err := CLIPAccuracy(b, m, tok, clean, evalSize, []string{DefaultTemplate})
		require.NoError(t, err)
		accEns, err := CLIPAccuracy(b, m, tok, clean, evalSize, EnsembleTemplates())
		require.NoError(t, err)
		t.Logf("embedded CLIP zero-shot accuracy on %d clean MNIST test images: %.2f%% (default prompt), %.2f%% (ensemble)",
			evalSize, 100*acc, 100*accEns)
		assert.GreaterOrEqual(t, acc, 0.90)
		assert.GreaterOrEqual(t, accEns, 0.90)
	})
	t.Run("resnet", func(t *testing.T) {
		ctx := context.New()
		m, err := LoadResNet(ctx)
		require.NoError(t, err)
		assert.Equal(t, ResNetConfig(), m.Config)
		// Non-trivial BN running statistics.
		f, err := weights.Open(mustPath(t, ResNetFile))
		require.NoError(t, err)
		defer func() { _ = f.Close() }()
		l := weights.NewLoader(f)
		rm, err := l.Take("bn1.running_mean", []int{16}, dtypes.Float32)
		require.NoError(t, err)
		width := ResNetConfig().Planes[3]
		rv, err := l.Take("layer4.0.bn2.running_var", []int{width}, dtypes.Float32)
		require.NoError(t, err)
		assert.NotEqual(t, make([]float32, 16), tensors.MustCopyFlatData[float32](rm))
		ones := make([]float32, width)
		for i := range ones {
			ones[i] = 1
		}
		assert.NotEqual(t, ones, tensors.MustCopyFlatData[float32](rv))
		acc, err := ResNetAccuracy(b, ctx, m, clean, evalSize)
		require.NoError(t, err)
		t.Logf("embedded ResNet accuracy on %d clean MNIST test images: %.2f%%", evalSize, 100*acc)
		assert.GreaterOrEqual(t, acc, 0.98)
		assert.Equal(t, fmt.Sprint(ResNetInputSize), f.Metadata()["image_size"], "metadata states the ResNet's input size")
		assert.Equal(t, ResNetInputSize, ResNetPreprocess().Size)
	})
	// MEMO's prediction: one image alone, BN with the prior (batch statistics of that image mixed into the running
	// ones). At ResNetInputSize layer4's map is 2x2, so the batch statistics exist; the predictions must stay close
	// to plain inference (prior 16/17, the original MEMO's N/(N+1) for N = 16).
	t.Run("single image with BN prior", func(t *testing.T) {
		const n = 40
		ctx := context.New()
		m, err := LoadResNet(ctx)
		require.NoError(t, err)
		exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
			return graph.ArgMax(m.Logits(ctx, x, resnet.ForwardOpts{BNPrior: 16.0 / 17}), 1, dtypes.Int32) // [1]
		})
		require.NoError(t, err)
		correct := 0
		for i := range n {
			x, labels, err := imageBatch(clean, []int{i}, ResNetPreprocess()) // [1, 36, 36, 3]
			require.NoError(t, err)
			var pred []int32
			require.NoError(t, tryExec(func() { pred = tensors.MustCopyFlatData[int32](exec.MustExec(x)[0]) }),
				"example %d", i)
			if pred[0] == labels[0] {
				correct++
			}
		}
		t.Logf("embedded ResNet, one image at a time with BN prior 16/17: %d/%d correct", correct, n)
		assert.GreaterOrEqual(t, float64(correct)/n, 0.9)
	})
}

func mustPath(t *testing.T, name string) string {
	p, err := Path(name)
	require.NoError(t, err)
	return p
}

// TestShiftDropsAccuracy evaluates both embedded models on the shifted test set (DefaultSeverity, 100 images per
// corruption; all corruptions in the long mode) and checks that the mean accuracy under shift is below the clean
// accuracy. The accuracies are reported in the test log.
func TestShiftDropsAccuracy(t *testing.T) {
	const n = 100
	b, err := trainingBackend(nil)
	require.NoError(t, err)
	m, tok, err := LoadCLIP(clip.LoadOpts{})
	require.NoError(t, err)
	ctx := context.New()
	rn, err := LoadResNet(ctx)
	require.NoError(t, err)
	names := []string{"fog", "zigzag", "canny_edges", "glass_blur"}
	if !testing.Short() && os.Getenv("GOTTA_EMBEDDED_ALL_SHIFTS") == "1" {
		names = DefaultCorruptions()
	}
	eval := func(name string) (float64, float64) {
		ds, err := Clean(n)
		if name != "" {
			ds, err = ShiftedMNIST(name, DefaultSeverity, n, DefaultShiftSeed)
		}
		require.NoError(t, err)
		ca, err := CLIPAccuracy(b, m, tok, ds, n, []string{DefaultTemplate})
		require.NoError(t, err)
		ra, err := ResNetAccuracy(b, ctx, rn, ds, n)
		require.NoError(t, err)
		return ca, ra
	}
	cleanCLIP, cleanResNet := eval("")
	t.Logf("%-14s CLIP %6.1f%%  ResNet %6.1f%%", "clean", 100*cleanCLIP, 100*cleanResNet)
	var sumCLIP, sumResNet float64
	for _, name := range names {
		ca, ra := eval(name)
		t.Logf("%-14s CLIP %6.1f%%  ResNet %6.1f%%  (severity %d, %d images)", name, 100*ca, 100*ra, DefaultSeverity, n)
		sumCLIP += ca
		sumResNet += ra
	}
	k := float64(len(names))
	t.Logf("%-14s CLIP %6.1f%%  ResNet %6.1f%%", "mean shifted", 100*sumCLIP/k, 100*sumResNet/k)
	assert.Less(t, sumCLIP/k, cleanCLIP)
	assert.Less(t, sumResNet/k, cleanResNet)
}
