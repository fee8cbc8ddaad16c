//go:build ((linux && amd64) || darwin) && !noxla

package backend

import "github.com/gomlx/gomlx/backends/xla"

// disableAutoInstall turns off XLA's plugin auto-installer, whatever the environment said at init time.
func disableAutoInstall() { xla.EnableAutoInstall(false) }
