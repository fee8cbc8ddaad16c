package corrupt

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// golden is testdata/golden.json, written by testdata/make_golden.py (see testdata/README.md).
type golden struct {
	RGB        goldenImage          `json:"rgb"`
	Gray       goldenImage          `json:"gray"`
	Pixelate   map[string][]float64 `json:"pixelate"`
	Brightness map[string][]float64 `json:"brightness"`
	Contrast   map[string][]float64 `json:"contrast"`
	Affine     []struct {
		Kind  string    `json:"kind"`
		Param float64   `json:"param"`
		Out   []float64 `json:"out"`
	} `json:"affine"`
}

type goldenImage struct {
	W, H int
	Pix  []float64
}

func (g goldenImage) plane(c int) *plane {
	p := newPlane(g.W, g.H, c)
	for i, v := range g.Pix {
		p.pix[i] = v / 255
	}
	return p
}

func loadGolden(t *testing.T) golden {
	data, err := os.ReadFile("testdata/golden.json")
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(data, &g))
	return g
}

// assertClose compares p (in [0,1]) against want (x255) with atol in 8-bit units.
func assertClose(t *testing.T, want []float64, p *plane, atol float64, msg string) {
	t.Helper()
	require.Len(t, p.pix, len(want), msg)
	worst, at := 0.0, 0
	for i, w := range want {
		if d := math.Abs(p.pix[i]*255 - w); d > worst {
			worst, at = d, i
		}
	}
	assert.LessOrEqual(t, worst, atol, "%s: worst |diff| %.4f at %d (want %.4f, got %.4f)", msg, worst, at, want[at], p.pix[at]*255)
}

// TestGoldenReference compares against Pillow (pixelate), colorsys (brightness), numpy (contrast) and torch
// grid_sample (affine warps). Tolerances are in 8-bit units: Pillow's fixed-point BOX filter rounds twice
// (atol 1); the float references are compared before rounding (atol 1e-3 for the 4-decimal JSON).
func TestGoldenReference(t *testing.T) {
	g := loadGolden(t)
	rgb := g.RGB.plane(3)
	for s := MinSeverity; s <= MaxSeverity; s++ {
		key := fmt.Sprint(s)
		assertClose(t, g.Pixelate[key], pixelate(rgb, s, nil), 1, "pixelate severity "+key)
		assertClose(t, g.Brightness[key], brightnessRGB(rgb, s, nil), 1e-3, "brightness severity "+key)
		assertClose(t, g.Contrast[key], contrast(rgb, s, nil), 1e-3, "contrast severity "+key)
	}
	gray := g.Gray.plane(1)
	for _, a := range g.Affine {
		var m [2][2]float64
		var tr [2]float64
		switch a.Kind {
		case "rotate":
			m = rotationMatrix(a.Param)
		case "shear":
			m = shearMatrix(a.Param)
		case "scale":
			m = [2][2]float64{{1 / a.Param, 0}, {0, 1 / a.Param}}
		case "translate":
			m, tr = [2][2]float64{{1, 0}, {0, 1}}, [2]float64{a.Param, -a.Param}
		}
		assertClose(t, a.Out, affineWarp(gray, m, tr).clip(), 1e-3, fmt.Sprintf("%s %g", a.Kind, a.Param))
	}
}

// uniformPlane is a w x h x c plane of value v.
func uniformPlane(w, h, c int, v float64) *plane {
	p := newPlane(w, h, c)
	for i := range p.pix {
		p.pix[i] = v
	}
	return p
}

func meanVar(xs []float64) (float64, float64) {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs)-1)
}

// TestNoiseStatistics checks the noise corruptions' output distribution on a uniform image against the
// distribution the reference code samples from, computed here independently: the clipped normal (by
// numerical integration of its density), the clipped, scaled Poisson (by summing its pmf) and the
// salt-and-pepper fractions. Tolerance: 5 standard errors of the estimate.
func TestNoiseStatistics(t *testing.T) {
	const n = 96 * 96 * 3
	rng := rand.New(rand.NewPCG(3, 4))
	for s := MinSeverity; s <= MaxSeverity; s++ {
		for _, x := range []float64{0.2, 0.5, 0.9} {
			t.Run(fmt.Sprintf("gaussian/s%d/x%.1f", s, x), func(t *testing.T) {
				std := gaussianNoiseStd[s-1]
				out := gaussianNoise(uniformPlane(96, 96, 3, x), s, rng)
				m, v := meanVar(out.pix)
				// E[clip(x + σZ)] and E[clip(..)²] by the trapezoid rule over z in [-10, 10].
				var e1, e2 float64
				const steps = 200000
				dz := 20.0 / steps
				for i := 0; i <= steps; i++ {
					z := -10 + float64(i)*dz
					w := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) * dz
					if i == 0 || i == steps {
						w /= 2
					}
					y := clip01(x + std*z)
					e1 += w * y
					e2 += w * y * y
				}
				wantVar := e2 - e1*e1
				assert.InDelta(t, e1, m, 5*math.Sqrt(wantVar/n), "mean")
				assert.InDelta(t, wantVar, v, 5*wantVar*math.Sqrt(2.0/n)+1e-9, "variance")
			})
			t.Run(fmt.Sprintf("shot/s%d/x%.1f", s, x), func(t *testing.T) {
				c := shotNoiseRate[s-1]
				out := shotNoise(uniformPlane(96, 96, 3, x), s, rng)
				m, v := meanVar(out.pix)
				lambda := x * c
				var e1, e2 float64
				pk := math.Exp(-lambda)
				for k := 0; k < 400; k++ {
					y := math.Min(float64(k)/c, 1)
					e1 += pk * y
					e2 += pk * y * y
					pk *= lambda / float64(k+1)
				}
				wantVar := e2 - e1*e1
				assert.InDelta(t, e1, m, 5*math.Sqrt(wantVar/n), "mean")
				assert.InDelta(t, wantVar, v, 6*wantVar*math.Sqrt(2.0/n)+1e-9, "variance")
				for _, y := range out.pix {
					k := y * c
					require.InDelta(t, math.Round(k), k, 1e-9, "outputs are multiples of 1/c")
				}
			})
		}
		t.Run(fmt.Sprintf("impulse/s%d", s), func(t *testing.T) {
			amount := impulseNoiseAmount[s-1]
			out := impulseNoise(uniformPlane(96, 96, 3, 0.5), s, rng)
			var zeros, ones, same float64
			for _, y := range out.pix {
				switch y {
				case 0:
					zeros++
				case 1:
					ones++
				case 0.5:
					same++
				}
			}
			require.Equal(t, float64(n), zeros+ones+same)
			p := amount / 2
			se := math.Sqrt(p * (1 - p) / n)
			assert.InDelta(t, p, zeros/n, 5*se, "pepper fraction")
			assert.InDelta(t, p, ones/n, 5*se, "salt fraction")
		})
	}
}

func TestFilters(t *testing.T) {
	t.Run("disk kernel", func(t *testing.T) {
		for _, c := range defocusParams {
			k := diskKernel(c[0], c[1])
			sum := 0.0
			for _, row := range k {
				for _, v := range row {
					sum += v
				}
			}
			// The disk sums to 1; cv2's reflect-101 border adds up to ~1.5% when the disk touches its grid's edge.
			assert.InDelta(t, 1.0075, sum, 0.0076, "radius %g", c[0])
			r := len(k) / 2
			if out := r + int(c[0]) + 2; out < len(k) {
				assert.Zero(t, k[r][out], "outside the disk, radius %g", c[0])
			}
			assert.Greater(t, k[r][r], 0.0)
		}
	})
	t.Run("motion kernel", func(t *testing.T) {
		// A single white pixel blurred at angle 0 spreads to the left (taps look right): weights ∝ exp(-i²/2σ²).
		p := newPlane(41, 3, 1)
		p.set(30, 1, 0, 1)
		out := motionBlurPlane(p, 10, 3, 0)
		sum := 0.0
		for i := 0; i <= 20; i++ {
			sum += math.Exp(-float64(i*i) / 18)
		}
		for i := 0; i <= 20; i++ {
			assert.InDelta(t, math.Exp(-float64(i*i)/18)/sum, out.at(30-i, 1, 0), 1e-12, "tap %d", i)
		}
		assert.Zero(t, out.at(31, 1, 0))
		assert.Zero(t, out.at(30, 0, 0))
		// At 90 degrees the streak is vertical.
		q := newPlane(3, 41, 1)
		q.set(1, 30, 0, 1)
		out = motionBlurPlane(q, 10, 3, 90)
		assert.InDelta(t, 1/sum, out.at(1, 30, 0), 1e-12)
		assert.Greater(t, out.at(1, 28, 0), 0.0)
		assert.Zero(t, out.at(0, 30, 0))
	})
	t.Run("plasma", func(t *testing.T) {
		m := plasmaFractal(64, 2, rand.New(rand.NewPCG(1, 1)))
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range m {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		assert.Equal(t, 0.0, lo)
		assert.Equal(t, 1.0, hi)
	})
	t.Run("hsv round trip", func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for range 1000 {
			a, b, c := r.Float64(), r.Float64(), r.Float64()
			x, y, z := hsvToRGB(rgbToHSV(a, b, c))
			require.InDelta(t, a, x, 1e-12)
			require.InDelta(t, b, y, 1e-12)
			require.InDelta(t, c, z, 1e-12)
		}
	})
	t.Run("gray output of gray input is exact", func(t *testing.T) {
		d := digitImage()
		out := fromImage(d, 1).toGray()
		assert.Equal(t, d.Pix, out.Pix)
		var img image.Image = photoImage(9, 7)
		assert.Equal(t, img.(*image.RGBA).Pix, fromImage(img, 3).toRGBA().Pix)
	})
}
