package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// TestDotGeneralGradientWiring checks the custom-gradient wiring of the portable DotGeneral against GoMLX's own
// DotGeneral gradient (slow on pure Go, but correct at these sizes): chained products, an output with several
// consumers, a shared input, and gradients requested w.r.t. only some inputs.
func TestDotGeneralGradientWiring(t *testing.T) {
	b := backend.MustNew()
	rng := rand.New(rand.NewPCG(7, 8))
	a, w1, w2 := randTensor(rng, 3, 4, 5), randTensor(rng, 5, 6), randTensor(rng, 6, 5)
	// loss(a, w1, w2) = sum(sin(h)) + sum(h*h) + sum(MatMul(h, w2) * a) + sum(sin(gram(w1))) where
	// h = MatMul(a, w1) and gram(w1) = w1ᵀ·w1 (the same node on both sides of a product).
	loss := func(impl Impl, a, w1, w2 *graph.Node) *graph.Node {
		h := impl.MatMul(a, w1)                                       // [3, 4, 6]
		o := impl.DotGeneral(h, []int{2}, nil, w2, []int{0}, nil)     // [3, 4, 5]
		gram := impl.DotGeneral(w1, []int{0}, nil, w1, []int{0}, nil) // [6, 6]
		return graph.Add(graph.Add(graph.ReduceAllSum(graph.Sin(h)), graph.ReduceAllSum(graph.Mul(h, h))),
			graph.Add(graph.ReduceAllSum(graph.Mul(o, a)), graph.ReduceAllSum(graph.Sin(gram))))
	}
	for _, tc := range []struct {
		name string
		wrt  []int // which of (a, w1, w2)
	}{{"all", []int{0, 1, 2}}, {"weights_only", []int{1, 2}}, {"input_only", []int{0}}, {"last_only", []int{2}}} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2][]float32
			for i, impl := range []Impl{ImplNative, ImplPortable} {
				exec := graph.MustNewExec(b, func(a, w1, w2 *graph.Node) []*graph.Node {
					in := []*graph.Node{a, w1, w2}
					l := loss(impl, a, w1, w2)
					var wrt []*graph.Node
					for _, j := range tc.wrt {
						wrt = append(wrt, in[j])
					}
					return append([]*graph.Node{l}, graph.Gradient(l, wrt...)...)
				})
				for _, r := range exec.MustExec(a, w1, w2) {
					got[i] = append(got[i], flat32(r)...)
				}
			}
			require.Len(t, got[1], len(got[0]))
			for i := range got[0] {
				require.InDelta(t, got[0][i], got[1][i], 1e-4*(1+abs32(got[0][i])), "element %d", i)
			}
		})
	}
}

func abs32(v float32) float64 {
	if v < 0 {
		return float64(-v)
	}
	return float64(v)
}

// TestPortableDecision checks the backend-capability rule on the test backend: the pure-Go backend lacks Reverse,
// Pad and SelectAndScatterMax, so it gets the portable implementations.
func TestPortableDecision(t *testing.T) {
	b := backend.MustNew()
	ops := b.Capabilities().Operations
	want := false
	for _, op := range nativeGradientOps {
		if !ops[op] {
			want = true
		}
	}
	require.Equal(t, want, Portable(b), "backend %s", b.Name())
	if b.Name() == "go" || b.Name() == "SimpleGo (go)" {
		require.True(t, Portable(b), "the pure-Go backend must use the portable path")
	}
	t.Logf("backend %q: Portable=%v", b.Name(), Portable(b))
	require.Equal(t, "auto", ImplAuto.String())
	require.Panics(t, func() {
		g := graph.NewGraph(b, "bad")
		x := graph.Parameter(g, "x", randTensor(rand.New(rand.NewPCG(1, 1)), 2, 3).Shape())
		Conv2D(x, x, ConvOpts{})
	})
}

// TestProductSameBits checks that product's row-block form of narrow products (a stem convolution's 147 x 16, an
// input gradient's 16-wide contraction) gives exactly the bits of graph.DotGeneral on the pure-Go backend.
func TestProductSameBits(t *testing.T) {
	b := backend.MustNew()
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name    string
		m, k, n int
		rc      int // rhs contracting axis: 0 for rhs [k, n], 1 for rhs [n, k]
	}{{"k147-n16", 2304, 147, 16, 0}, {"k16-n144-transposed", 1152, 16, 144, 1}, {"k144-n16", 1152, 144, 16, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			lhs := randTensor(rng, tc.m, tc.k)
			rhs := randTensor(rng, tc.k, tc.n)
			if tc.rc == 1 {
				rhs = randTensor(rng, tc.n, tc.k)
			}
			var split bool
			outs := graph.MustExecOnceN(b, func(l, r *graph.Node) []*graph.Node {
				p := product(l, []int{1}, nil, r, []int{tc.rc}, nil)
				split = p.Type() == graph.NodeTypeReshape
				return []*graph.Node{graph.DotGeneral(l, []int{1}, nil, r, []int{tc.rc}, nil), p}
			}, lhs, rhs)
			require.True(t, split, "the case must take the row-block form")
			want, got := outs[0].Value().([][]float32), outs[1].Value().([][]float32)
			require.Equal(t, want, got)
		})
	}
}
