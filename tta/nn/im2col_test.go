package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// TestWindowsSameBits: the im2col by Slices equals a Gather of win.rowIndices, and the stride-1 gradient by padded
// sums equals the Gather's own gradient (a ScatterSum), bit for bit, on random data with padding, strides and
// dilations (the records of a report rely on it).
func TestWindowsSameBits(t *testing.T) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ n, h, w, c, k, s, d, p int }{
		{3, 12, 12, 16, 3, 1, 1, 1}, {2, 9, 7, 5, 3, 1, 2, 2}, {2, 10, 10, 3, 7, 2, 1, 3}, {2, 8, 8, 4, 3, 2, 1, 1},
		{1, 6, 6, 8, 2, 1, 1, 0}, {2, 5, 5, 2, 1, 1, 1, 0},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			pads := [2][2]int{{tc.p, tc.p}, {tc.p, tc.p}}
			win := newWindows2D(tc.n, tc.h, tc.w, tc.k, tc.k, tc.s, tc.s, tc.d, tc.d, pads)
			m, kk := win.n*win.oh*win.ow, tc.k*tc.k
			x := randTensor(rng, tc.n, tc.h, tc.w, tc.c)
			v := randTensor(rng, m, kk*tc.c)
			gather := graph.MustNewExec(be, func(x *graph.Node) *graph.Node {
				flat := graph.Reshape(x, win.n*win.h*win.w, tc.c)
				rows, usesPad := win.rowIndices()
				if usesPad {
					flat = graph.Concatenate([]*graph.Node{flat, graph.ZerosLike(graph.Slice(flat, graph.AxisRange(0, 1)))}, 0)
				}
				return graph.Reshape(gatherRows(flat, rows), m, kk*tc.c)
			})
			slices := graph.MustNewExec(be, func(x *graph.Node) *graph.Node { return windowColumns(x, win, 0, 0) })
			requireSameBits(t, "im2col", flat32(gather.MustExec(x)[0]), flat32(slices.MustExec(x)[0]))
			scatter := graph.MustNewExec(be, func(v *graph.Node) *graph.Node { return scatterSumWindows(v, win, tc.c, 0) })
			sums := graph.MustNewExec(be, func(v *graph.Node) *graph.Node { return scatterWindows(v, win, tc.c, 0) })
			requireSameBits(t, "gradient", flat32(scatter.MustExec(v)[0]), flat32(sums.MustExec(v)[0]))
		})
	}
}

func requireSameBits(t *testing.T, what string, want, got []float32) {
	t.Helper()
	require.Equal(t, len(want), len(got), what)
	differ, first := 0, -1
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			if first < 0 {
				first = i
			}
			differ++
		}
	}
	if differ > 0 {
		t.Fatalf("%s: %d of %d values differ, the first at %d: %v, want %v", what, differ, len(want), first, got[first],
			want[first])
	}
}

// TestConvGradSameBits: the convolution's kernel gradient read from the transposed im2col matrix built by slices
// (colsProduct) has the bits of the generic product's gradient (which transposes the im2col matrix), and so do
// the output and the input gradient.
func TestConvGradSameBits(t *testing.T) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, h, c, k, s, p, out int }{
		{16, 24, 3, 7, 2, 3, 16}, {8, 12, 16, 3, 1, 1, 16}, {8, 6, 32, 3, 2, 1, 32}, {2, 5, 4, 3, 1, 0, 8},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			x := randTensor(rng, tc.n, tc.h, tc.h, tc.c)
			kern := randTensor(rng, tc.k, tc.k, tc.c, tc.out)
			opts := ConvOpts{Stride: tc.s, Padding: tc.p}
			grads := func(generic bool) *graph.Exec {
				return graph.MustNewExec(be, func(x, kern *graph.Node) []*graph.Node {
					var y *graph.Node
					if generic {
						win := newWindows2D(tc.n, tc.h, tc.h, tc.k, tc.k, tc.s, tc.s, 1, 1, [2][2]int{{tc.p, tc.p}, {tc.p, tc.p}})
						m, k := win.n*win.oh*win.ow, tc.k*tc.k*tc.c
						k2 := graph.Reshape(kern, k, tc.out)
						extra := 0
						if rowBlocks(m, k, tc.out) > 0 {
							extra = (8 - k%8) % 8
						}
						cols := windowColumns(x, win, 0, extra)
						if extra > 0 {
							k2 = graph.Concatenate([]*graph.Node{k2, graph.Zeros(x.Graph(), shapes.Make(kern.DType(), extra, tc.out))}, 0)
						}
						y = ImplPortable.DotGeneral(cols, []int{1}, nil, k2, []int{0}, nil)
					} else {
						y = ImplPortable.Conv2D(x, kern, opts)
					}
					loss := graph.ReduceAllSum(graph.Mul(y, graph.Sin(y)))
					return append([]*graph.Node{graph.Reshape(y, -1)}, graph.Gradient(loss, x, kern)...)
				})
			}
			want, got := grads(true).MustExec(x, kern), grads(false).MustExec(x, kern)
			for i, what := range []string{"output", "input gradient", "kernel gradient"} {
				requireSameBits(t, what, flat32(want[i]), flat32(got[i]))
			}
		})
	}
}
