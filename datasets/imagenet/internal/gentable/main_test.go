package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommittedTableIsGenerated checks that ../../table.go is exactly what the generator makes from the committed
// facts in ../../testdata (i.e. nobody edited the generated file by hand, and it was regenerated after the facts
// changed).
func TestCommittedTableIsGenerated(t *testing.T) {
	facts := filepath.Join("..", "..", "testdata")
	got, err := generate(facts)
	require.NoError(t, err)
	committed, err := os.ReadFile(filepath.Join("..", "..", "table.go"))
	require.NoError(t, err)
	require.Equal(t, string(committed), string(got), "run go generate ./datasets/imagenet/")
}
