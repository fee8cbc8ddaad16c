package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEnv builds an Env over a map of variables.
func fakeEnv(vars map[string]string, jax func() ([]string, error)) Env {
	return Env{
		Getenv:        func(k string) string { return vars[k] },
		LookupEnv:     func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		JaxPluginDirs: jax,
	}
}

func touch(t *testing.T, p string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("not really a plugin"), 0o644))
	return p
}

// fakePython writes a python3 script on a temp PATH that prints the given jax_plugins directory.
func fakePython(t *testing.T, script string) {
	t.Helper()
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\n"+script+"\n"), 0o755))
	t.Setenv("PATH", bin)
}

func TestDecide(t *testing.T) {
	t.Run("GOMLX_BACKEND wins", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, filepath.Join(dir, "xla_cuda_plugin.so"))
		c, err := Decide(fakeEnv(map[string]string{EnvBackend: "go", EnvPluginPath: dir}, nil))
		require.NoError(t, err)
		assert.Equal(t, "go:ops_sequential", c.Config, "plain go gets the deadlock-free op execution")
		assert.True(t, c.Explicit)
		assert.True(t, c.IsPureGo())
		assert.Contains(t, c.Reason, EnvBackend)
	})
	t.Run("GOMLX_BACKEND plugin path must exist", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope", "xla_cuda_plugin.so")
		c, err := Decide(fakeEnv(map[string]string{EnvBackend: "xla:" + missing}, nil))
		require.Error(t, err)
		assert.Contains(t, err.Error(), missing)
		assert.Equal(t, []string{missing}, c.Searched)
	})
	t.Run("GOMLX_BACKEND plugin path with options", func(t *testing.T) {
		p := touch(t, filepath.Join(t.TempDir(), "xla_cuda_plugin.so"))
		c, err := Decide(fakeEnv(map[string]string{EnvBackend: "xla:" + p + ",tf32"}, nil))
		require.NoError(t, err)
		assert.Equal(t, p, c.PluginPath)
		assert.False(t, c.IsPureGo())
	})
	t.Run("PJRT_PLUGIN_LIBRARY_PATH", func(t *testing.T) {
		empty, dir := t.TempDir(), t.TempDir()
		p := touch(t, filepath.Join(dir, "pjrt_c_api_cuda_plugin.so"))
		jaxCalled := false
		c, err := Decide(fakeEnv(map[string]string{EnvPluginPath: empty + ":" + dir},
			func() ([]string, error) { jaxCalled = true; return nil, nil }))
		require.NoError(t, err)
		assert.Equal(t, "xla:"+p, c.Config)
		assert.Equal(t, p, c.PluginPath)
		assert.False(t, c.Explicit)
		assert.False(t, jaxCalled, "jax must not be asked when PJRT_PLUGIN_LIBRARY_PATH has a plugin")
		assert.Contains(t, c.Searched, filepath.Join(empty, "xla_cuda_plugin.so"))
	})
	t.Run("jax plugin, newest CUDA first", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, filepath.Join(dir, "xla_cuda12", "xla_cuda_plugin.so"))
		p13 := touch(t, filepath.Join(dir, "xla_cuda13", "xla_cuda_plugin.so"))
		c, err := Decide(fakeEnv(map[string]string{}, func() ([]string, error) { return []string{dir}, nil }))
		require.NoError(t, err)
		assert.Equal(t, "xla:"+p13, c.Config)
		assert.Contains(t, c.Reason, "jax")
	})
	t.Run("nothing found: pure Go, with what was searched", func(t *testing.T) {
		dir := t.TempDir()
		c, err := Decide(fakeEnv(map[string]string{EnvPluginPath: dir}, func() ([]string, error) { return []string{dir}, nil }))
		require.NoError(t, err)
		assert.Equal(t, PureGoDefault, c.Config)
		assert.True(t, c.IsPureGo())
		assert.Len(t, c.Searched, 3) // two names in dir, one jax pattern
	})
}

func TestWithSafePureGo(t *testing.T) {
	for in, want := range map[string]string{
		"go":                          "go:ops_sequential",
		"go:parallelism=4":            "go:parallelism=4,ops_sequential",
		"go:ops_parallel":             "go:ops_parallel",
		"go:ops_sequential":           "go:ops_sequential",
		"xla:cuda":                    "xla:cuda",
		"xla:/abs/xla_cuda_plugin.so": "xla:/abs/xla_cuda_plugin.so",
		"simplego:dotgeneral_small":   "simplego:dotgeneral_small,ops_sequential",
	} {
		assert.Equal(t, want, withSafePureGo(in), in)
	}
}

func TestPythonJaxPluginDirs(t *testing.T) {
	t.Run("fake python3 with jax_plugins", func(t *testing.T) {
		dir := t.TempDir()
		p := touch(t, filepath.Join(dir, "xla_cuda13", "xla_cuda_plugin.so"))
		fakePython(t, "echo "+dir)
		dirs, err := pythonJaxPluginDirs()
		require.NoError(t, err)
		assert.Equal(t, []string{dir}, dirs)
		c, err := Decide(Env{Getenv: func(string) string { return "" }, LookupEnv: func(string) (string, bool) { return "", false },
			JaxPluginDirs: pythonJaxPluginDirs})
		require.NoError(t, err)
		assert.Equal(t, p, c.PluginPath)
	})
	t.Run("python3 without jax", func(t *testing.T) {
		fakePython(t, "echo 'ModuleNotFoundError: No module named jax_plugins' >&2; exit 1")
		_, err := pythonJaxPluginDirs()
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "jax_plugins"))
	})
	t.Run("no python3", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := pythonJaxPluginDirs()
		require.Error(t, err)
	})
}

func TestNewPureGo(t *testing.T) {
	t.Setenv(EnvBackend, "go")
	b, c, err := New()
	require.NoError(t, err)
	require.NotNil(t, b)
	assert.Equal(t, "go:ops_sequential", c.Config)
	assert.Equal(t, "1", os.Getenv(EnvNoAutoInstall))
}

func TestLoadBadPlugin(t *testing.T) {
	prepareProcessEnv()
	p := touch(t, filepath.Join(t.TempDir(), "xla_cuda_plugin.so"))
	t.Run("explicit: error naming the plugin", func(t *testing.T) {
		c, err := Decide(fakeEnv(map[string]string{EnvBackend: "xla:" + p}, nil))
		require.NoError(t, err)
		_, _, err = load(c)
		require.Error(t, err)
		assert.Contains(t, err.Error(), p)
	})
	t.Run("found by search: falls back to pure Go and says why", func(t *testing.T) {
		c, err := Decide(fakeEnv(map[string]string{EnvPluginPath: filepath.Dir(p)}, nil))
		require.NoError(t, err)
		b, c2, err := load(c)
		require.NoError(t, err)
		require.NotNil(t, b)
		assert.True(t, c2.IsPureGo())
		assert.Contains(t, c2.Reason, p)
		assert.Contains(t, c2.Reason, "failed to load")
	})
}

func TestUnknownBackendIsAnError(t *testing.T) {
	for _, cfg := range []string{"cuda", "gpu:0", "xl a"} {
		env := Env{Getenv: func(string) string { return "" },
			LookupEnv: func(k string) (string, bool) { return cfg, k == EnvBackend }}
		_, err := Decide(env)
		require.Error(t, err, cfg)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", cfg))
		assert.Contains(t, err.Error(), "xla:/abs/path/xla_cuda_plugin.so")
	}
	// A known name whose constructor panics is an error, not a panic.
	_, err := newWithConfig("nosuchbackend:x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nosuchbackend")
}
