package augment

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// ViewRNG returns the random source of one view, derived from a hash of (seed, exampleID, view) only, so a
// view's pixels do not depend on worker count, sharding or the order examples are processed in.
func ViewRNG(seed int64, exampleID string, view int) *rand.Rand {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(exampleID))
	_, _ = h.Write([]byte{0})
	binary.LittleEndian.PutUint64(b[:], uint64(view))
	_, _ = h.Write(b[:])
	s := h.Sum64()
	return rand.New(rand.NewPCG(splitmix64(s), splitmix64(s^0x9e3779b97f4a7c15)))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// CropParams configures the random resized crop (torchvision's RandomResizedCrop and RandomHorizontalFlip).
// The zero value means torchvision's defaults.
type CropParams struct {
	// Scale is the range of the crop's area as a fraction of the image's; zero means (0.08, 1).
	Scale [2]float64
	// Ratio is the range of the crop's width/height, sampled log-uniformly; zero means (3/4, 4/3).
	Ratio [2]float64
	// FlipProb is the probability of a horizontal flip; 0 means 0.5, a negative value means never.
	FlipProb float64
}

func (p CropParams) withDefaults() CropParams {
	if p.Scale == [2]float64{} {
		p.Scale = [2]float64{0.08, 1}
	}
	if p.Ratio == [2]float64{} {
		p.Ratio = [2]float64{3.0 / 4.0, 4.0 / 3.0}
	}
	if p.FlipProb == 0 {
		p.FlipProb = 0.5
	}
	return p
}

// SampleCrop draws one crop box for a w x h image the way torchvision's RandomResizedCrop.get_params does
// (up to 10 tries of area fraction ~ U(Scale), log aspect ~ U(log Ratio), w = round(sqrt(area*ratio)),
// h = round(sqrt(area/ratio)), position uniform; else the central crop with the ratio clamped to Ratio), then
// the flip (uniform < FlipProb, RandomHorizontalFlip).
func (p CropParams) SampleCrop(r *rand.Rand, w, h int) Box {
	p = p.withDefaults()
	b := p.sampleBox(r, w, h)
	b.Flip = r.Float64() < p.FlipProb
	return b
}

func (p CropParams) sampleBox(r *rand.Rand, width, height int) Box {
	area := float64(width * height)
	logLo, logHi := math.Log(p.Ratio[0]), math.Log(p.Ratio[1])
	for range 10 {
		target := area * (p.Scale[0] + (p.Scale[1]-p.Scale[0])*r.Float64())
		aspect := math.Exp(logLo + (logHi-logLo)*r.Float64())
		w := int(math.RoundToEven(math.Sqrt(target * aspect)))
		h := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < w && w <= width && 0 < h && h <= height {
			return Box{Top: r.IntN(height - h + 1), Left: r.IntN(width - w + 1), Height: h, Width: w}
		}
	}
	inRatio := float64(width) / float64(height)
	minR, maxR := math.Min(p.Ratio[0], p.Ratio[1]), math.Max(p.Ratio[0], p.Ratio[1])
	w, h := width, height
	if inRatio < minR {
		h = int(math.RoundToEven(float64(w) / minR))
	} else if inRatio > maxR {
		w = int(math.RoundToEven(float64(h) * maxR))
	}
	return Box{Top: (height - h) / 2, Left: (width - w) / 2, Height: h, Width: w}
}

// SampleCropBoxes returns the n crop boxes that Views with Kind RandomResizedCrop uses for a w x h image:
// box v is drawn from ViewRNG(seed, exampleID, v). Box 0 is the whole image, unflipped (view 0 is the base
// preprocessing, not a crop; the in-graph path replaces it by its own base view). Default CropParams.
func SampleCropBoxes(w, h, n int, seed int64, exampleID string) []Box {
	return CropParams{}.SampleCropBoxes(w, h, n, seed, exampleID)
}

// SampleCropBoxes is the package function with these parameters.
func (p CropParams) SampleCropBoxes(w, h, n int, seed int64, exampleID string) []Box {
	boxes := make([]Box, n)
	for v := range boxes {
		if v == 0 {
			boxes[v] = Box{Width: w, Height: h}
			continue
		}
		boxes[v] = p.SampleCrop(ViewRNG(seed, exampleID, v), w, h)
	}
	return boxes
}
