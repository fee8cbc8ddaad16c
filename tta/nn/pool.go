package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// poolWindows checks the arguments of a 2-D pooling and returns its windows.
func poolWindows(name string, x *graph.Node, window, stride, padding int) windows2D {
	if x.Rank() != 4 {
		panicf("nn.%s: x must be [batch, height, width, channels], got %s", name, x.Shape())
	}
	if window < 1 || stride < 1 || padding < 0 || 2*padding > window {
		panicf("nn.%s: invalid window %d, stride %d, padding %d (PyTorch needs padding <= window/2) for x %s",
			name, window, stride, padding, x.Shape())
	}
	d := x.Shape().Dimensions
	pads := [2][2]int{{padding, padding}, {padding, padding}}
	win := newWindows2D(d[0], d[1], d[2], window, window, stride, stride, 1, 1, pads)
	if win.oh < 1 || win.ow < 1 {
		panicf("nn.%s: x %s is too small for window %d, padding %d", name, x.Shape(), window, padding)
	}
	return win
}

// MaxPool2D is PyTorch's nn.MaxPool2d(window, stride, padding) (ceil_mode=False, dilation 1; padding is -inf)
// with ImplAuto: x [batch, height, width, channels] -> [batch, outHeight, outWidth, channels], outHeight =
// floor((height + 2*padding - window) / stride) + 1.
func MaxPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	return ImplAuto.MaxPool2D(x, window, stride, padding)
}

// MaxPool2D is MaxPool2D with the implementation impl. The portable gradient goes, per window, to the first
// maximal element in row-major window order, as PyTorch's CPU kernel does with ties.
func (impl Impl) MaxPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	win := poolWindows("MaxPool2D", x, window, stride, padding)
	if !impl.portableFor(x) {
		return graph.MaxPool(x).Window(window).Strides(stride).
			PaddingPerDim([][2]int{{padding, padding}, {padding, padding}}).Done()
	}
	c := x.Shape().Dimensions[3]
	cols := gatherWindows(x, win, math.Inf(-1)) // [m, kk, c]
	m, kk := win.n*win.oh*win.ow, window*window
	// The value is the window's maximum; the gradient goes to the window's first maximal element (a custom
	// gradient built in the reverse pass only: GoMLX's ReduceMax gradient would go to every tied element). The
	// forward pass is one reduction where a one-hot selection with a Where and a sum took seven passes over cols.
	var v *graph.Node
	ic := graph.IdentityWithCustomGradient(cols, func(_, _ *graph.Node) *graph.Node {
		if v == nil {
			panicf("nn: internal error, the max-pool gradient was requested before its output's")
		}
		sc := graph.StopGradient(cols)
		first := graph.Reshape(graph.ArgMax(sc, 1, dtypes.Int32), m, 1, c)   // [m, 1, c]
		pos := graph.Iota(x.Graph(), shapes.Make(dtypes.Int32, 1, kk, 1), 1) // [1, kk, 1]
		sel := graph.Equal(graph.BroadcastToDims(first, m, kk, c), graph.BroadcastToDims(pos, m, kk, c))
		vb := graph.BroadcastToDims(graph.Reshape(v, m, 1, c), m, kk, c)
		return graph.Where(sel, vb, graph.ZerosLike(vb)) // [m, kk, c]
	})
	link := zeroLink(firstElement(ic))
	out := graph.ReduceMax(graph.StopGradient(ic), 1) // [m, c]
	out = graph.Where(graph.Const(x.Graph(), false), graph.Add(out, link), out)
	out = graph.IdentityWithCustomGradient(out, func(_, vy *graph.Node) *graph.Node {
		v = vy
		return vy
	})
	return graph.Reshape(out, win.n, win.oh, win.ow, c)
}

// AvgPool2D is PyTorch's nn.AvgPool2d(window, stride, padding) with count_include_pad=True and ceil_mode=False,
// with ImplAuto: every window sum is divided by window*window, padding counted as zeros.
// x [batch, height, width, channels] -> [batch, outHeight, outWidth, channels].
func AvgPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	return ImplAuto.AvgPool2D(x, window, stride, padding)
}

// AvgPool2D is AvgPool2D with the implementation impl.
func (impl Impl) AvgPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	win := poolWindows("AvgPool2D", x, window, stride, padding)
	area := float64(window * window)
	if !impl.portableFor(x) {
		sum := graph.SumPool(x).Window(window).Strides(stride).
			PaddingPerDim([][2]int{{padding, padding}, {padding, padding}}).Done()
		return graph.DivScalar(sum, area)
	}
	c := x.Shape().Dimensions[3]
	if padding == 0 && window == stride && win.h%window == 0 && win.w%window == 0 {
		// Non-overlapping windows tiling the image (CLIP's AvgPool2d(stride)): a reshape and a sum.
		t := graph.Reshape(x, win.n, win.oh, window, win.ow, window, c) // [n, oh, window, ow, window, c]
		return graph.DivScalar(graph.ReduceSum(t, 2, 4), area)          // [n, oh, ow, c]
	}
	cols := gatherWindows(x, win, 0) // [m, kk, c]
	out := graph.DivScalar(graph.ReduceSum(cols, 1), area)
	return graph.Reshape(out, win.n, win.oh, win.ow, c)
}

// GlobalAvgPool averages over the spatial axes: x [batch, height, width, channels] -> [batch, channels].
func GlobalAvgPool(x *graph.Node) *graph.Node {
	if x.Rank() != 4 {
		panicf("nn.GlobalAvgPool: x must be [batch, height, width, channels], got %s", x.Shape())
	}
	return graph.ReduceMean(x, 1, 2)
}
