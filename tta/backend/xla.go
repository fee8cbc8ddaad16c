//go:build ((linux && amd64) || darwin) && !noxla

package backend

import (
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// disableAutoInstall turns off XLA's plugin auto-installer, whatever the environment said at init time.
func disableAutoInstall() { xla.EnableAutoInstall(false) }

// newXLAWithOptions creates the XLA backend of configuration cfg ("xla:<plugin>[,options]") with PJRT client
// options (GoMLX's backends.NewWithConfig passes none).
func newXLAWithOptions(cfg string, opts map[string]any) (backends.Backend, error) {
	_, plugin, _ := strings.Cut(cfg, ":")
	return xla.NewWithOptions(plugin, pjrt.NamedValuesMap(opts))
}
