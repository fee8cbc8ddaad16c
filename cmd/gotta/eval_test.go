package main

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyCLIP is the tiny ResNet CLIP of tta/clip's and tta/tpt's golden tests.
const tinyCLIP = "../../tta/clip/testdata/tiny_rn.safetensors"

// tinyImageFolder writes a class-per-folder dataset of perClass random PNGs per class under a temp dir.
func tinyImageFolder(t *testing.T, classes []string, perClass int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	r := rand.New(rand.NewSource(1))
	for _, c := range classes {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, c), 0o755))
		for i := 0; i < perClass; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 72+8*i, 80))
			for y := 0; y < 80; y++ {
				for x := 0; x < img.Rect.Dx(); x++ {
					img.Set(x, y, color.RGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256)), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, c, string(rune('a'+i))+".png"))
			require.NoError(t, err)
			require.NoError(t, png.Encode(f, img))
			require.NoError(t, f.Close())
		}
	}
	return dir
}

func readRecs(t *testing.T, path string) []eval.Record {
	t.Helper()
	recs, _, err := eval.ReadRecords(path)
	require.NoError(t, err)
	out := make([]eval.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
		out[i].Seconds = 0
		for _, f := range []*eval.Float{&out[i].EntropyBefore, &out[i].EntropyAfter} {
			if math.IsNaN(float64(*f)) {
				*f = -1
			}
		}
	}
	return out
}

// TestEvalResume: a gotta eval run interrupted halfway (a --limit run, then the unfinished line a kill leaves)
// and rerun ends with the same records as an uninterrupted run, none lost, none twice; shards merge to the same.
func TestEvalResume(t *testing.T) {
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark", "electric_ray"}, 2)
	out := t.TempDir()
	base := []string{"--method", "tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab, "--data", "folder=" + data,
		"--views", "4", "--select", "0.5", "--steps", "1", "--seed", "7"}
	run := func(extra ...string) string {
		var stdout, stderr bytes.Buffer
		err := evalMain(append(append([]string{}, base...), extra...), &stdout, &stderr)
		require.NoError(t, err, stderr.String())
		return stdout.String()
	}
	full := filepath.Join(out, "full.jsonl")
	summary := run("--out", full)
	assert.Contains(t, summary, "6 records")
	want := readRecs(t, full)
	require.Len(t, want, 6)
	for i, r := range want {
		assert.Equal(t, i, r.Index)
		assert.Empty(t, r.Error)
		assert.Equal(t, "tpt", r.Method)
		assert.Len(t, r.Selected, 2)
	}

	part := filepath.Join(out, "part.jsonl")
	run("--out", part, "--limit", "3", "--quiet")
	require.Len(t, readRecs(t, part), 3)
	f, err := os.OpenFile(part, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"method":"tpt","config":{"model`) // killed while writing example 3
	require.NoError(t, err)
	require.NoError(t, f.Close())
	run("--out", part, "--quiet")
	assert.Equal(t, want, readRecs(t, part))

	// Shards and merge.
	s0, s1 := filepath.Join(out, "s0.jsonl"), filepath.Join(out, "s1.jsonl")
	run("--out", s0, "--shard", "0/2", "--quiet")
	run("--out", s1, "--shard", "1/2", "--quiet")
	merged := filepath.Join(out, "merged.jsonl")
	require.NoError(t, runMerge([]string{"--out", merged, s0, s1}))
	assert.Equal(t, want, readRecs(t, merged))

	// Errors: unknown method, unknown flag, another run's file.
	var sink bytes.Buffer
	assert.ErrorContains(t, evalMain([]string{"--method", "nope", "--data", "folder=" + data, "--out", full}, &sink, &sink), "unknown method")
	assert.Error(t, evalMain(append(append([]string{}, base...), "--out", full, "--no-such-flag"), &sink, &sink))
	assert.ErrorContains(t, evalMain(append(append([]string{}, base...), "--out", full, "--steps", "2"), &sink, &sink), "another run")
}

// TestEvalZeroShot runs the zero-shot method end to end and checks that --help lists a method's flags.
func TestEvalZeroShot(t *testing.T) {
	data := tinyImageFolder(t, []string{"goldfish", "tiger_shark"}, 1)
	out := filepath.Join(t.TempDir(), "zs.jsonl")
	var stdout, stderr bytes.Buffer
	require.NoError(t, evalMain([]string{"--method", "zero-shot", "--templates", "tip7", "--model", "clip=" + tinyCLIP,
		"--vocab", openAIVocab, "--data", "folder=" + data, "--out", out, "--quiet"}, &stdout, &stderr), stderr.String())
	recs := readRecs(t, out)
	require.Len(t, recs, 2)
	assert.Equal(t, "zero-shot-tip7", recs[0].Method)

	stderr.Reset()
	require.ErrorIs(t, evalMain([]string{"--method", "tpt", "--help"}, &stdout, &stderr), flag.ErrHelp)
	for _, f := range []string{"-select", "-steps", "-views", "-prompt", "-reselect", "-ensemble", "-n-ctx", "-coop"} {
		assert.Contains(t, stderr.String(), f)
	}
}
