package backend

import (
	"os"
	"path/filepath"
	"strings"
)

// EnvXLACache overrides the directory of XLA's persistent GPU caches (XLACacheDir); "off" disables them.
const EnvXLACache = "GOTTA_XLA_CACHE"

// EnvPreallocate, set to "true", makes a CUDA PJRT client reserve most of the GPU's memory up front, as JAX does by
// default. Unset or any other value: the client allocates as it goes (PJRT option preallocate=false), so the memory
// the process holds follows what it uses and several processes can share a GPU.
const EnvPreallocate = "GOTTA_XLA_PREALLOCATE"

// XLACacheDir is where XLA keeps its persistent GPU caches across runs: $GOTTA_XLA_CACHE when set, else
// $GOTTA_HOME/cache/xla (the same root as tta.CacheDir, which this package cannot import: tta's tests import it).
// "" when GOTTA_XLA_CACHE is "off".
func XLACacheDir() string {
	if d := os.Getenv(EnvXLACache); d != "" {
		if d == "off" {
			return ""
		}
		return d
	}
	home := os.Getenv("GOTTA_HOME")
	if home == "" {
		if c, err := os.UserCacheDir(); err == nil {
			home = filepath.Join(c, "gotta")
		} else {
			home = ".gotta"
		}
	}
	return filepath.Join(home, "cache", "xla")
}

// IsCUDA reports whether the choice is an XLA PJRT plugin for CUDA ("xla:cuda", or a plugin file whose name says
// cuda).
func (c Choice) IsCUDA() bool {
	name, rest, _ := strings.Cut(c.Config, ":")
	if !isXLAName(name) {
		return false
	}
	plugin, _, _ := strings.Cut(rest, ",")
	return strings.Contains(strings.ToLower(filepath.Base(plugin)), "cuda")
}

// XLACacheFlags returns the XLA_FLAGS entries that keep XLA's GPU caches in dir: the autotuning results of each
// fusion (--xla_gpu_per_fusion_autotune_cache_dir, dir/autotune) and the compiled GPU kernels
// (--xla_gpu_kernel_cache_file, dir/kernels.bin). A flag that flags already sets is left as given. They do not
// cache whole executables: each process still compiles its graphs, but skips autotuning and kernel compilation for
// fusions it has seen before.
func XLACacheFlags(flags, dir string) []string {
	var add []string
	for _, f := range [][2]string{
		{"--xla_gpu_per_fusion_autotune_cache_dir", filepath.Join(dir, "autotune")},
		{"--xla_gpu_kernel_cache_file", filepath.Join(dir, "kernels.bin")},
	} {
		if !strings.Contains(flags, f[0]+"=") {
			add = append(add, f[0]+"="+f[1])
		}
	}
	return add
}

// setXLACache creates XLACacheDir and appends XLACacheFlags to XLA_FLAGS, for a CUDA choice only (the pure-Go
// backend has no such cache; a CPU plugin would reject GPU flags). It returns the directory ("" when off, not CUDA,
// or when the directory cannot be made: the caches are an optimisation, their absence is not an error).
func setXLACache(c Choice) string {
	dir := XLACacheDir()
	if !c.IsCUDA() || dir == "" {
		return ""
	}
	if err := os.MkdirAll(filepath.Join(dir, "autotune"), 0o755); err != nil {
		return ""
	}
	flags := os.Getenv("XLA_FLAGS")
	if add := XLACacheFlags(flags, dir); len(add) > 0 {
		_ = os.Setenv("XLA_FLAGS", strings.TrimSpace(flags+" "+strings.Join(add, " ")))
	}
	return dir
}

// clientOptions are the PJRT client options GoTTA creates a CUDA client with: no preallocation unless
// GOTTA_XLA_PREALLOCATE=true (the plugin's default BFC allocator then grows on demand, and still reports its peak).
// nil for other plugins, whose option names differ.
func clientOptions(c Choice) map[string]any {
	if !c.IsCUDA() {
		return nil
	}
	return map[string]any{"preallocate": os.Getenv(EnvPreallocate) == "true"}
}
