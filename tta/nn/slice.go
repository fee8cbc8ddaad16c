package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// SliceAxis returns x[..., start:end, ...] along axis, with ImplAuto. Negative axis, start and end count from the
// end as in Python; the result has end-start elements on axis. Its portable gradient runs on every backend.
func SliceAxis(x *graph.Node, axis, start, end int) *graph.Node {
	return ImplAuto.SliceAxis(x, axis, start, end, 1)
}

// SliceAxisStrided returns x[..., start:end:stride, ...] along axis, with ImplAuto (stride >= 1).
func SliceAxisStrided(x *graph.Node, axis, start, end, stride int) *graph.Node {
	return ImplAuto.SliceAxis(x, axis, start, end, stride)
}

// SliceAxis is SliceAxisStrided with the implementation impl.
func (impl Impl) SliceAxis(x *graph.Node, axis, start, end, stride int) *graph.Node {
	rank := x.Rank()
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panicf("nn.SliceAxis: axis out of range for x %s", x.Shape())
	}
	dims := x.Shape().Dimensions
	d := dims[axis]
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if stride < 1 || start < 0 || end > d || start >= end {
		panicf("nn.SliceAxis: invalid range [%d:%d:%d] on axis %d of x %s", start, end, stride, axis, x.Shape())
	}
	if start == 0 && end == d && stride == 1 {
		return x
	}
	if !impl.portableFor(x) {
		return graph.SliceAxis(x, axis, graph.AxisRange(start, end).Stride(stride))
	}
	pre, post := 1, 1
	for i := 0; i < axis; i++ {
		pre *= dims[i]
	}
	for i := axis + 1; i < rank; i++ {
		post *= dims[i]
	}
	var rows []int32
	for p := 0; p < pre; p++ {
		for i := start; i < end; i += stride {
			rows = append(rows, int32(p*d+i))
		}
	}
	out := gatherRows(graph.Reshape(x, pre*d, post), rows) // [pre*n, post]
	newDims := append([]int(nil), dims...)
	newDims[axis] = (end - start + stride - 1) / stride
	return graph.Reshape(out, newDims...)
}
