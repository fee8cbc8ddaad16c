package tta

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// ViewEntropies returns the entropy of softmax(logits) of each view: [views, classes] -> [views].
func ViewEntropies(logits *Node) *Node {
	if logits.Rank() != 2 {
		panic(fmt.Errorf("tta.ViewEntropies: logits must be [views, classes], got %s", logits.Shape()))
	}
	logp := LogSoftmax(logits, -1)
	return Neg(ReduceSum(Mul(Exp(logp), logp), -1))
}

// MarginalEntropy is the entropy of the views' average predicted distribution, computed in log space as TPT's
// avg_entropy and MEMO's marginal_entropy: [views, classes] -> scalar, or per example [batch, views, classes] ->
// [batch].
//
//	l = logits - logsumexp(logits, classes)      // log-softmax per view
//	a = logsumexp(l, views) - log(N)             // log of the mean probability
//	a = max(a, lowest finite float)
//	H = -sum(a * exp(a))
func MarginalEntropy(logits *Node) *Node {
	if logits.Rank() != 2 && logits.Rank() != 3 {
		panic(fmt.Errorf("tta.MarginalEntropy: logits must be [views, classes] or [batch, views, classes], got %s",
			logits.Shape()))
	}
	return EntropyOfLogProbs(MeanLogProbs(logits))
}

// MeanLogProbs is the log of the views' average softmax: [views, classes] -> [classes], or per example
// [batch, views, classes] -> [batch, classes].
func MeanLogProbs(logits *Node) *Node {
	if logits.Rank() != 2 && logits.Rank() != 3 {
		panic(fmt.Errorf("tta.MeanLogProbs: logits must be [views, classes] or [batch, views, classes], got %s",
			logits.Shape()))
	}
	axis := logits.Rank() - 2 // the views
	n := logits.Shape().Dimensions[axis]
	l := LogSoftmax(logits, -1)
	return AddScalar(ReduceLogSumExp(l, axis), -math.Log(float64(n)))
}

// EntropyOfLogProbs is -sum(exp(a) * a) over the last axis of log-probabilities a, with a clamped to the
// lowest finite value of its dtype (so that a probability of 0 contributes 0, not NaN): [..., classes] -> [...].
func EntropyOfLogProbs(logp *Node) *Node {
	lowest := math.Inf(-1)
	switch logp.DType().Size() {
	case 4:
		lowest = -math.MaxFloat32
	case 8:
		lowest = -math.MaxFloat64
	case 2:
		lowest = -65504 // float16 (bfloat16's lowest is larger in magnitude; this is a safe clamp for both).
	}
	a := MaxScalar(logp, lowest)
	return Neg(ReduceSum(Mul(a, Exp(a)), -1))
}

// ReduceLogSumExp is log(sum(exp(x))) over one axis, stabilised by the (gradient-stopped) maximum.
func ReduceLogSumExp(x *Node, axis int) *Node {
	m := StopGradient(ReduceAndKeep(x, ReduceMax, axis))
	s := Log(ReduceSum(Exp(Sub(x, m)), axis))
	return Add(s, Squeeze(m, axis))
}

// ViewEntropiesHost is ViewEntropies on the host: the entropy of softmax of each row of logits, in float64.
func ViewEntropiesHost(logits [][]float32) []float64 {
	out := make([]float64, len(logits))
	for i, row := range logits {
		out[i] = EntropyOfLogits(row)
	}
	return out
}

// EntropyOfLogits is the entropy of softmax(logits), computed in float64.
func EntropyOfLogits(logits []float32) float64 {
	lp := LogSoftmaxHost(logits)
	h := 0.0
	for _, v := range lp {
		h -= math.Exp(v) * v
	}
	return h
}

// LogSoftmaxHost is log-softmax in float64.
func LogSoftmaxHost(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	s := 0.0
	for _, v := range logits {
		s += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(s)
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = float64(v) - lse
	}
	return out
}

// SelectCount is the number of views confidence selection keeps: floor(n * rho) as TPT's int(n * top), at least 1
// and at most n. ZERO keeps its original count instead, int(n * gamma) without the lower bound (zero.KeepCount).
func SelectCount(n int, rho float64) int {
	k := int(math.Floor(float64(n)*rho + 1e-9))
	return min(max(k, 1), n)
}

// ConfidenceSelectHost returns the indices of the SelectCount(len(entropies), rho) views of lowest entropy, in
// ascending-entropy order (ties keep the lower index first).
func ConfidenceSelectHost(entropies []float64, rho float64) []int {
	idx := make([]int, len(entropies))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return entropies[idx[a]] < entropies[idx[b]] })
	return idx[:SelectCount(len(entropies), rho)]
}

// ConfidenceSelect is confidence selection in the graph, so that the selection never leaves the device (its host
// twin is ConfidenceSelectHost):
// entropies [N] (float) -> the k lowest-entropy views as a one-hot selection matrix [k, N] (entropies' dtype; row r
// picks the view of rank r, so selected = Dot(sel, x)) and their indices [k] int32, ascending entropy, ties keeping
// the lower index first. The rank of view i is the number of views j with e_j < e_i, or e_j == e_i and j < i: N^2
// comparisons, exact and cheap at TPT's and MEMO's N = 64. k is SelectCount(N, rho). Per example, entropies
// [batch, N] -> sel [batch, k, N] and indices [batch, k].
func ConfidenceSelect(entropies *Node, k int) (sel, indices *Node) {
	if entropies.Rank() != 1 && entropies.Rank() != 2 {
		panic(fmt.Errorf("tta.ConfidenceSelect: entropies must be [views] or [batch, views], got %s",
			entropies.Shape()))
	}
	n := entropies.Shape().Dimensions[entropies.Rank()-1]
	if k < 1 || k > n {
		panic(fmt.Errorf("tta.ConfidenceSelect: k = %d for %d views", k, n))
	}
	batched := entropies.Rank() == 2
	b := 1
	if batched {
		b = entropies.Shape().Dimensions[0]
	}
	g := entropies.Graph()
	ei := Reshape(entropies, b, n, 1) // [b, i, 1]
	ej := Reshape(entropies, b, 1, n) // [b, 1, j]
	lower := make([][][]bool, 1)      // [1, i, j]: j < i
	lower[0] = make([][]bool, n)
	for i := range lower[0] {
		lower[0][i] = make([]bool, n)
		for j := 0; j < i; j++ {
			lower[0][i][j] = true
		}
	}
	before := Or(LessThan(ej, ei), And(Equal(ej, ei), Const(g, lower))) // [b, i, j]: view j ranks before view i
	rank := ReduceSum(ConvertDType(before, dtypes.Int32), 2)            // [b, N]
	ranks := make([]int32, k)
	for r := range ranks {
		ranks[r] = int32(r)
	}
	oneHot := Equal(Reshape(Const(g, ranks), 1, k, 1), Reshape(rank, b, 1, n)) // [b, k, N]
	sel = ConvertDType(oneHot, entropies.DType())
	iota := Iota(g, shapes.Make(dtypes.Int32, b, k, n), 2)
	indices = ReduceSum(Where(oneHot, iota, ZerosLike(iota)), 2) // [b, k]
	if !batched {
		return Reshape(sel, k, n), Reshape(indices, k)
	}
	return sel, indices
}
