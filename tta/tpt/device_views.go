package tpt

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/pkg/errors"
)

// Views made on the device. With ViewMaker.OnDevice the host
// only converts the decoded image to uint8 RGB, zero-pads it to a canvas size and draws the crop regions (N*8
// floats); the adapter then makes the N normalised views in a graph of its own (CropResizeUint8Graph +
// augment.NormalizeGraph, bit-exact with the host's PIL views in float64) and passes that executable's output,
// still on the device, to the image-tower executable, whose input stays [N, R, R, 3]. A new bucket compiles only
// the small views graph.
//
// Canvases: ImageNet-A's images range from under 100 to several thousand pixels a side in every aspect ratio.
// Each distinct padded shape compiles one views executable, so BucketCanvas pads every image to a square canvas
// whose side is BucketSide of the image's longer side, on a ladder of two steps per octave (256, 384, 512, 768,
// 1024, ...; MinCanvasSide at least): images of up to 4000 pixels a side fall into 9 canvases whatever their aspect
// ratio (TestBucketCanvasImageNetALike counts them on a synthetic ImageNet-A-like set of sizes), each compiled once
// per run. The price is padding: a canvas holds up to 1.5 x 1.5 times the image's longer side squared, so a 4:3 image
// costs up to 3x the pixels of an exact shape in the horizontal pass.
//
// Cost: the horizontal pass runs over every row of the canvas, 6*N*S*Hb*Wb flops, then 6*N*S*S*Hb: for 64 views at
// S = 224, 23 GFLOP for a 512x512 canvas, ~1.4 TFLOP for 4096x4096. DeviceViews.Float32 trades exactness (about 1%
// of the values one level off) for float32 speed on devices with slow float64.

// BucketSide returns the padded length of a side of n pixels: the smallest value >= n of the ladder 64, 96, 128,
// 192, 256, 384, 512, 768, ... (m * 2^k for m = 2, 3 and k >= 5), so at most 50% padding above 64 pixels.
func BucketSide(n int) int {
	for s := 32; ; s *= 2 {
		for m := 2; m <= 3; m++ {
			if m*s >= n {
				return m * s
			}
		}
	}
}

// MinCanvasSide is the smallest canvas side of BucketCanvas: smaller images (thumbnails) share one canvas, whose
// horizontal pass costs ~6 GFLOP for 64 views at 224 px.
const MinCanvasSide = 256

// BucketCanvas is ViewMaker's default canvas for an h x w image: the square of side BucketSide(max(h, w)), at least
// MinCanvasSide, so the number of compiled views executables depends on the range of image sizes only, not on their
// aspect ratios.
func BucketCanvas(h, w int) (hb, wb int) {
	s := max(MinCanvasSide, BucketSide(max(h, w)))
	return s, s
}

// RawImage is the tta.Views payload of ViewMaker.OnDevice (tta.Views.Images is then nil): the raw image and the
// views' source regions, from which the adapter makes the normalised views in a graph of its own.
type RawImage struct {
	// Pixels is uint8 [Hb, Wb, 3]: the image's H x W pixels at the top left, zero-padded to a canvas (Hb >= H,
	// Wb >= W; ViewMaker.Canvas) so that few shapes reach the compiler.
	Pixels *tensors.Tensor
	// Regions are the source regions of the N views in Pixels, float32 [N, 2, 4] (augment.Views.CropRegions of the
	// unpadded image: view 0 the base preprocessing, views 1..N-1 the random crops, flips as in0 > in1).
	Regions *tensors.Tensor
	// Views is the view configuration Regions were made with (output size, resampling filters, normalisation;
	// N = Regions' first dimension).
	Views *augment.Views
}

// N implements tta.Payload: Regions' first dimension.
func (r *RawImage) N() int {
	if r == nil || r.Regions == nil || r.Regions.Rank() == 0 {
		return 0
	}
	return r.Regions.Shape().Dimensions[0]
}

// rawTensor returns img's pixels zero-padded to hb x wb: uint8 [hb, wb, 3].
func rawTensor(img *augment.RGB, hb, wb int) *tensors.Tensor {
	pix := img.Pix
	if hb != img.H || wb != img.W {
		pix = make([]uint8, hb*wb*3)
		for y := 0; y < img.H; y++ {
			copy(pix[y*wb*3:y*wb*3+img.W*3], img.Pix[y*img.W*3:(y+1)*img.W*3])
		}
	}
	return tensors.FromFlatDataAndDimensions(pix, hb, wb, 3)
}

// deviceViewsKey is what fixes a views graph besides its input shapes.
type deviceViewsKey struct {
	size       int
	base, view augment.Filter
	mean, std  [3]float32
	dtype      dtypes.DType
}

// DeviceViews makes the views of a RawImage on a backend (CropResizeUint8Graph, then the
// normalisation): one executable per view configuration, each compiled once per (bucket, N) input shape. By default
// the views equal the host's PIL-exact views bit for bit (float64 arithmetic). It is safe for concurrent use.
type DeviceViews struct {
	// Float32 computes the resampling in float32 instead of float64 (for devices with slow float64): ~1% of the
	// pixels then differ from the host's views by one level. Default false.
	Float32 bool

	backend backends.Backend
	mu      sync.Mutex
	execs   map[deviceViewsKey]*graph.Exec
	shapes  map[string]bool
}

// NewDeviceViews returns a DeviceViews running on b.
func NewDeviceViews(b backends.Backend) *DeviceViews {
	return &DeviceViews{backend: b, execs: map[deviceViewsKey]*graph.Exec{}, shapes: map[string]bool{}}
}

// Compiled is the number of distinct views graphs (configuration, raw bucket, N) run so far: each was compiled
// once.
func (d *DeviceViews) Compiled() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.shapes)
}

// checkRaw validates the device-view payload of v: Pixels uint8 [Hb, Wb, 3], Regions float32 [N, 2, 4] with N
// the number of views of Views. Errors name the example.
func checkRaw(v *tta.Views) (*RawImage, augment.Views, error) {
	r, ok := tta.PayloadOf[*RawImage](v)
	if !ok || r.Pixels == nil || r.Regions == nil || r.Views == nil {
		return nil, augment.Views{}, fmt.Errorf("tpt: device views of example %q need a RawImage payload with "+
			"Pixels, Regions and Views", v.ExampleID)
	}
	cfg := *r.Views
	if cfg.N == 0 {
		cfg.N = 64 // augment.Views' default
	}
	if s := r.Pixels.Shape(); s.DType != dtypes.Uint8 || s.Rank() != 3 || s.Dimensions[2] != 3 {
		return nil, cfg, fmt.Errorf("tpt: raw image of example %q is %s, want uint8 [Hb, Wb, 3]", v.ExampleID, s)
	}
	if s := r.Regions.Shape(); s.DType != dtypes.Float32 || s.Rank() != 3 || s.Dimensions[0] != cfg.N ||
		s.Dimensions[1] != 2 || s.Dimensions[2] != 4 {
		return nil, cfg, fmt.Errorf("tpt: view regions of example %q are %s, want float32 [N=%d, 2, 4] (Views.N)",
			v.ExampleID, s, cfg.N)
	}
	if cfg.Kind != augment.RandomResizedCrop && cfg.Kind != augment.Identity {
		return nil, cfg, fmt.Errorf("tpt: views of kind %s of example %q cannot be made on the device", cfg.Kind,
			v.ExampleID)
	}
	if err := cfg.Validate(); err != nil {
		return nil, cfg, fmt.Errorf("tpt: device views of example %q: %w", v.ExampleID, err)
	}
	return r, cfg, nil
}

// Make returns the views of v's RawImage payload made from its Pixels and Regions with its Views' filters and
// normalisation: float32 [N, S, S, 3] (S = Views.Preprocess.Size), left on the backend's device; the caller
// finalizes it. Errors name the example.
func (d *DeviceViews) Make(v *tta.Views) (*tensors.Tensor, error) {
	r, cfg, err := checkRaw(v)
	if err != nil {
		return nil, err
	}
	base, view := cfg.GraphFilters()
	key := deviceViewsKey{size: cfg.Preprocess.Size, base: base, view: view, mean: cfg.Preprocess.Mean,
		std: cfg.Preprocess.Std, dtype: dtypes.Float64}
	if d.Float32 {
		key.dtype = dtypes.Float32
	}
	d.mu.Lock()
	exec := d.execs[key]
	if exec == nil {
		exec, err = graph.NewExec(d.backend, func(raw, regions *graph.Node) *graph.Node {
			views := CropResizeUint8Graph(raw, regions, key.size, key.base, key.view, key.dtype) // [N, S, S, 3] 0..255
			return augment.NormalizeGraph(views, key.mean, key.std)                              // [N, S, S, 3]
		})
		if err != nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("tpt: device views: %w", err)
		}
		exec.SetMaxCache(-1) // bounded by the canvases of BucketCanvas (or ViewMaker.Canvas)
		d.execs[key] = exec
	}
	d.shapes[fmt.Sprint(key, r.Pixels.Shape().Dimensions, cfg.N)] = true
	d.mu.Unlock()
	out, err := exec.Exec1(r.Pixels, r.Regions)
	if err != nil {
		return nil, fmt.Errorf("tpt: device views of example %q: %w", v.ExampleID, err)
	}
	return out, nil
}

// CropResizeUint8Graph makes all views of one image from their regions as Pillow does, on the device: Pillow's
// resampling weights (augment.AxisWeightsGraph) rounded to its 22-bit fixed point, the horizontal pass, rounding
// to uint8 (half up, clipped to 0..255), the vertical pass, rounding again:
//
//	img: [H, W, 3] (0..255, any dtype);  regions: float [N, 2, 4] (augment.Views.CropRegions)
//	  ->  float32 [N, size, size, 3]
//
// View 0 is resampled with baseFilter, views 1..N-1 with viewFilter (augment.Views.GraphFilters). With dtype
// Float64 the sums are exact (8-bit pixels times 23-bit weights) and the views equal the host's PIL-exact views
// bit for bit. With Float32 about 1% of the pixels differ by one level (sums that land within float32 error of a
// half level; more where XLA computes float32 dots in TF32). augment.CropResizeRegionsGraph, which does not
// round, differs from the host by up to one level in most pixels (mean ~0.3 levels), which moves TPT's loss on a
// small model by ~1e-3 relative.
func CropResizeUint8Graph(img, regions *graph.Node, size int, baseFilter, viewFilter augment.Filter,
	dtype dtypes.DType) *graph.Node {
	if regions.Rank() != 3 || regions.Shape().Dimensions[1] != 2 || regions.Shape().Dimensions[2] != 4 {
		panicf("tpt.CropResizeUint8Graph: regions must be [N, 2, 4], got %s", regions.Shape())
	}
	if img.Rank() != 3 || img.Shape().Dimensions[2] != 3 {
		panicf("tpt.CropResizeUint8Graph: img must be [H, W, 3], got %s", img.Shape())
	}
	if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		panicf("tpt.CropResizeUint8Graph: dtype must be Float32 or Float64, got %s", dtype)
	}
	N := regions.Shape().Dimensions[0]
	H, W := img.Shape().Dimensions[0], img.Shape().Dimensions[1]
	img = graph.ConvertDType(img, dtype)
	regions = graph.ConvertDType(regions, dtype)
	const fixed = 1 << 22                      // Pillow's PRECISION_BITS for 8-bit images
	weights := func(axis, n int) *graph.Node { // [N, size, n]
		r := graph.Reshape(graph.Slice(regions, graph.AxisRange(), graph.AxisElem(axis)), N, 4) // [N, 4]
		var w *graph.Node
		if baseFilter == viewFilter || N == 1 {
			w = augment.AxisWeightsGraph(r, n, size, baseFilter)
		} else {
			w = graph.Concatenate([]*graph.Node{
				augment.AxisWeightsGraph(graph.Slice(r, graph.AxisRange(0, 1)), n, size, baseFilter),
				augment.AxisWeightsGraph(graph.Slice(r, graph.AxisRange(1, N)), n, size, viewFilter)}, 0)
		}
		// Pillow's fixed point: (int)(w * 2^22 +- 0.5), i.e. rounded half away from zero.
		q := graph.Floor(graph.AddScalar(graph.MulScalar(graph.Abs(w), fixed), 0.5))
		return graph.DivScalar(graph.Mul(graph.Sign(w), q), fixed)
	}
	toUint8 := func(x *graph.Node) *graph.Node { // Pillow's clip8((sum + 2^21) >> 22)
		return graph.ClipScalar(graph.Floor(graph.AddScalar(x, 0.5)), 0, 255)
	}
	t := toUint8(graph.Einsum("njx,yxc->nyjc", weights(1, W), img))  // horizontal pass: [N, H, S, 3]
	out := toUint8(graph.Einsum("niy,nyjc->nijc", weights(0, H), t)) // vertical pass: [N, S, S, 3]
	return graph.ConvertDType(out, dtypes.Float32)
}

// panicf panics with an error carrying a stack trace (GoMLX's exceptions.Panicf style) from graph building.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}

// viewImages returns the views Adapt runs on: v.Images, or the views made on the device from v's RawImage
// payload (then owned is true: Adapt finalizes them).
func (a *Adapter) viewImages(v *tta.Views) (images *tensors.Tensor, owned bool, err error) {
	if v == nil {
		return nil, false, fmt.Errorf("tpt: no views")
	}
	if v.Images != nil {
		return v.Images, false, nil
	}
	r, ok := tta.PayloadOf[*RawImage](v)
	if !ok {
		return nil, false, fmt.Errorf("tpt: example %q has no views (neither Images nor a RawImage)", v.ExampleID)
	}
	if r.Views != nil && r.Views.Preprocess.Size != a.model.Config.ImageResolution {
		return nil, false, fmt.Errorf("tpt: device views of example %q are %d px, the model's input is %d px",
			v.ExampleID, r.Views.Preprocess.Size, a.model.Config.ImageResolution)
	}
	images, err = a.devViews.Make(v)
	return images, err == nil, err
}

// DeviceViews returns the adapter's maker of device views, e.g. to set its Float32 field.
func (a *Adapter) DeviceViews() *DeviceViews { return a.devViews }
