package tda

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeepCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		sel  float64
		want int
	}{{1, 0.1, 1}, {64, 0.1, 6}, {30, 0.1, 3}, {32, 0.1, 3}, {9, 0.1, 0}, {10, 0.1, 1}, {50, 0.58, 28}} {
		assert.Equal(t, c.want, KeepCount(c.n, c.sel), "KeepCount(%d, %g)", c.n, c.sel)
	}
}

func TestCacheUpdate(t *testing.T) {
	c := newCache(3, 2)
	c.Update(1, Entry{Example: "a", Loss: 0.5})
	c.Update(1, Entry{Example: "b", Loss: 0.3})
	c.Update(1, Entry{Example: "c", Loss: 0.4}) // full: replaces the highest loss (a)
	c.Update(1, Entry{Example: "d", Loss: 0.4}) // not strictly lower than c: kept out
	c.Update(2, Entry{Example: "e", Loss: 9})
	var got []string
	for _, e := range c.Classes[1] {
		got = append(got, e.Example)
	}
	assert.Equal(t, []string{"b", "c"}, got)
	assert.Equal(t, 3, c.Len())
	assert.Empty(t, c.Classes[0])
	// Affinity 1 weighs exp(0) = 1; the positive value is the entry's class, the negative one its probability mask.
	c = newCache(3, 1)
	c.Update(2, Entry{Feature: []float32{1, 0}, Loss: 1, Probs: []float32{0.02, 0.5, 0.48}})
	assert.InDeltaSlice(t, []float64{0, 0, 2}, c.Logits([]float32{1, 0}, 2, 5, false, 0, 0), 1e-12)
	assert.InDeltaSlice(t, []float64{0, 2, 2}, c.Logits([]float32{1, 0}, 2, 5, true, 0.03, 1), 1e-12)
}

// streamFixture is the original's first stream (32 views, both caches) on the tiny CLIP.
func streamFixture(t *testing.T) (func(classes int, opts Options) *Adapter, []*tta.Views, originalStream) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "original_tda.json"))
	require.NoError(t, err)
	var o original
	require.NoError(t, json.Unmarshal(data, &o))
	s := o.Streams[0]
	m, err := clip.Load(filepath.Join(tptTestdata, o.Model), clip.LoadOpts{})
	require.NoError(t, err)
	base, r := baseViews(t, o.BaseViews)
	var views []*tta.Views
	for i, e := range s.Examples {
		views = append(views, &tta.Views{ExampleID: fmt.Sprintf("ex%02d", i), Images: makeViews(base, r, e.Views)})
	}
	b := backend.MustNew()
	mk := func(classes int, opts Options) *Adapter {
		a, err := New(b, m, refTokenizer(s.TokenIDs), s.Classes[:classes], s.Templates, opts)
		require.NoError(t, err)
		return a
	}
	return mk, views, s
}

func streamOptions(s originalStream) Options {
	return Options{Select: DefaultSelect,
		Positive:     CacheOptions{Enabled: true, Shots: s.Positive.Shots, Alpha: s.Positive.Alpha, Beta: s.Positive.Beta},
		Negative:     CacheOptions{Enabled: true, Shots: s.Negative.Shots, Alpha: s.Negative.Alpha, Beta: s.Negative.Beta},
		EntropyLower: s.Negative.Entropy.Lower, EntropyUpper: s.Negative.Entropy.Upper,
		MaskLower: s.Negative.Mask.Lower, MaskUpper: s.Negative.Mask.Upper}
}

// TestStreamState: a stream saved halfway and restored into a fresh adapter continues with the same logits as the
// uninterrupted stream; ResetStream starts over; states of another configuration or class count are refused.
func TestStreamState(t *testing.T) {
	mk, views, s := streamFixture(t)
	opts := streamOptions(s)
	a := mk(len(s.Classes), opts)
	half := len(views) / 2
	var want [][]float32
	var state []byte
	for i, v := range views {
		if i == half {
			var err error
			state, err = a.SaveStream()
			require.NoError(t, err)
		}
		p, err := a.Adapt(v)
		require.NoError(t, err)
		want = append(want, p.Logits)
	}
	pos, neg := a.Caches()
	require.Positive(t, pos.Len())
	require.Positive(t, neg.Len())

	b := mk(len(s.Classes), opts)
	require.NoError(t, b.RestoreStream(state))
	for i := half; i < len(views); i++ {
		p, err := b.Adapt(views[i])
		require.NoError(t, err)
		assert.Equal(t, want[i], p.Logits, "example %d after RestoreStream", i)
	}

	require.NoError(t, a.ResetStream())
	pos, neg = a.Caches()
	assert.Zero(t, pos.Len()+neg.Len(), "ResetStream empties the caches")
	p, err := a.Adapt(views[0])
	require.NoError(t, err)
	assert.Equal(t, want[0], p.Logits, "the first example after ResetStream")

	err = mk(len(s.Classes)-1, opts).RestoreStream(state)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "classes")
	other := opts
	other.Positive.Shots++
	err = mk(len(s.Classes), other).RestoreStream(state)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pos_shots")
	assert.Error(t, b.RestoreStream([]byte(`{"format":"gotta-dmn-stream/1"}`)))
	assert.Error(t, b.RestoreStream([]byte("not json")))
}

// TestAdaptRefusesZeroKept: 5 views keep int(0.5) = 0 (the original would average no view).
func TestAdaptRefusesZeroKept(t *testing.T) {
	mk, views, s := streamFixture(t)
	a := mk(len(s.Classes), streamOptions(s))
	v, err := tta.PickViews(views[0].Images, []int{0, 1, 2, 3, 4})
	require.NoError(t, err)
	_, err = a.Adapt(&tta.Views{ExampleID: "five", Images: v})
	require.ErrorContains(t, err, `example "five"`)
}

func TestSpec(t *testing.T) {
	s, err := method.Lookup("tda")
	require.NoError(t, err)
	assert.True(t, s.Online)
	v, err := s.Resolve("", nil)
	require.NoError(t, err)
	d := DefaultOptions()
	assert.Equal(t, method.Values{"views": 1, "select": d.Select, "pos": true, "pos-shots": d.Positive.Shots,
		"pos-alpha": d.Positive.Alpha, "pos-beta": d.Positive.Beta, "neg": true, "neg-shots": d.Negative.Shots,
		"neg-alpha": d.Negative.Alpha, "neg-beta": d.Negative.Beta, "entropy-lower": d.EntropyLower,
		"entropy-upper": d.EntropyUpper, "mask-lower": d.MaskLower, "mask-upper": d.MaskUpper, "templates": "tip7",
		"template": method.DefaultTemplate}, v)
	// configs/imagenet_s.yaml and imagenet_sketch.py's 80 templates.
	v, err = s.Resolve("imagenet-sketch", nil)
	require.NoError(t, err)
	assert.Equal(t, 64, v.Int("views"))
	assert.Equal(t, 2.363, v.Float("pos-alpha"))
	assert.Equal(t, 7.45, v.Float("pos-beta"))
	assert.Equal(t, "ensemble80", v.String("templates"))
	v, err = s.Resolve("imagenet-v2", nil)
	require.NoError(t, err)
	assert.Equal(t, []any{64, 1.0, 8.0, "tip7"}, []any{v.Int("views"), v.Float("pos-alpha"), v.Float("pos-beta"),
		v.String("templates")})
}

// TestBuildEmbedded builds "tda" through the registry on the embedded CLIP: one view (the default), AugMix views
// (the imagenet-a preset with 20 views: int(2.0) = 2 kept), and refuses views that keep none.
func TestBuildEmbedded(t *testing.T) {
	env := method.NewEnv(backend.MustNew(), method.Models{Embedded: true})
	classes := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	img := image.NewRGBA(image.Rect(0, 0, 40, 36))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37 % 251)
	}
	for _, c := range []struct {
		preset string
		over   method.Values
		kept   int
	}{{"", nil, 1}, {"imagenet-a", method.Values{"views": 20}, 2}} {
		a, vm, _, err := method.Build(env, "tda", c.preset, c.over, classes)
		require.NoError(t, err)
		online, ok := a.(tta.Online)
		require.True(t, ok, "tda is a tta.Online")
		for i := range 3 {
			v, err := vm.MakeViews(img, fmt.Sprintf("img%d", i), 1)
			require.NoError(t, err)
			p, err := online.Adapt(v)
			require.NoError(t, err)
			assert.Len(t, p.Selected, c.kept)
			assert.Len(t, p.Logits, len(classes))
		}
		pos, _ := a.(*Adapter).Caches()
		assert.Equal(t, 3, pos.Len(), "three examples in the positive cache (capacity 3 per class)")
	}
	_, _, _, err := method.Build(env, "tda", "", method.Values{"views": 5}, classes)
	assert.ErrorContains(t, err, "int(5 * 0.1) = 0")
}
