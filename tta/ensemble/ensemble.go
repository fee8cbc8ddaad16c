package ensemble

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/gotta-ml/gotta/tta"
)

// Member is what a model must provide to join the ensemble (tta.Member, where methods implement it without
// importing this package): memo.Adapter and tpt.Adapter implement it.
type Member = tta.Member

// Entry is a member with its name and temperature.
type Entry struct {
	// Name keys the member's views in the PerModel payload. Required, unique.
	Name string
	// Member is the model.
	Member Member
	// Temperature divides the member's averaged log-distribution before renormalisation (T > 1 softens); 0 means 1.
	// The seed used [1, 1] (RN50 + RNXT), [1.55, 0.7] (MEMO + TPT), [1, 1, 0.7] (RN50 + RNXT + TPT).
	Temperature float64
}

// Mode is Joint or Simple.
type Mode int

const (
	// Joint minimises the entropy of the combination jointly over every member's trainable variables, then
	// predicts from every member's view 0 (the seed's "Ensemble").
	Joint Mode = iota
	// Simple combines the members' selected views at their initial weights, without gradient (the seed's "Simple
	// Ensemble").
	Simple
)

// String is the method name used in records: "ensemble" or "simple-ensemble".
func (m Mode) String() string {
	if m == Simple {
		return "simple-ensemble"
	}
	return "ensemble"
}

// Options configure the ensemble.
type Options struct {
	// Mode is Joint (default) or Simple.
	Mode Mode
	// Select is the confidence-selection fraction rho applied to every member's views; 0 means 0.1 (the seed's).
	Select float64
	// Steps is the number of joint steps (Joint only); 0 means 1 (the seed's, whose niter knob was never changed).
	Steps int
	// SeedCompatible reproduces the seed's combination: raw-logit averaging over views and no renormalisation.
	// Default false: per-view log-softmax before averaging and a renormalised combination.
	SeedCompatible bool
}

func (o Options) withDefaults() Options {
	if o.Select == 0 {
		o.Select = 0.1
	}
	if o.Steps == 0 {
		o.Steps = 1
	}
	return o
}

// Adapter is the multi-model ensemble; it implements tta.Adapter.
type Adapter struct {
	opts    Options
	backend backends.Backend
	entries []Entry
	temps   []float64
	fwd     []*context.Exec // member views -> logits
	update  []*context.Exec // member views, selected [k] int32, dLoss/dLogits [k, C] -> update
	combine *Exec           // members' selected logits -> loss, m, weights, gradients
	adapted bool            // a member was updated since the last Reset (its forward is not the initial one)
}

// New returns the ensemble of entries.
func New(b backends.Backend, entries []Entry, opts Options) (*Adapter, error) {
	opts = opts.withDefaults()
	if len(entries) == 0 {
		return nil, fmt.Errorf("ensemble: no members")
	}
	if opts.Select <= 0 || opts.Select > 1 || opts.Steps < 0 || opts.Mode < Joint || opts.Mode > Simple {
		return nil, fmt.Errorf("ensemble: invalid options %+v", opts)
	}
	a := &Adapter{opts: opts, backend: b, entries: entries}
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Name == "" || seen[e.Name] {
			return nil, fmt.Errorf("ensemble: member %d needs a unique name, got %q", i, e.Name)
		}
		seen[e.Name] = true
		if e.Member == nil {
			return nil, fmt.Errorf("ensemble: member %q is nil", e.Name)
		}
		if len(e.Member.Trainable()) > 0 && e.Member.Optimizer() == nil {
			return nil, fmt.Errorf("ensemble: member %q has trainable variables but no optimizer", e.Name)
		}
		t := e.Temperature
		if t == 0 {
			t = 1
		}
		if t < 0 {
			return nil, fmt.Errorf("ensemble: member %q has temperature %g", e.Name, t)
		}
		a.temps = append(a.temps, t)
		m := e.Member
		fwd, err := context.NewExec(b, m.Context(), func(ctx *context.Context, views *Node) *Node {
			return m.ViewLogits(ctx, views)
		})
		if err != nil {
			return nil, fmt.Errorf("ensemble: member %q: %w", e.Name, err)
		}
		a.fwd = append(a.fwd, fwd)
		var upd *context.Exec
		if len(m.Trainable()) > 0 {
			if upd, err = context.NewExec(b, m.Context(), func(ctx *context.Context, views, sel, grad *Node) *Node {
				return updateGraph(ctx, m, views, sel, grad)
			}); err != nil {
				return nil, fmt.Errorf("ensemble: member %q: %w", e.Name, err)
			}
		}
		a.update = append(a.update, upd)
	}
	var err error
	a.combine, err = NewExec(b, func(logits []*Node) []*Node {
		m, w := Combine(logits, a.temps, opts.SeedCompatible)
		loss := EntropyOf(m)
		return append([]*Node{loss, m, w}, Gradient(loss, logits...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("ensemble: %w", err)
	}
	return a, nil
}

// updateGraph backpropagates grad [k, C], the loss's gradient with respect to the member's logits of the views
// sel [k] (int32), through the member, and applies the member's optimizer. Returns the surrogate sum(grad * logits).
func updateGraph(ctx *context.Context, m Member, views, sel, grad *Node) *Node {
	g := views.Graph()
	vars := m.Trainable()
	params := make([]*Node, len(vars))
	for i, v := range vars {
		params[i] = v.ValueGraph(g)
	}
	logits := m.ViewLogits(ctx, views) // [N, C]
	k := sel.Shape().Dimensions[0]
	z := Gather(logits, Reshape(sel, k, 1)) // [k, C]
	surrogate := ReduceAllSum(Mul(z, grad))
	m.Optimizer().Step(ctx, vars, Gradient(surrogate, params...))
	return surrogate
}

// Name implements tta.Adapter: "ensemble" or "simple-ensemble".
func (a *Adapter) Name() string { return a.opts.Mode.String() }

// Config implements tta.Adapter: the options and every member's name, temperature and, when the member has one,
// its Config().
func (a *Adapter) Config() map[string]any {
	members := make([]any, len(a.entries))
	for i, e := range a.entries {
		mc := map[string]any{"name": e.Name, "temperature": a.temps[i]}
		if c, ok := e.Member.(interface{ Config() map[string]any }); ok {
			mc["config"] = c.Config()
		}
		if o := e.Member.Optimizer(); o != nil && len(e.Member.Trainable()) > 0 {
			mc["optimizer"] = o.Config()
		}
		members[i] = mc
	}
	return map[string]any{"mode": a.opts.Mode.String(), "select": a.opts.Select, "steps": a.opts.Steps,
		"seed_compatible": a.opts.SeedCompatible, "members": members}
}

// Reset implements tta.Adapter: every member resets.
func (a *Adapter) Reset() error {
	a.adapted = false
	for _, e := range a.entries {
		if err := e.Member.Reset(); err != nil {
			return fmt.Errorf("ensemble: resetting member %q: %w", e.Name, err)
		}
	}
	return nil
}

// Result is what one combination gave.
type Result struct {
	// Loss is the entropy of the combination; M the combined log-distribution [C]; Weights the members' weights.
	Loss    float64
	M       []float32
	Weights []float32
	// Selected are each member's selected views (ascending entropy).
	Selected [][]int
}

// memberViews returns member i's views: those of its name in the PerModel payload, or Images without one.
func (a *Adapter) memberViews(v *tta.Views, i int) (*tensors.Tensor, error) {
	per, ok := tta.PayloadOf[PerModel](v)
	if !ok {
		if v.Images == nil {
			return nil, fmt.Errorf("ensemble: example %q has no views", v.ExampleID)
		}
		return v.Images, nil
	}
	x, ok := per[a.entries[i].Name]
	if !ok || x == nil {
		return nil, fmt.Errorf("ensemble: example %q has no views for member %q", v.ExampleID, a.entries[i].Name)
	}
	return x, nil
}

// Forward forwards every member's views, selects each member's views (rho, or all when rho is 1), combines them
// and, when update is true, backpropagates the combination's entropy into every trainable member and steps its
// optimizer.
func (a *Adapter) Forward(v *tta.Views, rho float64, update bool) (*Result, error) {
	n := len(a.entries)
	xs := make([]*tensors.Tensor, n)
	sels := make([][]int, n)
	args := make([]any, n)
	for i := range a.entries {
		x, err := a.memberViews(v, i)
		if err != nil {
			return nil, err
		}
		xs[i] = x
		logits, err := a.memberLogits(i, v.ExampleID, x)
		if err != nil {
			return nil, err
		}
		sels[i] = tta.ConfidenceSelectHost(tta.ViewEntropiesHost(logits), rho)
		sel := make([][]float32, len(sels[i]))
		for j, s := range sels[i] {
			sel[j] = logits[s]
		}
		args[i] = sel
	}
	outs, err := a.combine.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("ensemble: combining %q: %w", v.ExampleID, err)
	}
	r := &Result{Loss: float64(tensors.ToScalar[float32](outs[0])), M: outs[1].Value().([]float32),
		Weights: outs[2].Value().([]float32), Selected: sels}
	if !update {
		return r, nil
	}
	for i := range a.entries {
		if a.update[i] == nil {
			continue
		}
		a.adapted = true
		x, picked := xs[i], sels[i]
		if iv, ok := a.entries[i].Member.(IndependentViews); ok && iv.IndependentViews() {
			var err error
			if x, picked, err = selectedBlocks(xs[i], sels[i]); err != nil {
				return nil, fmt.Errorf("ensemble: member %q on %q: %w", a.entries[i].Name, v.ExampleID, err)
			}
		}
		sel := make([]int32, len(picked))
		for j, s := range picked {
			sel[j] = int32(s)
		}
		if _, err := a.update[i].Exec(x, sel, outs[3+i]); err != nil {
			return nil, fmt.Errorf("ensemble: updating member %q on %q: %w", a.entries[i].Name, v.ExampleID, err)
		}
	}
	return r, nil
}

// Adapt implements tta.Adapter (the runner resets before).
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	pred := &tta.Prediction{EntropyBefore: math.NaN()}
	if a.opts.Mode == Simple {
		r, err := a.Forward(v, a.opts.Select, false)
		if err != nil {
			return nil, err
		}
		pred.EntropyBefore, pred.Logits = r.Loss, r.M
		pred.EntropyAfter = tta.EntropyOfLogits(r.M)
		return pred, nil
	}
	for s := range a.opts.Steps {
		r, err := a.Forward(v, a.opts.Select, true)
		if err != nil {
			return nil, err
		}
		if s == 0 {
			pred.EntropyBefore = r.Loss
		}
		pred.Steps = append(pred.Steps, tta.StepReport{Step: s, Loss: r.Loss})
	}
	v0, err := viewZero(v, a)
	if err != nil {
		return nil, err
	}
	r, err := a.Forward(v0, 1, false)
	if err != nil {
		return nil, err
	}
	pred.Logits = r.M
	pred.EntropyAfter = tta.EntropyOfLogits(r.M)
	return pred, nil
}

// viewZero keeps view 0 of every member's views.
func viewZero(v *tta.Views, a *Adapter) (*tta.Views, error) {
	per := PerModel{}
	out := &tta.Views{ExampleID: v.ExampleID, Seed: v.Seed, Payload: per}
	for i, e := range a.entries {
		x, err := a.memberViews(v, i)
		if err != nil {
			return nil, err
		}
		x0, err := tta.PickViews(x, []int{0})
		if err != nil {
			return nil, fmt.Errorf("ensemble: member %q, example %q: %w", e.Name, v.ExampleID, err)
		}
		per[e.Name] = x0
	}
	return out, nil
}

// panicf panics with an error carrying a stack trace, as GoMLX graph functions do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
