package eval

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reference values of Wilson and McNemar come from statsmodels 0.13.5 (Debian's python3-statsmodels):
// proportion_confint(k, n, alpha=0.05, method="wilson") and mcnemar([[100, b], [c, 100]], exact=True).pvalue. The
// first four Wilson rows are also Newcombe (1998, Stat. Med. 17:857, method 3) to four decimals.
func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{81, 263, 0.255288519878, 0.366209576983},
		{15, 148, 0.062386399531, 0.160487241723},
		{0, 20, 0, 0.161125158053},
		{1, 29, 0.006113214293, 0.171755218793},
		{29, 29, 0.883030201500, 1},
		{50, 100, 0.403831530366, 0.596168469634},
		{7, 12, 0.319511312550, 0.806739686341},
		{294, 500, 0.544346592010, 0.630311524069},
	} {
		iv := Wilson(c.k, c.n, Z95)
		assert.InDelta(t, float64(c.k)/float64(c.n), iv.Est, 1e-12, "%d/%d", c.k, c.n)
		assert.InDelta(t, c.lo, iv.Lo, 1e-9, "%d/%d lower", c.k, c.n)
		assert.InDelta(t, c.hi, iv.Hi, 1e-9, "%d/%d upper", c.k, c.n)
	}
	assert.True(t, math.IsNaN(Wilson(0, 0, Z95).Lo), "no trial: no interval")
	assert.True(t, math.IsNaN(Wilson(3, 2, Z95).Est), "more successes than trials")

	recs := []*Record{{Correct: true}, {Correct: true}, {Correct: false}, {Error: "unreadable", Correct: true}}
	iv := AccuracyInterval(recs)
	want := Wilson(2, 3, Z95).Scale(100)
	assert.InDelta(t, 100*2/3.0, iv.Est, 1e-9, "records with an error are not counted")
	assert.Equal(t, want, iv)
}

func TestMcNemarExact(t *testing.T) {
	for _, c := range []struct {
		b, c int
		p    float64
	}{
		{1, 6, 0.125}, {0, 5, 0.0625}, {2, 10, 0.03857421875}, {10, 2, 0.03857421875}, {0, 0, 1}, {3, 3, 1},
		{40, 61, 0.0460440669293}, {150, 190, 0.0342700465333}, {0, 1, 1},
	} {
		assert.InDelta(t, c.p, McNemarExact(c.b, c.c), 1e-10, "b=%d c=%d", c.b, c.c)
	}
	// Thousands of discordant pairs stay finite (log-space binomial).
	p := McNemarExact(2400, 2600)
	assert.True(t, p > 0.004 && p < 0.006, "p = %g", p)
}

// pairedRecords builds two methods' records on indices 0..n-1: A right on aRight, B right on bRight.
func pairedRecords(n int, aRight, bRight func(i int) bool) (a, b []*Record) {
	for i := range n {
		a = append(a, &Record{Index: i, Correct: aRight(i)})
		b = append(b, &Record{Index: i, Correct: bRight(i)})
	}
	return a, b
}

func TestPairByIndex(t *testing.T) {
	// A right on even indices, B right on indices < 6: 0 2 4 both, 1 3 5 only B, 6 8 only A, 7 9 neither.
	a, b := pairedRecords(10, func(i int) bool { return i%2 == 0 }, func(i int) bool { return i < 6 })
	// Shuffle A's order, drop index 9 from B, mark index 8 of A as failed: pairs are the indices 0..7.
	a[0], a[5] = a[5], a[0]
	b = b[:9]
	a[8].Error = "unreadable"
	p := PairByIndex(a, b)
	require.Equal(t, 8, p.N())
	onlyA, onlyB := p.Discordant()
	assert.Equal(t, 1, onlyA, "index 6")
	assert.Equal(t, 3, onlyB, "indices 1, 3, 5")
	assert.InDelta(t, 100*2/8.0, p.Diff(), 1e-12)
	assert.InDelta(t, McNemarExact(1, 3), p.McNemar(), 1e-15)

	var pooled Paired
	pooled.Append(p)
	pooled.Append(p)
	assert.Equal(t, 16, pooled.N())
	onlyA, onlyB = pooled.Discordant()
	assert.Equal(t, [2]int{2, 6}, [2]int{onlyA, onlyB})
	assert.True(t, math.IsNaN(Paired{}.McNemar()))
	assert.True(t, math.IsNaN(Paired{}.Diff()))
}

func TestBootstrapDiff(t *testing.T) {
	// 400 pairs: 60 only B right, 30 only A right, the rest concordant: diff = +7.5 points.
	n, onlyB, onlyA := 400, 60, 30
	a, b := pairedRecords(n, func(i int) bool { return i >= onlyB && i < onlyB+onlyA || i >= 200 },
		func(i int) bool { return i < onlyB || i >= 200 })
	p := PairByIndex(a, b)
	gotA, gotB := p.Discordant()
	require.Equal(t, [2]int{onlyA, onlyB}, [2]int{gotA, gotB})
	iv := p.BootstrapDiff(BootstrapReps, BootstrapSeed, 0.95)
	assert.InDelta(t, 7.5, iv.Est, 1e-12)
	assert.Equal(t, iv, p.BootstrapDiff(BootstrapReps, BootstrapSeed, 0.95), "seeded: deterministic")
	assert.NotEqual(t, iv, p.BootstrapDiff(BootstrapReps, BootstrapSeed+1, 0.95), "another seed, another sample")
	// The percentile interval is close to the Wald interval of a paired difference of proportions (textbook
	// formula): d ± z·sqrt((b + c) − (c − b)²/n)/n, here 7.5 ± 4.05 points.
	nf := float64(n)
	se := math.Sqrt(float64(onlyA+onlyB)-math.Pow(float64(onlyB-onlyA), 2)/nf) / nf * 100
	assert.InDelta(t, 7.5-Z95*se, iv.Lo, 0.6, "lower bound")
	assert.InDelta(t, 7.5+Z95*se, iv.Hi, 0.6, "upper bound")
	assert.True(t, math.IsNaN(Paired{}.BootstrapDiff(100, 1, 0.95).Lo))
}

func TestBootstrapECE(t *testing.T) {
	// Always right at confidence 1, always wrong at confidence 0.95: every resample has ECE 0, resp. 95.
	var sure, wrong []*Record
	for i := range 50 {
		sure = append(sure, &Record{Index: i, Correct: true, Confidence: 1})
		wrong = append(wrong, &Record{Index: i, Correct: false, Confidence: 0.95})
	}
	assert.Equal(t, Interval{0, 0, 0}, BootstrapECE(sure, 200, 1, 0.95))
	w := BootstrapECE(wrong, 200, 1, 0.95)
	assert.InDelta(t, 95, w.Est, 1e-9)
	assert.InDelta(t, 95, w.Lo, 1e-9)
	assert.InDelta(t, 95, w.Hi, 1e-9)

	// Mixed records: the estimate is ComputeMetrics' ECE; the interval is deterministic, has positive width, and
	// four copies of the records (4x n) make it about half as wide.
	var mixed []*Record
	for i := range 100 {
		conf := 0.3 + 0.007*float64(i)
		mixed = append(mixed, &Record{Index: i, Confidence: conf, Correct: i%3 != 0})
	}
	mixed = append(mixed, &Record{Index: 100, Error: "unreadable", Confidence: 0.99})
	iv := BootstrapECE(mixed, BootstrapReps, BootstrapSeed, 0.95)
	assert.InDelta(t, ComputeMetrics(mixed).ECE, iv.Est, 1e-9)
	assert.Equal(t, iv, BootstrapECE(mixed, BootstrapReps, BootstrapSeed, 0.95))
	assert.Greater(t, iv.Hi-iv.Lo, 5.0)
	var four []*Record
	for range 4 {
		four = append(four, mixed...)
	}
	iv4 := BootstrapECE(four, BootstrapReps, BootstrapSeed, 0.95)
	assert.InDelta(t, iv.Est, iv4.Est, 1e-9)
	ratio := (iv4.Hi - iv4.Lo) / (iv.Hi - iv.Lo)
	assert.True(t, ratio > 0.35 && ratio < 0.7, "width ratio %g", ratio)
	assert.True(t, math.IsNaN(BootstrapECE(nil, 100, 1, 0.95).Est))
}
