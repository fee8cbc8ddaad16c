package augment

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestViewsConfig: the description fills defaults (so explicit defaults and zero values describe the same views),
// and every knob that changes the views changes it.
func TestViewsConfig(t *testing.T) {
	base := Views{Kind: RandomResizedCrop, Preprocess: CLIP(224)}
	js := func(v Views) string {
		data, err := json.Marshal(v.Config())
		require.NoError(t, err)
		return string(data)
	}
	explicit := base
	explicit.N, explicit.CropFilter = 64, Bilinear
	explicit.Crop = CropParams{Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4.0, 4.0 / 3.0}, FlipProb: 0.5}
	assert.Equal(t, js(base), js(explicit))
	seeded := base
	seeded.Seed, seeded.Workers = 7, 1
	assert.Equal(t, js(base), js(seeded), "the seed and worker count are not part of the views' description")
	c := base.Config()
	assert.Equal(t, 64, c["n"])
	assert.Equal(t, "cut", c["kind"])
	assert.Equal(t, 224, c["size"])

	changed := map[string]Views{}
	add := func(name string, f func(v *Views)) {
		v := base
		f(&v)
		changed[name] = v
	}
	add("n", func(v *Views) { v.N = 8 })
	add("kind", func(v *Views) { v.Kind = PaperAugMix })
	add("identity", func(v *Views) { v.Kind = Identity })
	add("preprocess", func(v *Views) { v.Preprocess = ImageNet() })
	add("scale", func(v *Views) { v.Crop.Scale = [2]float64{0.5, 1} })
	add("flip", func(v *Views) { v.Crop.FlipProb = -1 })
	add("filter", func(v *Views) { v.CropFilter = Bicubic })
	seen := map[string]string{js(base): "base"}
	for name, v := range changed {
		s := js(v)
		if other, dup := seen[s]; dup {
			t.Errorf("%s and %s have the same description %s", name, other, s)
		}
		seen[s] = name
	}
	p := base
	p.Kind = PaperAugMix
	q := p
	q.PaperAugMix.TPTFill = true
	assert.NotEqual(t, js(p), js(q), "MEMO's and TPT's fill differ")
	r := p
	r.PaperAugMix.Severity = 3
	assert.NotEqual(t, js(p), js(r))
	a := base
	a.Kind = CropAugMix
	b := a
	b.AugMix.Severity = 1
	assert.NotEqual(t, js(a), js(b))
}
