package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvalEnsemble runs gotta eval --method ensemble with the seed's triple preset (two MEMO ResNets and TPT) on
// tiny models, jointly and as the simple ensemble, and the MEMO pair with the clean combination.
func TestEvalEnsemble(t *testing.T) {
	classes := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	data := tinyImageFolder(t, classes, 1)
	tinyResNeXt := "../../tta/resnet/testdata/tiny_resnext.safetensors"
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"triple-joint", []string{"--preset", "seed-rn50-rnxt-tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", evalVocab}},
		{"triple-simple", []string{"--preset", "seed-rn50-rnxt-tpt", "--mode", "simple", "--model", "clip:tiny=" + tinyCLIP,
			"--vocab", evalVocab}},
		{"pair-clean", []string{"--members", "memo,memo", "--temps", "1,0.7"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.name != "pair-clean" {
				t.Skip("slow on pure Go")
			}
			out := filepath.Join(t.TempDir(), "r.jsonl")
			var stdout, stderr bytes.Buffer
			args := append([]string{"--method", "ensemble", "--model", "resnet=" + tinyResNet, "--model",
				"resnet=" + tinyResNeXt, "--data", "folder=" + data, "--views", "4", "--select", "0.5", "--limit", "2",
				"--quiet", "--out", out}, c.extra...)
			require.NoError(t, evalMain(args, &stdout, &stderr), stderr.String())
			recs := readRecs(t, out)
			require.Len(t, recs, 2)
			for _, r := range recs {
				assert.Empty(t, r.Error)
				assert.Len(t, r.Top5, 5)
			}
			cfg := recs[0].Config
			members := cfg["members"].([]any)
			if c.name == "pair-clean" {
				assert.Equal(t, false, cfg["seed_compatible"])
				assert.Len(t, members, 2)
			} else {
				assert.Equal(t, true, cfg["seed_compatible"])
				require.Len(t, members, 3)
				assert.Equal(t, 0.7, members[2].(map[string]any)["temperature"])
			}
		})
	}
}
