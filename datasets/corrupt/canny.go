package corrupt

import "math"

// canny is the Canny edge detector as skimage.feature.canny computes it, on a one-channel plane:
//  1. gaussian smoothing with sigma, normalised near the border (a zero border divided by the smoothed mask);
//  2. Sobel gradients gx (along columns) and gy (along rows), magnitude hypot(gx, gy);
//  3. non-maximum suppression: a pixel survives when its magnitude is >= the magnitudes interpolated at one
//     step along +gradient and -gradient; the outer 1-pixel ring never survives;
//  4. hysteresis: survivors with magnitude >= low that are 8-connected to one with magnitude >= high.
//
// Returns the edge mask, row-major [h*w].
func canny(p *plane, sigma, low, high float64) []bool {
	w, h := p.w, p.h
	k := gaussianKernel1D(sigma)
	smoothed := separable(p, k, k, zeroIndex)
	ones := newPlane(w, h, 1)
	for i := range ones.pix {
		ones.pix[i] = 1
	}
	mass := separable(ones, k, k, zeroIndex)
	for i := range smoothed.pix {
		smoothed.pix[i] /= mass.pix[i] + 1e-12
	}
	at := func(x, y int) float64 { return smoothed.pix[clampIndex(y, h)*w+clampIndex(x, w)] }
	gx := make([]float64, w*h)
	gy := make([]float64, w*h)
	mag := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			gx[i] = (at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1)) - (at(x-1, y-1) + 2*at(x-1, y) + at(x-1, y+1))
			gy[i] = (at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1)) - (at(x-1, y-1) + 2*at(x, y-1) + at(x+1, y-1))
			mag[i] = math.Hypot(gx[i], gy[i])
		}
	}
	m := func(x, y int) float64 { return mag[y*w+x] }
	sign := func(v float64) int {
		if v < 0 {
			return -1
		}
		return 1
	}
	lowMask := make([]bool, w*h)
	highMask := make([]bool, w*h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			ax, ay := math.Abs(gx[i]), math.Abs(gy[i])
			sx, sy := sign(gx[i]), sign(gy[i])
			var plus, minus float64
			if ay >= ax {
				// Step one row along the gradient; interpolate between the pixel straight ahead and the diagonal.
				wt := 0.0
				if ay > 0 {
					wt = ax / ay
				}
				plus = wt*m(x+sx, y+sy) + (1-wt)*m(x, y+sy)
				minus = wt*m(x-sx, y-sy) + (1-wt)*m(x, y-sy)
			} else {
				wt := ay / ax
				plus = wt*m(x+sx, y+sy) + (1-wt)*m(x+sx, y)
				minus = wt*m(x-sx, y-sy) + (1-wt)*m(x-sx, y)
			}
			if mag[i] >= plus && mag[i] >= minus {
				lowMask[i] = mag[i] >= low
				highMask[i] = mag[i] >= high
			}
		}
	}
	// Hysteresis: flood from every strong pixel through weak ones (8-connectivity).
	edges := make([]bool, w*h)
	var stack []int
	for i, s := range highMask {
		if s && !edges[i] {
			edges[i] = true
			stack = append(stack, i)
			for len(stack) > 0 {
				j := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				jx, jy := j%w, j/w
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						nx, ny := jx+dx, jy+dy
						if nx < 0 || ny < 0 || nx >= w || ny >= h {
							continue
						}
						n := ny*w + nx
						if lowMask[n] && !edges[n] {
							edges[n] = true
							stack = append(stack, n)
						}
					}
				}
			}
		}
	}
	return edges
}
