package weights

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetadataValues(t *testing.T) {
	md := map[string]string{
		"plain": "12", "json_float": "12.0", "exp": "1e2", "quoted": `"12"`, "spaces": " 7 ", "neg": "-3",
		"null": "null", "null_spaces": " null ", "empty": "", "bool": "true", "frac": "1.5", "text": "two",
		"list": "[1, 1, 1, 1]", "list_plain": "3,4,6,3", "list_one": "12", "list_one_json": "[12]",
		"list_spaces": " 3, 4 ,6,3 ", "list_quoted": `"[1, 2]"`, "list_empty": "[]", "list_bad": "[1, x]",
		"list_bools": "[true]", "list_frac": "[1, 2.5]", "list_unclosed": "[1, 2", "list_nested": "[[1]]",
		"name": "RN", "name_json": `"RN"`, "name_bad": `"RN`, "bool_json": "false",
	}
	ints := map[string]int{"plain": 12, "json_float": 12, "exp": 100, "quoted": 12, "spaces": 7, "neg": -3}
	for k, want := range ints {
		n, ok, err := MetadataInt(md, k)
		require.NoError(t, err, k)
		assert.True(t, ok, k)
		assert.Equal(t, want, n, k)
	}
	for _, k := range []string{"null", "null_spaces", "absent"} {
		n, ok, err := MetadataInt(md, k)
		require.NoError(t, err, k)
		assert.False(t, ok, k)
		assert.Zero(t, n, k)
		ns, ok, err := MetadataInts(md, k)
		require.NoError(t, err, k)
		assert.False(t, ok, k)
		assert.Nil(t, ns, k)
		s, ok, err := MetadataString(md, k)
		require.NoError(t, err, k)
		assert.False(t, ok, k)
		assert.Empty(t, s, k)
	}
	for _, k := range []string{"empty", "bool", "frac", "text", "list", "name_bad"} {
		_, _, err := MetadataInt(md, k)
		require.Error(t, err, k)
		assert.ErrorContains(t, err, k+"=", "the error names the key")
	}
	lists := map[string][]int{"list": {1, 1, 1, 1}, "list_plain": {3, 4, 6, 3}, "list_one": {12},
		"list_one_json": {12}, "list_spaces": {3, 4, 6, 3}, "list_quoted": {1, 2}, "plain": {12}}
	for k, want := range lists {
		ns, ok, err := MetadataInts(md, k)
		require.NoError(t, err, k)
		assert.True(t, ok, k)
		assert.Equal(t, want, ns, k)
	}
	for _, k := range []string{"list_empty", "list_bad", "list_bools", "list_frac", "list_unclosed", "list_nested",
		"empty", "text"} {
		_, _, err := MetadataInts(md, k)
		require.Error(t, err, k)
		assert.ErrorContains(t, err, k+"=", "the error names the key")
	}
	for k, want := range map[string]string{"name": "RN", "name_json": "RN", "bool_json": "false", "list": "[1, 1, 1, 1]"} {
		s, ok, err := MetadataString(md, k)
		require.NoError(t, err, k)
		assert.True(t, ok, k)
		assert.Equal(t, want, s, k)
	}
	_, _, err := MetadataString(md, "name_bad")
	assert.ErrorContains(t, err, "name_bad=")
}

// TestJSONMetadataRoundTrip: a file whose metadata values are JSON texts opens, and they come back verbatim.
func TestJSONMetadataRoundTrip(t *testing.T) {
	md := map[string]string{"vision_layers": "[1, 1, 1, 1]", "vision_patch_size": "null", "embed_dim": "16",
		"quick_gelu": "false", "vision": `"RN"`}
	path := filepath.Join(t.TempDir(), "json_metadata.safetensors")
	require.NoError(t, Write(path, []Named{{Name: "w", Tensor: tensors.FromValue([]float32{1, 2})}}, md))
	f, err := Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	assert.Equal(t, md, f.Metadata())
	layers, ok, err := MetadataInts(f.Metadata(), "vision_layers")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []int{1, 1, 1, 1}, layers)
}
