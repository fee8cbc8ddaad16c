package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdaptHooks: gotta adapt dispatches on the methods' adapt hooks; --help lists the methods that have one, and
// a method without one is refused by name.
func TestAdaptHooks(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"--method", "memo", "--help"}, {"--method", "nope", "--help"}} {
		var stdout, stderr bytes.Buffer
		require.ErrorIs(t, adaptMain(args, &stdout, &stderr), flag.ErrHelp, "%v", args)
		for _, n := range []string{"memo", "tpt", "zero-shot"} {
			assert.Contains(t, stderr.String(), "\n  "+n+" ", "%v lists %s", args, n)
		}
	}
	assert.Equal(t, []string{"ensemble", "memo", "tpt", "zero-shot"}, adaptMethodNames())

	registerMethod(&method{name: "no-adapt", summary: "a method without an adapt hook"})
	defer delete(methods, "no-adapt")
	var stdout, stderr bytes.Buffer
	err := adaptMain([]string{"--method", "no-adapt", "--out", t.TempDir()}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not support gotta adapt")
	assert.NotContains(t, adaptMethodList(), "no-adapt")
	err = adaptMain([]string{"--method", "nope"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown --method")
}
