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
	lf, rf := freeAxes(lhs.Rank(), lc, lb), freeAxes(rhs.Rank(), rc, rb)
	nb := len(lb)
	// Positions in y (and v) of the batch, lhs-free and rhs-free axes.
	vBatch := iotaFrom(0, nb)
	vLhsFree := iotaFrom(nb, len(lf))
	vRhsFree := iotaFrom(nb+len(lf), len(rf))
	gradLhs := func(v, rhs *graph.Node) *graph.Node {
		// [batch..., lhsFree..., rhsContracting (ascending rhs axis order)...]
		d := product(v, vRhsFree, vBatch, rhs, rf, rb)
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
	gradRhs := func(v, lhs *graph.Node) *graph.Node {
		// [batch..., lhsContracting (ascending lhs axis order)..., rhsFree...]
		d := plainDot(lhs, lf, lb, v, vLhsFree, vBatch)
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
	return withVJP2(lhs, rhs, func(a, b *graph.Node) *graph.Node { return product(a, lc, lb, b, rc, rb) },
		gradLhs, gradRhs)
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
		return plainDot(lhs, lc, lb, rhs, rc, rb)
	}
	m, k := lhs.Shape().Dimensions[0], lhs.Shape().Dimensions[1]
	n := rhs.Shape().Dimensions[1-rc[0]]
	batch := rowBlocks(m, k, n)
	if batch == 0 {
		return plainDot(lhs, lc, lb, rhs, rc, rb)
	}
	g := lhs.Graph()
	w := rhs // [n, k]: the layout the backend's kernel reads
	if rc[0] == 0 {
		w = graph.Transpose(rhs, 0, 1)
	}
	if pad := (8 - k%8) % 8; pad > 0 {
		zeros := func(dims ...int) *graph.Node {
			return graph.BroadcastToDims(graph.Scalar(g, lhs.DType(), 0), dims...)
		}
		lhs = graph.Concatenate([]*graph.Node{lhs, zeros(m, pad)}, 1) // [m, k+pad]
		w = graph.Concatenate([]*graph.Node{w, zeros(n, pad)}, 1)     // [n, k+pad]
		k += pad
	}
	lhs3 := graph.Reshape(lhs, batch, m/batch, k)                             // [batch, m/batch, k]
	w3 := graph.BroadcastToDims(graph.InsertAxes(w, 0), batch, n, k)          // [batch, n, k]
	out := graph.DotGeneral(lhs3, []int{2}, []int{0}, w3, []int{2}, []int{0}) // [batch, m/batch, n]
	return graph.Reshape(out, m, n)
}

// plainDot is graph.DotGeneral for the pure-Go backend: when the product runs on the backend's plain kernel
// (lhsCross*rhsCross at most pureGoBlockedCrosses), that kernel first copies each operand into the layout
// [batch, cross, contracted] unless it is already so, with a per-element loop about twice as slow as a Transpose
// (a weight gradient of the embedded ResNet's stem, [36864, 147] x [36864, 16] contracted over the 36864 rows: 103
// ms, 67 ms with the Transposes, 42 ms for the kernel alone). So the operands are transposed to that layout here;
// the kernel then reads the same values in the same order, and the result has the same bits. The blocked kernel
// packs its operands into blocks from any layout at no extra cost, so its operands are left as they are.
func plainDot(lhs *graph.Node, lc, lb []int, rhs *graph.Node, rc, rb []int) *graph.Node {
	cross := func(x *graph.Node, c, b []int) int {
		size := 1
		for _, a := range freeAxes(x.Rank(), c, b) {
			size *= x.Shape().Dimensions[a]
		}
		return size
	}
	if cross(lhs, lc, lb)*cross(rhs, rc, rb) > pureGoBlockedCrosses {
		return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
	}
	normal := func(x *graph.Node, c, b []int) (*graph.Node, []int, []int) {
		perm := append(append(slices.Clone(b), freeAxes(x.Rank(), c, b)...), c...)
		return transposeIfNeeded(x, perm), iotaFrom(x.Rank()-len(c), len(c)), iotaFrom(0, len(b))
	}
	l, nlc, nlb := normal(lhs, lc, lb)
	r, nrc, nrb := normal(rhs, rc, rb)
	return graph.DotGeneral(l, nlc, nlb, r, nrc, nrb)
}

// rowBlocks returns the number of row blocks product splits a product [m, k] x [k, n] into, or 0 when it runs it
// as one product.
func rowBlocks(m, k, n int) int {
	if m*n <= pureGoBlockedCrosses || (n > pureGoNarrow && k > pureGoNarrow) {
		return 0
	}
	for b := (m*n + pureGoBlockedCrosses - 1) / pureGoBlockedCrosses; b <= m/64; b++ {
		if m%b == 0 {
			return b
		}
	}
	return 0 // no divisor leaves row blocks of 64 or more
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

// withVJP2 returns f(StopGradient(a), StopGradient(b)) with the gradient rule: for the gradient v of the loss w.r.t.
// the result, the gradients w.r.t. a and b are gradA(v, sb) and gradB(v, sa), where sa and sb are the
// stop-gradient copies of a and b that f read.
//
// GoMLX v0.26.0 only offers single-input custom gradients (graph.IdentityWithCustomGradient), so this links them:
// the result goes through an identity whose custom gradient records v and passes it on to a zero-valued scalar
// link (a Where on a false constant, exact even for inf/NaN inputs) that depends on identities of a and b; their
// custom gradients, run later in the reverse pass (graph.Gradient visits nodes from the last created to the first,
// and the identities of a and b are created before the result's), return gradB(v) and then gradA(v). A gradient
// that is not needed (an input that does not lead to any of graph.Gradient's targets) is not built.
//
// The order in which the nodes are created matters on the pure-Go backend, which runs them in that order and lets
// an op reuse its input's buffer only when it is that input's last reader (otherwise an Identity, a Reshape or a
// StopGradient copies the whole tensor): the link reads one element of each identity (a Gather, no reshape) before
// the stop-gradient nodes take the identities over, and the reverse pass reads sa and sb, never a and b again. So
// an operand read only by this product (an im2col matrix, a reshaped weight) is never copied.
//
// gradA's input is made to depend on gradB's result (a zero-valued scalar added to v), so that the two products
// run one after the other: the pure-Go backend of GoMLX v0.26.0 can deadlock when more than 2*NumCPU DotGenerals
// are ready at once (each holds a worker while waiting for another), see Portable's documentation.
func withVJP2(a, b *graph.Node, f func(sa, sb *graph.Node) *graph.Node,
	gradA, gradB func(v, stopped *graph.Node) *graph.Node) *graph.Node {
	var v, gb, sa, sb *graph.Node
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
		return gradA(va, sb)
	})
	ib := graph.IdentityWithCustomGradient(b, func(_, _ *graph.Node) *graph.Node {
		gb = gradB(recorded("rhs"), sa)
		return gb
	})
	link := zeroLink(graph.Add(firstElement(ia), firstElement(ib)))
	sa, sb = graph.StopGradient(ia), graph.StopGradient(ib)
	y := f(sa, sb)
	return graph.IdentityWithCustomGradient(graph.Add(y, link), func(_, vy *graph.Node) *graph.Node {
		v, gb = vy, nil
		return vy
	})
}

// zeroLink returns a scalar 0 (exactly, whatever s holds) that depends on the scalar s.
func zeroLink(s *graph.Node) *graph.Node {
	return graph.Where(graph.Const(s.Graph(), false), s, graph.ZerosLike(s))
}

// firstElement returns x's first element as a scalar, through a Gather of all its axes (whose gradient runs
// everywhere; no Reshape of x, which would copy x on the pure-Go backend when x has later readers).
func firstElement(x *graph.Node) *graph.Node {
	if x.Rank() == 0 {
		return x
	}
	idx := graph.Const(x.Graph(), [][]int32{make([]int32, x.Rank())})
	return graph.Reshape(graph.Gather(x, idx)) // scalar
}
