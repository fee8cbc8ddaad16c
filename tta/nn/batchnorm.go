package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// channelVector checks that v is [channels] (or nil when allowNil) and reshapes it to broadcast against x
// ([..., channels]).
func channelVector(name, arg string, x, v *graph.Node, allowNil bool) *graph.Node {
	c := x.Shape().Dimensions[x.Rank()-1]
	if v == nil {
		if allowNil {
			return nil
		}
		panicf("nn.%s: %s is nil", name, arg)
	}
	if v.Rank() != 1 || v.Shape().Dimensions[0] != c || v.DType() != x.DType() {
		panicf("nn.%s: %s must be [%d] of x's dtype, x %s, got %s", name, arg, c, x.Shape(), v.Shape())
	}
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = c
	return graph.Reshape(v, dims...)
}

// BatchNorm is batch normalisation in inference form (PyTorch's F.batch_norm with training=False):
// y = (x - mean) / sqrt(variance + eps) * scale + offset, per channel.
//
// x is [..., channels] (NHWC images or [batch, channels] features); scale, offset, mean and variance are
// [channels]. scale and offset may be nil (1 and 0). Arithmetic only: it runs, and differentiates with respect to
// every input, on every backend.
func BatchNorm(x, scale, offset, mean, variance *graph.Node, eps float64) *graph.Node {
	if x.Rank() < 2 {
		panicf("nn.BatchNorm: x must be [..., channels] with rank >= 2, got %s", x.Shape())
	}
	mean = channelVector("BatchNorm", "mean", x, mean, false)
	variance = channelVector("BatchNorm", "variance", x, variance, false)
	scale = channelVector("BatchNorm", "scale", x, scale, true)
	offset = channelVector("BatchNorm", "offset", x, offset, true)
	// Per-channel multiplier and shift, so x is touched by one Mul and one Add: [1, ..., 1, channels].
	mult := graph.Div(graph.ScalarOne(x.Graph(), x.DType()), graph.Sqrt(graph.AddScalar(variance, eps)))
	if scale != nil {
		mult = graph.Mul(mult, scale)
	}
	shift := graph.Neg(graph.Mul(mean, mult))
	if offset != nil {
		shift = graph.Add(shift, offset)
	}
	return graph.Add(graph.Mul(x, mult), shift)
}

// BatchStats returns the per-channel mean and unbiased variance (divided by count-1, as PyTorch's running_var
// update) of x [batch, height, width, channels] over (batch, height, width): two [channels] tensors. It panics when
// fewer than 2 values per channel are given.
func BatchStats(x *graph.Node) (mean, unbiasedVar *graph.Node) {
	if x.Rank() < 2 {
		panicf("nn.BatchStats: x must be [..., channels] with rank >= 2, got %s", x.Shape())
	}
	c := x.Shape().Dimensions[x.Rank()-1]
	count := x.Shape().Size() / c
	if count < 2 {
		panicf("nn.BatchStats: need more than 1 value per channel, x is %s", x.Shape())
	}
	// The sums run over every axis but the last, in x's own layout: a Reshape to [count, channels] would add the
	// same values in the same order, but the pure-Go backend copies x for it when x has later readers.
	axes := iotaFrom(0, x.Rank()-1)
	bshape := make([]int, x.Rank()) // [1, ..., 1, channels]
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[x.Rank()-1] = c
	mean = graph.DivScalar(graph.ReduceSum(x, axes...), float64(count)) // [channels]
	d := graph.Sub(x, graph.Reshape(mean, bshape...))                   // x's shape
	unbiasedVar = graph.DivScalar(graph.ReduceSum(graph.Mul(d, d), axes...), float64(count-1))
	return mean, unbiasedVar
}

// BatchNormPrior is MEMO's batch normalisation with a prior (Schneider et al. 2020, used by MEMO for test-time
// BN adaptation): with p = prior,
//
//	mean = p*runMean + (1-p)*batchMean,  var = p*runVar + (1-p)*batchUnbiasedVar
//
// where the batch statistics come from BatchStats(x) wrapped in StopGradient (MEMO computes them with an in-place
// running-stat update, outside autograd), and y = BatchNorm(x, scale, offset, mean, var, eps). prior = 1 is
// inference BN; MEMO's default for a batch of N views is N/(N+1) (16/17 for 16 views).
// Shapes as BatchNorm; x must hold at least 2 values per channel when prior < 1.
func BatchNormPrior(x, scale, offset, runMean, runVar *graph.Node, prior, eps float64) *graph.Node {
	if prior < 0 || prior > 1 {
		panicf("nn.BatchNormPrior: prior must be in [0, 1], got %g", prior)
	}
	if prior == 1 {
		return BatchNorm(x, scale, offset, runMean, runVar, eps)
	}
	// The statistics carry no gradient: stopped on the [channels] results (stopping x itself would copy x on the
	// pure-Go backend, which it reads again below).
	bm, bv := BatchStats(x)
	bm, bv = graph.StopGradient(bm), graph.StopGradient(bv)
	mean, variance := bm, bv
	if prior != 0 {
		mean = graph.Add(graph.MulScalar(runMean, prior), graph.MulScalar(bm, 1-prior))
		variance = graph.Add(graph.MulScalar(runVar, prior), graph.MulScalar(bv, 1-prior))
	}
	return BatchNorm(x, scale, offset, mean, variance, eps)
}
