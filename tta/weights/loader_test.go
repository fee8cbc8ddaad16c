package weights

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoader(t *testing.T) {
	path := "testdata/python_written.safetensors"
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	l := NewLoader(f)

	t.Run("Take", func(t *testing.T) {
		x, err := l.Take("a.f32", []int{2, 3}, dtypes.BFloat16)
		require.NoError(t, err)
		assert.Equal(t, dtypes.BFloat16, x.DType())
		assert.Equal(t, []int{2, 3}, x.Shape().Dimensions)
		assert.True(t, l.Has("a.f32"))
		assert.False(t, l.Has("nope"))
		shape, ok := l.Shape("conv.weight")
		assert.True(t, ok)
		assert.Equal(t, []int{4, 3, 2, 2}, shape)
	})
	t.Run("wrong shape", func(t *testing.T) {
		_, err := l.Take("b.f16", []int{2, 2}, dtypes.Float32)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), `"b.f16"`)
		assert.Contains(t, err.Error(), "[4]")
		assert.Contains(t, l.Unused(), "b.f16", "a failed Take does not use the tensor")
	})
	t.Run("missing", func(t *testing.T) {
		_, err := l.Take("fc.weight", []int{10, 4}, dtypes.Float32)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), `"fc.weight"`)
		assert.Contains(t, err.Error(), "missing")
		require.Error(t, l.Skip("fc.bias"))
	})
	t.Run("Transposed OIHW to HWIO", func(t *testing.T) {
		x, err := l.Transposed("conv.weight", []int{4, 3, 2, 2}, OIHWToHWIO, dtypes.Float32)
		require.NoError(t, err)
		ref := mustNPY(t, "st_conv.weight_hwio.npy") // numpy's transpose(2, 3, 1, 0)
		assert.Equal(t, ref.Shape, x.Shape().Dimensions)
		assert.Equal(t, ref.Data, flatOf(t, x))
		_, err = l.Transposed("conv.weight", []int{4, 3, 2, 2}, []int{0, 0, 1, 2}, dtypes.Float32)
		require.ErrorContains(t, err, `"conv.weight"`)
		_, err = l.Transposed("conv.weight", []int{4, 3, 2, 2}, []int{1, 0}, dtypes.Float32)
		require.ErrorContains(t, err, "permutation")
	})
	t.Run("Finish", func(t *testing.T) {
		err := l.Finish()
		require.Error(t, err)
		for _, n := range []string{"b.f16", "c.bf16", "d.i64", "e.i32.scalar", "empty", "f.u8", "g.bool", "h.f64", "i.i8"} {
			assert.Contains(t, err.Error(), `"`+n+`"`)
		}
		assert.NotContains(t, err.Error(), `"a.f32"`)
		assert.NotContains(t, err.Error(), `"conv.weight"`)
		assert.Contains(t, err.Error(), path)
		for _, n := range l.Unused() {
			_, err := l.Take(n, nil, dtypes.InvalidDType)
			require.NoError(t, err)
		}
		require.NoError(t, l.Finish())
		assert.Empty(t, l.Unused())
	})
}

// TestTranspose checks the host transpose against an index-by-index definition for several ranks and perms.
func TestTranspose(t *testing.T) {
	for _, tc := range []struct {
		dims, perm []int
	}{
		{[]int{5}, []int{0}},
		{[]int{2, 3}, []int{1, 0}},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{3, 1, 2, 4}, []int{2, 3, 1, 0}},
		{[]int{2, 3, 2, 2, 3}, []int{4, 1, 3, 0, 2}},
		{[]int{2, 0, 3}, []int{2, 1, 0}},
	} {
		size := 1
		for _, d := range tc.dims {
			size *= d
		}
		src := make([]int32, size)
		for i := range src {
			src[i] = int32(i)
		}
		got := flatOf(t, transposeTensor(tensors.FromFlatDataAndDimensions(src, tc.dims...), tc.perm)).([]int32)
		// Reference: for every source index, its destination position.
		rank := len(tc.dims)
		outDims := make([]int, rank)
		for i, p := range tc.perm {
			outDims[i] = tc.dims[p]
		}
		want := make([]int32, size)
		idx := make([]int, rank)
		for s := 0; s < size; s++ {
			rem := s
			for a := rank - 1; a >= 0; a-- {
				idx[a] = rem % tc.dims[a]
				rem /= tc.dims[a]
			}
			o := 0
			for i := 0; i < rank; i++ {
				o = o*outDims[i] + idx[tc.perm[i]]
			}
			want[o] = src[s]
		}
		assert.Equal(t, want, got, "dims %v perm %v", tc.dims, tc.perm)
	}
}

func TestSources(t *testing.T) {
	for _, tc := range []struct{ family, model, local string }{
		{"clip", "RN50", "clip/RN50/open_clip_model.safetensors"},
		{"clip", "vit-b/16", "clip/ViT-B-16/open_clip_model.safetensors"},
		{"resnet", "resnet50.tv2", "resnet/resnet50.tv2/model.safetensors"},
	} {
		p, err := DefaultPath("/w", tc.family, tc.model)
		require.NoError(t, err)
		assert.Equal(t, "/w/"+tc.local, p)
	}
	s, err := LookupSource("clip", "ViT-B/32")
	require.NoError(t, err)
	assert.Equal(t, "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors",
		s.Weights().URL(""))
	assert.Equal(t, "http://mirror:8080/x/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors",
		s.Weights().URL("http://mirror:8080/x/"))
	_, err = LookupSource("clip", "RN49")
	require.ErrorContains(t, err, "RN50, RN101")
	_, err = LookupSource("vgg", "16")
	require.ErrorContains(t, err, "family")
	for _, s := range Sources() {
		require.NotEmpty(t, s.Files)
		assert.Contains(t, s.Weights().Local, ".safetensors")
		for _, f := range s.Files {
			assert.True(t, f.SHA256 == "" || len(f.SHA256) == 64, f.SHA256)
		}
	}
}
