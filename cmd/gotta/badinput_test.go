package main

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	gottaBin     string
	gottaBinErr  error
	gottaBinOnce sync.Once
)

// gottaBinary builds the gotta binary once for the tests that run it as a user does.
func gottaBinary(t *testing.T) string {
	t.Helper()
	gottaBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gotta-bin")
		if err != nil {
			gottaBinErr = err
			return
		}
		gottaBin = filepath.Join(dir, "gotta")
		out, err := exec.Command("go", "build", "-o", gottaBin, ".").CombinedOutput()
		if err != nil {
			gottaBinErr = errors.New(string(out))
		}
	})
	require.NoError(t, gottaBinErr)
	return gottaBin
}

// runGotta runs the binary with args and extra environment, in dir, and returns its exit code and stderr.
func runGotta(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(gottaBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOMLX_BACKEND=go", "GOTTA_DEBUG="), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, stderr.String()
}

// writePNG writes a small random-ish PNG.
func writePNG(t *testing.T, path string, seed int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	img := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + seed*31)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
}

// tenClassTree writes a tree of the tiny ResNet's 10 classes, c0..c9, one PNG each (c<k>/a.png).
func tenClassTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	for k := range 10 {
		writePNG(t, filepath.Join(dir, "c"+string(rune('0'+k)), "a.png"), k)
	}
	return dir
}

// TestBadInput runs gotta as a user does over bad weights, images, trees, flags, environment and outputs: each case
// states the exit code (exit.go: 1 error, 2 usage, 3 some examples failed) and a fragment of stderr; no case may
// print a goroutine trace.
func TestBadInput(t *testing.T) {
	resnet, err := filepath.Abs(tinyResNet)
	require.NoError(t, err)
	memo := func(data string, extra ...string) []string {
		return append([]string{"eval", "--method", "memo", "--model", "resnet=" + resnet, "--data", "folder=" + data,
			"--views", "4", "--quiet"}, extra...)
	}
	embedded := []string{"eval", "--method", "zero-shot", "--data", "mnist-c:fog", "--limit", "2", "--quiet"}
	tpt := []string{"eval", "--method", "tpt", "--data", "mnist-c:fog", "--limit", "2", "--quiet"}
	for _, c := range []struct {
		name string
		// setup returns the arguments, given a fresh temporary folder.
		setup func(t *testing.T, dir string) []string
		env   []string
		// codes are the accepted exit codes (method flags: 2 where the method checks ranges, 3 where every example
		// fails); want is a fragment of stderr.
		codes []int
		want  string
	}{
		// Flags.
		{"unknown subcommand", fixed("evaluate"), nil, []int{2}, `unknown subcommand "evaluate"`},
		{"unknown method with its flags", fixed("eval", "--method", "tpx", "--views", "8"), nil, []int{2},
			`unknown method "tpx"`},
		{"negative limit", fixed(append(embedded, "--limit", "-1")...), nil, []int{2}, "--limit -1"},
		{"shard out of range", fixed(append(embedded, "--shard", "3/2")...), nil, []int{2}, `--shard "3/2"`},
		{"bad dtype", fixed(append(embedded, "--dtype", "f16")...), nil, []int{2}, `--dtype "f16"`},
		{"bad seed", fixed(append(embedded, "--seed", "x")...), nil, []int{2}, "invalid value"},
		{"unknown flag", fixed(append(embedded, "--nope")...), nil, []int{2}, "not defined: -nope"},
		{"unknown dataset", fixed("eval", "--method", "zero-shot", "--data", "imagenet-z=/x"), nil, []int{2, 1},
			`unknown dataset id "imagenet-z"`},
		{"views 0", fixed(append(tpt, "--views", "0")...), nil, []int{2, 3}, "views"},
		{"learning rate NaN", fixed(append(tpt, "--lr", "nan")...), nil, []int{2, 3}, "NaN"},
		{"report --only misspelt", fixed("report", "--quick", "--only", "tpt,zero-shoot"), nil, []int{2},
			`unknown row(s) "zero-shoot"`},
		// Environment.
		{"unknown backend: doctor", fixed("doctor"), []string{"GOMLX_BACKEND=cuda"}, []int{2},
			`GOMLX_BACKEND="cuda": unknown backend "cuda"; valid forms`},
		{"unknown backend: eval", fixed(embedded...), []string{"GOMLX_BACKEND=cuda"}, []int{2}, "valid forms"},
		{"missing plugin", fixed("doctor"), []string{"GOMLX_BACKEND=xla:/nonexistent/xla_cuda_plugin.so"}, []int{1},
			"cannot be read"},
		// Outputs.
		{"out is a folder", func(t *testing.T, dir string) []string { return append(embedded, "--out", dir) }, nil,
			[]int{2}, "is a folder: want a regular file or a new path"},
		{"out is a device", fixed(append(embedded, "--out", "/dev/null")...), nil, []int{2}, "is a device"},
		{"out is a FIFO", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "fifo")
			require.NoError(t, syscall.Mkfifo(p, 0o644))
			return append(embedded, "--out", p)
		}, nil, []int{2}, "is a FIFO"},
		{"adapt out is a file", fixed("adapt", "--data", "mnist-c:fog", "--out", "/dev/null"), nil, []int{2},
			"exists and is not a folder"},
		{"report out is a folder", func(t *testing.T, dir string) []string {
			return []string{"report", "--quick", "--out", dir}
		}, nil, []int{2}, "is a folder"},
		// Weights.
		{"truncated weights", func(t *testing.T, dir string) []string {
			b, err := os.ReadFile(resnet)
			require.NoError(t, err)
			p := filepath.Join(dir, "cut.safetensors")
			require.NoError(t, os.WriteFile(p, b[:len(b)/3], 0o644))
			return []string{"eval", "--method", "memo", "--model", "resnet=" + p, "--data", "folder=" + tenClassTree(t)}
		}, nil, []int{1}, "cut.safetensors"},
		{"weights are an HTML page", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "model.safetensors")
			require.NoError(t, os.WriteFile(p, []byte("<!DOCTYPE html><html>Not Found</html>"), 0o644))
			return []string{"eval", "--method", "memo", "--model", "resnet=" + p, "--data", "folder=" + tenClassTree(t)}
		}, nil, []int{1}, "model.safetensors"},
		{"missing weights", fixed("eval", "--method", "memo", "--model", "resnet=/nonexistent/m.safetensors",
			"--data", "mnist"), nil, []int{1}, "/nonexistent/m.safetensors"},
		// Images.
		{"adapt on an unreadable image", func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "x.png")
			require.NoError(t, os.WriteFile(p, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644))
			return []string{"adapt", "--image", p, "--out", filepath.Join(dir, "o")}
		}, nil, []int{1}, "x.png"},
		{"unreadable images are listed", func(t *testing.T, dir string) []string {
			tree := tenClassTree(t)
			for _, c := range []string{"c3", "c7"} {
				require.NoError(t, os.WriteFile(filepath.Join(tree, c, "b.png"), []byte("\x89PNG\r\n\x1a\n"), 0o644))
			}
			return memo(tree, "--out", filepath.Join(dir, "r.jsonl"))
		}, nil, []int{3}, "2 of 12 examples failed"},
		// Trees.
		{"empty class folder", func(t *testing.T, dir string) []string {
			tree := tenClassTree(t)
			require.NoError(t, os.Remove(filepath.Join(tree, "c9", "a.png")))
			return memo(tree, "--limit", "1", "--out", filepath.Join(dir, "r.jsonl"))
		}, nil, []int{0}, "1 class folder(s) of"},
		{"no class folder", func(t *testing.T, dir string) []string {
			return memo(dir, "--out", filepath.Join(dir, "r.jsonl"))
		}, nil, []int{1}, "has no class folders"},
		{"dataset changed under the records", func(t *testing.T, dir string) []string {
			tree := tenClassTree(t)
			out := filepath.Join(dir, "r.jsonl")
			code, stderr := runGotta(t, dir, nil, memo(tree, "--limit", "2", "--out", out)...)
			require.Equal(t, 0, code, stderr)
			writePNG(t, filepath.Join(tree, "c0", "0.png"), 99) // Sorts before c0/a.png: every index moves.
			return memo(tree, "--limit", "2", "--out", out)
		}, nil, []int{1}, "holds records of other data"},
		{"records of another tree", func(t *testing.T, dir string) []string {
			out := filepath.Join(dir, "r.jsonl")
			code, stderr := runGotta(t, dir, nil, memo(tenClassTree(t), "--limit", "1", "--out", out)...)
			require.Equal(t, 0, code, stderr)
			return memo(tenClassTree(t), "--limit", "1", "--out", out) // Same folder name "tree", other place.
		}, nil, []int{1}, "holds records of other data"},
		{"another run holds the file", func(t *testing.T, dir string) []string {
			out := filepath.Join(dir, "r.jsonl")
			f, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
			require.NoError(t, err)
			require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
			_, _ = f.WriteString("4242\n")
			t.Cleanup(func() { f.Close() })
			return append(embedded, "--out", out)
		}, nil, []int{1}, "being written by another process (pid 4242"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := c.setup(t, dir)
			code, stderr := runGotta(t, dir, c.env, args...)
			assert.Contains(t, c.codes, code, "exit code; stderr:\n%s", stderr)
			assert.Contains(t, stderr, c.want)
			assert.NotContains(t, stderr, "goroutine ", "a panic reached the user")
			assert.Less(t, len(stderr), 20000, "stderr is short")
		})
	}
}

func fixed(args ...string) func(*testing.T, string) []string {
	return func(*testing.T, string) []string { return args }
}

// TestSIGINT interrupts a run: exit code 130, the records so far are kept, and the message says how to resume.
func TestSIGINT(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.jsonl")
	cmd := exec.Command(gottaBinary(t), "eval", "--method", "tpt", "--data", "mnist-c:fog", "--limit", "500", "--quiet",
		"--views", "8", "--out", out)
	cmd.Env = append(os.Environ(), "GOMLX_BACKEND=go")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(out); err == nil && bytes.Count(b, []byte("\n")) >= 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "exit status: %v; stderr: %s", err, stderr.String())
	assert.Equal(t, 130, ee.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "records in "+out+"; rerun the same command to resume")
	recs := readRecs(t, out)
	assert.NotEmpty(t, recs)
	assert.Less(t, len(recs), 500)
	assert.True(t, strings.Contains(stderr.String(), "interrupted: "), stderr.String())
}

// TestPanicsAreOneLine: a panicking subcommand prints one line naming the cause; GOTTA_DEBUG=1 re-panics.
func TestPanicsAreOneLine(t *testing.T) {
	c := &command{name: "boom", run: func([]string) error { panic("index out of range [3] with length 2\ngoroutine 1") }}
	t.Setenv("GOTTA_DEBUG", "")
	err := runRecovered(c, nil)
	require.Error(t, err)
	assert.Equal(t, "internal error: index out of range [3] with length 2 (set GOTTA_DEBUG=1 for the stack trace)",
		err.Error())
	assert.Equal(t, exitError, exitCode(err))
	t.Setenv("GOTTA_DEBUG", "1")
	assert.Panics(t, func() { _ = runRecovered(c, nil) })
}
