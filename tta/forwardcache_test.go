package tta

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForwardCache(t *testing.T) {
	require.Nil(t, SharedForwardCache(), "off until enabled")
	disable := EnableForwardCache(3 * 2 * 4) // room for three entries of 2 floats
	c := SharedForwardCache()
	require.NotNil(t, c)

	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 2, 2)
	y := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 5}, 2, 2)
	cfg := map[string]any{"model": "m", "prior": 1.0}
	k1, err := ForwardKey("w", cfg, "ex/0", x)
	require.NoError(t, err)
	same, err := ForwardKey("w", map[string]any{"prior": 1.0, "model": "m"}, "ex/0", x)
	require.NoError(t, err)
	assert.Equal(t, k1, same, "the key does not depend on the config map's order")
	others := [][32]byte{}
	for _, k := range []struct {
		what, id string
		cfg      any
		x        *tensors.Tensor
	}{{"w", "ex/0", cfg, y}, {"w", "ex/1", cfg, x}, {"v", "ex/0", cfg, x},
		{"w", "ex/0", map[string]any{"model": "m", "prior": 0.9}, x},
		{"w", "ex/0", cfg, tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 4, 1)}} {
		o, err := ForwardKey(k.what, k.cfg, k.id, k.x)
		require.NoError(t, err)
		assert.NotEqual(t, k1, o, "%s %s %v %s", k.what, k.id, k.cfg, k.x.Shape())
		others = append(others, o)
	}
	_, err = ForwardKey("w", cfg, "ex/0", tensors.FromFlatDataAndDimensions([]int32{1}, 1))
	assert.Error(t, err, "int32 views")

	_, ok := c.Get(k1)
	assert.False(t, ok)
	c.Put(k1, [][]float32{{1, 2}})
	got, ok := c.Get(k1)
	require.True(t, ok)
	assert.Equal(t, [][]float32{{1, 2}}, got)
	c.Put(others[0], [][]float32{{3, 4}})
	c.Put(others[1], [][]float32{{5, 6}})
	c.Put(others[2], [][]float32{{7, 8}}) // 4 entries of 8 bytes > 24: the oldest (k1) goes
	_, ok = c.Get(k1)
	assert.False(t, ok, "oldest entry evicted")
	got, ok = c.Get(others[2])
	require.True(t, ok)
	assert.Equal(t, [][]float32{{7, 8}}, got)
	hits, misses := c.Stats()
	assert.Equal(t, 2, hits)
	assert.Equal(t, 2, misses)

	disable()
	assert.Nil(t, SharedForwardCache(), "off after disable")
}
