package zero

import (
	"fmt"
	"math"
	"sort"
)

// VoteEps is the "zero" temperature: float32's machine epsilon (torch.finfo(float32).eps), by which the kept
// views' cosines are divided before their softmax.
const VoteEps = 1.0 / (1 << 23)

// Result is ZERO's computation on the cosines of one example's views.
type Result struct {
	// Entropies are the views' entropies of softmax(scale * cosines) [N].
	Entropies []float64
	// Order is every view by ascending entropy (equal entropies keep index order).
	Order []int
	// Kept are the first KeepCount(N, gamma) views of Order.
	Kept []int
	// Votes are the kept views' summed softmax(cosines / VoteEps) [C], float32 as the original sums them.
	Votes []float32
	// Ties are the classes whose vote equals the maximum, ascending; nil when one class leads.
	Ties []int
	// TieBreak is the class the tie-break chose (-1 without a tie); Fallback says it came from the first discarded
	// view's masked argmax (no discarded view voted for a tied class).
	TieBreak int
	Fallback bool
	// Output is Votes with +1 at TieBreak: the original's returned vector.
	Output []float32
	// Pred is the index of Output's maximum (the lowest on ties).
	Pred int
}

// KeepCount is the number of views ZERO keeps: int(n * gamma) as Python computes it (the float64 product,
// truncated), which may be 0. It differs from tta.SelectCount, which keeps at least one view and rounds
// n * rho + 1e-9 down (50 * 0.58 = 28.999999999999996: 28 here, 29 there).
func KeepCount(n int, gamma float64) int {
	return int(float64(n) * gamma)
}

// Vote runs ZERO on cos [N][C], the cosines of the normalised image features of N views with the C normalised class
// features; scale is exp(logit_scale), the temperature of the entropies; gamma the kept fraction. It errors when
// cos is empty or ragged, and in the one case the original fails: a vote tie with no discarded view (KeepCount = N).
func Vote(cos [][]float32, scale, gamma float64) (*Result, error) {
	n := len(cos)
	if n == 0 || len(cos[0]) == 0 {
		return nil, fmt.Errorf("zero.Vote: need cosines [N >= 1][C >= 1], got %d views", n)
	}
	c := len(cos[0])
	r := &Result{Entropies: make([]float64, n), Order: make([]int, n), TieBreak: -1}
	for i, row := range cos {
		if len(row) != c {
			return nil, fmt.Errorf("zero.Vote: view %d has %d classes, view 0 has %d", i, len(row), c)
		}
		r.Entropies[i] = entropy(row, scale)
		r.Order[i] = i
	}
	sort.SliceStable(r.Order, func(a, b int) bool { return r.Entropies[r.Order[a]] < r.Entropies[r.Order[b]] })
	k := min(max(KeepCount(n, gamma), 0), n)
	r.Kept = append([]int(nil), r.Order[:k]...)
	r.Votes = make([]float32, c)
	p := make([]float64, c)
	for _, v := range r.Kept {
		row := cos[v]
		m := float64(row[argmax(row)])
		s := 0.0
		for j, x := range row {
			p[j] = math.Exp((float64(x) - m) / VoteEps)
			s += p[j]
		}
		for j := range p {
			r.Votes[j] += float32(p[j] / s)
		}
	}
	best := argmax(r.Votes)
	for j, x := range r.Votes {
		if x == r.Votes[best] {
			r.Ties = append(r.Ties, j)
		}
	}
	r.Output = append([]float32(nil), r.Votes...)
	if len(r.Ties) == 1 {
		r.Ties = nil
		r.Pred = best
		return r, nil
	}
	if k == n {
		return nil, fmt.Errorf("zero.Vote: classes %v tie with all %d views kept (gamma %g): no discarded view to break "+
			"the tie (the original fails here)", r.Ties, n, gamma)
	}
	tied := map[int]bool{}
	for _, t := range r.Ties {
		tied[t] = true
	}
	r.TieBreak = -1
	for _, v := range r.Order[k:] { // greedy_break: the first discarded view whose argmax is tied
		if a := argmax(cos[v]); tied[a] {
			r.TieBreak = a
			break
		}
	}
	if r.TieBreak < 0 { // break_sample_tie: logit[~ties] = -inf on the first discarded view, then its argmax
		r.Fallback = true
		row := append([]float32(nil), cos[r.Order[k]]...)
		for _, t := range r.Ties {
			row[c-1-t] = float32(math.Inf(-1))
		}
		r.TieBreak = argmax(row)
	}
	r.Output[r.TieBreak]++
	r.Pred = argmax(r.Output)
	return r, nil
}

// entropy is the entropy of softmax(scale * row), in float64.
func entropy(row []float32, scale float64) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, scale*float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(scale*float64(v) - m)
	}
	lse := m + math.Log(s)
	h := 0.0
	for _, v := range row {
		lp := scale*float64(v) - lse
		h -= math.Exp(lp) * lp
	}
	return h
}

// argmax is the index of the first maximum.
func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}
