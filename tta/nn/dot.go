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
	y := product(graph.StopGradient(lhs), lc, lb, graph.StopGradient(rhs), rc, rb)
	lf, rf := freeAxes(lhs.Rank(), lc, lb), freeAxes(rhs.Rank(), rc, rb)
	nb := len(lb)
	// Positions in y (and v) of the batch, lhs-free and rhs-free axes.
	vBatch := iotaFrom(0, nb)
	vLhsFree := iotaFrom(nb, len(lf))
	vRhsFree := iotaFrom(nb+len(lf), len(rf))
	gradLhs := func(v *graph.Node) *graph.Node {
		// [batch..., lhsFree..., rhsContracting (ascending rhs axis order)...]
		d := product(v, vRhsFree, vBatch, graph.StopGradient(rhs), rf, rb)
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

// The pure-Go backend of GoMLX v0.26.0 multiplies matrices whose lhsCross*rhsCross exceeds 16 blocks (of 32x32
// float32) with a blocked kernel that pads every axis to a multiple of 32; below that, with a plain kernel that pads
// nothing (and runs the batch on several goroutines). Both add the products along the contracted axis in groups of
// 8 aligned from the start, so when the contracted size is a multiple of 8 they give the same bits.
const (
	pureGoBlockedCrosses = 16 * 32 * 32 // lhsCross*rhsCross above which the blocked kernel runs
	pureGoBlockDim       = 32
	pureGoNarrow         = pureGoBlockDim / 2 // a free or contracted size at most this wastes half a block or more
)

// product is graph.DotGeneral, except for a product of matrices lhs [m, k] x rhs ([k, n] or [n, k]) that the
// pure-Go backend would run on its blocked kernel with n or k narrow (a convolution with 16 output channels, or its
// input gradient): then the m rows are split into a batch of row blocks small enough for the plain kernel, and k
// is padded with zeros to a multiple of 8, which computes the same values (the same groups of 8 products, padding
// adds zero groups) about twice as fast.
func product(lhs *graph.Node, lc, lb []int, rhs *graph.Node, rc, rb []int) *graph.Node {
	if len(lb) != 0 || lhs.Rank() != 2 || rhs.Rank() != 2 || len(lc) != 1 || lc[0] != 1 {
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	m, k := lhs.Shape().Dimensions[0], lhs.Shape().Dimensions[1]
	n := rhs.Shape().Dimensions[1-rc[0]]
	if m*n <= pureGoBlockedCrosses || (n > pureGoNarrow && k > pureGoNarrow) {
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	batch := 0
	for b := (m*n + pureGoBlockedCrosses - 1) / pureGoBlockedCrosses; b <= m/64; b++ {
		if m%b == 0 {
			batch = b
			break
		}
	}
	if batch == 0 { // no divisor leaves row blocks of 64 or more
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	g := lhs.Graph()
	w := rhs // [k, n]
	if rc[0] == 1 {
		w = graph.Transpose(rhs, 0, 1)
	}
	if pad := (8 - k%8) % 8; pad > 0 {
		zeros := func(dims ...int) *graph.Node {
			return graph.BroadcastToDims(graph.Scalar(g, lhs.DType(), 0), dims...)
		}
		lhs = graph.Concatenate([]*graph.Node{lhs, zeros(m, pad)}, 1) // [m, k+pad]
		w = graph.Concatenate([]*graph.Node{w, zeros(pad, n)}, 0)     // [k+pad, n]
		k += pad
	}
	lhs3 := graph.Reshape(lhs, batch, m/batch, k)                             // [batch, m/batch, k]
	w3 := graph.BroadcastToDims(graph.InsertAxes(w, 0), batch, k, n)          // [batch, k, n]
	out := graph.DotGeneral(lhs3, []int{2}, []int{0}, w3, []int{1}, []int{0}) // [batch, m/batch, n]
	return graph.Reshape(out, m, n)
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
