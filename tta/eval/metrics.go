package eval

import (
	"math"
	"sort"
)

// ECEBins is the number of equal-width confidence bins of the expected calibration error.
const ECEBins = 15

// Metrics summarise records.
type Metrics struct {
	// N counts the evaluated records; Errors the records that could not be evaluated (not in any metric).
	N, Errors int
	// Top1 and Top5 are accuracies in percent.
	Top1, Top5 float64
	// ECE is the expected calibration error over ECEBins equal-width confidence bins, in percent.
	ECE float64
	// NLL is the mean negative log-likelihood of the label.
	NLL float64
	// Entropy is the mean entropy of the final prediction.
	Entropy float64
	// SecondsMedian and SecondsP95 are the per-example wall time's median and 95th percentile.
	SecondsMedian, SecondsP95 float64
	// Reliability holds the per-bin accuracy and mean confidence (NaN for empty bins) and counts.
	Reliability Reliability
}

// Reliability is a reliability diagram's data.
type Reliability struct {
	BinAccuracy, BinConfidence []float64
	BinCount                   []int
}

// ComputeMetrics computes Metrics over records (records with Error are counted apart).
func ComputeMetrics(recs []*Record) Metrics {
	var m Metrics
	rel := Reliability{BinAccuracy: make([]float64, ECEBins), BinConfidence: make([]float64, ECEBins),
		BinCount: make([]int, ECEBins)}
	var secs []float64
	for _, r := range recs {
		if r.Error != "" {
			m.Errors++
			continue
		}
		m.N++
		if r.Correct {
			m.Top1++
		}
		for _, c := range r.Top5 {
			if c == r.Label {
				m.Top5++
				break
			}
		}
		m.NLL -= r.LabelLogProb
		m.Entropy += float64(r.EntropyAfter)
		secs = append(secs, r.Seconds)
		b := eceBin(r.Confidence)
		rel.BinCount[b]++
		rel.BinConfidence[b] += r.Confidence
		if r.Correct {
			rel.BinAccuracy[b]++
		}
	}
	if m.N == 0 {
		nan := math.NaN()
		m.Top1, m.Top5, m.ECE, m.NLL, m.Entropy, m.SecondsMedian, m.SecondsP95 = nan, nan, nan, nan, nan, nan, nan
		m.Reliability = rel
		return m
	}
	n := float64(m.N)
	for b := range ECEBins {
		if c := rel.BinCount[b]; c > 0 {
			rel.BinAccuracy[b] /= float64(c)
			rel.BinConfidence[b] /= float64(c)
			m.ECE += float64(c) / n * math.Abs(rel.BinAccuracy[b]-rel.BinConfidence[b])
		} else {
			rel.BinAccuracy[b], rel.BinConfidence[b] = math.NaN(), math.NaN()
		}
	}
	m.ECE *= 100
	m.Top1 = 100 * m.Top1 / n
	m.Top5 = 100 * m.Top5 / n
	m.NLL /= n
	m.Entropy /= n
	sort.Float64s(secs)
	m.SecondsMedian = quantile(secs, 0.5)
	m.SecondsP95 = quantile(secs, 0.95)
	m.Reliability = rel
	return m
}

// quantile of sorted values with linear interpolation (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

func sortRecords(recs []*Record) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Index < recs[j].Index })
}

func exp(x float64) float64 { return math.Exp(x) }
