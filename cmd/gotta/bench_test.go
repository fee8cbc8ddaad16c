package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchTiny(t *testing.T) {
	for _, arch := range []string{"RN50", "ViT-B/16"} {
		var out bytes.Buffer
		require.NoError(t, benchMain([]string{"tpt", "--arch", arch, "--tiny", "--views", "8", "--classes", "10", "--iters", "1"}, &out))
		for _, s := range []string{"views (CPU)", "image forward", "text forward+backward", "prediction", "peak host memory", "device memory (PJRT): n/a"} {
			assert.Contains(t, out.String(), s)
		}
	}
	assert.Error(t, benchMain([]string{"tpt", "--arch", "RN999"}, &bytes.Buffer{}))
	assert.Error(t, benchMain([]string{"nope"}, &bytes.Buffer{}), "an unknown benchmark")
}
