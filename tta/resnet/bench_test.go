package resnet

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta/backend"
)

// BenchmarkResNet50Forward times ResNet-50 inference (random weights built in Go, plain BN) per batch, reporting
// img/s. Input: batch 8 at 224x224 on an XLA backend; on pure Go batch 1 at 64x64 (8 at 224 took 22 s per batch on
// the 2-core dev machine). RESNET_BENCH_BATCH and RESNET_BENCH_SIZE override both. Compilation (the first call) is
// timed separately and reported as compile-s.
func BenchmarkResNet50Forward(b *testing.B) {
	be, choice, err := backend.New()
	if err != nil {
		b.Fatal(err)
	}
	batch, size := 8, 224
	if choice.IsPureGo() {
		batch, size = 1, 64
	}
	if v, err := strconv.Atoi(os.Getenv("RESNET_BENCH_BATCH")); err == nil {
		batch = v
	}
	if v, err := strconv.Atoi(os.Getenv("RESNET_BENCH_SIZE")); err == nil {
		size = v
	}
	b.Logf("backend %s: %s, input [%d, %d, %d, 3]", be.Name(), choice, batch, size, size)
	m, err := New(ResNet50())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.New()
	if err := m.Init(ctx, 1); err != nil {
		b.Fatal(err)
	}
	data := make([]float32, batch*size*size*3)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	x := tensors.FromFlatDataAndDimensions(data, batch, size, size, 3)
	exec := context.MustNewExec(be, ctx, func(ctx *context.Context, x *Node) *Node {
		return m.Logits(ctx, x, ForwardOpts{})
	})
	start := time.Now()
	exec.MustExec1(x).FinalizeAll()
	compile := time.Since(start)
	b.ResetTimer()
	for range b.N {
		out := exec.MustExec1(x)
		out.ToLocal() // wait for the result on the host
		out.FinalizeAll()
	}
	b.StopTimer()
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric(compile.Seconds(), "compile-s")
}
