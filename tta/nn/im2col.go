package nn

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// windows2D describes the sliding windows of a 2-D convolution or pooling over an NHWC input.
type windows2D struct {
	n, h, w int       // input batch, height, width
	kh, kw  int       // window (kernel) height and width
	sh, sw  int       // strides
	dh, dw  int       // dilations
	pads    [2][2]int // {{top, bottom}, {left, right}}
	oh, ow  int       // output height and width
}

// outSize is PyTorch's (floor) output size of a window op along one axis.
func outSize(in, k, stride, dil int, pad [2]int) int {
	eff := dil*(k-1) + 1
	return (in+pad[0]+pad[1]-eff)/stride + 1
}

func newWindows2D(n, h, w, kh, kw, sh, sw, dh, dw int, pads [2][2]int) windows2D {
	return windows2D{n: n, h: h, w: w, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw, pads: pads,
		oh: outSize(h, kh, sh, dh, pads[0]), ow: outSize(w, kw, sw, dw, pads[1])}
}

// rowIndices returns, for every output position and window element, the row of the input flattened to
// [n*h*w, channels] that the window element reads, or n*h*w (the padding row) when it falls in the padding.
// The result is laid out [n, oh, ow, kh, kw] (flat), and usesPad tells whether the padding row is referenced.
func (win windows2D) rowIndices() (rows []int32, usesPad bool) {
	padRow := int32(win.n * win.h * win.w)
	rows = make([]int32, 0, win.n*win.oh*win.ow*win.kh*win.kw)
	for b := 0; b < win.n; b++ {
		for oy := 0; oy < win.oh; oy++ {
			for ox := 0; ox < win.ow; ox++ {
				for i := 0; i < win.kh; i++ {
					iy := oy*win.sh - win.pads[0][0] + i*win.dh
					for j := 0; j < win.kw; j++ {
						ix := ox*win.sw - win.pads[1][0] + j*win.dw
						if iy < 0 || iy >= win.h || ix < 0 || ix >= win.w {
							rows = append(rows, padRow)
							usesPad = true
							continue
						}
						rows = append(rows, int32((b*win.h+iy)*win.w+ix))
					}
				}
			}
		}
	}
	return rows, usesPad
}

// gatherWindows returns the windows of x [n, h, w, c] as [n*oh*ow, kh*kw, c], reading padValue (a scalar
// constant such as 0 or -inf, in x's dtype) where a window falls in the padding: windowColumns reshaped.
func gatherWindows(x *graph.Node, win windows2D, padValue float64) *graph.Node {
	c := x.Shape().Dimensions[3]
	return graph.Reshape(windowColumns(x, win, padValue, 0), win.n*win.oh*win.ow, win.kh*win.kw, c)
}

// windowColumns returns the im2col matrix of x [n, h, w, c]: [n*oh*ow, kh*kw*c + extra], row (b, oy, ox) holding
// the window at that output position in (kernel row, kernel column, channel) order, padValue where the window
// falls in the padding, followed by extra zero columns (a matrix product pads its contracted axis with them).
//
// The pure-Go backend gathers element by element, so the forward pass is built from kh*kw strided Slices of x
// (padded by Concatenate) and one Concatenate of them, about twice as fast as a Gather of the same values (the
// embedded ResNet's stem on 64 views: 46 ms -> 22 ms). Slice's gradient in GoMLX v0.26.0 is a Pad, which that
// backend lacks, so the gradient is set here (a custom gradient, as in withVJP2): the ScatterSum of the columns'
// gradient into the rows of x (flattened, plus the padding row) that a Gather with win.rowIndices would have read,
// the very ops of the Gather's own gradient, so it has the same bits.
func windowColumns(x *graph.Node, win windows2D, padValue float64, extra int) *graph.Node {
	cols, _ := windowColumnsAndT(x, win, padValue, extra)
	return cols
}

// windowColumnsAndT is windowColumns and a function that builds, in the graph, the transposed matrix
// [kh*kw*c + extra, m] of the same values (without gradient) by strided Slices of the channel-major padded input:
// the layout of a weight gradient's operand on the backend's plain kernel, made about twice as fast as a Transpose
// of the [m, kh*kw*c + extra] matrix.
func windowColumnsAndT(x *graph.Node, win windows2D, padValue float64, extra int) (*graph.Node, func() *graph.Node) {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	m := win.n * win.oh * win.ow
	var v *graph.Node
	ix := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		if v == nil {
			panicf("nn: internal error, the gradient of the im2col input was requested before its output's")
		}
		return scatterWindows(v, win, c, extra)
	})
	link := zeroLink(firstElement(ix))
	xp := ix // padded below, then stopped: the Slices must not be differentiated (GoMLX would build Pads)
	xp = padAxis(xp, 1, win.pads[0][0], win.pads[0][1], padValue)
	xp = padAxis(xp, 2, win.pads[1][0], win.pads[1][1], padValue)
	xp = graph.StopGradient(xp)
	parts := make([]*graph.Node, 0, win.kh*win.kw+1)
	for i := range win.kh {
		for j := range win.kw {
			y0, x0 := i*win.dh, j*win.dw
			part := graph.Slice(xp, graph.AxisRange(),
				graph.AxisRange(y0, y0+(win.oh-1)*win.sh+1).Stride(win.sh),
				graph.AxisRange(x0, x0+(win.ow-1)*win.sw+1).Stride(win.sw), graph.AxisRange()) // [n, oh, ow, c]
			parts = append(parts, graph.Reshape(part, m, c))
		}
	}
	// The link makes the result depend on ix (so that the reverse pass reaches ix's custom gradient) without
	// changing a value, not even the sign of a zero: a Where on a false constant, on one [m, c] part.
	parts[0] = graph.Where(graph.Const(g, false), graph.Add(parts[0], link), parts[0])
	if extra > 0 {
		parts = append(parts, graph.Zeros(g, shapes.Make(x.DType(), m, extra)))
	}
	cols := graph.Concatenate(parts, 1) // [m, kh*kw*c + extra]
	colsT := func() *graph.Node {
		xt := graph.TransposeAllAxes(xp, 3, 0, 1, 2) // [c, n, hp, wp]
		parts := make([]*graph.Node, 0, win.kh*win.kw+1)
		for i := range win.kh {
			for j := range win.kw {
				y0, x0 := i*win.dh, j*win.dw
				part := graph.Slice(xt, graph.AxisRange(), graph.AxisRange(),
					graph.AxisRange(y0, y0+(win.oh-1)*win.sh+1).Stride(win.sh),
					graph.AxisRange(x0, x0+(win.ow-1)*win.sw+1).Stride(win.sw)) // [c, n, oh, ow]
				parts = append(parts, graph.Reshape(part, c, m))
			}
		}
		if extra > 0 {
			parts = append(parts, graph.Zeros(g, shapes.Make(x.DType(), extra, m)))
		}
		return graph.Concatenate(parts, 0) // [kh*kw*c + extra, m]
	}
	return graph.IdentityWithCustomGradient(cols, func(_, vy *graph.Node) *graph.Node {
		v = vy
		return vy
	}), colsT
}

// scatterWindows is windowColumns' gradient: v [m, kh*kw*c + extra] -> [n, h, w, c], each window element's
// gradient added to the input element it read (padding reads dropped).
func scatterWindows(v *graph.Node, win windows2D, c, extra int) *graph.Node {
	if win.sh == 1 && win.sw == 1 {
		return addWindows(v, win, c)
	}
	return scatterSumWindows(v, win, c, extra)
}

// scatterSumWindows is scatterWindows by a ScatterSum into the rows of x (flattened, plus the padding row) that
// a Gather with win.rowIndices reads: the ops of GoMLX's own Gather gradient.
func scatterSumWindows(v *graph.Node, win windows2D, c, extra int) *graph.Node {
	g := v.Graph()
	m, kk := win.n*win.oh*win.ow, win.kh*win.kw
	if extra > 0 {
		v = graph.Slice(v, graph.AxisRange(), graph.AxisRange(0, kk*c))
	}
	rows, usesPad := win.rowIndices()
	nRows := win.n * win.h * win.w
	if usesPad {
		nRows++ // the padding row
	}
	idx := graph.Const(g, tensors.FromFlatDataAndDimensions(rows, len(rows), 1)) // [m*kk, 1]
	d := graph.ScatterSum(graph.Zeros(g, shapes.Make(v.DType(), nRows, c)), idx, graph.Reshape(v, m*kk, c),
		false, false) // [nRows, c]
	if usesPad {
		d = graph.Slice(d, graph.AxisRange(0, nRows-1), graph.AxisRange())
	}
	return graph.Reshape(d, win.n, win.h, win.w, c)
}

// gatherRows gathers rows of x2d [r, c] into [len(rows), c]; its gradient is a ScatterSum.
func gatherRows(x2d *graph.Node, rows []int32) *graph.Node {
	idx := graph.Const(x2d.Graph(), tensors.FromFlatDataAndDimensions(rows, len(rows), 1))
	return graph.Gather(x2d, idx)
}

// addWindows is scatterWindows for stride 1, without the element-by-element ScatterSum (about half the time on
// the pure-Go backend): the [n, oh, ow, c] gradient of each window element, zero-padded by Concatenate to the
// padded input's size at its offset, summed, and the padding cropped. A ScatterSum adds the contributions to an
// input element in the order of the output positions that read it, that is of descending window elements (i, j),
// starting from zero; the sum here runs in that order from the last window element, adding the padding's zeros
// between them (x + 0 = x), so it has the same bits.
func addWindows(v *graph.Node, win windows2D, c int) *graph.Node {
	hp, wp := win.h+win.pads[0][0]+win.pads[0][1], win.w+win.pads[1][0]+win.pads[1][1]
	var acc *graph.Node
	for i := win.kh - 1; i >= 0; i-- {
		for j := win.kw - 1; j >= 0; j-- {
			e := i*win.kw + j
			t := graph.Slice(v, graph.AxisRange(), graph.AxisRange(e*c, (e+1)*c))
			t = graph.Reshape(t, win.n, win.oh, win.ow, c)
			y0, x0 := i*win.dh, j*win.dw
			t = padAxis(t, 1, y0, hp-y0-win.oh, 0)
			t = padAxis(t, 2, x0, wp-x0-win.ow, 0)
			if acc == nil {
				acc = t
			} else {
				acc = graph.Add(acc, t)
			}
		}
	}
	if win.pads == ([2][2]int{}) {
		return acc
	}
	return graph.Slice(acc, graph.AxisRange(), graph.AxisRange(win.pads[0][0], win.pads[0][0]+win.h),
		graph.AxisRange(win.pads[1][0], win.pads[1][0]+win.w), graph.AxisRange())
}

// padAxis pads x with before and after entries of value (a constant in x's dtype) along axis, by Concatenate (the
// pure-Go backend has no Pad op); x itself when both are 0.
func padAxis(x *graph.Node, axis, before, after int, value float64) *graph.Node {
	if before <= 0 && after <= 0 {
		return x
	}
	block := func(size int) *graph.Node {
		dims := slices.Clone(x.Shape().Dimensions)
		dims[axis] = size
		return graph.BroadcastPrefix(graph.Scalar(x.Graph(), x.DType(), value), dims...) // a fast repeat, unlike BroadcastToDims
	}
	var parts []*graph.Node
	if before > 0 {
		parts = append(parts, block(before))
	}
	parts = append(parts, x)
	if after > 0 {
		parts = append(parts, block(after))
	}
	return graph.Concatenate(parts, axis)
}
