package memo

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/embedded"
)

// BenchmarkEmbeddedSeedMEMOTopK times the report's hot path on pure Go: the seed's MEMO top-k step (64 views, top
// 10%, SGD 5e-3, BN prior 0.94) and prediction on the embedded ResNet (ResNetInputSize, 36x36): about 275 ms per
// example on the 2-core machine. Its CPU profile is GoMLX's DotGeneral kernels (im2col convolutions and their
// gradients), about 60%: the small-problem kernel alone 44%.
func BenchmarkEmbeddedSeedMEMOTopK(b *testing.B) {
	ctx := context.New()
	m, err := embedded.LoadResNet(ctx)
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(backend.MustNew(), ctx, m, Options{Select: 0.1, Prior: SeedPrior, Optimizer: SeedOptimizer()})
	if err != nil {
		b.Fatal(err)
	}
	const sz = embedded.ResNetInputSize
	data := make([]float32, 64*sz*sz*3)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	v := &tta.Views{ExampleID: "bench", Images: tensors.FromFlatDataAndDimensions(data, 64, sz, sz, 3)}
	run := func(i int) {
		v.ExampleID = "bench" + strconv.Itoa(i)
		if err := a.Reset(); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Adapt(v); err != nil {
			b.Fatal(err)
		}
	}
	run(-1)
	b.ResetTimer()
	for i := range b.N {
		run(i)
	}
}
