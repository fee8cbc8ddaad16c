package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// ConvOpts configures Conv2D with PyTorch's nn.Conv2d semantics. The zero value is a stride-1, unpadded,
// undilated, ungrouped convolution.
type ConvOpts struct {
	// Stride on both spatial axes; 0 means 1.
	Stride int
	// Padding is PyTorch's symmetric zero padding, added on all four sides; default 0. Ignored when PadHW is set.
	Padding int
	// PadHW is per-side zero padding {{top, bottom}, {left, right}}; when any entry is non-zero it replaces Padding.
	PadHW [2][2]int
	// Dilation of the kernel on both spatial axes; 0 means 1.
	Dilation int
	// Groups splits the input and output channels into this many independent groups (PyTorch groups: ResNeXt's
	// 32x4d uses 32; depthwise convolution uses the number of input channels); 0 means 1.
	Groups int
}

// pads resolves the per-side padding.
func (o ConvOpts) pads() [2][2]int {
	if o.PadHW != ([2][2]int{}) {
		return o.PadHW
	}
	return [2][2]int{{o.Padding, o.Padding}, {o.Padding, o.Padding}}
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// Conv2D is a 2-D convolution (cross-correlation, as PyTorch's F.conv2d) with ImplAuto.
//
// x is [batch, height, width, inChannels]; kernel is [kernelHeight, kernelWidth, inChannels/groups, outChannels];
// the result is [batch, outHeight, outWidth, outChannels] with outHeight = floor((height + padTop + padBottom -
// dilation*(kernelHeight-1) - 1) / stride) + 1 (likewise outWidth). No bias: add it separately.
func Conv2D(x, kernel *graph.Node, opts ConvOpts) *graph.Node {
	return ImplAuto.Conv2D(x, kernel, opts)
}

// Conv2D is Conv2D with the implementation impl.
func (impl Impl) Conv2D(x, kernel *graph.Node, opts ConvOpts) *graph.Node {
	stride, dil, groups := orOne(opts.Stride), orOne(opts.Dilation), orOne(opts.Groups)
	pads := opts.pads()
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panicf("nn.Conv2D: x must be [batch, height, width, channels] and kernel [kh, kw, in/groups, out], "+
			"got x %s and kernel %s", x.Shape(), kernel.Shape())
	}
	if x.DType() != kernel.DType() {
		panicf("nn.Conv2D: x %s and kernel %s have different dtypes", x.Shape(), kernel.Shape())
	}
	if stride < 1 || dil < 1 || groups < 1 || pads[0][0] < 0 || pads[0][1] < 0 || pads[1][0] < 0 || pads[1][1] < 0 {
		panicf("nn.Conv2D: invalid options %+v", opts)
	}
	n, h, w, c := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2], x.Shape().Dimensions[3]
	kh, kw, cg, cout := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[1], kernel.Shape().Dimensions[2],
		kernel.Shape().Dimensions[3]
	if c%groups != 0 || cout%groups != 0 || cg*groups != c {
		panicf("nn.Conv2D: x %s with %d groups needs kernel [kh, kw, %d, out] with out divisible by %d, "+
			"got kernel %s", x.Shape(), groups, c/groups, groups, kernel.Shape())
	}
	win := newWindows2D(n, h, w, kh, kw, stride, stride, dil, dil, pads)
	if win.oh < 1 || win.ow < 1 {
		panicf("nn.Conv2D: x %s is too small for kernel %s with options %+v", x.Shape(), kernel.Shape(), opts)
	}
	if !impl.portableFor(x) {
		if stride > 1 && dil > 1 {
			// GoMLX's Convolve takes strides or dilations, not both: convolve densely, then subsample.
			dense := graph.Convolve(x, kernel).StridePerAxis(1, 1).PaddingPerDim(pads[:]).DilationPerAxis(dil, dil).
				ChannelGroupCount(groups).Done()
			return graph.Slice(dense, graph.AxisRange(), graph.AxisRange().Stride(stride),
				graph.AxisRange().Stride(stride), graph.AxisRange())
		}
		return graph.Convolve(x, kernel).StridePerAxis(stride, stride).PaddingPerDim(pads[:]).
			DilationPerAxis(dil, dil).ChannelGroupCount(groups).Done()
	}
	return conv2DPortable(x, kernel, win, groups)
}

// conv2DPortable is im2col (Gather) + DotGeneral.
func conv2DPortable(x, kernel *graph.Node, win windows2D, groups int) *graph.Node {
	c := x.Shape().Dimensions[3]
	kh, kw, cg, cout := kernel.Shape().Dimensions[0], kernel.Shape().Dimensions[1], kernel.Shape().Dimensions[2],
		kernel.Shape().Dimensions[3]
	m := win.n * win.oh * win.ow
	var cols *graph.Node
	switch {
	case kh == 1 && kw == 1 && win.sh == 1 && win.sw == 1 && win.pads == ([2][2]int{}):
		cols = graph.Reshape(x, m, 1, c) // [m, 1, c]: a 1x1 convolution is a matmul.
	case kh == win.sh && kw == win.sw && win.dh == 1 && win.dw == 1 && win.pads == ([2][2]int{}) &&
		win.h == win.oh*kh && win.w == win.ow*kw:
		// Non-overlapping windows tiling the image (a ViT patch embedding): a reshape and a transpose.
		t := graph.Reshape(x, win.n, win.oh, kh, win.ow, kw, c) // [n, oh, kh, ow, kw, c]
		t = graph.TransposeAllAxes(t, 0, 1, 3, 2, 4, 5)         // [n, oh, ow, kh, kw, c]
		cols = graph.Reshape(t, m, kh*kw, c)                    // [m, kh*kw, c]
	case groups == 1:
		// The im2col matrix, with the zero columns that product would otherwise append by copying it (k not a
		// multiple of 8, split into row blocks: the embedded ResNet's stem, k = 7*7*3), and the kernel with as many
		// zero rows: the same products in the same order.
		k := kh * kw * c
		k2 := graph.Reshape(kernel, k, cout) // [kh*kw*c, out]
		extra := 0
		if rowBlocks(m, k, cout) > 0 {
			extra = (8 - k%8) % 8
		}
		cols, colsT := windowColumnsAndT(x, win, 0, extra) // [m, k+extra]
		if extra > 0 {
			zeros := graph.Zeros(x.Graph(), shapes.Make(kernel.DType(), extra, cout))
			k2 = graph.Concatenate([]*graph.Node{k2, zeros}, 0) // [k+extra, out]
		}
		return graph.Reshape(colsProduct(cols, k2, colsT), win.n, win.oh, win.ow, cout)
	default:
		cols = gatherWindows(x, win, 0) // [m, kh*kw, c]
	}
	var out *graph.Node
	if groups == 1 {
		cols = graph.Reshape(cols, m, kh*kw*c)                                // [m, kh*kw*c]
		k2 := graph.Reshape(kernel, kh*kw*c, cout)                            // [kh*kw*c, out]
		out = ImplPortable.DotGeneral(cols, []int{1}, nil, k2, []int{0}, nil) // [m, out]
	} else {
		cog := cout / groups
		cols = graph.Reshape(cols, m, kh*kw, groups, cg)                                      // [m, kh*kw, groups, cg]
		k4 := graph.Reshape(kernel, kh*kw, cg, groups, cog)                                   // [kh*kw, cg, groups, cog]
		out = ImplPortable.DotGeneral(cols, []int{1, 3}, []int{2}, k4, []int{0, 1}, []int{2}) // [groups, m, cog]
		out = graph.TransposeAllAxes(out, 1, 0, 2)                                            // [m, groups, cog]
	}
	return graph.Reshape(out, win.n, win.oh, win.ow, cout) // [n, oh, ow, out]
}

// colsProduct is ImplPortable.DotGeneral(cols, []int{1}, nil, w, []int{0}, nil) for cols [m, k] and w [k, n], with
// the same values and gradients, except that when the kernel's gradient (cols^T v, contracted over the m rows) runs
// on the backend's plain kernel it reads cols^T from colsT (built by slices) instead of transposing cols.
func colsProduct(cols, w *graph.Node, colsT func() *graph.Node) *graph.Node {
	k, n := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
	if k*n > pureGoBlockedCrosses {
		return ImplPortable.DotGeneral(cols, []int{1}, nil, w, []int{0}, nil)
	}
	gradCols := func(v, w *graph.Node) *graph.Node { return product(v, []int{1}, nil, w, []int{1}, nil) } // [m, k]
	gradW := func(v, _ *graph.Node) *graph.Node {                                                         // [k, n]
		return graph.DotGeneral(colsT(), []int{1}, nil, graph.Transpose(v, 0, 1), []int{1}, nil)
	}
	return withVJP2(cols, w, func(a, b *graph.Node) *graph.Node { return product(a, []int{1}, nil, b, []int{0}, nil) },
		gradCols, gradW)
}
