package nn

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// DotGeneral is graph.DotGeneral (a generalised matrix product; output axes: batch, lhs free, rhs free) with
// ImplAuto. On the portable path its gradient is two DotGenerals plus transposes: GoMLX v0.26.0's own DotGeneral
// gradient materialises a broadcast product of the size batch*lhsFree*rhsFree*contracted, which XLA fuses
// away but the pure-Go backend computes (minutes instead of seconds for a small ResNet).
func DotGeneral(lhs *graph.Node, lhsContractingAxes, lhsBatchAxes []int, rhs *graph.Node,
	rhsContractingAxes, rhsBatchAxes []int) *graph.Node {
	return ImplAuto.DotGeneral(lhs, lhsContractingAxes, lhsBatchAxes, rhs, rhsContractingAxes, rhsBatchAxes)
}

// MatMul multiplies x [..., k] by w [k, n] into [..., n] (a dense layer without bias), with ImplAuto.
func MatMul(x, w *graph.Node) *graph.Node { return ImplAuto.MatMul(x, w) }

// MatMul is MatMul with the implementation impl.
func (impl Impl) MatMul(x, w *graph.Node) *graph.Node {
	if x.Rank() < 1 || w.Rank() != 2 || x.Shape().Dimensions[x.Rank()-1] != w.Shape().Dimensions[0] {
		panicf("nn.MatMul: x must be [..., k] and w [k, n], got x %s and w %s", x.Shape(), w.Shape())
	}
	return impl.DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
}

// DotGeneral is DotGeneral with the implementation impl.
func (impl Impl) DotGeneral(lhs *graph.Node, lhsContractingAxes, lhsBatchAxes []int, rhs *graph.Node,
	rhsContractingAxes, rhsBatchAxes []int) *graph.Node {
	lc, lb := normAxes(lhs, lhsContractingAxes), normAxes(lhs, lhsBatchAxes)
	rc, rb := normAxes(rhs, rhsContractingAxes), normAxes(rhs, rhsBatchAxes)
	if len(lc) != len(rc) || len(lb) != len(rb) {
		panicf("nn.DotGeneral: lhs %s (contracting %v, batch %v) and rhs %s (contracting %v, batch %v) do not match",
			lhs.Shape(), lc, lb, rhs.Shape(), rc, rb)
	}
	if !impl.portableFor(lhs) {
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	y := graph.DotGeneral(graph.StopGradient(lhs), lc, lb, graph.StopGradient(rhs), rc, rb)
	lf, rf := freeAxes(lhs.Rank(), lc, lb), freeAxes(rhs.Rank(), rc, rb)
	nb := len(lb)
	// Positions in y (and v) of the batch, lhs-free and rhs-free axes.
	vBatch := iotaFrom(0, nb)
	vLhsFree := iotaFrom(nb, len(lf))
	vRhsFree := iotaFrom(nb+len(lf), len(rf))
	gradLhs := func(v *graph.Node) *graph.Node {
		// [batch..., lhsFree..., rhsContracting (ascending rhs axis order)...]
		d := graph.DotGeneral(v, vRhsFree, vBatch, graph.StopGradient(rhs), rf, rb)
		perm := make([]int, lhs.Rank()) // perm[lhs axis] = axis of d
		for i, a := range lb {
			perm[a] = i
		}
		for i, a := range lf {
			perm[a] = nb + i
		}
		sortedRC := slices.Sorted(slices.Values(rc))
		for j, a := range lc {
			perm[a] = nb + len(lf) + slices.Index(sortedRC, rc[j])
		}
		return transposeIfNeeded(d, perm)
	}
	gradRhs := func(v *graph.Node) *graph.Node {
		// [batch..., lhsContracting (ascending lhs axis order)..., rhsFree...]
		d := graph.DotGeneral(graph.StopGradient(lhs), lf, lb, v, vLhsFree, vBatch)
		perm := make([]int, rhs.Rank())
		for i, a := range rb {
			perm[a] = i
		}
		sortedLC := slices.Sorted(slices.Values(lc))
		for j, a := range rc {
			perm[a] = nb + slices.Index(sortedLC, lc[j])
		}
		for i, a := range rf {
			perm[a] = nb + len(lc) + i
		}
		return transposeIfNeeded(d, perm)
	}
	return withVJP2(y, lhs, rhs, gradLhs, gradRhs)
}

// transposeIfNeeded returns x with output axis i taken from x's axis perm[i].
func transposeIfNeeded(x *graph.Node, perm []int) *graph.Node {
	for i, p := range perm {
		if i != p {
			return graph.TransposeAllAxes(x, perm...)
		}
	}
	return x
}

func normAxes(x *graph.Node, axes []int) []int {
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += x.Rank()
		}
		if a < 0 || a >= x.Rank() {
			panicf("nn.DotGeneral: axis %d out of range for %s", axes[i], x.Shape())
		}
		out[i] = a
	}
	return out
}

// freeAxes returns, ascending, the axes of a rank-r operand that are neither contracting nor batch.
func freeAxes(rank int, contracting, batch []int) []int {
	var free []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			free = append(free, a)
		}
	}
	return free
}

func iotaFrom(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// withVJP2 returns y, a value computed by the caller from StopGradient(a) and StopGradient(b), with the gradient
// rule: for the gradient v of the loss w.r.t. y, the gradients w.r.t. a and b are gradA(v) and gradB(v).
//
// GoMLX v0.26.0 only offers single-input custom gradients (graph.IdentityWithCustomGradient), so this links them:
// y is returned through an identity whose custom gradient records v and passes it on to a zero-valued scalar
// link (a Where on a false constant, exact even for inf/NaN inputs) that depends on identities of a and b; their
// custom gradients, run later in the reverse pass (graph.Gradient visits nodes from the last created to the first,
// and the identities of a and b are created before y's), return gradB(v) and then gradA(v). A gradient that is not
// needed (an input that does not lead to any of graph.Gradient's targets) is not built.
//
// gradA's input is made to depend on gradB's result (a zero-valued scalar added to v), so that the two products
// run one after the other: the pure-Go backend of GoMLX v0.26.0 can deadlock when more than 2*NumCPU DotGenerals
// are ready at once (each holds a worker while waiting for another), see Portable's documentation.
func withVJP2(y, a, b *graph.Node, gradA, gradB func(v *graph.Node) *graph.Node) *graph.Node {
	var v, gb *graph.Node
	recorded := func(name string) *graph.Node {
		if v == nil {
			panicf("nn: internal error, the gradient of %s was requested before the output's gradient was seen", name)
		}
		return v
	}
	ia := graph.IdentityWithCustomGradient(a, func(_, _ *graph.Node) *graph.Node {
		va := recorded("lhs")
		if gb != nil {
			va = graph.Add(va, zeroLink(firstElement(gb)))
		}
		return gradA(va)
	})
	ib := graph.IdentityWithCustomGradient(b, func(_, _ *graph.Node) *graph.Node {
		gb = gradB(recorded("rhs"))
		return gb
	})
	link := zeroLink(graph.Add(firstElement(ia), firstElement(ib)))
	return graph.IdentityWithCustomGradient(graph.Add(y, link), func(_, vy *graph.Node) *graph.Node {
		v, gb = vy, nil
		return vy
	})
}

// zeroLink returns a scalar 0 (exactly, whatever s holds) that depends on the scalar s.
func zeroLink(s *graph.Node) *graph.Node {
	return graph.Where(graph.Const(s.Graph(), false), s, graph.ZerosLike(s))
}

// firstElement returns x's first element as a scalar, through a Gather (whose gradient runs everywhere).
func firstElement(x *graph.Node) *graph.Node {
	flat := graph.Reshape(x, x.Shape().Size(), 1)
	idx := graph.Const(x.Graph(), [][]int32{{0}})
	return graph.Reshape(graph.Gather(flat, idx)) // scalar
}
