package mta

import (
	"fmt"
	"math"
	"sort"
)

// NeighborFraction is the fraction of the other views whose distances set a view's bandwidth:
// k = int(NeighborFraction * (N - 1)).
const NeighborFraction = 0.3

// Tol is the convergence threshold of the inner loops (the L2 change of y, of the mode).
const Tol = 1e-6

// Trace is the MeanShift of one example.
type Trace struct {
	// Bandwidth is each view's Gaussian bandwidth [N].
	Bandwidth []float64
	// Modes are the modes the kernel was evaluated at, in order (the first is view 0's features).
	Modes [][]float64
	// Ys are the inlierness vectors, one per update, in order.
	Ys [][]float64
	// Mode is the final mode (unit norm) [E].
	Mode []float64
}

// MeanShift runs MTA's inlierness-weighted MeanShift on feats [N][E] (normalised image features, view 0 the
// original image) and logits [N][C] (exp(logit_scale) * cosines), with the weights lambdaY, lambdaQ and maxIter
// iterations (outer loop, and at most maxIter in each inner loop). It errors for fewer than 5 views (no neighbours
// for the bandwidth) or ragged inputs.
func MeanShift(feats, logits [][]float32, lambdaY, lambdaQ float64, maxIter int) (*Trace, error) {
	n := len(feats)
	k := int(NeighborFraction * float64(n-1))
	if k < 1 || len(logits) != n {
		return nil, fmt.Errorf("mta.MeanShift: need N >= 5 views with features and logits, got %d and %d", n, len(logits))
	}
	e, c := len(feats[0]), len(logits[0])
	x := make([][]float64, n)
	probs := make([][]float64, n)
	for i := range n {
		if len(feats[i]) != e || len(logits[i]) != c {
			return nil, fmt.Errorf("mta.MeanShift: view %d has %d features and %d logits, view 0 %d and %d", i,
				len(feats[i]), len(logits[i]), e, c)
		}
		x[i] = make([]float64, e)
		for j, v := range feats[i] {
			x[i][j] = float64(v)
		}
		probs[i] = softmax32(logits[i])
	}
	tr := &Trace{Bandwidth: make([]float64, n)}
	d := make([]float64, n)
	for i := range n {
		for j := range n {
			d[j] = math.Sqrt(sqDist(x[i], x[j]))
		}
		sort.Float64s(d)
		s := 0.0
		for _, v := range d[1 : k+1] {
			s += v * v
		}
		tr.Bandwidth[i] = math.Sqrt(0.5 * s / float64(k))
	}
	aff := make([][]float64, n)
	for i := range n {
		aff[i] = make([]float64, n)
		for j := range n {
			for l := range c {
				aff[i][j] += probs[i][l] * probs[j][l]
			}
		}
	}
	y := make([]float64, n)
	for i := range y {
		y[i] = 1 / float64(n)
	}
	mode := append([]float64(nil), x[0]...)
	kernel := func() []float64 {
		tr.Modes = append(tr.Modes, append([]float64(nil), mode...))
		out := make([]float64, n)
		for i := range n {
			out[i] = math.Exp(-sqDist(x[i], mode) / (2 * tr.Bandwidth[i] * tr.Bandwidth[i]))
		}
		return out
	}
	z := make([]float64, n)
	for range maxIter {
		density := kernel()
		for it := 1; ; it++ {
			for i := range n {
				s := 0.0
				for j := range n {
					s += aff[i][j] * y[j]
				}
				z[i] = (density[i] + lambdaQ*s) / lambdaY
			}
			old := y
			y = softmax64(z)
			tr.Ys = append(tr.Ys, y)
			if math.Sqrt(sqDist(old, y)) < Tol || it >= maxIter {
				break
			}
		}
		for it := 1; ; it++ {
			density := kernel()
			old := mode
			mode = make([]float64, e)
			wsum := 0.0
			for i := range n {
				w := density[i] * y[i]
				wsum += w
				for j := range e {
					mode[j] += w * x[i][j]
				}
			}
			nrm := 0.0
			for j := range mode {
				mode[j] /= wsum
				nrm += mode[j] * mode[j]
			}
			nrm = math.Sqrt(nrm)
			for j := range mode {
				mode[j] /= nrm
			}
			if math.Sqrt(sqDist(old, mode)) < Tol || it >= maxIter {
				break
			}
		}
	}
	tr.Mode = mode
	return tr, nil
}

func sqDist[T float32 | float64](a, b []T) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

func softmax32(row []float32) []float64 {
	v := make([]float64, len(row))
	for i, x := range row {
		v[i] = float64(x)
	}
	return softmax64(v)
}

func softmax64(row []float64) []float64 {
	m := math.Inf(-1)
	for _, x := range row {
		m = math.Max(m, x)
	}
	out := make([]float64, len(row))
	s := 0.0
	for i, x := range row {
		out[i] = math.Exp(x - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
