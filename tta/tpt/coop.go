package tpt

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gotta-ml/gotta/tta/weights"
)

// readContext reads a CoOp context from .npy or .safetensors (tensor "ctx", else the only tensor).
func readContext(path string) ([]float32, []int, error) {
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		d, s, err := weights.ReadNPYFloat32(path)
		if err != nil {
			return nil, nil, fmt.Errorf("tpt: CoOp context: %w", err)
		}
		return d, s, nil
	}
	f, err := weights.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("tpt: CoOp context: %w", err)
	}
	defer func() { _ = f.Close() }()
	name := "ctx"
	if _, ok := f.Info(name); !ok {
		names := f.Names()
		if len(names) != 1 {
			return nil, nil, fmt.Errorf("tpt: CoOp context %s has no tensor \"ctx\" (has %v)", path, names)
		}
		name = names[0]
	}
	d, s, err := f.Float32s(name)
	if err != nil {
		return nil, nil, fmt.Errorf("tpt: CoOp context: %w", err)
	}
	return d, s, nil
}
