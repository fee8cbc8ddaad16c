package ensemble

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
)

func TestSelectedBlocks(t *testing.T) {
	n := 20
	data := make([]float32, n*2)
	for i := range data {
		data[i] = float32(i / 2) // view i holds i, i
	}
	x := tensors.FromFlatDataAndDimensions(data, n, 2)
	got, sel, err := selectedBlocks(x, []int{17, 3, 5})
	require.NoError(t, err)
	// Blocks 0 (views 0..7) and 2 (views 16..19), in order; 17 -> 9, 3 -> 3, 5 -> 5.
	assert.Equal(t, []int{12, 2}, got.Shape().Dimensions)
	want := []float32{}
	for _, v := range []int{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19} {
		want = append(want, float32(v), float32(v))
	}
	assert.Equal(t, want, tensors.MustCopyFlatData[float32](got))
	assert.Equal(t, []int{9, 3, 5}, sel)

	same, sel, err := selectedBlocks(x, []int{1, 9, 19})
	require.NoError(t, err)
	assert.Same(t, x, same, "every block kept: the views as they are")
	assert.Equal(t, []int{1, 9, 19}, sel)

	_, _, err = selectedBlocks(x, []int{20})
	assert.Error(t, err)
}

// independentMember is a resnetMember (plain batch norm) that says so.
type independentMember struct{ *resnetMember }

func (independentMember) IndependentViews() bool { return true }

// TestJointUpdateBlocksAndCache checks that the joint update of an IndependentViews member over the blocks of the
// selected views, and the forward cache, give bit-identical results: the combination, the selection and the
// member's logits of every view after the step.
func TestJointUpdateBlocksAndCache(t *testing.T) {
	const n = 32 // rho 0.1 selects 3 views: at most 3 of the 4 blocks are kept
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*32*32*3)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	x := tensors.FromFlatDataAndDimensions(data, n, 32, 32, 3)
	views := &tta.Views{ExampleID: "blocks", Payload: PerModel{"a": x}}
	b := backend.MustNew()
	type outcome struct {
		res    *Result
		logits [][]float32
	}
	run := func(m Member, cached bool) outcome {
		if cached {
			defer tta.EnableForwardCache(0)()
			// The simple ensemble of the same member fills the cache with the initial forward.
			s, err := New(b, []Entry{{Name: "a", Member: m}}, Options{Mode: Simple})
			require.NoError(t, err)
			require.NoError(t, s.Reset())
			_, err = s.Adapt(views)
			require.NoError(t, err)
		}
		a, err := New(b, []Entry{{Name: "a", Member: m}}, Options{})
		require.NoError(t, err)
		require.NoError(t, a.Reset())
		res, err := a.Forward(views, 0.1, true)
		require.NoError(t, err)
		if cached {
			hits, _ := tta.SharedForwardCache().Stats()
			assert.Equal(t, 1, hits, "the joint ensemble's first forward is the simple ensemble's")
		}
		outs, err := a.fwd[0].Exec(x)
		require.NoError(t, err)
		require.NoError(t, a.Reset())
		return outcome{res, outs[0].Value().([][]float32)}
	}
	full := run(newResnetMember(t, "tiny_basic.safetensors"), false)
	blocks := run(independentMember{newResnetMember(t, "tiny_basic.safetensors")}, false)
	require.Len(t, full.res.Selected[0], 3)
	kept, _, err := selectedBlocks(x, full.res.Selected[0])
	require.NoError(t, err)
	require.Less(t, kept.Shape().Dimensions[0], n, "the test must leave a block out")
	assert.Equal(t, full.res, blocks.res)
	assert.Equal(t, full.logits, blocks.logits, "logits after the step, bit for bit")

	cachedRun := run(configMember{independentMember{newResnetMember(t, "tiny_basic.safetensors")}}, true)
	assert.Equal(t, full.res, cachedRun.res)
	assert.Equal(t, full.logits, cachedRun.logits)
}

// configMember is a member with a Config, so that its initial forward is cached.
type configMember struct{ independentMember }

func (configMember) Config() map[string]any { return map[string]any{"model": "tiny_basic"} }
