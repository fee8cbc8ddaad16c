package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/tta/report"
)

// workersHelp is the --workers flag's help.
const workersHelp = "examples evaluated at once, each worker with its own copy of the models (0: runtime.NumCPU() on the pure-Go backend, 1 on XLA, one GPU); the records are the same for any number"

// resolveWorkers is the number of workers for --workers n on backend b (0: report.DefaultWorkers).
func resolveWorkers(n int, b backends.Backend) (int, error) {
	switch {
	case n < 0:
		return 0, usageErrorf("--workers %d: want 0 (automatic) or a positive number", n)
	case n > 0:
		return n, nil
	}
	return report.DefaultWorkers(b), nil
}

// startCPUProfile writes a CPU profile to path until the returned function is called ("" profiles nothing).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
