package memo

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/embedded"
)

// TestPrecompile: compiling MEMO's executables up front (concurrently) executes nothing: an adapted example gives
// the same logits and loss as with an adapter that compiles on first use; a shape the model cannot take is an error.
func TestPrecompile(t *testing.T) {
	b := backend.MustNew()
	const n, size = 6, embedded.ResNetInputSize
	data := make([]float32, n*size*size*3)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	run := func(precompile bool) *tta.Prediction {
		ctx := context.New()
		m, err := embedded.LoadResNet(ctx)
		require.NoError(t, err)
		a, err := New(b, ctx, m, Options{Select: 0.5, Prior: SeedPrior, Optimizer: SeedOptimizer()})
		require.NoError(t, err)
		if precompile {
			d, err := a.Precompile(n, size)
			require.NoError(t, err)
			assert.Positive(t, d)
			t.Logf("precompile of the step and the prediction: %v", d)
		}
		require.NoError(t, a.Reset())
		p, err := a.Adapt(&tta.Views{ExampleID: "x", Images: tensors.FromFlatDataAndDimensions(data, n, size, size, 3)})
		require.NoError(t, err)
		return p
	}
	lazy, pre := run(false), run(true)
	assert.Equal(t, lazy.Logits, pre.Logits)
	assert.Equal(t, lazy.Steps[0].Loss, pre.Steps[0].Loss)

	ctx := context.New()
	m, err := embedded.LoadResNet(ctx)
	require.NoError(t, err)
	a, err := New(b, ctx, m, Options{})
	require.NoError(t, err)
	_, err = a.Precompile(n, 0)
	assert.Error(t, err, "a 0x0 image")
}
