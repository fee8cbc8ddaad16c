package tta

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Episode puts back, before every example, what an episodic method adapts: the adapted variables to their values
// when the episode was made, and the optimizer's state (moments, step count) to zero, as TPT and MEMO reset both.
// The saved values stay where the variables live (the accelerator's memory on XLA): one small executable copies
// them back and zeroes the state, so no model variable crosses to the host per example and the whole reset is one
// call without a host wait.
type Episode struct {
	backend backends.Backend
	ctx     *context.Context
	vars    []*context.Variable
	saved   []*tensors.Tensor
	opt     Optimizer
	exec    *context.Exec
	nState  int // optimizer state variables exec zeroes
}

// NewEpisode saves the current values of vars (on the backend's device) for Restore; opt, when not nil, is the
// optimizer whose state Restore zeroes (SGD and AdamW of this package; another Optimizer is reset by its Reset).
func NewEpisode(b backends.Backend, ctx *context.Context, opt Optimizer, vars ...*context.Variable) (*Episode, error) {
	e := &Episode{backend: b, ctx: ctx, vars: vars, opt: opt}
	if len(vars) == 0 {
		return e, nil
	}
	save, err := context.NewExec(b, ctx, func(ctx *context.Context, g *Graph) []*Node {
		out := make([]*Node, len(vars))
		for i, v := range vars {
			out[i] = v.ValueGraph(g) // a fresh output buffer: the backend copies a parameter it does not own
		}
		return out
	})
	if err != nil {
		return nil, fmt.Errorf("tta: episode snapshot of %s...: %w", vars[0].ScopeAndName(), err)
	}
	if e.saved, err = save.Exec(); err != nil {
		return nil, fmt.Errorf("tta: episode snapshot of %s...: %w", vars[0].ScopeAndName(), err)
	}
	save.Finalize()
	return e, nil
}

// stateful is an optimizer whose state variables an Episode can zero in its graph.
type stateful interface {
	stateVariables() []*context.Variable
}

// Restore sets every variable back to its saved value and zeroes the optimizer state, in one execution.
func (e *Episode) Restore() error {
	s, inGraph := e.opt.(stateful)
	if !inGraph || len(e.vars) == 0 {
		if e.opt != nil {
			if err := e.opt.Reset(); err != nil {
				return err
			}
		}
		if len(e.vars) == 0 {
			return nil
		}
	}
	var state []*context.Variable
	if inGraph {
		state = s.stateVariables()
	}
	// The optimizer creates its state variables when its step graph is first built: rebuild then.
	if e.exec == nil || len(state) != e.nState {
		if e.exec != nil {
			e.exec.Finalize()
		}
		vars := e.vars
		var err error
		e.exec, err = context.NewExec(e.backend, e.ctx, func(ctx *context.Context, saved []*Node) *Node {
			g := saved[0].Graph()
			for i, v := range vars {
				v.SetValueGraph(saved[i])
			}
			for _, sv := range state {
				sv.SetValueGraph(Zeros(g, sv.Shape()))
			}
			return Const(g, int32(0))
		})
		if err != nil {
			return fmt.Errorf("tta: episode restore: %w", err)
		}
		e.nState = len(state)
	}
	if _, err := e.exec.Exec(e.saved); err != nil {
		return fmt.Errorf("tta: episode restore of %d variables and %d optimizer states: %w", len(e.vars),
			len(state), err)
	}
	return nil
}

// Vars are the restored variables.
func (e *Episode) Vars() []*context.Variable { return e.vars }
