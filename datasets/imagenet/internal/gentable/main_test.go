package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCommittedTableIsGenerated checks that ../../table.go is exactly what the generator makes from
// <repo>/../shared/imagenet (i.e. nobody edited the generated file by hand, and the facts did not drift).
func TestCommittedTableIsGenerated(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "..", "..", "shared", "imagenet")
	if _, err := os.Stat(filepath.Join(shared, "classes.tsv")); err != nil {
		if os.Getenv("GOTTA_SKIP_SHARED") == "1" {
			t.Skipf("GOTTA_SKIP_SHARED=1 and %s unreadable: %v", shared, err)
		}
		t.Fatalf("reference folder %s (the project's ../shared/imagenet) is not readable: %v; set "+
			"GOTTA_SKIP_SHARED=1 to skip this check", shared, err)
	}
	got, err := generate(shared)
	require.NoError(t, err)
	committed, err := os.ReadFile(filepath.Join("..", "..", "table.go"))
	require.NoError(t, err)
	require.Equal(t, string(committed), string(got), "run go generate ./datasets/imagenet/")
}
