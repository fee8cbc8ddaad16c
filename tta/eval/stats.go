package eval

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Z95 is the standard normal quantile of a two-sided 95% interval (Φ⁻¹(0.975)).
const Z95 = 1.959963984540054

// BootstrapReps is the number of resamples of the bootstrap intervals.
const BootstrapReps = 2000

// BootstrapSeed seeds the bootstrap intervals, so the same records give the same interval.
const BootstrapSeed = 1

// Interval is an estimate and its confidence interval [Lo, Hi], in the unit of the estimate. All three are NaN when
// there is nothing to estimate from.
type Interval struct {
	Est, Lo, Hi float64
}

// Scale returns the interval multiplied by f (e.g. 100 for a fraction in percent).
func (iv Interval) Scale(f float64) Interval {
	return Interval{Est: iv.Est * f, Lo: iv.Lo * f, Hi: iv.Hi * f}
}

func nanInterval() Interval { return Interval{Est: math.NaN(), Lo: math.NaN(), Hi: math.NaN()} }

// Wilson is the Wilson score interval of a proportion (Wilson 1927; Newcombe 1998, method 3): k successes in n
// trials, z the normal quantile (Z95 for 95%). Est is k/n; the bounds are fractions in [0, 1]. NaN when n = 0.
func Wilson(k, n int, z float64) Interval {
	if n <= 0 || k < 0 || k > n {
		return nanInterval()
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Interval{Est: p, Lo: math.Max(0, centre-half), Hi: math.Min(1, centre+half)}
}

// AccuracyInterval is the top-1 accuracy of the records (those without Error) in percent with its 95% Wilson
// interval.
func AccuracyInterval(recs []*Record) Interval {
	k, n := 0, 0
	for _, r := range recs {
		if r.Error != "" {
			continue
		}
		n++
		if r.Correct {
			k++
		}
	}
	return Wilson(k, n, Z95).Scale(100)
}

// Paired are two methods' outcomes on the same examples: A[i] and B[i] say whether method A and method B got
// example i right.
type Paired struct {
	A, B []bool
}

// PairByIndex pairs the records of two methods on one dataset by example index. Indices that either side lacks, or
// where either record has an Error, are left out.
func PairByIndex(a, b []*Record) Paired {
	byIndex := make(map[int]*Record, len(b))
	for _, r := range b {
		if r.Error == "" {
			byIndex[r.Index] = r
		}
	}
	sorted := make([]*Record, 0, len(a))
	for _, r := range a {
		if r.Error == "" {
			sorted = append(sorted, r)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	var p Paired
	seen := map[int]bool{}
	for _, r := range sorted {
		o, ok := byIndex[r.Index]
		if !ok || seen[r.Index] {
			continue
		}
		seen[r.Index] = true
		p.A = append(p.A, r.Correct)
		p.B = append(p.B, o.Correct)
	}
	return p
}

// Append adds q's pairs after p's (pooling datasets: pair each dataset by index, then append).
func (p *Paired) Append(q Paired) {
	p.A = append(p.A, q.A...)
	p.B = append(p.B, q.B...)
}

// N is the number of pairs.
func (p Paired) N() int { return min(len(p.A), len(p.B)) }

// Discordant counts the pairs only A got right and the pairs only B got right.
func (p Paired) Discordant() (onlyA, onlyB int) {
	for i := range p.N() {
		switch {
		case p.A[i] && !p.B[i]:
			onlyA++
		case p.B[i] && !p.A[i]:
			onlyB++
		}
	}
	return onlyA, onlyB
}

// Diff is B's accuracy minus A's, in percent (NaN without pairs).
func (p Paired) Diff() float64 {
	n := p.N()
	if n == 0 {
		return math.NaN()
	}
	onlyA, onlyB := p.Discordant()
	return 100 * float64(onlyB-onlyA) / float64(n)
}

// McNemar is the two-sided p-value of McNemar's exact test that A and B are equally accurate on these examples:
// under the null the discordant pairs split as Binomial(onlyA + onlyB, 1/2), and p = min(1, 2·P(X ≤ min(onlyA,
// onlyB))). 1 when no pair is discordant; NaN without pairs.
func (p Paired) McNemar() float64 {
	if p.N() == 0 {
		return math.NaN()
	}
	return McNemarExact(p.Discordant())
}

// McNemarExact is the two-sided exact McNemar p-value from the discordant counts b and c (see Paired.McNemar).
func McNemarExact(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space (n may be thousands).
	lgN1, _ := math.Lgamma(float64(n + 1))
	cdf := 0.0
	for i := 0; i <= k; i++ {
		li, _ := math.Lgamma(float64(i + 1))
		lni, _ := math.Lgamma(float64(n - i + 1))
		cdf += math.Exp(lgN1 - li - lni - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*cdf)
}

// BootstrapDiff is the paired percentile bootstrap interval of B's accuracy minus A's, in percent: reps resamples
// of the pairs with replacement (seeded: the same pairs, reps and seed give the same interval), level the
// coverage (0.95). Est is Diff.
func (p Paired) BootstrapDiff(reps int, seed uint64, level float64) Interval {
	n := p.N()
	if n == 0 || reps <= 0 {
		return nanInterval()
	}
	d := make([]int, n) // +1 only B right, -1 only A right
	for i := range n {
		if p.B[i] && !p.A[i] {
			d[i] = 1
		} else if p.A[i] && !p.B[i] {
			d[i] = -1
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	stats := make([]float64, reps)
	for r := range reps {
		s := 0
		for range n {
			s += d[rng.IntN(n)]
		}
		stats[r] = 100 * float64(s) / float64(n)
	}
	return percentile(stats, p.Diff(), level)
}

// BootstrapECE is the percentile bootstrap interval of the expected calibration error (percent, ECEBins bins, as
// Metrics.ECE) of the records without Error: reps resamples of the records with replacement, seeded, level the
// coverage (0.95). Est is the records' ECE.
func BootstrapECE(recs []*Record, reps int, seed uint64, level float64) Interval {
	var conf []float64
	var correct []bool
	for _, r := range recs {
		if r.Error == "" {
			conf = append(conf, r.Confidence)
			correct = append(correct, r.Correct)
		}
	}
	n := len(conf)
	if n == 0 || reps <= 0 {
		return nanInterval()
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	est := ece(conf, correct, idx)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	stats := make([]float64, reps)
	for r := range reps {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		stats[r] = ece(conf, correct, idx)
	}
	return percentile(stats, est, level)
}

// ece is the expected calibration error (percent) of the examples idx (with repetition), binned as ComputeMetrics.
func ece(conf []float64, correct []bool, idx []int) float64 {
	var count [ECEBins]int
	var sumConf, sumAcc [ECEBins]float64
	for _, i := range idx {
		b := eceBin(conf[i])
		count[b]++
		sumConf[b] += conf[i]
		if correct[i] {
			sumAcc[b]++
		}
	}
	e := 0.0
	for b := range ECEBins {
		if count[b] > 0 {
			c := float64(count[b])
			e += c / float64(len(idx)) * math.Abs(sumAcc[b]/c-sumConf[b]/c)
		}
	}
	return 100 * e
}

// eceBin is the confidence bin of ComputeMetrics' reliability diagram.
func eceBin(conf float64) int {
	if conf <= 0 {
		return 0
	}
	return min(int(conf*ECEBins), ECEBins-1)
}

// percentile returns est with the central level interval of the bootstrap statistics (sorted in place).
func percentile(stats []float64, est, level float64) Interval {
	sort.Float64s(stats)
	a := (1 - level) / 2
	return Interval{Est: est, Lo: quantile(stats, a), Hi: quantile(stats, 1-a)}
}
