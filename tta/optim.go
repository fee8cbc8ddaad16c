package tta

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Optimizer updates variables from their gradients inside a graph. Its state (moments, step count) lives in
// context variables under OptimizerScope, which Reset zeroes: a method calls Reset before every example so each
// example starts from a fresh optimizer, as TPT and MEMO do.
type Optimizer interface {
	// Name is "sgd" or "adamw".
	Name() string
	// Config lists every hyper-parameter, for records.
	Config() map[string]any
	// Step builds the update of vars from grads (same order) in the graph of the grads.
	Step(ctx *context.Context, vars []*context.Variable, grads []*Node)
	// Reset zeroes the optimizer state.
	Reset() error
}

// OptimizerScope is the context scope of optimizer state variables.
const OptimizerScope = "/tta_optimizer"

// state is the per-variable optimizer state created on first use.
type state struct {
	vars []*context.Variable
}

func (s *state) get(ctx *context.Context, prefix string, v *context.Variable) *context.Variable {
	name := prefix + strings.ReplaceAll(v.ScopeAndName(), "/", "|")
	sv := zeroVariable(ctx, name, v.Shape())
	for _, have := range s.vars {
		if have == sv {
			return sv
		}
	}
	s.vars = append(s.vars, sv)
	return sv
}

// zeroVariable returns the optimizer-state variable name under OptimizerScope, created zero-filled.
func zeroVariable(ctx *context.Context, name string, shape shapes.Shape) *context.Variable {
	return ctx.InAbsPath(OptimizerScope).Checked(false).VariableWithValue(name, tensors.FromShape(shape)).
		SetTrainable(false)
}

func (s *state) reset() error {
	for _, v := range s.vars {
		if err := v.SetValue(tensors.FromShape(v.Shape())); err != nil { // FromShape is zero-filled.
			return fmt.Errorf("tta: resetting optimizer state %s: %w", v.ScopeAndName(), err)
		}
	}
	return nil
}

// SGD is torch.optim.SGD without momentum: g' = g + WeightDecay * p; p -= LR * g'.
type SGD struct {
	// LR is the learning rate (MEMO's ResNet-50 default 2.5e-4 with its prior; the seed project used 5e-3).
	LR float64
	// WeightDecay is the L2 coefficient added to the gradient (seed project: 1e-4; MEMO paper: 0).
	WeightDecay float64
	st          state
}

// Name implements Optimizer.
func (o *SGD) Name() string { return "sgd" }

// Config implements Optimizer.
func (o *SGD) Config() map[string]any {
	return map[string]any{"optimizer": "sgd", "lr": o.LR, "weight_decay": o.WeightDecay, "momentum": 0.0}
}

// Step implements Optimizer.
func (o *SGD) Step(ctx *context.Context, vars []*context.Variable, grads []*Node) {
	checkVarsGrads("SGD", vars, grads)
	for i, v := range vars {
		p := v.ValueGraph(grads[i].Graph())
		g := grads[i]
		if o.WeightDecay != 0 {
			g = Add(g, MulScalar(p, o.WeightDecay))
		}
		v.SetValueGraph(Sub(p, MulScalar(g, o.LR)))
	}
}

// Reset implements Optimizer (SGD without momentum has no state).
func (o *SGD) Reset() error { return o.st.reset() }

// AdamW is torch.optim.AdamW (decoupled weight decay, bias-corrected moments, no amsgrad):
//
//	m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p = p (1 - lr wd) - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
type AdamW struct {
	// LR is the learning rate (TPT: 5e-3).
	LR float64
	// Beta1, Beta2 are the moment coefficients (0.9, 0.999).
	Beta1, Beta2 float64
	// Eps is added to the denominator (1e-8).
	Eps float64
	// WeightDecay is the decoupled decay (torch's AdamW default 0.01).
	WeightDecay float64
	st          state
}

// NewAdamW returns AdamW with torch's defaults and the given learning rate.
func NewAdamW(lr float64) *AdamW {
	return &AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Name implements Optimizer.
func (o *AdamW) Name() string { return "adamw" }

// Config implements Optimizer.
func (o *AdamW) Config() map[string]any {
	return map[string]any{"optimizer": "adamw", "lr": o.LR, "beta1": o.Beta1, "beta2": o.Beta2, "eps": o.Eps,
		"weight_decay": o.WeightDecay}
}

// Step implements Optimizer.
func (o *AdamW) Step(ctx *context.Context, vars []*context.Variable, grads []*Node) {
	checkVarsGrads("AdamW", vars, grads)
	if len(vars) == 0 {
		return
	}
	g0 := grads[0].Graph()
	// One step counter per optimizer: keyed by the first variable it updates, so several AdamW instances in one
	// context (TPT's prompt and the alignment's image tower, ensemble members) count their own steps.
	stepVar := zeroVariable(ctx, "adamw_step:"+strings.ReplaceAll(vars[0].ScopeAndName(), "/", "|"),
		shapes.Make(grads[0].DType()))
	o.st.add(stepVar)
	t := OnePlus(stepVar.ValueGraph(g0))
	stepVar.SetValueGraph(t)
	bc1 := OneMinus(Pow(Scalar(g0, t.DType(), o.Beta1), t))
	bc2 := OneMinus(Pow(Scalar(g0, t.DType(), o.Beta2), t))
	for i, v := range vars {
		g := grads[i]
		p := v.ValueGraph(g0)
		mVar, vVar := o.st.get(ctx, "m:", v), o.st.get(ctx, "v:", v)
		m := Add(MulScalar(mVar.ValueGraph(g0), o.Beta1), MulScalar(g, 1-o.Beta1))
		s := Add(MulScalar(vVar.ValueGraph(g0), o.Beta2), MulScalar(Square(g), 1-o.Beta2))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)
		denom := AddScalar(Sqrt(Div(s, bc2)), o.Eps)
		update := MulScalar(Div(Div(m, bc1), denom), o.LR)
		if o.WeightDecay != 0 {
			p = MulScalar(p, 1-o.LR*o.WeightDecay)
		}
		v.SetValueGraph(Sub(p, update))
	}
}

// Reset implements Optimizer.
func (o *AdamW) Reset() error { return o.st.reset() }

// stateVariables implements stateful: an Episode zeroes them on the device.
func (o *SGD) stateVariables() []*context.Variable { return o.st.vars }

// stateVariables implements stateful: an Episode zeroes them on the device.
func (o *AdamW) stateVariables() []*context.Variable { return o.st.vars }

func (s *state) add(v *context.Variable) {
	for _, have := range s.vars {
		if have == v {
			return
		}
	}
	s.vars = append(s.vars, v)
}

func checkVarsGrads(name string, vars []*context.Variable, grads []*Node) {
	if len(vars) != len(grads) {
		panic(fmt.Errorf("tta.%s.Step: %d variables but %d gradients", name, len(vars), len(grads)))
	}
	for i, v := range vars {
		if !v.Shape().Equal(grads[i].Shape()) {
			panic(fmt.Errorf("tta.%s.Step: variable %s has shape %s, its gradient %s", name, v.ScopeAndName(),
				v.Shape(), grads[i].Shape()))
		}
	}
}
