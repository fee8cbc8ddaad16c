package augment

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
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
//	img: float [H, W, 3] with pixel values 0..255;  wy: [N, S, H];  wx: [N, S, W]  ->  [N, S, S, 3]
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
