package embedded

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/tta/backend"
)

// PureGoTrainingConfig is the GoMLX backend configuration the trainers use when tta/backend chooses pure Go:
// GoMLX v0.26.0's pure-Go backend can deadlock when it runs graph nodes in parallel and a node (a small
// DotGeneral) waits for a worker of the same pool (seen in the contrastive training step on 2 cores), so the
// training graphs run their ops sequentially (each op still uses the workers).
const PureGoTrainingConfig = "go:ops_sequential"

// trainingBackend returns b, or when b is nil the backend tta/backend chooses, replaced by PureGoTrainingConfig when
// that choice is pure Go (or ops_sequential added to a pure-Go config with options).
func trainingBackend(b backends.Backend) (backends.Backend, error) {
	if b != nil {
		return b, nil
	}
	nb, choice, err := backend.New()
	if err != nil {
		return nil, err
	}
	if !choice.IsPureGo() {
		return nb, nil
	}
	cfg := choice.Config
	switch {
	case strings.Contains(cfg, "ops_sequential"):
		return nb, nil
	case strings.Contains(cfg, ":"):
		cfg += ",ops_sequential"
	default:
		cfg = PureGoTrainingConfig
	}
	sb, err := backends.NewWithConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded: backend %q: %w", cfg, err)
	}
	return sb, nil
}
