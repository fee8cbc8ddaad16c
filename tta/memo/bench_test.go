package memo

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// benchSetup is the benchmarks' model and views: ResNet-50 (random weights) on 64 views of 224x224 on an XLA
// backend; on pure Go (or with MEMO_BENCH_TINY=1) a tiny Bottleneck ResNet (stem 16, planes 16-128, groups 2) on
// 8 views of 64x64 (the last stage keeps 2x2 positions, so view 0 alone has batch statistics), which finishes in
// seconds. MEMO_BENCH_VIEWS and MEMO_BENCH_SIZE override the views and size.
func benchSetup(b *testing.B) (*context.Context, *resnet.Model, *tensors.Tensor, bool) {
	be, choice, err := backend.New()
	if err != nil {
		b.Fatal(err)
	}
	tiny := choice.IsPureGo() || os.Getenv("MEMO_BENCH_TINY") == "1"
	cfg, views, size := resnet.ResNet50(), 64, 224
	if tiny {
		cfg = resnet.Config{Block: resnet.Bottleneck, Layers: [4]int{2, 1, 1, 1}, Groups: 2, WidthPerGroup: 4,
			NumClasses: 1000, StemWidth: 16, Planes: [4]int{16, 32, 64, 128}, Widths: [4]int{2, 4, 8, 16}}
		views, size = 8, 64
	}
	if v, err := strconv.Atoi(os.Getenv("MEMO_BENCH_VIEWS")); err == nil {
		views = v
	}
	if v, err := strconv.Atoi(os.Getenv("MEMO_BENCH_SIZE")); err == nil {
		size = v
	}
	b.Logf("backend %s (%s); model %s; %d views of %dx%d", be.Name(), choice, cfg, views, size, size)
	m, err := resnet.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.New()
	if err := m.Init(ctx, 1); err != nil {
		b.Fatal(err)
	}
	data := make([]float32, views*size*size*3)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	return ctx, m, tensors.FromFlatDataAndDimensions(data, views, size, size, 3), tiny
}

// benchAdapter times Reset + Adapt per example (ms/example), the first call (compilation) reported separately.
func benchAdapter(b *testing.B, opts Options) {
	ctx, m, x, _ := benchSetup(b)
	a, err := New(backend.MustNew(), ctx, m, opts)
	if err != nil {
		b.Fatal(err)
	}
	v := &tta.Views{ExampleID: "bench", Images: x}
	run := func(i int) {
		v.ExampleID = "bench" + strconv.Itoa(i)
		if err := a.Reset(); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Adapt(v); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	run(-1)
	compile := time.Since(start)
	b.ResetTimer()
	for i := range b.N {
		run(i)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/example")
	b.ReportMetric(compile.Seconds(), "first-call-s")
}

// BenchmarkMEMOStep: one MEMO step (SGD, all parameters, prior 16/17, all views) and the view-0 prediction.
func BenchmarkMEMOStep(b *testing.B) { benchAdapter(b, PaperOptions()) }

// BenchmarkCropEnsemble: the mean softmax of the top-10% views (no gradient).
func BenchmarkCropEnsemble(b *testing.B) { benchAdapter(b, Options{Mode: CropEnsemble, Select: 0.1}) }

// BenchmarkMCDropout: the trunk once on view 0, dropout + pool + head for as many samples as views.
func BenchmarkMCDropout(b *testing.B) { benchAdapter(b, Options{Mode: MCDropout, Select: 0.1}) }
