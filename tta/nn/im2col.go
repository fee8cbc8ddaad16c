package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
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
// constant such as 0 or -inf, in x's dtype) where a window falls in the padding. Its gradient (ScatterSum) runs on
// every backend.
func gatherWindows(x *graph.Node, win windows2D, padValue float64) *graph.Node {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	flat := graph.Reshape(x, win.n*win.h*win.w, c) // [n*h*w, c]
	rows, usesPad := win.rowIndices()
	if usesPad {
		pad := graph.BroadcastToDims(graph.Scalar(g, x.DType(), padValue), 1, c)
		flat = graph.Concatenate([]*graph.Node{flat, pad}, 0) // [n*h*w + 1, c]
	}
	m := win.n * win.oh * win.ow
	idx := graph.Const(g, tensors.FromFlatDataAndDimensions(rows, len(rows), 1)) // [m*kh*kw, 1]
	cols := graph.Gather(flat, idx)                                              // [m*kh*kw, c]
	return graph.Reshape(cols, m, win.kh*win.kw, c)                              // [m, kh*kw, c]
}

// gatherRows gathers rows of x2d [r, c] into [len(rows), c]; its gradient is a ScatterSum.
func gatherRows(x2d *graph.Node, rows []int32) *graph.Node {
	idx := graph.Const(x2d.Graph(), tensors.FromFlatDataAndDimensions(rows, len(rows), 1))
	return graph.Gather(x2d, idx)
}
