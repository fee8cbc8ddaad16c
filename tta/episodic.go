package tta

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Snapshot holds the values of the variables a method adapts, taken once before any adaptation, so that Restore
// can put them back before every example (episodic test-time adaptation) without copying the whole model.
type Snapshot struct {
	vars   []*context.Variable
	values []*tensors.Tensor
}

// TakeSnapshot copies the current values of vars.
func TakeSnapshot(vars ...*context.Variable) (*Snapshot, error) {
	s := &Snapshot{vars: vars, values: make([]*tensors.Tensor, len(vars))}
	for i, v := range vars {
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("tta: snapshot of %s: %w", v.ScopeAndName(), err)
		}
		if s.values[i], err = val.LocalClone(); err != nil {
			return nil, fmt.Errorf("tta: snapshot of %s: %w", v.ScopeAndName(), err)
		}
	}
	return s, nil
}

// Restore sets every variable back to its snapshot value.
func (s *Snapshot) Restore() error {
	for i, v := range s.vars {
		c, err := s.values[i].LocalClone()
		if err != nil {
			return fmt.Errorf("tta: restoring %s: %w", v.ScopeAndName(), err)
		}
		if err := v.SetValue(c); err != nil {
			return fmt.Errorf("tta: restoring %s: %w", v.ScopeAndName(), err)
		}
	}
	return nil
}

// Vars are the snapshotted variables.
func (s *Snapshot) Vars() []*context.Variable { return s.vars }
