package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// randTensor returns a float32 tensor of the given dims with values uniform in [-1, 1).
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = rng.Float32()*2 - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func flat32(t *tensors.Tensor) []float32 { return tensors.MustCopyFlatData[float32](t) }

// TestPortableMatchesNative checks that the portable and native implementations give the same forward values on
// the current backend (both forward passes run on pure Go).
func TestPortableMatchesNative(t *testing.T) {
	b := backend.MustNew()
	rng := rand.New(rand.NewPCG(1, 2))
	x := randTensor(rng, 2, 9, 10, 8)
	type op struct {
		name  string
		kdims []int
		fn    func(impl Impl, x, k *graph.Node) *graph.Node
	}
	ops := []op{
		{"conv3x3", []int{3, 3, 8, 6}, func(impl Impl, x, k *graph.Node) *graph.Node {
			return impl.Conv2D(x, k, ConvOpts{Padding: 1})
		}},
		{"conv_s2_d2_pad", []int{3, 3, 8, 4}, func(impl Impl, x, k *graph.Node) *graph.Node {
			return impl.Conv2D(x, k, ConvOpts{Stride: 2, Dilation: 2, PadHW: [2][2]int{{1, 2}, {0, 3}}})
		}},
		{"conv_groups4", []int{3, 3, 2, 12}, func(impl Impl, x, k *graph.Node) *graph.Node {
			return impl.Conv2D(x, k, ConvOpts{Stride: 2, Padding: 1, Groups: 4})
		}},
		{"conv_depthwise", []int{3, 3, 1, 8}, func(impl Impl, x, k *graph.Node) *graph.Node {
			return impl.Conv2D(x, k, ConvOpts{Padding: 1, Groups: 8})
		}},
		{"conv1x1", []int{1, 1, 8, 5}, func(impl Impl, x, k *graph.Node) *graph.Node {
			return impl.Conv2D(x, k, ConvOpts{})
		}},
		{"maxpool", nil, func(impl Impl, x, _ *graph.Node) *graph.Node { return impl.MaxPool2D(x, 3, 2, 1) }},
		{"avgpool", nil, func(impl Impl, x, _ *graph.Node) *graph.Node { return impl.AvgPool2D(x, 3, 2, 1) }},
		{"avgpool2", nil, func(impl Impl, x, _ *graph.Node) *graph.Node { return impl.AvgPool2D(x, 2, 2, 0) }},
		{"slice", nil, func(impl Impl, x, _ *graph.Node) *graph.Node { return impl.SliceAxis(x, 2, 1, 9, 3) }},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			kdims := o.kdims
			if kdims == nil {
				kdims = []int{1}
			}
			k := randTensor(rng, kdims...)
			var got [2][]float32
			for i, impl := range []Impl{ImplNative, ImplPortable} {
				e := graph.MustNewExec(b, func(x, k *graph.Node) *graph.Node { return o.fn(impl, x, k) })
				got[i] = flat32(e.MustExec1(x, k))
			}
			require.Len(t, got[1], len(got[0]))
			for i := range got[0] {
				require.InDelta(t, got[0][i], got[1][i], 1e-5, fmt.Sprintf("element %d", i))
			}
		})
	}
}
