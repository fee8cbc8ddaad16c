package ensemble

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.

	"github.com/gotta-ml/gotta/tta"
)

// Combine is the ensemble's combination inside a graph: memberLogits[i] [k_i, C] are member i's selected-view
// logits, temps[i] its temperature. It returns the combined log-distribution m [C] (normalised unless
// seedCompatible) and the members' weights [M] (proportional to 1/entropy, gradient stopped). See the package doc.
func Combine(memberLogits []*Node, temps []float64, seedCompatible bool) (m, weights *Node) {
	if len(memberLogits) == 0 || len(memberLogits) != len(temps) {
		panicf("ensemble.Combine: %d members, %d temperatures", len(memberLogits), len(temps))
	}
	c := memberLogits[0].Shape().Dimensions[memberLogits[0].Rank()-1]
	logps := make([]*Node, len(memberLogits))
	ents := make([]*Node, len(memberLogits))
	for i, z := range memberLogits {
		if z.Rank() != 2 || z.Shape().Dimensions[1] != c {
			panicf("ensemble.Combine: member %d logits must be [views, %d], got %s", i, c, z.Shape())
		}
		var a *Node
		if seedCompatible {
			n := z.Shape().Dimensions[0]
			a = AddScalar(tta.ReduceLogSumExp(z, 0), -math.Log(float64(n))) // [C]
		} else {
			a = tta.MeanLogProbs(z) // [C]
		}
		a = MaxScalar(a, lowest(a))
		logps[i] = LogSoftmax(DivScalar(a, temps[i]), -1)       // [C]
		ents[i] = StopGradient(tta.EntropyOfLogProbs(logps[i])) // scalar
	}
	inv := Inverse(Stack(ents, 0))                                 // [M]
	weights = Div(inv, ReduceAllSum(inv))                          // [M]
	m = ReduceSum(Mul(ExpandDims(weights, 1), Stack(logps, 0)), 0) // [C]
	if !seedCompatible {
		m = Sub(m, tta.ReduceLogSumExp(m, 0))
	}
	return m, weights
}

// EntropyOf is the seed's entropy of a combined log-distribution m [C]: -sum exp(m) m (m clamped to the lowest
// finite value), without renormalising m.
func EntropyOf(m *Node) *Node { return tta.EntropyOfLogProbs(m) }

func lowest(x *Node) float64 {
	if x.DType().Size() == 8 {
		return -math.MaxFloat64
	}
	return -math.MaxFloat32
}
