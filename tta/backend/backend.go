// Package backend picks the GoMLX backend for every GoTTA command, test and notebook, in one place.
//
// The order:
//
//  1. GOMLX_BACKEND, when set, is used as given ("go", "xla:cuda", "xla:/abs/path/xla_cuda_plugin.so", ...).
//  2. Else a CUDA PJRT plugin present on the machine: a plugin file in one of the PJRT_PLUGIN_LIBRARY_PATH
//     directories, or the one a jax installation ships (jax_plugins/xla_cuda*/xla_cuda_plugin.so, located by
//     asking python3 where jax_plugins lives).
//  3. Else the pure-Go backend ("go").
//
// Nothing is ever downloaded: GOMLX_NO_AUTO_INSTALL=1 is set and XLA's auto-installer is disabled before any
// plugin is looked up. A plugin that was asked for (through GOMLX_BACKEND) and cannot be loaded is an error listing
// where it was looked for; a plugin found by the search that fails to load falls back to pure Go, and the
// Choice says why.
//
// Usage:
//
//	b, choice, err := backend.New()
//	if err != nil { return err }
//	fmt.Println(choice) // "xla:/.../xla_cuda_plugin.so (found jax's CUDA plugin ...)"
package backend

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // The pure-Go backend, always available.
)

// EnvBackend is GoMLX's variable naming the backend configuration.
const EnvBackend = "GOMLX_BACKEND"

// EnvPluginPath is PJRT's list of directories (":"-separated) searched for plugin files.
const EnvPluginPath = "PJRT_PLUGIN_LIBRARY_PATH"

// EnvNoAutoInstall disables GoMLX's plugin auto-installer (which would download).
const EnvNoAutoInstall = "GOMLX_NO_AUTO_INSTALL"

// PureGo is the name of GoMLX's pure-Go backend.
const PureGo = "go"

// PureGoDefault is the configuration GoTTA uses for the pure-Go backend: its ops run one at a time (each op still
// uses all cores). GoMLX v0.26.0 runs independent ops in parallel by default, and then a DotGeneral waiting for a
// worker of the same pool can deadlock (seen on 2 cores in ResNet and contrastive-training graphs); sequential op
// execution avoids that at no measured cost (tta/nn ResNet18ish forward+backward: 7.37 s default, 7.21 s
// sequential, 11.1 s with parallelism=-1). A configuration that names ops_parallel is left as given.
const PureGoDefault = PureGo + ":ops_sequential"

// withSafePureGo adds ops_sequential to a pure-Go configuration that does not choose an op execution mode.
func withSafePureGo(cfg string) string {
	name, opts, _ := strings.Cut(cfg, ":")
	if name != PureGo && name != "simplego" {
		return cfg
	}
	if strings.Contains(opts, "ops_sequential") || strings.Contains(opts, "ops_parallel") {
		return cfg
	}
	if opts == "" {
		return name + ":ops_sequential"
	}
	return cfg + ",ops_sequential"
}

// Choice is the outcome of the backend decision.
type Choice struct {
	// Config is the GoMLX backend configuration string, e.g. "go" or "xla:/abs/xla_cuda_plugin.so".
	Config string
	// PluginPath is the PJRT plugin file, when the choice is an XLA plugin given by path.
	PluginPath string
	// Reason says why this backend was chosen, in words.
	Reason string
	// Searched lists the places that were looked at for a CUDA plugin, in order.
	Searched []string
	// Explicit is true when the user asked for this backend through GOMLX_BACKEND.
	Explicit bool
	// CacheDir is the directory of XLA's persistent GPU caches New set up (XLACacheDir), "" when none (pure Go,
	// not CUDA, or GOTTA_XLA_CACHE=off).
	CacheDir string
}

// String returns "config (reason)".
func (c Choice) String() string { return fmt.Sprintf("%s (%s)", c.Config, c.Reason) }

// IsPureGo reports whether the choice is GoMLX's pure-Go backend.
func (c Choice) IsPureGo() bool {
	name, _, _ := strings.Cut(c.Config, ":")
	return name == PureGo || name == "simplego"
}

// Env is what the decision reads from the machine; tests replace it.
type Env struct {
	// Getenv returns an environment variable ("" when unset).
	Getenv func(string) string
	// LookupEnv returns an environment variable and whether it is set.
	LookupEnv func(string) (string, bool)
	// JaxPluginDirs returns the directories of the jax_plugins package (asks python3 by default).
	JaxPluginDirs func() ([]string, error)
}

// SystemEnv reads the real environment and asks the python3 on PATH where jax_plugins lives.
func SystemEnv() Env {
	return Env{Getenv: os.Getenv, LookupEnv: os.LookupEnv, JaxPluginDirs: pythonJaxPluginDirs}
}

// cudaPluginNames are the file names of CUDA PJRT plugins, as jax and go-xla ship them.
var cudaPluginNames = []string{"pjrt_c_api_cuda_plugin.so", "xla_cuda_plugin.so"}

// Decide chooses the backend configuration; it loads nothing.
func Decide(env Env) (Choice, error) {
	if cfg, ok := env.LookupEnv(EnvBackend); ok && strings.TrimSpace(cfg) != "" {
		cfg = withSafePureGo(strings.TrimSpace(cfg))
		c := Choice{Config: cfg, Reason: EnvBackend + " is set", Explicit: true}
		name, plugin, _ := strings.Cut(cfg, ":")
		if err := checkName(name, cfg); err != nil {
			return c, err
		}
		plugin, _, _ = strings.Cut(plugin, ",")
		if isXLAName(name) && filepath.IsAbs(plugin) {
			c.PluginPath = plugin
			c.Searched = []string{plugin}
			if _, err := os.Stat(plugin); err != nil {
				return c, fmt.Errorf("backend: %s=%q names plugin %s, which cannot be read: %w", EnvBackend, cfg, plugin, err)
			}
		}
		return c, nil
	}
	var searched []string
	// PJRT_PLUGIN_LIBRARY_PATH directories.
	if dirs := env.Getenv(EnvPluginPath); dirs != "" {
		for _, dir := range filepath.SplitList(dirs) {
			if dir == "" {
				continue
			}
			for _, name := range cudaPluginNames {
				p := filepath.Join(dir, name)
				searched = append(searched, p)
				if isFile(p) {
					return Choice{Config: "xla:" + p, PluginPath: p, Searched: searched,
						Reason: fmt.Sprintf("found a CUDA PJRT plugin in %s", EnvPluginPath)}, nil
				}
			}
		}
	}
	// jax's plugin.
	if env.JaxPluginDirs != nil {
		dirs, err := env.JaxPluginDirs()
		if err != nil {
			searched = append(searched, "python3 jax_plugins: "+err.Error())
		}
		for _, dir := range dirs {
			pattern := filepath.Join(dir, "xla_cuda*", "xla_cuda_plugin.so")
			searched = append(searched, pattern)
			matches, _ := filepath.Glob(pattern)
			sort.Sort(sort.Reverse(sort.StringSlice(matches))) // Newest CUDA major first (xla_cuda13 before xla_cuda12).
			for _, p := range matches {
				if isFile(p) {
					return Choice{Config: "xla:" + p, PluginPath: p, Searched: searched,
						Reason: "found jax's CUDA PJRT plugin (python3 jax_plugins)"}, nil
				}
			}
		}
	}
	return Choice{Config: PureGoDefault, Searched: searched, Reason: "no GOMLX_BACKEND and no CUDA PJRT plugin found"}, nil
}

// checkName says whether name is a backend compiled into this binary; the error names the value and the valid
// forms.
func checkName(name, cfg string) error {
	known := backends.List()
	sort.Strings(known)
	for _, k := range known {
		if k == name {
			return nil
		}
	}
	return fmt.Errorf("backend: %s=%q: %w %q; valid forms: %s=go (pure Go), %s=xla:cuda, "+
		"%s=xla:/abs/path/xla_cuda_plugin.so (backends built in: %s)", EnvBackend, cfg, ErrUnknown, name, EnvBackend,
		EnvBackend, EnvBackend, strings.Join(known, ", "))
}

// ErrUnknown is returned (wrapped) by Decide and New when GOMLX_BACKEND names a backend not built in.
var ErrUnknown = errors.New("unknown backend")

func isXLAName(name string) bool {
	switch name {
	case "xla", "stablehlo", "hlo", "shlo", "pjrt":
		return true
	}
	return false
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// pythonJaxPluginDirs asks python3 for jax_plugins.__path__, without importing jax itself.
func pythonJaxPluginDirs() ([]string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, errors.New("no python3 on PATH")
	}
	out, err := exec.Command(py, "-c",
		"import jax_plugins, os; print(os.pathsep.join(list(jax_plugins.__path__)))").Output()
	if err != nil {
		return nil, errors.New("python3 has no jax_plugins package")
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil, nil
	}
	return filepath.SplitList(s), nil
}

// prepareProcessEnv sets the variables that must be in place before GoMLX touches XLA: no auto-install (it would
// download), and no go-xla CUDA driver check (which, finding an nvidia/ folder beside jax's plugin, sets XLA_FLAGS
// to a path on its author's machine).
func prepareProcessEnv() {
	if _, ok := os.LookupEnv(EnvNoAutoInstall); !ok {
		_ = os.Setenv(EnvNoAutoInstall, "1")
	}
	if _, ok := os.LookupEnv("GOPJRT_CUDA_CHECKS"); !ok {
		_ = os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	disableAutoInstall()
}

var (
	cacheMu sync.Mutex
	cachedB backends.Backend
	cachedC Choice
	_       error
)

// New decides (Decide(SystemEnv())) and creates the backend. The backend is created once per process and shared:
// later calls return the same one.
func New() (backends.Backend, Choice, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cachedB != nil {
		return cachedB, cachedC, nil
	}
	prepareProcessEnv()
	c, err := Decide(SystemEnv())
	if err != nil {
		return nil, c, err
	}
	c.CacheDir = setXLACache(c)
	b, c, err := load(c)
	if err != nil {
		return nil, c, err
	}
	cachedB, cachedC = b, c
	return b, c, nil
}

// load creates the backend of a choice. A plugin found by the search that fails to load falls back to pure Go; an
// explicit choice that fails is an error that says where GoTTA looked.
func load(c Choice) (backends.Backend, Choice, error) {
	var b backends.Backend
	var err error
	if opts := clientOptions(c); opts != nil {
		b, err = recovered(func() (backends.Backend, error) { return newXLAWithOptions(c.Config, opts) })
	} else {
		b, err = newWithConfig(c.Config)
	}
	if err != nil && !c.Explicit {
		failed := c
		c = Choice{Config: PureGoDefault, Searched: failed.Searched,
			Reason: fmt.Sprintf("%s was found but failed to load (%v); using pure Go", failed.PluginPath, err)}
		b, err = newWithConfig(PureGoDefault)
	}
	if err != nil {
		return nil, c, fmt.Errorf("backend: cannot load %q (%s); looked at: %s: %w",
			c.Config, c.Reason, strings.Join(c.Searched, ", "), err)
	}
	return b, c, nil
}

// newWithConfig is backends.NewWithConfig with its panics (an unknown name, a plugin that cannot start) turned into
// errors.
func newWithConfig(cfg string) (backends.Backend, error) {
	return recovered(func() (backends.Backend, error) { return backends.NewWithConfig(cfg) })
}

// recovered calls f, turning a panic into an error.
func recovered(f func() (backends.Backend, error)) (b backends.Backend, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%v", p)
		}
	}()
	return f()
}

// MustNew is New for tests and examples: it panics on error.
func MustNew() backends.Backend {
	b, _, err := New()
	if err != nil {
		panic(err)
	}
	return b
}
