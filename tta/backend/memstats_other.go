//go:build !(((linux && amd64) || darwin) && !noxla && cgo)

package backend

import "github.com/gomlx/gomlx/backends"

// deviceMemory reports no statistics: the XLA backend (or cgo) is not compiled in.
func deviceMemory(backends.Backend) (MemoryStats, bool) { return MemoryStats{}, false }
