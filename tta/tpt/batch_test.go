package tpt

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchExamples are four examples made from a fixture's views: the views, negated, in reverse order (another view
// 0), and scaled by 1.5.
func batchExamples(t testing.TB, kind string) []*tta.Views {
	t.Helper()
	views := loadViews(t, kind)
	dims := views.Shape().Dimensions
	data := tensors.MustCopyFlatData[float32](views)
	per := len(data) / dims[0]
	neg, rev, scaled := make([]float32, len(data)), make([]float32, len(data)), make([]float32, len(data))
	for i, v := range data {
		neg[i], scaled[i] = -v, 1.5*v
	}
	for j := 0; j < dims[0]; j++ {
		copy(rev[j*per:(j+1)*per], data[(dims[0]-1-j)*per:(dims[0]-j)*per])
	}
	var out []*tta.Views
	for i, d := range [][]float32{data, neg, rev, scaled} {
		out = append(out, &tta.Views{ExampleID: fmt.Sprintf("%s%d", kind, i),
			Images: tensors.FromFlatDataAndDimensions(d, dims...)})
	}
	return out
}

// TestBatchEqualsOneAtATime: TPT's batched path (batches of 3 over 4 examples: a full batch and a padded last one)
// gives each example what Reset and Adapt give it alone: the selected views exactly, the losses within 1e-5, view
// 0's logits within 1e-4, the entropies within 1e-5; and on the golden views what the PyTorch reference gives (the
// selection exactly, the losses within 1e-5, the logits after within 1e-4). Cases: the paper's setting, two steps
// with C-TPT's ATFD term, the split "[CLS]" prompt on the ResNet tower, a class-specific context (the text tower on
// whole prompts), no steps, and the ensemble mode.
func TestBatchEqualsOneAtATime(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	gv := loadGolden(t, "vit")[0]
	grn := loadGolden(t, "rn")[1]
	wd := PaperWeightDecay
	cases := []struct {
		name, kind string
		g          golden
		opts       Options
		golden     bool // example 0 is the golden case
	}{
		{"paper", "vit", gv, Options{Prompt: gv.Prompt, Select: gv.Rho, Steps: gv.Steps, WeightDecay: wd}, true},
		{"split-prompt", "rn", grn, Options{Prompt: grn.Prompt, Select: grn.Rho, Steps: grn.Steps, WeightDecay: wd}, true},
		{"c-tpt-2-steps", "vit", gv, Options{Prompt: gv.Prompt, Select: gv.Rho, Steps: 2, WeightDecay: wd, ATFD: 20}, false},
		{"class-specific", "vit", gv, Options{Prompt: gv.Prompt, Select: gv.Rho, Steps: 1, WeightDecay: wd,
			ClassSpecific: true}, false},
		{"no-steps", "vit", gv, Options{Prompt: gv.Prompt, Select: gv.Rho}, false},
		{"ensemble", "vit", gv, Options{Prompt: gv.Prompt, Select: gv.Rho, Ensemble: true}, false},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && ci > 1 {
				t.Skip("short")
			}
			examples := batchExamples(t, c.kind)
			a, err := New(b, loadModel(t, c.kind), tok, c.g.Classes, c.opts)
			require.NoError(t, err)
			want := make([]*tta.Prediction, len(examples))
			for i, v := range examples {
				require.NoError(t, a.Reset())
				want[i], err = a.Adapt(v)
				require.NoError(t, err)
			}
			ba, err := tta.BatchOf(a, 3)
			require.NoError(t, err)
			require.Equal(t, 3, ba.BatchSize())
			again, err := a.Batched(3)
			require.NoError(t, err)
			require.Same(t, ba, again, "one batched path per size")
			var got []*tta.Prediction
			for _, batch := range [][]*tta.Views{examples[:3], examples[3:]} {
				p, err := ba.AdaptBatch(batch)
				require.NoError(t, err)
				require.Len(t, p, len(batch))
				got = append(got, p...)
			}
			for i := range examples {
				w, g := want[i], got[i]
				assert.Equal(t, w.Selected, g.Selected, "example %d: selected views", i)
				require.Len(t, g.Steps, len(w.Steps), "example %d", i)
				for s := range w.Steps {
					assert.Equal(t, w.Steps[s].Step, g.Steps[s].Step)
					assert.Equal(t, w.Steps[s].Selected, g.Steps[s].Selected, "example %d step %d", i, s)
					assert.InDelta(t, w.Steps[s].Loss, g.Steps[s].Loss, 1e-5, "example %d: loss of step %d", i, s)
				}
				assert.InDeltaSlice(t, f64(w.Logits), f64(g.Logits), 1e-4, "example %d: logits", i)
				assert.InDelta(t, w.EntropyBefore, g.EntropyBefore, 1e-5, "example %d: entropy before", i)
				assert.InDelta(t, w.EntropyAfter, g.EntropyAfter, 1e-5, "example %d: entropy after", i)
			}
			if c.opts.Steps > 0 {
				assert.NotEqual(t, want[0].Logits, want[1].Logits, "the examples differ")
			}
			if c.golden {
				assert.Equal(t, c.g.Selected, got[0].Selected, "golden selection")
				require.Len(t, got[0].Steps, len(c.g.Losses))
				for s, l := range c.g.Losses {
					assert.InDelta(t, l, got[0].Steps[s].Loss, 1e-5, "golden loss of step %d", s)
				}
				assert.InDeltaSlice(t, c.g.LogitsAfter, f64(got[0].Logits), 1e-4, "golden logits after")
			}
			// The batched path leaves the one-example path as it was.
			require.NoError(t, a.Reset())
			p, err := a.Adapt(examples[2])
			require.NoError(t, err)
			assert.Equal(t, want[2].Logits, p.Logits)
		})
	}
}

// TestBatchRefusals: the configurations without a batched path say so (tta.ErrNoBatch), and a batch the path
// cannot run is an error naming the examples.
func TestBatchRefusals(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	g := loadGolden(t, "vit")[0]
	for _, o := range []Options{{Reselect: true, Steps: 2}, {AlignSteps: 1, Steps: 1}, {Steps: MaxBatchSteps + 1}} {
		o.Prompt, o.Select = g.Prompt, g.Rho
		a, err := New(b, loadModel(t, "vit"), tok, g.Classes, o)
		require.NoError(t, err)
		_, err = tta.BatchOf(a, 2)
		require.Error(t, err)
		assert.True(t, errors.Is(err, tta.ErrNoBatch), "%v", err)
	}
	a, err := New(b, loadModel(t, "vit"), tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho, Steps: 1})
	require.NoError(t, err)
	ba, err := a.Batched(2)
	require.NoError(t, err)
	ex := batchExamples(t, "vit")
	_, err = ba.AdaptBatch(ex[:3])
	assert.ErrorContains(t, err, "a batch of 3 examples for batches of 2")
	few := &tta.Views{ExampleID: "few", Images: tensors.FromFlatDataAndDimensions(
		tensors.MustCopyFlatData[float32](ex[1].Images)[:ex[1].Images.Shape().Size()/2],
		append([]int{ex[1].Images.Shape().Dimensions[0] / 2}, ex[1].Images.Shape().Dimensions[1:]...)...)}
	_, err = ba.AdaptBatch([]*tta.Views{ex[0], few})
	assert.ErrorContains(t, err, `example "few"`)
}

// BenchmarkTPTBatch times TPT's paper setting on the tiny ViT fixture (8 views, 5 classes) one example at a time
// (B=1: Reset, Adapt) and in batches of 4 (AdaptBatch), reporting ms/example and examples/s. The pure-Go backend
// gains little from batching; the batched path is for launch-bound accelerators.
func BenchmarkTPTBatch(b *testing.B) {
	tok := loadTokenizer(b)
	be := backend.MustNew()
	g := loadGolden(b, "vit")[0]
	examples := batchExamples(b, "vit")
	opts := Options{Prompt: g.Prompt, Select: g.Rho, Steps: 1, WeightDecay: PaperWeightDecay}
	for _, size := range []int{1, 4} {
		b.Run(fmt.Sprintf("B=%d", size), func(b *testing.B) {
			a, err := New(be, loadModel(b, "vit"), tok, g.Classes, opts)
			if err != nil {
				b.Fatal(err)
			}
			run := func() error {
				if size == 1 {
					if err := a.Reset(); err != nil {
						return err
					}
					_, err := a.Adapt(examples[0])
					return err
				}
				ba, err := a.Batched(size)
				if err != nil {
					return err
				}
				_, err = ba.AdaptBatch(examples[:size])
				return err
			}
			if err := run(); err != nil { // compiles
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start).Seconds() / float64(b.N*size)
			b.ReportMetric(per*1e3, "ms/example")
			b.ReportMetric(1/per, "examples/s")
		})
	}
}

// TestBatchDeviceViews: a batch of device views (two images in different size buckets) and host views of a third
// gives each example what Adapt gives it alone.
func TestBatchDeviceViews(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the device views' float64 resampling takes seconds on the pure-Go backend")
	}
	tok := loadTokenizer(t)
	g := loadGolden(t, "rn")[0]
	m := loadModel(t, "rn")
	a, err := New(backend.MustNew(), m, tok, g.Classes, Options{Prompt: g.Prompt, Select: 0.25, Views: 16,
		Steps: 1, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	dev := NewViewMaker(m, 16)
	dev.OnDevice = true
	var vs []*tta.Views
	for i, size := range [][2]int{{150, 100}, {90, 120}} {
		v, err := dev.MakeViews(testImage(size[0], size[1]), fmt.Sprintf("dev%d", i), 7)
		require.NoError(t, err)
		require.Nil(t, v.Images)
		vs = append(vs, v)
	}
	hv, err := NewViewMaker(m, 16).MakeViews(testImage(120, 120), "host", 7)
	require.NoError(t, err)
	vs = append(vs, hv)
	ba, err := a.Batched(3)
	require.NoError(t, err)
	got, err := ba.AdaptBatch(vs)
	require.NoError(t, err)
	for i, v := range vs {
		require.NoError(t, a.Reset())
		want, err := a.Adapt(v)
		require.NoError(t, err)
		assert.Equal(t, want.Selected, got[i].Selected, "example %d", i)
		require.Len(t, got[i].Steps, 1)
		assert.InDelta(t, want.Steps[0].Loss, got[i].Steps[0].Loss, 1e-5, "example %d", i)
		assert.InDeltaSlice(t, f64(want.Logits), f64(got[i].Logits), 1e-4, "example %d", i)
	}
}

// TestPreload: Preload puts an example's views on the device, and Adapt then gives what it gives without it.
func TestPreload(t *testing.T) {
	tok := loadTokenizer(t)
	g := loadGolden(t, "vit")[0]
	a, err := New(backend.MustNew(), loadModel(t, "vit"), tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho,
		Steps: 1, WeightDecay: PaperWeightDecay})
	require.NoError(t, err)
	ex := batchExamples(t, "vit")
	require.NoError(t, a.Reset())
	want, err := a.Adapt(ex[1])
	require.NoError(t, err)
	v := &tta.Views{ExampleID: "pre", Images: tensors.FromFlatDataAndDimensions(
		tensors.MustCopyFlatData[float32](ex[1].Images), ex[1].Images.Shape().Dimensions...)}
	require.False(t, v.Images.IsOnDevice(0))
	require.NoError(t, a.Preload(v))
	require.True(t, v.Images.IsOnDevice(0))
	require.NoError(t, a.Reset())
	got, err := a.Adapt(v)
	require.NoError(t, err)
	assert.Equal(t, want.Selected, got.Selected)
	assert.Equal(t, want.Logits, got.Logits)
}
