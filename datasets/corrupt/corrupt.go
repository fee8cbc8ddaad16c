package corrupt

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// MinSeverity and MaxSeverity bound the severity levels, as in MNIST-C and ImageNet-C.
const (
	MinSeverity = 1
	MaxSeverity = 5
)

// Set names which benchmark a Corruption belongs to.
const (
	// SetMNISTC is the MNIST-C style set: 28x28 grayscale digits in, *image.Gray out.
	SetMNISTC = "mnistc"
	// SetImageNetC is the ImageNet-C style set: RGB images in, *image.RGBA (opaque) out.
	SetImageNetC = "imagenetc"
)

// Corruption is one named corruption of one set (MNIST-C or ImageNet-C).
type Corruption struct {
	// Name is the corruption's name in its paper's code ("shot_noise", "canny_edges", ...). Names repeat across
	// sets (both have "shot_noise"); ID() is unique.
	Name string
	// Set is SetMNISTC or SetImageNetC.
	Set string
	// ReleaseSeverity is the severity whose parameters match the published MNIST-C release (which used one
	// severity per corruption); 0 for ImageNet-C, which released all five.
	ReleaseSeverity int
	// Random is false for corruptions that use no randomness (their output ignores the RNG).
	Random bool
	// Apply corrupts img at severity (1..5) with randomness drawn from rng. The output has img's size and
	// starts at (0,0): *image.Gray for SetMNISTC, *image.RGBA for SetImageNetC. It panics on a severity
	// outside 1..5 or a nil rng for a Random corruption; the package-level Apply returns errors instead.
	Apply func(img image.Image, severity int, rng *rand.Rand) image.Image
}

// ID is Set + "/" + Name, e.g. "mnistc/fog": unique across both registries.
func (c Corruption) ID() string { return c.Set + "/" + c.Name }

// fn is the internal form of a corruption: it reads p (values in [0,1]) and returns a new plane of the same
// width, height and channels. severity is already validated.
type fn func(p *plane, severity int, rng *rand.Rand) *plane

func makeCorruption(set, name string, release int, random bool, f fn) Corruption {
	channels := 3
	if set == SetMNISTC {
		channels = 1
	}
	id := set + "/" + name
	return Corruption{
		Name: name, Set: set, ReleaseSeverity: release, Random: random,
		Apply: func(img image.Image, severity int, rng *rand.Rand) image.Image {
			if severity < MinSeverity || severity > MaxSeverity {
				panic(fmt.Sprintf("corrupt: %s: severity %d outside %d..%d", id, severity, MinSeverity, MaxSeverity))
			}
			if random && rng == nil {
				panic(fmt.Sprintf("corrupt: %s: nil rng", id))
			}
			p := fromImage(img, channels)
			if p.w > 0 && p.h > 0 {
				p = f(p, severity, rng)
			}
			if channels == 1 {
				return p.toGray()
			}
			return p.toRGBA()
		},
	}
}

// MNISTC returns the MNIST-C style corruptions (Mu & Gilmer 2019), in the paper's order. The package doc
// lists their parameters.
func MNISTC() []Corruption {
	return []Corruption{
		makeCorruption(SetMNISTC, "shot_noise", 5, true, shotNoise),
		makeCorruption(SetMNISTC, "impulse_noise", 4, true, impulseNoise),
		makeCorruption(SetMNISTC, "glass_blur", 1, true, glassBlurMNIST),
		makeCorruption(SetMNISTC, "motion_blur", 1, true, motionBlur),
		makeCorruption(SetMNISTC, "shear", 2, true, shear),
		makeCorruption(SetMNISTC, "scale", 3, false, scale),
		makeCorruption(SetMNISTC, "rotate", 2, true, rotate),
		makeCorruption(SetMNISTC, "brightness", 5, false, brightnessGray),
		makeCorruption(SetMNISTC, "translate", 3, true, translate),
		makeCorruption(SetMNISTC, "stripe", 1, false, stripe),
		makeCorruption(SetMNISTC, "fog", 5, true, fog),
		makeCorruption(SetMNISTC, "spatter", 4, true, spatterMNIST),
		makeCorruption(SetMNISTC, "dotted_line", 1, true, dottedLine),
		makeCorruption(SetMNISTC, "zigzag", 1, true, zigzag),
		makeCorruption(SetMNISTC, "canny_edges", 1, false, cannyEdges),
	}
}

// ImageNetC returns the ImageNet-C style corruptions (Hendrycks & Dietterich 2019) implemented here, in the
// paper's order. The package doc lists their parameters.
func ImageNetC() []Corruption {
	return []Corruption{
		makeCorruption(SetImageNetC, "gaussian_noise", 0, true, gaussianNoise),
		makeCorruption(SetImageNetC, "shot_noise", 0, true, shotNoise),
		makeCorruption(SetImageNetC, "impulse_noise", 0, true, impulseNoise),
		makeCorruption(SetImageNetC, "defocus_blur", 0, false, defocusBlur),
		makeCorruption(SetImageNetC, "motion_blur", 0, true, motionBlur),
		makeCorruption(SetImageNetC, "contrast", 0, false, contrast),
		makeCorruption(SetImageNetC, "brightness", 0, false, brightnessRGB),
		makeCorruption(SetImageNetC, "jpeg_compression", 0, false, jpegCompression),
		makeCorruption(SetImageNetC, "pixelate", 0, false, pixelate),
	}
}

// All returns MNISTC() followed by ImageNetC().
func All() []Corruption { return append(MNISTC(), ImageNetC()...) }

// ByName finds a corruption by its ID ("mnistc/fog", "imagenetc/shot_noise") or by its bare Name when only
// one set has it ("fog", "pixelate"). A bare name found in both sets ("shot_noise") or an unknown name is an
// error listing the valid IDs.
func ByName(name string) (Corruption, error) {
	var found []Corruption
	for _, c := range All() {
		if c.ID() == name {
			return c, nil
		}
		if c.Name == name {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Corruption{}, fmt.Errorf("corrupt: unknown corruption %q; known: %s", name, strings.Join(IDs(), ", "))
	default:
		ids := make([]string, len(found))
		for i, c := range found {
			ids[i] = c.ID()
		}
		return Corruption{}, fmt.Errorf("corrupt: corruption %q is in more than one set, use one of: %s", name, strings.Join(ids, ", "))
	}
}

// IDs lists the IDs of every registered corruption, sorted.
func IDs() []string {
	all := All()
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID()
	}
	sort.Strings(ids)
	return ids
}

// NewRNG returns the random generator that Apply uses for (corruption id, seed, example, severity): a PCG
// seeded from the SHA-256 of the four, so every (seed, example, severity) has its own independent stream and
// no state is shared between calls.
func NewRNG(id string, seed int64, exampleIndex, severity int) *rand.Rand {
	h := sha256.New()
	h.Write([]byte(id))
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], uint64(seed))
	binary.LittleEndian.PutUint64(buf[8:], uint64(int64(exampleIndex)))
	binary.LittleEndian.PutUint64(buf[16:], uint64(int64(severity)))
	h.Write(buf[:])
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// Apply corrupts img with the corruption called name (see ByName) at severity 1..5. The result depends only
// on (name, img, severity, seed, exampleIndex): the randomness comes from NewRNG(id, seed, exampleIndex,
// severity). The output has img's size: *image.Gray for MNIST-C corruptions, *image.RGBA for ImageNet-C ones.
func Apply(name string, img image.Image, severity int, seed int64, exampleIndex int) (image.Image, error) {
	c, err := ByName(name)
	if err != nil {
		return nil, err
	}
	if severity < MinSeverity || severity > MaxSeverity {
		return nil, fmt.Errorf("corrupt: %s, example %d: severity %d outside %d..%d", c.ID(), exampleIndex, severity, MinSeverity, MaxSeverity)
	}
	if img == nil {
		return nil, fmt.Errorf("corrupt: %s, example %d: nil image", c.ID(), exampleIndex)
	}
	return c.Apply(img, severity, NewRNG(c.ID(), seed, exampleIndex, severity)), nil
}

// plane is a float image: pix[(y*w+x)*c+ch] in [0,1], c = 1 (gray) or 3 (RGB).
type plane struct {
	w, h, c int
	pix     []float64
}

func newPlane(w, h, c int) *plane { return &plane{w: w, h: h, c: c, pix: make([]float64, w*h*c)} }

func (p *plane) at(x, y, ch int) float64 { return p.pix[(y*p.w+x)*p.c+ch] }

func (p *plane) set(x, y, ch int, v float64) { p.pix[(y*p.w+x)*p.c+ch] = v }

func (p *plane) clone() *plane {
	q := &plane{w: p.w, h: p.h, c: p.c, pix: make([]float64, len(p.pix))}
	copy(q.pix, p.pix)
	return q
}

func (p *plane) clip() *plane {
	for i, v := range p.pix {
		p.pix[i] = clip01(v)
	}
	return p
}

func clip01(v float64) float64 {
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

func to8(v float64) uint8 { return uint8(math.Round(clip01(v) * 255)) }

// fromImage converts img to a plane with c channels (1: luma as color.GrayModel computes it; 3: RGB).
func fromImage(img image.Image, c int) *plane {
	b := img.Bounds()
	p := newPlane(b.Dx(), b.Dy(), c)
	switch im := img.(type) {
	case *image.Gray:
		if c == 1 {
			for y := 0; y < p.h; y++ {
				row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
				for x := 0; x < p.w; x++ {
					p.pix[y*p.w+x] = float64(row[x]) / 255
				}
			}
			return p
		}
	case *image.RGBA:
		if c == 3 {
			for y := 0; y < p.h; y++ {
				row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
				for x := 0; x < p.w; x++ {
					// Premultiplied like RGBA(): exact for the opaque images corruptions are meant for.
					i := (y*p.w + x) * 3
					p.pix[i], p.pix[i+1], p.pix[i+2] = float64(row[4*x])/255, float64(row[4*x+1])/255, float64(row[4*x+2])/255
				}
			}
			return p
		}
	}
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			px := img.At(b.Min.X+x, b.Min.Y+y)
			if c == 1 {
				p.set(x, y, 0, float64(color.GrayModel.Convert(px).(color.Gray).Y)/255)
				continue
			}
			r, g, bl, _ := px.RGBA()
			i := (y*p.w + x) * 3
			p.pix[i], p.pix[i+1], p.pix[i+2] = float64(r>>8)/255, float64(g>>8)/255, float64(bl>>8)/255
		}
	}
	return p
}

// toGray rounds channel 0 (or the luma of RGB) to an *image.Gray.
func (p *plane) toGray() *image.Gray {
	out := image.NewGray(image.Rect(0, 0, p.w, p.h))
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			v := p.at(x, y, 0)
			if p.c == 3 {
				v = 0.299*v + 0.587*p.at(x, y, 1) + 0.114*p.at(x, y, 2)
			}
			out.Pix[y*out.Stride+x] = to8(v)
		}
	}
	return out
}

// toRGBA rounds the plane to an opaque *image.RGBA (a gray plane is replicated into R, G and B).
func (p *plane) toRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, p.w, p.h))
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			o := y*out.Stride + 4*x
			for ch := 0; ch < 3; ch++ {
				src := ch
				if p.c == 1 {
					src = 0
				}
				out.Pix[o+ch] = to8(p.at(x, y, src))
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}
