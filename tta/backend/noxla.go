//go:build !(((linux && amd64) || darwin) && !noxla)

package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// disableAutoInstall is a no-op when the XLA backend is not compiled in.
func disableAutoInstall() {}

// newXLAWithOptions fails: the XLA backend is not compiled in.
func newXLAWithOptions(cfg string, _ map[string]any) (backends.Backend, error) {
	return nil, fmt.Errorf("backend %q: the XLA backend is not compiled into this binary", cfg)
}
