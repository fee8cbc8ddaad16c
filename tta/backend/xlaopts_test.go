package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsCUDA(t *testing.T) {
	for cfg, want := range map[string]bool{
		"go":                                   false,
		"go:ops_sequential":                    false,
		"xla:cpu":                              false,
		"xla:cuda":                             true,
		"xla:/a/xla_cuda_plugin.so,tf32":       true,
		"xla:/a/pjrt_c_api_cuda_plugin.so":     true,
		"xla:/cuda13/pjrt_c_api_cpu_plugin.so": false,
	} {
		assert.Equal(t, want, Choice{Config: cfg}.IsCUDA(), cfg)
	}
}

func TestXLACacheDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GOTTA_HOME", home)
	t.Setenv(EnvXLACache, "")
	assert.Equal(t, filepath.Join(home, "cache", "xla"), XLACacheDir())
	t.Setenv(EnvXLACache, "/elsewhere")
	assert.Equal(t, "/elsewhere", XLACacheDir())
	t.Setenv(EnvXLACache, "off")
	assert.Equal(t, "", XLACacheDir())
}

func TestXLACacheFlags(t *testing.T) {
	assert.Equal(t, []string{"--xla_gpu_per_fusion_autotune_cache_dir=/c/autotune",
		"--xla_gpu_kernel_cache_file=/c/kernels.bin"}, XLACacheFlags("--xla_gpu_enable_triton_gemm=false", "/c"))
	assert.Equal(t, []string{"--xla_gpu_kernel_cache_file=/c/kernels.bin"},
		XLACacheFlags("--xla_gpu_per_fusion_autotune_cache_dir=/mine", "/c"), "a flag the user set stays theirs")
}

// TestSetXLACache: the cache flags go into XLA_FLAGS (after what was there) for a CUDA choice only, and the
// directory is created; never for pure Go or a CPU plugin.
func TestSetXLACache(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GOTTA_HOME", home)
	t.Setenv(EnvXLACache, "")
	t.Setenv("XLA_FLAGS", "--xla_gpu_enable_triton_gemm=false")
	for _, cfg := range []string{PureGoDefault, "xla:cpu"} {
		assert.Equal(t, "", setXLACache(Choice{Config: cfg}), cfg)
		assert.Equal(t, "--xla_gpu_enable_triton_gemm=false", os.Getenv("XLA_FLAGS"), cfg)
	}
	dir := setXLACache(Choice{Config: "xla:/x/xla_cuda_plugin.so"})
	require.Equal(t, filepath.Join(home, "cache", "xla"), dir)
	assert.DirExists(t, filepath.Join(dir, "autotune"))
	flags := os.Getenv("XLA_FLAGS")
	assert.True(t, strings.HasPrefix(flags, "--xla_gpu_enable_triton_gemm=false --xla_gpu_per_fusion_autotune_cache_dir="),
		flags)
	setXLACache(Choice{Config: "xla:/x/xla_cuda_plugin.so"})
	assert.Equal(t, flags, os.Getenv("XLA_FLAGS"), "a second call adds nothing")
}

func TestClientOptions(t *testing.T) {
	t.Setenv(EnvPreallocate, "")
	assert.Nil(t, clientOptions(Choice{Config: PureGoDefault}))
	assert.Nil(t, clientOptions(Choice{Config: "xla:cpu"}))
	assert.Equal(t, map[string]any{"preallocate": false}, clientOptions(Choice{Config: "xla:cuda"}))
	t.Setenv(EnvPreallocate, "true")
	assert.Equal(t, map[string]any{"preallocate": true}, clientOptions(Choice{Config: "xla:cuda"}))
}

func TestDeviceMemoryPureGo(t *testing.T) {
	b, err := backends.NewWithConfig(PureGoDefault)
	require.NoError(t, err)
	defer b.Finalize()
	_, ok := DeviceMemory(b)
	assert.False(t, ok)
	assert.Equal(t, "n/a", DeviceMemoryString(b))
}
