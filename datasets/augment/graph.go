package augment

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// AxisWeights returns the [out, n] float32 matrix of PIL's resampling along one axis of length n: the source
// interval [start, start+length) (pixels, clipped to it as if cropped) resized to out samples with filter's
// antialiased weights (Nearest: one 1 per row), rows mirrored when flip.
func AxisWeights(n, start, length, out int, filter Filter, flip bool) []float32 {
	m := make([]float32, out*n)
	row := func(i int) []float32 {
		if flip {
			i = out - 1 - i
		}
		return m[i*n : (i+1)*n]
	}
	if filter == Nearest {
		a := float64(length) / float64(out)
		xo := a * 0.5
		for i := 0; i < out; i++ {
			if x := coord(xo); x >= 0 && x < length {
				row(i)[start+x] = 1
			}
			xo += a
		}
		return m
	}
	if filter == 0 {
		filter = Bicubic
	}
	c := precompute(length, 0, float64(length), out, filter)
	for i := 0; i < out; i++ {
		r := row(i)
		for k := 0; k < c.Count[i]; k++ {
			r[start+c.Start[i]+k] = float32(c.W[i*c.K+k])
		}
	}
	return m
}

// baseAxisWeights is one axis of Preprocess.Base as a matrix [size, n]: the rows offset..offset+size-1 of the
// resize of n to resized samples (zero rows where the crop pads).
func baseAxisWeights(n, resized, offset, size int, filter Filter) []float32 {
	full := AxisWeights(n, 0, n, resized, filter, false)
	m := make([]float32, size*n)
	for i := 0; i < size; i++ {
		if r := offset + i; r >= 0 && r < resized {
			copy(m[i*n:(i+1)*n], full[r*n:(r+1)*n])
		}
	}
	return m
}

// CropResizeWeights returns the inputs of CropResizeGraph for the views of v of a w x h image: wy, float32
// [N, S, h], and wx, float32 [N, S, w]. Row block 0 is Preprocess's base view (resize of the shorter side,
// center crop); blocks 1..N-1 are the crops of SampleCropBoxes (Kind RandomResizedCrop, resized with
// CropFilter, flips folded into wx) or the base view again (Kind Identity). AugMix kinds have no in-graph path.
func (v Views) CropResizeWeights(w, h int, exampleID string) (wy, wx []float32, err error) {
	v = v.withDefaults()
	if err := v.Validate(); err != nil {
		return nil, nil, err
	}
	if v.Kind != RandomResizedCrop && v.Kind != Identity {
		return nil, nil, fmt.Errorf("augment: CropResizeWeights: views of kind %s have no in-graph path (example %q)",
			v.Kind, exampleID)
	}
	p := v.Preprocess.withDefaults()
	S := p.Size
	rw, rh := ShorterSize(w, h, p.Resize)
	cb := CenterCropBox(rw, rh, S)
	if rw < S || rh < S { // torchvision pads before cropping: offsets become negative.
		cb = Box{Top: -(S - rh) / 2, Left: -(S - rw) / 2}
		if rh >= S {
			cb.Top = CenterCropBox(rw, rh, S).Top
		}
		if rw >= S {
			cb.Left = CenterCropBox(rw, rh, S).Left
		}
	}
	wy = make([]float32, v.N*S*h)
	wx = make([]float32, v.N*S*w)
	copy(wy[:S*h], baseAxisWeights(h, rh, cb.Top, S, p.Filter))
	copy(wx[:S*w], baseAxisWeights(w, rw, cb.Left, S, p.Filter))
	boxes := v.Crop.SampleCropBoxes(w, h, v.N, v.Seed, exampleID)
	for i := 1; i < v.N; i++ {
		if v.Kind == Identity {
			copy(wy[i*S*h:(i+1)*S*h], wy[:S*h])
			copy(wx[i*S*w:(i+1)*S*w], wx[:S*w])
			continue
		}
		b := boxes[i]
		copy(wy[i*S*h:(i+1)*S*h], AxisWeights(h, b.Top, b.Height, S, v.CropFilter, false))
		copy(wx[i*S*w:(i+1)*S*w], AxisWeights(w, b.Left, b.Width, S, v.CropFilter, b.Flip))
	}
	return wy, wx, nil
}

// CropResizeGraph makes all views of one image with two batched matmuls, PIL's order (horizontal pass, clip
// to [0, 255], vertical pass, clip):
//
//	img: [H, W, 3] pixel values 0..255 (any dtype, e.g. uint8; converted to wx's);
//	wy: float [N, S, H];  wx: float [N, S, W]  ->  [N, S, S, 3] in wx's dtype
//
// wy and wx come from Views.CropResizeWeights. Unlike PIL, nothing is rounded to uint8 between or after the
// passes, so results differ from the host path by up to about one level.
func CropResizeGraph(img, wy, wx *graph.Node) *graph.Node {
	if img.Rank() != 3 || img.Shape().Dimensions[2] != 3 {
		panicf("augment.CropResizeGraph: img must be [H, W, 3], got %s", img.Shape())
	}
	H, W := img.Shape().Dimensions[0], img.Shape().Dimensions[1]
	if wy.Rank() != 3 || wy.Shape().Dimensions[2] != H {
		panicf("augment.CropResizeGraph: wy must be [N, S, H=%d], got %s", H, wy.Shape())
	}
	N, S := wy.Shape().Dimensions[0], wy.Shape().Dimensions[1]
	if wx.Rank() != 3 || wx.Shape().Dimensions[0] != N || wx.Shape().Dimensions[2] != W {
		panicf("augment.CropResizeGraph: wx must be [N=%d, S, W=%d], got %s", N, W, wx.Shape())
	}
	_ = S
	if img.DType() != wx.DType() { // e.g. uint8 pixels: upload 1 byte per channel, compute in wx's dtype
		img = graph.ConvertDType(img, wx.DType())
	}
	t := graph.Einsum("njx,yxc->nyjc", wx, img) // [N, H, S, 3]
	t = graph.ClipScalar(t, 0, 255)
	out := graph.Einsum("niy,nyjc->nijc", wy, t) // [N, S, S, 3]
	return graph.ClipScalar(out, 0, 255)
}

// NormalizeGraph is ToTensor + Normalize in a graph: (x/255 - mean[c]) / std[c] over the last axis of
// x [..., 3] (pixel values 0..255).
func NormalizeGraph(x *graph.Node, mean, std [3]float32) *graph.Node {
	if x.Rank() < 1 || x.Shape().Dimensions[x.Rank()-1] != 3 {
		panicf("augment.NormalizeGraph: x must be [..., 3], got %s", x.Shape())
	}
	g := x.Graph()
	dt := x.DType()
	var scale, shift [3]float64
	for c := 0; c < 3; c++ {
		scale[c] = 1 / (255 * float64(std[c]))
		shift[c] = -float64(mean[c]) / float64(std[c])
	}
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = 3
	s := graph.Reshape(graph.ConvertDType(graph.Const(g, scale[:]), dt), dims...)
	b := graph.Reshape(graph.ConvertDType(graph.Const(g, shift[:]), dt), dims...)
	return graph.Add(graph.Mul(x, s), b)
}

// panicf panics with an error carrying a stack trace, as GoMLX's internal exceptions.Panicf does (graph
// building functions report bad shapes this way).
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}

// CropRegions returns the per-view source regions of the views of v of a w x h image, float32 [N, 2, 4]:
// for the y axis then the x axis, (in0, in1, lo, hi), meaning that output sample j of S reads around
// in0 + (j + 0.5) * (in1 - in0) / S with the filter support scaled by max(|in1 - in0| / S, 1), using only
// source pixels in [lo, hi). A flip is in0 > in1. Row 0 is Preprocess's base view (resize of the shorter side
// then center crop, as a fractional region of the original image); rows 1..N-1 are the crops of
// SampleCropBoxes (Kind RandomResizedCrop) or the base view again (Kind Identity). They are the input of
// CropResizeRegionsGraph: N*8 floats to upload instead of two weight matrices.
func (v Views) CropRegions(w, h int, exampleID string) ([]float32, error) {
	v = v.withDefaults()
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if v.Kind != RandomResizedCrop && v.Kind != Identity {
		return nil, fmt.Errorf("augment: CropRegions: views of kind %s have no in-graph path (example %q)",
			v.Kind, exampleID)
	}
	p := v.Preprocess.withDefaults()
	S := p.Size
	if p.Resize < S {
		return nil, fmt.Errorf("augment: CropRegions: Preprocess.Resize %d < Size %d (padding) has no in-graph path",
			p.Resize, S)
	}
	rw, rh := ShorterSize(w, h, p.Resize)
	cb := CenterCropBox(rw, rh, S)
	sx, sy := float64(w)/float64(rw), float64(h)/float64(rh)
	base := [8]float32{
		float32(float64(cb.Top) * sy), float32(float64(cb.Top+S) * sy), 0, float32(h),
		float32(float64(cb.Left) * sx), float32(float64(cb.Left+S) * sx), 0, float32(w)}
	out := make([]float32, v.N*8)
	copy(out, base[:])
	boxes := v.Crop.SampleCropBoxes(w, h, v.N, v.Seed, exampleID)
	for i := 1; i < v.N; i++ {
		r := out[i*8 : (i+1)*8]
		if v.Kind == Identity {
			copy(r, base[:])
			continue
		}
		b := boxes[i]
		top, left, bottom, right := float32(b.Top), float32(b.Left), float32(b.Top+b.Height), float32(b.Left+b.Width)
		copy(r, []float32{top, bottom, top, bottom, left, right, left, right})
		if b.Flip {
			r[4], r[5] = right, left
		}
	}
	return out, nil
}

// AxisWeightsGraph builds PIL's resampling weights for one axis from regions (float [N, 4]: in0, in1, lo, hi;
// see Views.CropRegions) inside the graph: [N, size, n] for a source axis of length n. Bilinear and Bicubic
// are antialiased like PIL (support scaled by the downscale factor, weights normalised per output); Nearest
// is one-hot at floor(centre).
func AxisWeightsGraph(regions *graph.Node, n, size int, filter Filter) *graph.Node {
	if regions.Rank() != 2 || regions.Shape().Dimensions[1] != 4 {
		panicf("augment.AxisWeightsGraph: regions must be [N, 4], got %s", regions.Shape())
	}
	g := regions.Graph()
	dt := regions.DType()
	N := regions.Shape().Dimensions[0]
	col := func(i int) *graph.Node { // [N, 1, 1]
		return graph.Reshape(graph.Slice(regions, graph.AxisRange(), graph.AxisElem(i)), N, 1, 1)
	}
	in0, in1, lo, hi := col(0), col(1), col(2), col(3)
	scale := graph.DivScalar(graph.Sub(in1, in0), float64(size))                                           // [N, 1, 1]
	j := graph.AddScalar(graph.Iota(g, shapes.Make(dt, 1, size, 1), 1), 0.5)                               // [1, S, 1]
	center := graph.Add(in0, graph.Mul(j, scale))                                                          // [N, S, 1]
	x := graph.Iota(g, shapes.Make(dt, 1, 1, n), 2)                                                        // [1, 1, n]
	inside := graph.ConvertDType(graph.LogicalAnd(graph.GreaterOrEqual(x, lo), graph.LessThan(x, hi)), dt) // [N, 1, n]
	if filter == Nearest {
		hit := graph.ConvertDType(graph.Equal(x, graph.Floor(center)), dt) // [N, S, n]
		return graph.Mul(hit, inside)
	}
	zeros := graph.ZerosLike(graph.Add(center, x)) // [N, S, n]
	if filter == 0 {
		filter = Bicubic
	}
	fscale := graph.MaxScalar(graph.Abs(scale), 1)                                // [N, 1, 1]
	t := graph.Abs(graph.Div(graph.AddScalar(graph.Sub(x, center), 0.5), fscale)) // [N, S, n]
	var w *graph.Node
	switch filter {
	case Bilinear:
		w = graph.MaxScalar(graph.OneMinus(t), 0)
	case Bicubic:
		const a = -0.5
		near := graph.AddScalar(graph.Mul(graph.Mul(t, t), graph.AddScalar(graph.MulScalar(t, a+2), -(a+3))), 1)
		far := graph.MulScalar(graph.AddScalar(graph.Mul(graph.AddScalar(graph.Mul(graph.AddScalar(t, -5), t), 8), t), -4), a)
		w = graph.Where(graph.LessThan(t, graph.Scalar(g, dt, 1)), near,
			graph.Where(graph.LessThan(t, graph.Scalar(g, dt, 2)), far, zeros))
	default:
		panicf("augment.AxisWeightsGraph: unknown filter %d", int(filter))
	}
	w = graph.Mul(w, inside)
	sum := graph.ReduceAndKeep(w, graph.ReduceSum, -1) // [N, S, 1]
	sum = graph.Where(graph.Equal(sum, graph.ZerosLike(sum)), graph.OnesLike(sum), sum)
	return graph.Div(w, sum)
}

// CropResizeRegionsGraph makes all views of one image in the graph from their regions alone:
//
//	img: [H, W, 3] (0..255; uint8 is computed in float32);  regions: float [N, 2, 4] (Views.CropRegions)
//	->  [N, size, size, 3]
//
// View 0 is resampled with baseFilter (Views.Preprocess.Filter) and views 1..N-1 with viewFilter
// (Views.CropFilter, or Preprocess.Filter for Identity); 0 means Bicubic. It builds the weight matrices with
// AxisWeightsGraph and applies CropResizeGraph.
func CropResizeRegionsGraph(img, regions *graph.Node, size int, baseFilter, viewFilter Filter) *graph.Node {
	if regions.Rank() != 3 || regions.Shape().Dimensions[1] != 2 || regions.Shape().Dimensions[2] != 4 {
		panicf("augment.CropResizeRegionsGraph: regions must be [N, 2, 4], got %s", regions.Shape())
	}
	if img.Rank() != 3 || img.Shape().Dimensions[2] != 3 {
		panicf("augment.CropResizeRegionsGraph: img must be [H, W, 3], got %s", img.Shape())
	}
	N := regions.Shape().Dimensions[0]
	H, W := img.Shape().Dimensions[0], img.Shape().Dimensions[1]
	if !img.DType().IsFloat() {
		img = graph.ConvertDType(img, dtypes.Float32)
	}
	regions = graph.ConvertDType(regions, img.DType())
	weights := func(axis, n int) *graph.Node { // [N, size, n]
		r := graph.Reshape(graph.Slice(regions, graph.AxisRange(), graph.AxisElem(axis)), N, 4)
		if baseFilter == viewFilter || N == 1 {
			return AxisWeightsGraph(r, n, size, baseFilter)
		}
		return graph.Concatenate([]*graph.Node{
			AxisWeightsGraph(graph.Slice(r, graph.AxisRange(0, 1)), n, size, baseFilter),
			AxisWeightsGraph(graph.Slice(r, graph.AxisRange(1, N)), n, size, viewFilter)}, 0)
	}
	return CropResizeGraph(img, weights(0, H), weights(1, W))
}

// GraphFilters returns the filters CropResizeRegionsGraph needs for these views: the base view's
// (Preprocess.Filter) and the other views' (CropFilter, or Preprocess.Filter for Identity).
func (v Views) GraphFilters() (base, view Filter) {
	v = v.withDefaults()
	p := v.Preprocess.withDefaults()
	if v.Kind == Identity {
		return p.Filter, p.Filter
	}
	return p.Filter, v.CropFilter
}
