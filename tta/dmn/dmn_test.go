package dmn

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/method"
)

// TestMemoryWrite: free slots fill in order with the normalised features; a full class replaces its largest-entropy slot (the highest of equal
// ones) only with a lower entropy, and skips otherwise.
func TestMemoryWrite(t *testing.T) {
	m := NewMemory(2, 2, 3)
	f := func(x float32) []float32 { return []float32{x, 1, 0} }
	unit := func(x float64) []float64 { n := math.Sqrt(x*x + 1); return []float64{x / n, 1 / n, 0} }
	f64 := func(v []float32) []float64 { return []float64{float64(v[0]), float64(v[1]), float64(v[2])} }
	act, slot := m.Write(1, f(1), 0.5)
	assert.Equal(t, Written, act)
	assert.Equal(t, 0, slot)
	act, slot = m.Write(1, f(2), 0.5)
	assert.Equal(t, Written, act)
	assert.Equal(t, 1, slot)
	assert.Equal(t, 0, m.Count(0))
	assert.Equal(t, 2, m.Count(1))
	act, slot = m.Write(1, f(3), 0.5) // not below the largest entropy 0.5
	assert.Equal(t, Skipped, act)
	assert.Equal(t, -1, slot)
	act, slot = m.Write(1, f(4), 0.4) // equal largest entropies: the highest slot goes
	assert.Equal(t, Replaced, act)
	assert.Equal(t, 1, slot)
	assert.InDeltaSlice(t, unit(4), f64(m.Feature(1, 1)), 1e-7, "stored L2-normalised")
	assert.Equal(t, 0.4, m.Entropy(1, 1))
	act, slot = m.Write(1, f(5), 0.45) // slot 0 (0.5) is now the largest
	assert.Equal(t, Replaced, act)
	assert.Equal(t, 0, slot)
	assert.InDeltaSlice(t, unit(5), f64(m.Feature(1, 0)), 1e-7)
	m.Clear()
	assert.Equal(t, 0, m.Count(1))
}

// TestMemoryRead: an empty memory reads CLIP's zero-shot logits (the text feature alone, normalised); a stored
// feature equal to the query raises its class's logit to the scale (cosine 1 after the weighted sum moves towards it).
func TestMemoryRead(t *testing.T) {
	text := [][]float32{{1, 0, 0}, {0, 2, 0}, {0, 0, 1}}
	q := []float32{0.6, 0.8, 0}
	m := NewMemory(3, 4, 3)
	got := m.Read(q, text, 5.5, 10)
	assert.InDeltaSlice(t, []float64{6, 8, 0}, got, 1e-6)
	m.Write(2, q, 0.1)
	got = m.Read(q, text, 5.5, 10)
	assert.InDelta(t, 6, got[0], 1e-6)
	assert.InDelta(t, 8, got[1], 1e-6)
	// Class 2: weights exp(0) = 1 on q and exp(-5.5) on its text feature e3.
	w := math.Exp(-5.5)
	sum := []float64{0.6, 0.8, w}
	n := math.Sqrt(0.36 + 0.64 + w*w)
	assert.InDelta(t, 10*(0.6*sum[0]+0.8*sum[1])/n, got[2], 1e-6)
	assert.Greater(t, got[2], 9.9)
}

// TestKeepCount: Python's int(n * select).
func TestKeepCount(t *testing.T) {
	assert.Equal(t, 3, KeepCount(32, 0.1))
	assert.Equal(t, 28, KeepCount(50, 0.58))
	assert.Equal(t, 0, KeepCount(4, 0.1))
}

// newTiny builds the adapter on tta/tpt's tiny ViT CLIP with the reference's token ids.
func newTiny(t *testing.T, opts Options, classes int) *Adapter {
	t.Helper()
	st := loadOriginal(t).Streams[0]
	m, err := clip.Load(filepath.Join(tptTestdata, st.Model), clip.LoadOpts{})
	require.NoError(t, err)
	a, err := New(backend.MustNew(), m, refTokenizer(st.TokenIDs), st.Classes[:classes], st.Templates, opts)
	require.NoError(t, err)
	return a
}

// TestStreamState: SaveStream/RestoreStream round-trip the memory; ResetStream empties it; states of another memory
// size or class list, foreign bytes and truncated bytes are refused with errors that say why.
func TestStreamState(t *testing.T) {
	st := loadOriginal(t).Streams[0]
	pool, _, r := viewPool(t, st.ViewFiles)
	a := newTiny(t, Options{Select: 0.4, MemorySize: 2}, 5)
	for ex := range 6 {
		_, err := a.Adapt(&tta.Views{ExampleID: "x", Images: streamViews(pool, r, ex, st.ViewIndex[ex])})
		require.NoError(t, err)
	}
	state, err := a.SaveStream()
	require.NoError(t, err)
	filled := 0
	for c := range 5 {
		filled += a.Memory().Count(c)
	}
	require.Greater(t, filled, 1)

	b := newTiny(t, Options{Select: 0.4, MemorySize: 2}, 5)
	require.NoError(t, b.RestoreStream(state))
	again, err := b.SaveStream()
	require.NoError(t, err)
	assert.Equal(t, state, again, "restore then save gives the same bytes")
	require.NoError(t, b.ResetStream())
	for c := range 5 {
		assert.Equal(t, 0, b.Memory().Count(c))
	}

	err = newTiny(t, Options{Select: 0.4, MemorySize: 3}, 5).RestoreStream(state)
	require.ErrorContains(t, err, "memory_size 2 (this adapter: 3)")
	err = newTiny(t, Options{Select: 0.4, MemorySize: 2}, 4).RestoreStream(state)
	require.ErrorContains(t, err, "5 classes (this adapter: 4)")
	err = newTiny(t, Options{Select: 0.1, MemorySize: 2}, 5).RestoreStream(state)
	require.ErrorContains(t, err, "select 0.4 (this adapter: 0.1)")
	require.ErrorContains(t, b.RestoreStream([]byte("GOTTAMTA....")), "not a DMN stream state")
	require.ErrorContains(t, b.RestoreStream(state[:len(state)-3]), "truncated")
	require.ErrorContains(t, b.RestoreStream(append(state, 0)), "1 bytes after the memory")
}

// TestAdaptRefusesNoVote: int(N * select) = 0 views is an error naming the example.
func TestAdaptRefusesNoVote(t *testing.T) {
	st := loadOriginal(t).Streams[0]
	pool, _, r := viewPool(t, st.ViewFiles)
	a := newTiny(t, Options{Select: 0.1}, 5)
	_, err := a.Adapt(&tta.Views{ExampleID: "ex7", Images: streamViews(pool, r, 0, []int{0, 1, 2, 3})})
	require.ErrorContains(t, err, `example "ex7"`)
}

// TestSpec: the registered spec is online, with the original's defaults, and its presets resolve with the
// original's searched weights and AugMix on the fine-grained sets.
func TestSpec(t *testing.T) {
	s, err := method.Lookup("dmn")
	require.NoError(t, err)
	assert.True(t, s.Online)
	assert.Contains(t, s.Summary, "DMN-ZS")
	v, err := s.Resolve("", nil)
	require.NoError(t, err)
	assert.Equal(t, 32, v.Int("views"))
	assert.Equal(t, 0.1, v.Float("select"))
	assert.Equal(t, 50, v.Int("memory-size"))
	assert.Equal(t, 5.5, v.Float("beta"))
	assert.Equal(t, 1.0, v.Float("weight"))
	assert.Equal(t, "tip7", v.String("templates"))
	assert.Equal(t, "cut", v.String("view-kind"))
	v, err = s.Resolve("imagenet-a", nil)
	require.NoError(t, err)
	assert.Equal(t, 3.0, v.Float("weight"))
	v, err = s.Resolve("dtd", nil)
	require.NoError(t, err)
	assert.Equal(t, 10.0, v.Float("weight"))
	assert.Equal(t, "augmix", v.String("view-kind"))
	assert.Equal(t, "single", v.String("templates"))
	assert.Equal(t, "{} texture.", v.String("template"))
	v, err = s.Resolve("sun397", nil)
	require.NoError(t, err)
	assert.Equal(t, 3.0, v.Float("weight"))
	assert.Equal(t, "tip7", v.String("templates"))
}

// TestSpecBuildsOnEmbedded: the spec builds a tta.StreamStater on the embedded CLIP whose predictions are
// distributions and whose memory fills along a stream.
func TestSpecBuildsOnEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the embedded CLIP")
	}
	env := method.EmbeddedEnv(backend.MustNew())
	ad, vm, _, err := method.Build(env, "dmn", "", method.Values{"views": 4, "select": 0.5, "memory-size": 1},
		embedded.ClassNames())
	require.NoError(t, err)
	ss, ok := ad.(tta.StreamStater)
	require.True(t, ok)
	require.NoError(t, ss.ResetStream())
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 8; y < 20; y++ {
		img.SetGray(14, y, color.Gray{Y: 255})
	}
	for i := range 3 {
		views, err := vm.MakeViews(img, "one", int64(i))
		require.NoError(t, err)
		pred, err := ad.Adapt(views)
		require.NoError(t, err)
		sum := 0.0
		for _, l := range pred.Logits {
			sum += math.Exp(float64(l))
		}
		assert.InDelta(t, 1, sum, 1e-5, "softmax(Logits) = the normalised scores")
		assert.Len(t, pred.Selected, 2)
	}
	filled := 0
	for c := range len(embedded.ClassNames()) {
		filled += ad.(*Adapter).Memory().Count(c)
	}
	assert.GreaterOrEqual(t, filled, 1)
}

// BenchmarkReadImageNet reads a full ImageNet-sized memory (1000 classes x 50 slots x 512, ViT-B/16's embedding).
func BenchmarkReadImageNet(b *testing.B) {
	const classes, size, dim = 1000, DefaultMemorySize, 512
	m := NewMemory(classes, size, dim)
	r := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		f := make([]float32, dim)
		for i := range f {
			f[i] = float32(r.NormFloat64())
		}
		return f
	}
	text := make([][]float32, classes)
	for c := range classes {
		text[c] = vec()
		for range size {
			m.Write(c, vec(), r.Float64())
		}
	}
	q := vec()
	b.ResetTimer()
	for range b.N {
		m.Read(q, text, DefaultBeta, 100)
	}
}
