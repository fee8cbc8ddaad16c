package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvalKilled runs gotta eval as a subprocess (built with go build), kills it (SIGKILL) once some records are
// written, reruns it, and checks the records equal an uninterrupted run's, none lost, none twice.
func TestEvalKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gotta binary")
	}
	bin := filepath.Join(t.TempDir(), "gotta")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = os.Environ()
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	classes := []string{"goldfish", "tiger_shark", "electric_ray", "stingray"}
	t.Run("tpt", func(t *testing.T) {
		data := tinyImageFolder(t, classes, 4)
		killAndResume(t, bin, 16, func(out string) []string {
			return []string{"eval", "--method", "tpt", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab,
				"--data", "folder=" + data, "--views", "8", "--select", "0.25", "--steps", "2", "--seed", "5",
				"--quiet", "--out", out}
		})
	})
	// An online method: the rerun rebuilds TDA's caches (no state file is saved before 100 examples, so it
	// replays the recorded stream) and continues the stream exactly.
	t.Run("tda", func(t *testing.T) {
		data := tinyImageFolder(t, classes, 8)
		killAndResume(t, bin, 32, func(out string) []string {
			return []string{"eval", "--method", "tda", "--model", "clip:tiny=" + tinyCLIP, "--vocab", openAIVocab,
				"--data", "folder=" + data, "--views", "32", "--seed", "5", "--quiet", "--out", out}
		})
	})
}

// killAndResume runs bin with args(full) uninterrupted (n records), then with args(killed), SIGKILLs it once 3
// records are written, reruns it, and checks the records equal the uninterrupted run's.
func killAndResume(t *testing.T, bin string, n int, args func(out string) []string) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args(full)...)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	want := readRecs(t, full)
	require.Len(t, want, n)

	killed := filepath.Join(dir, "killed.jsonl")
	cmd = exec.Command(bin, args(killed)...)
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(killed); err == nil && bytes.Count(b, []byte("\n")) >= 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	partial := readRecs(t, killed)
	t.Logf("killed after %d of %d records", len(partial), n)
	assert.Less(t, len(partial), n, "the run finished before the kill")

	cmd = exec.Command(bin, args(killed)...)
	stderr.Reset()
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Equal(t, want, readRecs(t, killed))
}
