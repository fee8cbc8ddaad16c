package nn

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// timeExec returns the median wall time of reps runs of exec (after one warm-up run, which also compiles).
func timeExec(exec *graph.Exec, reps int, args ...any) time.Duration {
	exec.MustExec(args...)
	best := time.Duration(1 << 62)
	for range reps {
		start := time.Now()
		exec.MustExec(args...)
		if d := time.Since(start); d < best {
			best = d
		}
	}
	return best
}

// BenchmarkConv2D compares, on the current backend, a 3x3 convolution's portable forward + backward (gradients
// w.r.t. input and kernel) with the native forward alone, and reports the ratio of their times.
//
//	go test -bench Conv2D -run '^$' ./tta/nn
func BenchmarkConv2D(b *testing.B) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(3, 4))
	x, k := randTensor(rng, 8, 16, 16, 32), randTensor(rng, 3, 3, 32, 32)
	opts := ConvOpts{Padding: 1}
	native := graph.MustNewExec(be, func(x, k *graph.Node) *graph.Node { return ImplNative.Conv2D(x, k, opts) })
	portableFwd := graph.MustNewExec(be, func(x, k *graph.Node) *graph.Node { return ImplPortable.Conv2D(x, k, opts) })
	portable := graph.MustNewExec(be, func(x, k *graph.Node) []*graph.Node {
		y := ImplPortable.Conv2D(x, k, opts)
		loss := graph.ReduceAllSum(graph.Mul(y, y))
		return graph.Gradient(loss, x, k)
	})
	var tn, tpf, tp time.Duration
	for b.Loop() {
		tn += timeExec(native, 1, x, k)
		tpf += timeExec(portableFwd, 1, x, k)
		tp += timeExec(portable, 1, x, k)
	}
	b.ReportMetric(float64(tn.Milliseconds())/float64(b.N), "ms-native-fwd")
	b.ReportMetric(float64(tpf.Milliseconds())/float64(b.N), "ms-portable-fwd")
	b.ReportMetric(float64(tp.Milliseconds())/float64(b.N), "ms-portable-fwd+bwd")
	b.ReportMetric(float64(tp)/float64(tn), "portable-fwd+bwd/native-fwd")
	b.Logf("backend %s: native forward %v, portable forward %v, portable forward+backward %v (ratio %.2f)",
		be.Name(), tn/time.Duration(b.N), tpf/time.Duration(b.N), tp/time.Duration(b.N), float64(tp)/float64(tn))
}

var _ = require.New
var _ = tensors.FromScalar[float32]

// BenchmarkResNet18ish times a MEMO-like forward + backward (gradients w.r.t. every parameter, BN with prior
// 16/17) of a CIFAR-style ResNet-18 (widths 64-512, 2 basic blocks per stage) on [8, 32, 32, 3].
//
//	go test -bench ResNet18ish -run '^$' -benchtime 1x ./tta/nn
func BenchmarkResNet18ish(b *testing.B) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(5, 6))
	net := resnetish{widths: []int{64, 128, 256, 512}, blocks: 2, stem: 64}
	params := net.params(rng)
	x := randTensor(rng, 8, 32, 32, 3)
	exec := graph.MustNewExec(be, func(all []*graph.Node) []*graph.Node {
		return net.lossAndGrads(ImplAuto, all[0], all[1:])
	})
	args := append([]any{x}, anySlice(params)...)
	start := time.Now()
	exec.MustExec(args...)
	b.Logf("backend %s: first call (build + compile + run) %v", be.Name(), time.Since(start))
	for b.Loop() {
		exec.MustExec(args...)
	}
}
