package corrupt

import (
	"math"
	"math/rand/v2"
)

// gaussianKernel1D is scipy.ndimage's gaussian_filter1d kernel: radius int(truncate*sigma+0.5) with
// truncate 4, weights exp(-x²/(2σ²)) normalised to sum 1. [2*radius+1]
func gaussianKernel1D(sigma float64) []float64 {
	r := int(4*sigma + 0.5)
	k := make([]float64, 2*r+1)
	sum := 0.0
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// border maps an out-of-range index into [0, n), or returns -1 for a zero (constant) border.
type border func(i, n int) int

// clampIndex is scipy's "nearest" / ImageMagick's "edge" border: a b c | c c c.
func clampIndex(i, n int) int {
	if i < 0 {
		return 0
	}
	if i >= n {
		return n - 1
	}
	return i
}

// reflect101Index is OpenCV's BORDER_REFLECT_101: d c b | a b c d | c b a.
func reflect101Index(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*n - 2 - i
		}
	}
	return i
}

// zeroIndex is a constant-zero border.
func zeroIndex(i, n int) int {
	if i < 0 || i >= n {
		return -1
	}
	return i
}

// separable correlates each channel of p with k along x and then along y, with border b.
func separable(p *plane, kx, ky []float64, b border) *plane {
	tmp := newPlane(p.w, p.h, p.c)
	rx, ry := len(kx)/2, len(ky)/2
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			for ch := 0; ch < p.c; ch++ {
				s := 0.0
				for i, w := range kx {
					if xx := b(x+i-rx, p.w); xx >= 0 {
						s += w * p.at(xx, y, ch)
					}
				}
				tmp.set(x, y, ch, s)
			}
		}
	}
	out := newPlane(p.w, p.h, p.c)
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			for ch := 0; ch < p.c; ch++ {
				s := 0.0
				for i, w := range ky {
					if yy := b(y+i-ry, p.h); yy >= 0 {
						s += w * tmp.at(x, yy, ch)
					}
				}
				out.set(x, y, ch, s)
			}
		}
	}
	return out
}

// gaussianBlur is skimage.filters.gaussian (scipy gaussian_filter, mode "nearest", truncate 4), per channel.
func gaussianBlur(p *plane, sigma float64) *plane {
	k := gaussianKernel1D(sigma)
	return separable(p, k, k, clampIndex)
}

// correlate2D is cv2.filter2D: out(x,y) = Σ k[i][j] · p(x+j-r, y+i-r), border BORDER_REFLECT_101. k is
// [2r+1][2r+1].
func correlate2D(p *plane, k [][]float64) *plane {
	r := len(k) / 2
	type tap struct {
		dx, dy int
		w      float64
	}
	var taps []tap
	for i, row := range k {
		for j, w := range row {
			if w != 0 {
				taps = append(taps, tap{j - r, i - r, w})
			}
		}
	}
	out := newPlane(p.w, p.h, p.c)
	acc := make([]float64, p.c)
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			clear(acc)
			interior := x >= r && y >= r && x+r < p.w && y+r < p.h
			for _, t := range taps {
				xx, yy := x+t.dx, y+t.dy
				if !interior {
					xx, yy = reflect101Index(xx, p.w), reflect101Index(yy, p.h)
				}
				src := p.pix[(yy*p.w+xx)*p.c:]
				for ch := range acc {
					acc[ch] += t.w * src[ch]
				}
			}
			copy(out.pix[(y*p.w+x)*p.c:], acc)
		}
	}
	return out
}

// diskKernel is ImageNet-C's disk(radius, alias_blur): the indicator of x²+y² <= radius² on a grid
// -8..8 (radius <= 8, then smoothed by a 3x3 Gaussian) or -radius..radius (then a 5x5 Gaussian), normalised
// to sum 1 before the smoothing, which is cv2.GaussianBlur with sigma alias_blur and BORDER_REFLECT_101.
func diskKernel(radius, aliasBlur float64) [][]float64 {
	half, ksize := 8, 3
	if radius > 8 {
		half, ksize = int(radius), 5
	}
	n := 2*half + 1
	disk := newPlane(n, n, 1)
	sum := 0.0
	for y := -half; y <= half; y++ {
		for x := -half; x <= half; x++ {
			if float64(x*x+y*y) <= radius*radius {
				disk.set(x+half, y+half, 0, 1)
				sum++
			}
		}
	}
	for i := range disk.pix {
		disk.pix[i] /= sum
	}
	// cv2.getGaussianKernel(ksize, sigma) for sigma > 0.
	g := make([]float64, ksize)
	gs := 0.0
	for i := range g {
		x := float64(i - (ksize-1)/2)
		g[i] = math.Exp(-x * x / (2 * aliasBlur * aliasBlur))
		gs += g[i]
	}
	for i := range g {
		g[i] /= gs
	}
	sm := separable(disk, g, g, reflect101Index)
	k := make([][]float64, n)
	for y := range k {
		k[y] = sm.pix[y*n : (y+1)*n]
	}
	return k
}

// motionBlurPlane is ImageMagick's MotionBlurImage(radius, sigma, angle): a one-sided line kernel of width
// 2*ceil(radius)+1 with weights exp(-i²/(2σ²)) (normalised), tap i at integer offset
// (ceil(i·cos(angle)-0.5), ceil(i·sin(angle)-0.5)), edge border.
func motionBlurPlane(p *plane, radius, sigma, angleDeg float64) *plane {
	width := 2*int(math.Ceil(radius)) + 1
	k := make([]float64, width)
	ox := make([]int, width)
	oy := make([]int, width)
	sum := 0.0
	a := angleDeg * math.Pi / 180
	for i := range k {
		fi := float64(i)
		k[i] = math.Exp(-fi * fi / (2 * sigma * sigma))
		sum += k[i]
		ox[i] = int(math.Ceil(fi*math.Cos(a) - 0.5))
		oy[i] = int(math.Ceil(fi*math.Sin(a) - 0.5))
	}
	out := newPlane(p.w, p.h, p.c)
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			for ch := 0; ch < p.c; ch++ {
				s := 0.0
				for i, w := range k {
					s += w * p.at(clampIndex(x+ox[i], p.w), clampIndex(y+oy[i], p.h), ch)
				}
				out.set(x, y, ch, s/sum)
			}
		}
	}
	return out
}

// affineWarp is skimage.transform.warp(inverse_map) with order 1 and a constant-zero border: output pixel
// (x, y) samples p bilinearly at m·((x,y) - centre) + centre + t, where centre = ((w-1)/2, (h-1)/2).
// m is [[m00, m01], [m10, m11]] acting on (x, y) = (column, row).
func affineWarp(p *plane, m [2][2]float64, t [2]float64) *plane {
	cx, cy := float64(p.w-1)/2, float64(p.h-1)/2
	out := newPlane(p.w, p.h, p.c)
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx := m[0][0]*dx + m[0][1]*dy + cx + t[0]
			sy := m[1][0]*dx + m[1][1]*dy + cy + t[1]
			for ch := 0; ch < p.c; ch++ {
				out.set(x, y, ch, bilinearZero(p, sx, sy, ch))
			}
		}
	}
	return out
}

// bilinearZero samples channel ch of p at (x, y) with neighbours outside the image taken as 0.
func bilinearZero(p *plane, x, y float64, ch int) float64 {
	if x <= -1 || y <= -1 || x >= float64(p.w) || y >= float64(p.h) {
		return 0
	}
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	get := func(xx, yy int) float64 {
		if xx < 0 || yy < 0 || xx >= p.w || yy >= p.h {
			return 0
		}
		return p.at(xx, yy, ch)
	}
	return (1-fy)*((1-fx)*get(x0, y0)+fx*get(x0+1, y0)) + fy*((1-fx)*get(x0, y0+1)+fx*get(x0+1, y0+1))
}

// boxCoeffs is Pillow's precompute_coeffs for the BOX filter resizing inSize samples to outSize: output i
// averages the inputs j whose centre (j+0.5) lies in (c - s/2, c + s/2], c = (i+0.5)·scale, s = max(scale, 1).
// Returns, per output, the first input index and the normalised weights.
func boxCoeffs(inSize, outSize int) ([]int, [][]float64) {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := 0.5 * filterscale
	starts := make([]int, outSize)
	weights := make([][]float64, outSize)
	for i := range outSize {
		center := (float64(i) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize)
		var ws []float64
		total := 0.0
		for j := xmin; j < xmax; j++ {
			u := (float64(j) - center + 0.5) / filterscale
			w := 0.0
			if u > -0.5 && u <= 0.5 {
				w = 1
			}
			ws = append(ws, w)
			total += w
		}
		if total != 0 {
			for j := range ws {
				ws[j] /= total
			}
		}
		starts[i], weights[i] = xmin, ws
	}
	return starts, weights
}

// resizeBox is PIL's Image.resize(size, Image.BOX): horizontal pass, then vertical, each rounded to 8 bits as
// Pillow does for 8-bit images.
func resizeBox(p *plane, w, h int) *plane {
	xs, xw := boxCoeffs(p.w, w)
	tmp := newPlane(w, p.h, p.c)
	for y := 0; y < p.h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < p.c; ch++ {
				s := 0.0
				for j, wt := range xw[x] {
					s += wt * p.at(xs[x]+j, y, ch)
				}
				tmp.set(x, y, ch, float64(to8(s))/255)
			}
		}
	}
	ys, yw := boxCoeffs(p.h, h)
	out := newPlane(w, h, p.c)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < p.c; ch++ {
				s := 0.0
				for j, wt := range yw[y] {
					s += wt * tmp.at(x, ys[y]+j, ch)
				}
				out.set(x, y, ch, float64(to8(s))/255)
			}
		}
	}
	return out
}

// plasmaFractal is the diamond-square height map of MNIST-C / ImageNet-C's plasma_fractal: size x size
// (a power of two), corner 0, each new point the mean of its 4 neighbours (wrapping around) plus
// wibble·U(-wibble, wibble), wibble starting at 100 and divided by wibbleDecay per level; min-max normalised
// to [0,1]. Row-major [size*size].
func plasmaFractal(size int, wibbleDecay float64, rng *rand.Rand) []float64 {
	m := make([]float64, size*size)
	at := func(r, c int) float64 { return m[((r+size)%size)*size+(c+size)%size] }
	wibble := 100.0
	noise := func() float64 { return wibble * (rng.Float64()*2*wibble - wibble) }
	for step := size; step >= 2; step /= 2 {
		half := step / 2
		// Squares: the centre of every step x step square.
		for r := 0; r < size; r += step {
			for c := 0; c < size; c += step {
				s := at(r, c) + at(r+step, c) + at(r, c+step) + at(r+step, c+step)
				m[(r+half)*size+c+half] = s/4 + noise()
			}
		}
		// Diamonds: the edge midpoints; first those on the rows of the corners, then those on the columns.
		for r := 0; r < size; r += step {
			for c := 0; c < size; c += step {
				s := at(r-half, c+half) + at(r+half, c+half) + at(r, c) + at(r, c+step)
				m[r*size+c+half] = s/4 + noise()
			}
		}
		for r := 0; r < size; r += step {
			for c := 0; c < size; c += step {
				s := at(r+half, c-half) + at(r+half, c+half) + at(r, c) + at(r+step, c)
				m[(r+half)*size+c] = s/4 + noise()
			}
		}
		wibble /= wibbleDecay
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range m {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for i := range m {
		if hi > lo {
			m[i] = (m[i] - lo) / (hi - lo)
		} else {
			m[i] = 0
		}
	}
	return m
}

// rgbToHSV and hsvToRGB are skimage.color's rgb2hsv / hsv2rgb for one pixel, all values in [0,1].
func rgbToHSV(r, g, b float64) (h, s, v float64) {
	v = math.Max(r, math.Max(g, b))
	delta := v - math.Min(r, math.Min(g, b))
	if v > 0 {
		s = delta / v
	}
	if delta == 0 {
		return 0, s, v
	}
	switch v {
	case r:
		h = (g - b) / delta
	case g:
		h = 2 + (b-r)/delta
	default:
		h = 4 + (r-g)/delta
	}
	h = math.Mod(h/6, 1)
	if h < 0 {
		h++
	}
	return h, s, v
}

func hsvToRGB(h, s, v float64) (r, g, b float64) {
	hi := math.Floor(h * 6)
	f := h*6 - hi
	p := v * (1 - s)
	q := v * (1 - f*s)
	t := v * (1 - (1-f)*s)
	switch int(hi) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}
