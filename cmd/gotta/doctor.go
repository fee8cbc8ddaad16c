package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
)

func init() {
	register("doctor", "report Go/GoMLX versions, backends, the chosen backend and why, GPU, CPU and directories", runDoctor)
}

func runDoctor(args []string) error {
	fs := newFlags("doctor", "", `Prints what this machine can run: Go and GoMLX versions, the GoMLX backends compiled in,
which backend GoTTA would choose and why (GOMLX_BACKEND, else a CUDA PJRT plugin, else pure Go), the plugin
path, the GPU (via nvidia-smi) and CPU cores, and the directories GoTTA uses (GOTTA_HOME).`)
	load := fs.Bool("load", true, "also create the chosen backend, to prove it loads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return doctor(os.Stdout, *load)
}

func doctor(w io.Writer, load bool) error {
	fmt.Fprintf(w, "Go:              %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "GoMLX:           %s\n", moduleVersion("github.com/gomlx/gomlx"))
	fmt.Fprintf(w, "Backends built:  %s\n", strings.Join(backends.List(), ", "))
	choice, err := backend.Decide(backend.SystemEnv())
	fmt.Fprintf(w, "Backend chosen:  %s\n", choice.Config)
	fmt.Fprintf(w, "  because:       %s\n", choice.Reason)
	if choice.PluginPath != "" {
		fmt.Fprintf(w, "  plugin:        %s\n", choice.PluginPath)
	}
	if len(choice.Searched) > 0 {
		fmt.Fprintf(w, "  looked at:     %s\n", strings.Join(choice.Searched, "\n                 "))
	}
	if err != nil {
		fmt.Fprintf(w, "  ERROR:         %v\n", err)
	} else if load {
		b, c, lerr := backend.New()
		if lerr != nil {
			fmt.Fprintf(w, "  load:          FAILED: %v\n", lerr)
			err = lerr
		} else {
			if c.Config != choice.Config {
				fmt.Fprintf(w, "  load:          fell back to %s (%s)\n", c.Config, c.Reason)
			}
			fmt.Fprintf(w, "  loaded:        %s (%s), %d device(s)\n", b.Name(), b.Description(), b.NumDevices())
		}
	}
	fmt.Fprintf(w, "GPU:             %s\n", gpuInfo())
	fmt.Fprintf(w, "CPU cores:       %d\n", runtime.NumCPU())
	fmt.Fprintf(w, "GOTTA_HOME:      %s\n", tta.Home())
	fmt.Fprintf(w, "  weights:       %s\n", tta.WeightsDir())
	fmt.Fprintf(w, "  datasets:      %s\n", tta.DatasetsDir())
	fmt.Fprintf(w, "  cache:         %s\n", tta.CacheDir())
	xlaCache := backend.XLACacheDir()
	if xlaCache == "" {
		xlaCache = "off (" + backend.EnvXLACache + "=off)"
	}
	fmt.Fprintf(w, "  XLA GPU cache: %s (XLA on CUDA only; %s overrides, \"off\" disables)\n", xlaCache,
		backend.EnvXLACache)
	return err
}

// moduleVersion returns the version of a dependency compiled into this binary.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Version + " => " + d.Replace.Path + " " + d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// gpuInfo asks nvidia-smi for the GPUs' names and memory.
func gpuInfo() string {
	smi, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return "none found (no nvidia-smi on PATH)"
	}
	out, err := exec.Command(smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader").Output()
	if err != nil {
		return "nvidia-smi failed: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines, "; ")
}
